//! Drop-in filesystem shims: a store written on `std::fs` changes one import,
//! `use crashsim::fs::std as fs;`, and runs on the simulated disk inside a harness run and on
//! the real filesystem outside one.
//!
//! Model: one simulated core. A thread-local names the simulated filesystem of the run in
//! progress ([`on`]; the harness sets it around every store it opens, calls and recovers). Each
//! shim call looks it up: when set, the call becomes one or more calls of crashsim's [`Fs`]
//! (each one syscall of the trace, so one crash point and one place for a fault); when not,
//! it is the `std::fs` call itself. Errors are `io::Error`s from the same Linux errno, so
//! `raw_os_error()` and `kind()` are what `std` gives.
//!
//! Shimmed ([`std`]): `File` (`Read`, `Write`, `Seek`, `FileExt`, `sync_all`, `sync_data`,
//! `set_len`, `metadata`), `OpenOptions` (`read`, `write`, `append`, `truncate`, `create`,
//! `create_new`), and `read`, `read_to_string`, `write`, `rename`, `remove_file`, `create_dir`,
//! `create_dir_all`, `remove_dir`, `read_dir`, `hard_link`, `metadata`, `copy`.
//! `File::open(dir)?.sync_all()` is a directory fsync, as on Linux.
//!
//! Not simulated: permissions, symlinks, timestamps beyond the modification time, `fs::File`
//! handles moved to another thread while a run is in progress, and preemption inside a shim
//! call (a simulated call runs to its end before another client may run: sync stores
//! interleave between their calls only). A [`std::File`]'s position is kept by the shim and
//! its reads and writes are `pread`/`pwrite` at it (appends are `write`s), so the trace shows
//! positioned calls where the program made plain ones. `metadata` of an open file is a `stat`
//! of the path it was opened by.

use ::std::cell::RefCell;
use ::std::sync::Arc;

use crashsim_sim::{Errno, Fd, Fs, FsResult, OpenOptions, Stat};

pub mod std;

/// [`Fs`] as the shims call it: synchronous and object-safe. Each call drives the simulated
/// call to its end (a simulated disk never waits on a device).
pub trait SyncFs: Send + Sync {
    fn open(&self, path: &str, opts: OpenOptions) -> FsResult<Fd>;
    fn write(&self, fd: Fd, data: &[u8]) -> FsResult<usize>;
    fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> FsResult<usize>;
    fn pread(&self, fd: Fd, offset: u64, len: usize) -> FsResult<Vec<u8>>;
    fn truncate(&self, fd: Fd, len: u64) -> FsResult<()>;
    fn fsync(&self, fd: Fd) -> FsResult<()>;
    fn fdatasync(&self, fd: Fd) -> FsResult<()>;
    fn close(&self, fd: Fd) -> FsResult<()>;
    fn rename(&self, from: &str, to: &str) -> FsResult<()>;
    fn link(&self, from: &str, to: &str) -> FsResult<()>;
    fn unlink(&self, path: &str) -> FsResult<()>;
    fn mkdir(&self, path: &str) -> FsResult<()>;
    fn rmdir(&self, path: &str) -> FsResult<()>;
    fn readdir(&self, path: &str) -> FsResult<Vec<String>>;
    fn stat(&self, path: &str) -> FsResult<Stat>;
}

impl<F: Fs> SyncFs for F {
    fn open(&self, path: &str, opts: OpenOptions) -> FsResult<Fd> {
        pollster::block_on(Fs::open(self, path, opts))
    }
    fn write(&self, fd: Fd, data: &[u8]) -> FsResult<usize> {
        pollster::block_on(Fs::write(self, fd, data))
    }
    fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> FsResult<usize> {
        pollster::block_on(Fs::pwrite(self, fd, offset, data))
    }
    fn pread(&self, fd: Fd, offset: u64, len: usize) -> FsResult<Vec<u8>> {
        pollster::block_on(Fs::pread(self, fd, offset, len))
    }
    fn truncate(&self, fd: Fd, len: u64) -> FsResult<()> {
        pollster::block_on(Fs::truncate(self, fd, len))
    }
    fn fsync(&self, fd: Fd) -> FsResult<()> {
        pollster::block_on(Fs::fsync(self, fd))
    }
    fn fdatasync(&self, fd: Fd) -> FsResult<()> {
        pollster::block_on(Fs::fdatasync(self, fd))
    }
    fn close(&self, fd: Fd) -> FsResult<()> {
        pollster::block_on(Fs::close(self, fd))
    }
    fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        pollster::block_on(Fs::rename(self, from, to))
    }
    fn link(&self, from: &str, to: &str) -> FsResult<()> {
        pollster::block_on(Fs::link(self, from, to))
    }
    fn unlink(&self, path: &str) -> FsResult<()> {
        pollster::block_on(Fs::unlink(self, path))
    }
    fn mkdir(&self, path: &str) -> FsResult<()> {
        pollster::block_on(Fs::mkdir(self, path))
    }
    fn rmdir(&self, path: &str) -> FsResult<()> {
        pollster::block_on(Fs::rmdir(self, path))
    }
    fn readdir(&self, path: &str) -> FsResult<Vec<String>> {
        pollster::block_on(Fs::readdir(self, path))
    }
    fn stat(&self, path: &str) -> FsResult<Stat> {
        pollster::block_on(Fs::stat(self, path))
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn SyncFs>>> = const { RefCell::new(None) };
}

/// Runs `f` with the shims of this thread on `fs`; the filesystem they were on before comes
/// back afterwards, even if `f` panics. Runs nest (work after recovery inside a check).
pub fn on<R>(fs: Arc<dyn SyncFs>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<dyn SyncFs>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(fs));
    let _restore = Restore(previous);
    f()
}

/// The simulated filesystem of the run in progress on this thread, if any.
pub fn current() -> Option<Arc<dyn SyncFs>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// An errno as the `io::Error` `std` gives for it.
pub(crate) fn io_error(errno: Errno) -> ::std::io::Error {
    ::std::io::Error::from_raw_os_error(errno as i32)
}
