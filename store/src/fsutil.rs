//! Small protocols over the `Fs` trait that every part of the store uses: read a whole file,
//! write one (looping over short writes), fsync a directory. Each failure names its file.

use crashsim_sim::{Errno, Fs, OpenOptions};

use crate::error::{StoreError, StoreResult};

/// Bytes asked for per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// The whole file, or `None` if it does not exist.
pub async fn read_file<F: Fs>(fs: &F, path: &str) -> StoreResult<Option<Vec<u8>>> {
    let fd = match fs.open(path, OpenOptions::read()).await {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(errno) => return Err(StoreError::fs("open", path, errno)),
    };
    let mut out = Vec::new();
    let result = loop {
        match fs.read(fd, READ_CHUNK).await {
            Ok(chunk) if chunk.is_empty() => break Ok(()),
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(errno) => break Err(StoreError::fs("read", path, errno)),
        }
    };
    close(fs, fd, path).await?;
    result.map(|()| Some(out))
}

/// Writes all of `data` at the current offset of `fd`, looping over short writes.
pub async fn write_all<F: Fs>(fs: &F, fd: crashsim_sim::Fd, path: &str, mut data: &[u8]) -> StoreResult<()> {
    while !data.is_empty() {
        match fs.write(fd, data).await {
            Ok(0) => return Err(StoreError::fs("write", path, Errno::ENOSPC)),
            Ok(n) => data = &data[n..],
            Err(errno) => return Err(StoreError::fs("write", path, errno)),
        }
    }
    Ok(())
}

/// Opens `path` with `opts`, writes `data`, fsyncs it if `sync`, and closes it. On failure the
/// descriptor is still closed.
pub async fn write_file<F: Fs>(fs: &F, path: &str, opts: OpenOptions, data: &[u8], sync: bool) -> StoreResult<()> {
    let fd = fs.open(path, opts).await.map_err(|e| StoreError::fs("open", path, e))?;
    let mut result = write_all(fs, fd, path, data).await;
    if result.is_ok() && sync {
        result = fs.fsync(fd).await.map_err(|e| StoreError::fs("fsync", path, e));
    }
    let closed = close(fs, fd, path).await;
    result.and(closed)
}

pub async fn close<F: Fs>(fs: &F, fd: crashsim_sim::Fd, path: &str) -> StoreResult<()> {
    fs.close(fd).await.map_err(|e| StoreError::fs("close", path, e))
}

/// fsync of a directory, which makes its entry changes (create, rename, unlink) durable.
pub async fn sync_dir<F: Fs>(fs: &F, dir: &str) -> StoreResult<()> {
    let fd = fs.open(dir, OpenOptions::dir()).await.map_err(|e| StoreError::fs("open", dir, e))?;
    let result = fs.fsync(fd).await.map_err(|e| StoreError::fs("fsync", dir, e));
    let closed = close(fs, fd, dir).await;
    result.and(closed)
}

pub async fn rename<F: Fs>(fs: &F, from: &str, to: &str) -> StoreResult<()> {
    fs.rename(from, to).await.map_err(|e| StoreError::fs("rename", from, e))
}

pub async fn unlink<F: Fs>(fs: &F, path: &str) -> StoreResult<()> {
    fs.unlink(path).await.map_err(|e| StoreError::fs("unlink", path, e))
}
