//! Reading a whole tree through the `Fs` trait into an [`Image`]: what tests compare a real
//! directory (through `RealFs`) and a simulated one with.

use std::path::Path;
use std::sync::Arc;

use crate::{Fs, FsResult, Image, Kind, Node, OpenOptions, RealFs};

/// Bytes asked for per read while copying a file.
const CHUNK: usize = 1 << 16;

/// Every path under the root of `fs` and what it holds, read with readdir, stat, open and read.
pub async fn image_of<F: Fs>(fs: &F) -> FsResult<Image> {
    let mut nodes = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        for name in fs.readdir(&dir).await? {
            let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            if fs.stat(&path).await?.kind == Kind::Dir {
                nodes.push((path.clone(), Node::Dir));
                dirs.push(path);
                continue;
            }
            let fd = fs.open(&path, OpenOptions::read()).await?;
            let mut bytes = Vec::new();
            loop {
                let chunk = fs.read(fd, CHUNK).await?;
                if chunk.is_empty() {
                    break;
                }
                bytes.extend(chunk);
            }
            fs.close(fd).await?;
            nodes.push((path, Node::File(Arc::new(bytes))));
        }
    }
    Ok(Image::from_nodes(nodes))
}

/// The tree under the real directory `dir`, through `RealFs` (so a symlink or a special file is
/// an error).
pub fn image_of_dir(dir: &Path) -> FsResult<Image> {
    // RealFs never waits: one block_on runs the whole walk.
    pollster::block_on(image_of(&RealFs::new(dir)?))
}
