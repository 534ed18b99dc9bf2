//! Drop-in filesystem shims: a store written on `std::fs` or `tokio::fs` changes one import
//! (`use crashsim::fs::std as fs;`, `use crashsim::fs::tokio as fs;`) and runs on the simulated
//! disk inside a harness run, on the real filesystem outside one.
//!
//! Model: one simulated core. A thread-local names the disk of the run in progress ([`on`],
//! [`enter`]; the harness sets it around every store it opens, calls and recovers, on its own
//! executor and under madsim). Each shim call looks it up: when set, the call becomes one or more
//! [`Request`]s to that disk (each one syscall of the trace, so one crash point and one place for
//! a fault); when not, it is the `std::fs` or `tokio::fs` call itself. Errors are `io::Error`s
//! from the same Linux errno, so `raw_os_error()` and `kind()` are what `std` gives.
//!
//! Shimmed ([`std`], [`tokio`]): `File` (`Read`/`Write`/`Seek` and `FileExt`;
//! `AsyncRead`/`AsyncWrite`/`AsyncSeek`), `sync_all`, `sync_data`, `set_len`, `metadata`,
//! `set_permissions`; `OpenOptions` (`read`, `write`, `append`, `truncate`, `create`,
//! `create_new`, `mode`); and `set_permissions`, `read`,
//! `read_to_string`, `write`, `rename`, `remove_file`, `create_dir`, `create_dir_all`,
//! `remove_dir`, `remove_dir_all`, `read_dir` (`DirEntry::file_type`), `hard_link`, `metadata`
//! (`Metadata::file_type`), `copy`, `exists` (tokio: `try_exists`). `File::open(dir)?.sync_all()`
//! is a directory fsync, as on Linux. The calls made of several syscalls are written once, on
//! the core (`tree`).
//!
//! Not shimmed: `Path`'s own filesystem methods (`exists`, `try_exists`, `is_file`, `is_dir`,
//! `metadata`, `read_dir`) call `std::fs` directly, so inside a run they see the real disk: a
//! store under test calls the shim's `exists` and `metadata` instead.
//!
//! Not simulated:
//! - permissions (`mode` and `set_permissions` act on a real disk only; on the simulated one
//!   `set_permissions` is a `stat`, failing where `chmod` would), symlinks, timestamps,
//!   `Metadata` beyond `file_type`, `is_dir`, `is_file` and `len`;
//! - preemption inside a `std` call made directly from a task: it runs to its end before another
//!   client may run. Sync code awaited through [`thread::scheduled`] (`crashsim::fs::std::scheduled`)
//!   runs on a thread of its own and may be preempted before each of its calls, as `tokio` calls
//!   may; a thread that waits on another client outside a filesystem call cannot be scheduled;
//! - tokio's write-behind: a `tokio::fs::File` write answers at once and reports its error with
//!   a later call; the shim's write is the syscall, and answers with its result;
//! - a file's own offset: the shim keeps the position, and reads and writes are `pread` and
//!   `pwrite` at it (appends are `write`s, and leave it), so the trace shows positioned calls;
//! - `metadata` of an open file is a `stat` of the path it was opened by;
//! - a file opened in one run and used in another keeps its own run's disk.

use ::std::cell::RefCell;
use ::std::future::Future;
use ::std::pin::Pin;
use ::std::sync::Arc;

use crashsim_sim::{Errno, Fd, Fs, FsResult, OpenOptions, Stat};

pub mod std;
pub mod thread;
pub mod tokio;
mod tree;

/// One call to the simulated disk, as both shims make it.
#[derive(Clone, Debug)]
pub enum Request {
    Open(String, OpenOptions),
    Write(Fd, Vec<u8>),
    Pwrite(Fd, u64, Vec<u8>),
    Pread(Fd, u64, usize),
    Truncate(Fd, u64),
    Fsync(Fd),
    Fdatasync(Fd),
    Close(Fd),
    Rename(String, String),
    Link(String, String),
    Unlink(String),
    Mkdir(String),
    Rmdir(String),
    Readdir(String),
    Stat(String),
}

/// What a [`Request`] returned.
#[derive(Clone, Debug)]
pub enum Response {
    Unit,
    Fd(Fd),
    Count(usize),
    Bytes(Vec<u8>),
    Names(Vec<String>),
    Stat(Stat),
}

/// A call in progress, owning all it needs (a shim's file keeps one across polls).
pub type Pending<T> = Pin<Box<dyn Future<Output = FsResult<T>> + Send>>;

/// The one simulated core under both shims: any [`Fs`] (the harness's gated disk, a bare
/// `SimFs`), called by value so that a call in progress outlives the borrow that made it.
pub trait Disk: Send + Sync {
    fn call(self: Arc<Self>, request: Request) -> Pending<Response>;

    /// [`Fs::site_library`]: whether the disk records call sites, and which frames are never one.
    fn site_library(&self) -> Option<Vec<String>>;
}

impl<F: Fs + 'static> Disk for F {
    fn site_library(&self) -> Option<Vec<String>> {
        Fs::site_library(self)
    }

    fn call(self: Arc<Self>, request: Request) -> Pending<Response> {
        Box::pin(async move {
            let fs = &*self;
            Ok(match request {
                Request::Open(path, opts) => Response::Fd(fs.open(&path, opts).await?),
                Request::Write(fd, data) => Response::Count(fs.write(fd, &data).await?),
                Request::Pwrite(fd, offset, data) => Response::Count(fs.pwrite(fd, offset, &data).await?),
                Request::Pread(fd, offset, len) => Response::Bytes(fs.pread(fd, offset, len).await?),
                Request::Truncate(fd, len) => fs.truncate(fd, len).await.map(|()| Response::Unit)?,
                Request::Fsync(fd) => fs.fsync(fd).await.map(|()| Response::Unit)?,
                Request::Fdatasync(fd) => fs.fdatasync(fd).await.map(|()| Response::Unit)?,
                Request::Close(fd) => fs.close(fd).await.map(|()| Response::Unit)?,
                Request::Rename(from, to) => fs.rename(&from, &to).await.map(|()| Response::Unit)?,
                Request::Link(from, to) => fs.link(&from, &to).await.map(|()| Response::Unit)?,
                Request::Unlink(path) => fs.unlink(&path).await.map(|()| Response::Unit)?,
                Request::Mkdir(path) => fs.mkdir(&path).await.map(|()| Response::Unit)?,
                Request::Rmdir(path) => fs.rmdir(&path).await.map(|()| Response::Unit)?,
                Request::Readdir(path) => Response::Names(fs.readdir(&path).await?),
                Request::Stat(path) => Response::Stat(fs.stat(&path).await?),
            })
        })
    }
}

/// Typed calls on the disk of a run: async (each one future, `'static`) for the tokio shim,
/// and through [`Handle::block`] for the std shim.
#[derive(Clone)]
pub struct Handle(Arc<dyn Disk>);

macro_rules! typed {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $out:ty, $request:ident, $response:pat => $value:expr) => {
        $(#[$doc])*
        pub fn $name(&self, $($arg: $ty),*) -> Pending<$out> {
            let call = self.0.clone().call(Request::$request($($arg),*));
            Box::pin(async move {
                match call.await? {
                    $response => Ok($value),
                    other => unreachable!("{} answered {other:?}", stringify!($request)),
                }
            })
        }
    };
}

impl Handle {
    typed!(open(path: String, opts: OpenOptions) -> Fd, Open, Response::Fd(fd) => fd);
    typed!(write(fd: Fd, data: Vec<u8>) -> usize, Write, Response::Count(n) => n);
    typed!(pwrite(fd: Fd, offset: u64, data: Vec<u8>) -> usize, Pwrite, Response::Count(n) => n);
    typed!(pread(fd: Fd, offset: u64, len: usize) -> Vec<u8>, Pread, Response::Bytes(bytes) => bytes);
    typed!(truncate(fd: Fd, len: u64) -> (), Truncate, Response::Unit => ());
    typed!(fsync(fd: Fd) -> (), Fsync, Response::Unit => ());
    typed!(fdatasync(fd: Fd) -> (), Fdatasync, Response::Unit => ());
    typed!(close(fd: Fd) -> (), Close, Response::Unit => ());
    typed!(rename(from: String, to: String) -> (), Rename, Response::Unit => ());
    typed!(link(from: String, to: String) -> (), Link, Response::Unit => ());
    typed!(unlink(path: String) -> (), Unlink, Response::Unit => ());
    typed!(mkdir(path: String) -> (), Mkdir, Response::Unit => ());
    typed!(rmdir(path: String) -> (), Rmdir, Response::Unit => ());
    typed!(readdir(path: String) -> Vec<String>, Readdir, Response::Names(names) => names);
    typed!(stat(path: String) -> Stat, Stat, Response::Stat(stat) => stat);

    /// [`Disk::site_library`] of the disk.
    pub fn site_library(&self) -> Option<Vec<String>> {
        self.0.site_library()
    }

    /// Runs a call to its end on this thread (the std shim, a dropped descriptor): a simulated
    /// disk never waits on a device, so this only passes the harness's preemption points by.
    /// No executor polls this thread meanwhile, so a point that would wait on one (a latency on
    /// madsim's clock) is passed at once ([`blocking`]).
    pub fn block<T>(call: Pending<T>) -> FsResult<T> {
        BLOCKING.with(|blocking| {
            let outer = blocking.replace(true);
            let result = pollster::block_on(call);
            blocking.set(outer);
            result
        })
    }
}

/// A descriptor open on a run's disk, with the path it was opened by; closed when dropped,
/// its error unseen (as `std` and `tokio` do: `sync_all` is where a program sees errors).
pub(crate) struct Descriptor {
    pub(crate) fs: Handle,
    pub(crate) fd: Fd,
    pub(crate) path: String,
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        let _ = Handle::block(self.fs.close(self.fd));
    }
}

impl ::std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        write!(f, "Descriptor {{ fd: {}, path: {:?} }}", self.fd, self.path)
    }
}

/// Whether this thread is inside [`Handle::block`]: a call made there cannot wait on an
/// executor's clock.
pub fn blocking() -> bool {
    BLOCKING.with(|blocking| blocking.get())
}

thread_local! {
    static BLOCKING: ::std::cell::Cell<bool> = const { ::std::cell::Cell::new(false) };
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Runs `f` with the shims of this thread on `disk`; the disk they were on before comes back
/// afterwards, even if `f` panics. Runs nest (work after recovery inside a check).
pub fn on<R>(disk: Arc<dyn Disk>, f: impl FnOnce() -> R) -> R {
    let _entered = enter(disk);
    f()
}

/// Puts the shims of this thread on `disk` until the guard is dropped (then on the disk they
/// were on before): for an async run whose executor polls every task on this thread (madsim's).
pub fn enter(disk: Arc<dyn Disk>) -> Entered {
    Entered(CURRENT.with(|current| current.borrow_mut().replace(Handle(disk))))
}

/// The guard of [`enter`].
pub struct Entered(Option<Handle>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// The disk of the run in progress on this thread, if any.
pub fn current() -> Option<Handle> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Whether a harness run is in progress on this thread (the shims act on its disk).
pub fn simulated() -> bool {
    CURRENT.with(|current| current.borrow().is_some())
}

/// An errno as the `io::Error` `std` gives for it.
pub(crate) fn io_error(errno: Errno) -> ::std::io::Error {
    ::std::io::Error::from_raw_os_error(errno as i32)
}
