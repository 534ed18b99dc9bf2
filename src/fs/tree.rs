//! The shims' calls that are several syscalls (`create_dir_all`, `remove_dir_all`, `exists`),
//! written once on the simulated core for both shims: the std shim blocks on them, the tokio
//! shim awaits them. Each step is one call to the disk, so one crash point and one place for a
//! fault, in the order `std` makes its own calls, so that what fails fails with the same errno.

use crashsim_sim::{Errno, Kind};

use super::{Handle, Pending};

impl Handle {
    /// Creates `path` and every missing parent; an existing directory is fine. std's steps: a
    /// `mkdir`; on ENOENT the parent first, then the `mkdir` again; any other error is fine when
    /// a directory stands there after all.
    pub fn mkdir_all(&self, path: String) -> Pending<()> {
        let fs = self.clone();
        Box::pin(async move {
            if path.is_empty() || path == "/" {
                return Ok(());
            }
            match fs.mkdir(path.clone()).await {
                Ok(()) => return Ok(()),
                Err(Errno::ENOENT) => {}
                Err(errno) => return fs.is_dir_or(path, errno).await,
            }
            fs.mkdir_all(parent_of(&path).to_string()).await?;
            match fs.mkdir(path.clone()).await {
                Ok(()) => Ok(()),
                Err(errno) => fs.is_dir_or(path, errno).await,
            }
        })
    }

    /// Removes the directory `path` and everything under it: std's `remove_dir_all`, which
    /// refuses a file (ENOTDIR) and removes each directory's entries, depth first, before it.
    pub fn remove_all(&self, path: String) -> Pending<()> {
        let fs = self.clone();
        Box::pin(async move {
            if fs.stat(path.clone()).await?.kind != Kind::Dir {
                return Err(Errno::ENOTDIR);
            }
            fs.remove_tree(path).await
        })
    }

    /// Whether `path` names anything: `false` only when the disk says ENOENT (as `std::fs::exists`;
    /// a path through a file is an error, not an absence).
    pub fn exists(&self, path: String) -> Pending<bool> {
        let stat = self.stat(path);
        Box::pin(async move {
            match stat.await {
                Ok(_) => Ok(true),
                Err(Errno::ENOENT) => Ok(false),
                Err(errno) => Err(errno),
            }
        })
    }

    /// Removes the entries of the directory `dir`, then `dir`.
    fn remove_tree(&self, dir: String) -> Pending<()> {
        let fs = self.clone();
        Box::pin(async move {
            for name in fs.readdir(dir.clone()).await? {
                let child =
                    if dir.is_empty() || dir.ends_with('/') { format!("{dir}{name}") } else { format!("{dir}/{name}") };
                match fs.stat(child.clone()).await?.kind {
                    Kind::Dir => fs.remove_tree(child).await?,
                    Kind::File => fs.unlink(child).await?,
                }
            }
            fs.rmdir(dir).await
        })
    }

    /// `Ok` when a directory stands at `path` (a `stat`), else `errno`.
    async fn is_dir_or(&self, path: String, errno: Errno) -> Result<(), Errno> {
        match self.stat(path).await {
            Ok(stat) if stat.kind == Kind::Dir => Ok(()),
            _ => Err(errno),
        }
    }
}

/// The simulated path of `path`'s parent ("" for the root's children).
pub(super) fn parent_of(path: &str) -> &str {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) => "/",
        Some(slash) => &path[..slash],
        None => "",
    }
}
