//! Whole-file protocols over any [`Fs`]: read a file, write one (looping over short writes,
//! fsync optional), fsync a directory. Small enough to copy; here so that a store written for
//! crashsim starts with the loops every store needs and often gets wrong.

use crate::{Errno, Fd, Fs, FsResult, OpenOptions};

/// Bytes asked for per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// The whole file at `path`, or `None` if it does not exist.
pub async fn read<F: Fs>(fs: &F, path: &str) -> FsResult<Option<Vec<u8>>> {
    let fd = match fs.open(path, OpenOptions::read()).await {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(errno) => return Err(errno),
    };
    let mut out = Vec::new();
    let result = loop {
        match fs.read(fd, READ_CHUNK).await {
            Ok(chunk) if chunk.is_empty() => break Ok(()),
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(errno) => break Err(errno),
        }
    };
    let closed = fs.close(fd).await;
    result.and(closed).map(|()| Some(out))
}

/// Writes all of `data` at the current offset of `fd`; a write of 0 bytes is `ENOSPC`.
pub async fn write_all<F: Fs>(fs: &F, fd: Fd, mut data: &[u8]) -> FsResult<()> {
    while !data.is_empty() {
        match fs.write(fd, data).await? {
            0 => return Err(Errno::ENOSPC),
            n => data = &data[n..],
        }
    }
    Ok(())
}

/// Opens `path` with `opts`, writes `data`, fsyncs the file if `sync`, and closes it (also on
/// failure).
pub async fn write<F: Fs>(fs: &F, path: &str, opts: OpenOptions, data: &[u8], sync: bool) -> FsResult<()> {
    let fd = fs.open(path, opts).await?;
    let mut result = write_all(fs, fd, data).await;
    if result.is_ok() && sync {
        result = fs.fsync(fd).await;
    }
    let closed = fs.close(fd).await;
    result.and(closed)
}

/// fsync of directory `dir`, which makes its entry changes (create, rename, unlink) durable.
pub async fn sync_dir<F: Fs>(fs: &F, dir: &str) -> FsResult<()> {
    let fd = fs.open(dir, OpenOptions::dir()).await?;
    let result = fs.fsync(fd).await;
    let closed = fs.close(fd).await;
    result.and(closed)
}
