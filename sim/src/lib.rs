//! The simulated disk: an async POSIX-shaped `Fs` trait, an in-memory `SimFs` that knows
//! what a crash can leave behind, and a `RealFs` that runs the same calls on a real directory.
//!
//! Write a file without fsync, then ask what a crash right after could leave:
//!
//! ```
//! use crashsim_sim::{files, ImageOptions, Model, OpenOptions, SimFs, SimOptions};
//!
//! let fs = SimFs::new(SimOptions::default());
//! let write = files::write(&fs, "note", OpenOptions::create_trunc(), b"hello", false);
//! futures_lite_block_on(write).unwrap();
//! // kill -9: the page cache survives, so the note is whole.
//! let killed = fs.crash_images(fs.steps(), Model::Process, &ImageOptions::default());
//! assert!(killed.images().iter().all(|image| image.file("note") == Some(&b"hello"[..])));
//! // Power loss: nothing was fsynced, so the note may be missing, empty or whole.
//! let lost = fs.crash_images(fs.steps(), Model::Posix, &ImageOptions::default());
//! assert!(lost.images().iter().any(|image| image.file("note").is_none()));
//! assert!(lost.images().iter().any(|image| image.file("note") == Some(&b""[..])));
//! assert!(lost.images().iter().any(|image| image.file("note") == Some(&b"hello"[..])));
//! # fn futures_lite_block_on<T>(f: impl std::future::Future<Output = T>) -> T {
//! #     // SimFs never waits, so one poll finishes any of its futures.
//! #     let mut f = std::pin::pin!(f);
//! #     match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
//! #         std::task::Poll::Ready(v) => v,
//! #         std::task::Poll::Pending => unreachable!("SimFs does not block"),
//! #     }
//! # }
//! ```
//!
//! # Durability model
//!
//! `SimFs` is inode-based and keeps three things:
//! - **V**, the volatile state: what a running process sees (the page cache).
//! - **D**, the durable state: what is on the platter.
//! - **P**, the pending log: every mutating effect since it last became durable, in order.
//!
//! - `fsync(file)` (and `fdatasync`) makes that inode's pending data (writes, truncates) durable.
//!   It does NOT make the file's directory entry durable.
//! - `fsync(dir)` makes that directory's pending entry operations (create, unlink, rename in or
//!   out, mkdir, rmdir) durable. A durable entry of a never-synced file points at an empty inode.
//! - A failed fsync drops that inode's pending data: it never reaches D, V keeps it, and a later
//!   fsync succeeds (Linux behaviour since 4.13).
//!
//! What a crash after syscall k leaves is decided by a [`Model`] (see [`persistence`]):
//! `process` (kill -9: image = V), `ordered` (every fsync is a global barrier; D plus any prefix
//! of P, the last write possibly torn), `posix` (each directory's entry operations persist as a
//! prefix, each data write independently and possibly torn at sector granularity).
//!
//! # Fault model
//!
//! Every call of the [`Fs`] trait is one step of the trace and one possible crash point. An
//! [`Injector`] may fail any call with an errno and no effect (a failed fsync still drops the
//! pending data, as Linux does), or shorten a write. A capacity limit gives `ENOSPC`.
//!
//! # Paths
//!
//! Paths are relative to the filesystem root (a leading `/` is allowed and means the root).
//! Components are separated by single `/`; `..` is refused with `EXDEV` (it could escape the
//! root, as `openat2(RESOLVE_BENEATH)` refuses it), an empty or `.` component with `EINVAL`.
//! Operations that need a parent (mkdir, rmdir, unlink, rename) refuse the root with `EBUSY`.
//! Errors are Linux errno values, errno for errno; a differential test holds `SimFs` to `RealFs`.

mod candidate;
pub mod clock;
mod content;
mod disk;
mod fd;
pub mod files;
mod image;
mod inject;
pub mod path;
pub mod persistence;
mod realfs;
mod simfs;
pub mod site;
mod snapshot;
mod state;
mod sync_rule;
mod trace;

use std::future::Future;

pub use clock::{Clock, SimClock};
pub use disk::{Bytes, Effect, Event, EventKind, Ino};
pub use image::{preview, Frozen, Image, Node};
pub use inject::{Injection, Injector};
pub use nix::errno::Errno;
pub use persistence::{crash_images, ImageOptions, ImageSet, Model, Survivor, Tracker};
pub use realfs::RealFs;
pub use simfs::{SimFs, SimOptions};
pub use site::{Frame, Site};
pub use snapshot::{image_of, image_of_dir};
pub use sync_rule::{SyncRule, SyncTarget};
pub use trace::{Call, Outcome, Trace, TraceStep};

/// Result of every filesystem call: a value or a Linux errno.
pub type FsResult<T> = Result<T, Errno>;

/// A file descriptor of an [`Fs`]. Numbers are allocated lowest-free from 3 in both `SimFs` and
/// `RealFs`, so the same script yields the same numbers on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fd(pub u32);

impl std::fmt::Display for Fd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How to open a path, as the flags of `open(2)`.
///
/// Defaults: read-only, no other flag. `trunc` without `write`, and `directory` with `create`,
/// are refused with `EINVAL` (Linux leaves the first unspecified and refuses the second).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpenOptions {
    /// Open for reading (`O_RDONLY`/`O_RDWR`). Default: true unless `write` is set alone.
    pub read: bool,
    /// Open for writing (`O_WRONLY`/`O_RDWR`). Default: false.
    pub write: bool,
    /// Every write goes to the end of the file (`O_APPEND`). Default: false.
    pub append: bool,
    /// Create the file if it is missing (`O_CREAT`). Default: false.
    pub create: bool,
    /// With `create`: fail with `EEXIST` if the path exists (`O_EXCL`). Default: false.
    pub excl: bool,
    /// Truncate an existing file to zero length (`O_TRUNC`). Default: false.
    pub trunc: bool,
    /// Fail with `ENOTDIR` unless the path is a directory (`O_DIRECTORY`). Default: false.
    pub directory: bool,
}

impl OpenOptions {
    /// Read-only.
    pub fn read() -> Self {
        Self { read: true, ..Self::default() }
    }
    /// Write-only, existing file.
    pub fn write() -> Self {
        Self { write: true, ..Self::default() }
    }
    /// Write-only, created if missing, truncated if present (`O_WRONLY|O_CREAT|O_TRUNC`).
    pub fn create_trunc() -> Self {
        Self { write: true, create: true, trunc: true, ..Self::default() }
    }
    /// Write-only, created, failing if it exists (`O_WRONLY|O_CREAT|O_EXCL`).
    pub fn create_new() -> Self {
        Self { write: true, create: true, excl: true, ..Self::default() }
    }
    /// Append-only, created if missing (`O_WRONLY|O_CREAT|O_APPEND`).
    pub fn append() -> Self {
        Self { write: true, create: true, append: true, ..Self::default() }
    }
    /// A directory, read-only, for `fsync` of a directory (`O_RDONLY|O_DIRECTORY`).
    pub fn dir() -> Self {
        Self { read: true, directory: true, ..Self::default() }
    }

    /// The flags `open(2)` refuses before looking at the path.
    pub fn validate(&self) -> FsResult<()> {
        if self.trunc && !self.write {
            return Err(Errno::EINVAL);
        }
        if self.directory && self.create {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Whether reads are allowed: `O_RDONLY` is the absence of write access.
    pub fn readable(&self) -> bool {
        self.read || !self.write
    }
}

/// Kind of a filesystem object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    File,
    Dir,
}

/// What `stat` tells: the kind and, for a file, its size in bytes (0 for a directory, whose
/// real size depends on the filesystem), its inode number, and when its data last changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stat {
    pub kind: Kind,
    pub size: u64,
    /// The inode number: a new file (an atomic replace's temp file) has a new one.
    pub ino: u64,
    /// Milliseconds of the last write or truncate (or creation) of a file, on the filesystem's
    /// clock: `SimFs` reads its [`Clock`] (0 without one, and for whatever a crash image held),
    /// `RealFs` the real `st_mtime`. 0 for a directory.
    pub mtime_ms: u64,
}

/// A POSIX-shaped filesystem. Every call is one step of the trace and one possible crash point;
/// every call is an await point, so concurrent clients interleave at syscall boundaries.
///
/// Read and directory listings return owned data; listings are sorted by name (real `readdir`
/// order is arbitrary, and determinism comes first).
pub trait Fs: Send + Sync {
    /// `open(2)`: see [`OpenOptions`].
    fn open(&self, path: &str, opts: OpenOptions) -> impl Future<Output = FsResult<Fd>> + Send;
    /// `write(2)` at the file offset (at the end with `append`); returns bytes written.
    fn write(&self, fd: Fd, data: &[u8]) -> impl Future<Output = FsResult<usize>> + Send;
    /// `pwrite(2)`: write at `offset` without moving the file offset (at the end with `append`,
    /// as Linux does).
    fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> impl Future<Output = FsResult<usize>> + Send;
    /// `read(2)` of at most `len` bytes from the file offset.
    fn read(&self, fd: Fd, len: usize) -> impl Future<Output = FsResult<Vec<u8>>> + Send;
    /// `pread(2)` of at most `len` bytes at `offset`.
    fn pread(&self, fd: Fd, offset: u64, len: usize) -> impl Future<Output = FsResult<Vec<u8>>> + Send;
    /// `ftruncate(2)`: set the file's length; the fd must be open for writing.
    fn truncate(&self, fd: Fd, len: u64) -> impl Future<Output = FsResult<()>> + Send;
    /// `fsync(2)` of a file (its data) or of a directory (its entries).
    fn fsync(&self, fd: Fd) -> impl Future<Output = FsResult<()>> + Send;
    /// `fdatasync(2)`: as `fsync` in this model (size and data, no timestamps are modelled).
    fn fdatasync(&self, fd: Fd) -> impl Future<Output = FsResult<()>> + Send;
    /// `close(2)`.
    fn close(&self, fd: Fd) -> impl Future<Output = FsResult<()>> + Send;
    /// `rename(2)`.
    fn rename(&self, from: &str, to: &str) -> impl Future<Output = FsResult<()>> + Send;
    /// `link(2)`: a second name `to` for the file at `from` (a directory is refused with `EPERM`).
    fn link(&self, from: &str, to: &str) -> impl Future<Output = FsResult<()>> + Send;
    /// `unlink(2)` of a file.
    fn unlink(&self, path: &str) -> impl Future<Output = FsResult<()>> + Send;
    /// `mkdir(2)`.
    fn mkdir(&self, path: &str) -> impl Future<Output = FsResult<()>> + Send;
    /// `rmdir(2)` of an empty directory.
    fn rmdir(&self, path: &str) -> impl Future<Output = FsResult<()>> + Send;
    /// The names in a directory, sorted, without `.` and `..`.
    fn readdir(&self, path: &str) -> impl Future<Output = FsResult<Vec<String>>> + Send;
    /// `stat(2)` without following symlinks.
    fn stat(&self, path: &str) -> impl Future<Output = FsResult<Stat>> + Send;

    /// Whether this disk records each call's site, and if so the source directories whose
    /// frames are never a site ([`SimFs::record_sites`]): a caller whose calls are made for it
    /// on another thread captures its site itself and hands it over ([`site::made_at`]).
    /// Default: no sites.
    fn site_library(&self) -> Option<Vec<String>> {
        None
    }
}
