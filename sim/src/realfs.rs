//! `RealFs`: the `Fs` trait on real syscalls, rooted in one directory.
//!
//! Every path is resolved under the root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
//! so neither `..` nor a symlink can lead outside it (refused with `EXDEV` and `ELOOP`). Calls
//! that change an entry open the parent that way and act on the last component (`renameat`,
//! `unlinkat`, `mkdirat`), and `fsync` of a directory goes through an `O_DIRECTORY` descriptor.
//! Descriptors are numbered as in `SimFs` (lowest free from 3), so results compare one to one.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use nix::errno::Errno;
use nix::fcntl::{openat2, renameat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{fdatasync, fsync, ftruncate, linkat, unlinkat, UnlinkatFlags};

use crate::fd::FdTable;
use crate::path::{components, join, parent_and_leaf};
use crate::{Fd, Fs, FsResult, Kind, OpenOptions, Stat};

/// A real directory seen through the `Fs` trait.
pub struct RealFs {
    root: PathBuf,
    root_fd: OwnedFd,
    fds: Mutex<FdTable<OwnedFd>>,
}

impl RealFs {
    /// Opens `root`, which must be an existing directory.
    pub fn new(root: impl AsRef<Path>) -> FsResult<Self> {
        let root = root.as_ref().to_path_buf();
        let root_fd = nix::fcntl::open(&root, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        Ok(Self { root, root_fd, fds: Mutex::new(FdTable::default()) })
    }

    /// The directory this filesystem is rooted in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn fds(&self) -> MutexGuard<'_, FdTable<OwnedFd>> {
        self.fds.lock().expect("RealFs descriptor table poisoned")
    }

    /// Opens `parts` under the root without leaving it or following a symlink.
    fn open_beneath(&self, parts: &[&str], flags: OFlag) -> FsResult<OwnedFd> {
        let rel = if parts.is_empty() { ".".to_string() } else { join(parts) };
        // openat2 refuses a mode without O_CREAT.
        let mode = if flags.contains(OFlag::O_CREAT) { Mode::from_bits_truncate(0o644) } else { Mode::empty() };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(mode)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        openat2(self.root_fd.as_fd(), rel.as_str(), how)
    }

    fn open_dir(&self, parts: &[&str]) -> FsResult<OwnedFd> {
        self.open_beneath(parts, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
    }

    fn with_fd<T>(&self, fd: Fd, f: impl FnOnce(&OwnedFd) -> nix::Result<T>) -> FsResult<T> {
        let fds = self.fds();
        f(fds.get(fd)?)
    }
}

fn open_flags(opts: OpenOptions) -> OFlag {
    let mut flags = match (opts.readable(), opts.write) {
        (true, true) => OFlag::O_RDWR,
        (false, true) => OFlag::O_WRONLY,
        _ => OFlag::O_RDONLY,
    };
    for (set, flag) in [
        (opts.create, OFlag::O_CREAT),
        (opts.excl, OFlag::O_EXCL),
        (opts.trunc, OFlag::O_TRUNC),
        (opts.append, OFlag::O_APPEND),
        (opts.directory, OFlag::O_DIRECTORY),
    ] {
        if set {
            flags |= flag;
        }
    }
    flags
}

fn kind_of(mode: nix::libc::mode_t) -> Kind {
    if SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
        Kind::Dir
    } else {
        Kind::File
    }
}

impl Fs for RealFs {
    async fn open(&self, path: &str, opts: OpenOptions) -> FsResult<Fd> {
        opts.validate()?;
        let parts = components(path)?;
        // Not blocking, so that a fifo's open returns at once (a regular file ignores the flag).
        let fd = self.open_beneath(&parts, open_flags(opts) | OFlag::O_NONBLOCK)?;
        // A fifo, a socket or a device is no file of a disk: reading it would wait or act.
        let kind = SFlag::from_bits_truncate(fstat(fd.as_fd())?.st_mode & SFlag::S_IFMT.bits());
        if kind != SFlag::S_IFREG && kind != SFlag::S_IFDIR {
            return Err(Errno::ENXIO);
        }
        Ok(self.fds().insert(fd))
    }

    async fn write(&self, fd: Fd, data: &[u8]) -> FsResult<usize> {
        self.with_fd(fd, |f| nix::unistd::write(f, data))
    }

    async fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> FsResult<usize> {
        self.with_fd(fd, |f| nix::sys::uio::pwrite(f, data, offset as i64))
    }

    async fn read(&self, fd: Fd, len: usize) -> FsResult<Vec<u8>> {
        let mut buf = vec![0; len];
        let n = self.with_fd(fd, |f| nix::unistd::read(f, &mut buf))?;
        buf.truncate(n);
        Ok(buf)
    }

    async fn pread(&self, fd: Fd, offset: u64, len: usize) -> FsResult<Vec<u8>> {
        let mut buf = vec![0; len];
        let n = self.with_fd(fd, |f| nix::sys::uio::pread(f, &mut buf, offset as i64))?;
        buf.truncate(n);
        Ok(buf)
    }

    async fn truncate(&self, fd: Fd, len: u64) -> FsResult<()> {
        self.with_fd(fd, |f| ftruncate(f, len as i64))
    }

    async fn fsync(&self, fd: Fd) -> FsResult<()> {
        self.with_fd(fd, |f| fsync(f))
    }

    async fn fdatasync(&self, fd: Fd) -> FsResult<()> {
        self.with_fd(fd, |f| fdatasync(f))
    }

    async fn close(&self, fd: Fd) -> FsResult<()> {
        // Dropping the OwnedFd closes it; close(2) errors after the fd is released are moot.
        self.fds().remove(fd).map(drop)
    }

    async fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        let (from_parent, from_leaf) = parent_and_leaf(from)?;
        let (to_parent, to_leaf) = parent_and_leaf(to)?;
        let from_dir = self.open_dir(&from_parent)?;
        let to_dir = self.open_dir(&to_parent)?;
        renameat(from_dir.as_fd(), from_leaf, to_dir.as_fd(), to_leaf)
    }

    async fn link(&self, from: &str, to: &str) -> FsResult<()> {
        // The root as the source is a directory like any other: link(2) refuses it with EPERM.
        let (from_parent, from_leaf) = match parent_and_leaf(from) {
            Err(Errno::EBUSY) => (Vec::new(), "."),
            other => other?,
        };
        let to_parts = components(to)?;
        // Linux looks the source up before the new name's parent.
        self.stat(from).await?;
        let Some((to_leaf, to_parent)) = to_parts.split_last() else {
            return Err(Errno::EEXIST);
        };
        let to_parent = to_parent.to_vec();
        let from_dir = self.open_dir(&from_parent)?;
        let to_dir = self.open_dir(&to_parent)?;
        linkat(from_dir.as_fd(), from_leaf, to_dir.as_fd(), *to_leaf, AtFlags::empty())
    }

    async fn unlink(&self, path: &str) -> FsResult<()> {
        let (parent, leaf) = parent_and_leaf(path)?;
        let dir = self.open_dir(&parent)?;
        unlinkat(dir.as_fd(), leaf, UnlinkatFlags::NoRemoveDir)
    }

    async fn mkdir(&self, path: &str) -> FsResult<()> {
        let (parent, leaf) = parent_and_leaf(path)?;
        let dir = self.open_dir(&parent)?;
        mkdirat(dir.as_fd(), leaf, Mode::from_bits_truncate(0o755))
    }

    async fn rmdir(&self, path: &str) -> FsResult<()> {
        let (parent, leaf) = parent_and_leaf(path)?;
        let dir = self.open_dir(&parent)?;
        unlinkat(dir.as_fd(), leaf, UnlinkatFlags::RemoveDir)
    }

    async fn readdir(&self, path: &str) -> FsResult<Vec<String>> {
        let parts = components(path)?;
        let fd = self.open_beneath(&parts, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let mut dir = nix::dir::Dir::from_fd(fd)?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            // A name that is not UTF-8 has no `String` that names it: a lossy one names another file.
            let name = entry?.file_name().to_str().map_err(|_| Errno::EILSEQ)?.to_string();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    async fn stat(&self, path: &str) -> FsResult<Stat> {
        let parts = components(path)?;
        let st = match parts.split_last() {
            None => fstat(self.root_fd.as_fd())?,
            Some((leaf, parent)) => {
                let dir = self.open_dir(parent)?;
                fstatat(dir.as_fd(), *leaf, AtFlags::AT_SYMLINK_NOFOLLOW)?
            }
        };
        let kind = kind_of(st.st_mode);
        let (size, mtime_ms) = if kind == Kind::File {
            (st.st_size as u64, st.st_mtime as u64 * 1000 + st.st_mtime_nsec as u64 / 1_000_000)
        } else {
            (0, 0)
        };
        Ok(Stat { kind, size, ino: st.st_ino, mtime_ms })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::RealFs;
    use crate::{Errno, Fs};

    /// A fifo is no file of a disk: opening it is an error at once, not a wait for a writer.
    #[test]
    fn a_fifo_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let root = dir.path().to_path_buf();
        // A watchdog, so that a regression fails here instead of hanging the suite.
        let (done, opened) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let fs = RealFs::new(&root).unwrap();
            let opens = [crate::OpenOptions::read(), crate::OpenOptions::write()]
                .map(|o| pollster::block_on(fs.open("fifo", o)));
            done.send(opens).unwrap();
        });
        let opens = opened.recv_timeout(std::time::Duration::from_secs(60)).expect("open of a fifo returns");
        assert_eq!(opens, [Err(Errno::ENXIO), Err(Errno::ENXIO)]);
    }

    /// A name that is not UTF-8 is an error, not a lossy name that names another file (or none).
    #[test]
    fn a_name_that_is_not_utf8_is_an_error_when_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        let fs = RealFs::new(dir.path()).unwrap();
        assert_eq!(pollster::block_on(fs.readdir("")), Ok(vec!["plain".to_string()]));
        std::fs::write(dir.path().join(std::ffi::OsStr::from_bytes(b"bad\xffname")), b"y").unwrap();
        assert_eq!(pollster::block_on(fs.readdir("")), Err(Errno::EILSEQ));
    }
}
