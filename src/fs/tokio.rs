//! `tokio::fs`, shimmed: the same names and signatures, on the simulated disk inside a harness
//! run and `tokio::fs` itself outside one (which needs a tokio runtime, as `tokio::fs` does).
//! Inside a run, every call awaits the simulated disk, so a store's tasks are preempted at its
//! syscalls and interleave there. See [`crate::fs`] for the model and what is not simulated.

use ::std::future::Future;
use ::std::io::{self, SeekFrom};
use ::std::path::{Path, PathBuf};
use ::std::pin::Pin;
use ::std::task::{ready, Context, Poll};

use ::tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use crashsim_sim::{Errno, OpenOptions as SimOpen};

use super::std::{sim_flags, sim_path};
pub use super::std::{FileType, Metadata};
use super::{current, io_error, Descriptor, Handle, Pending};

/// Largest read asked of the simulated disk at once.
const READ_CHUNK: usize = 64 * 1024;

async fn run<T>(call: Pending<T>) -> io::Result<T> {
    call.await.map_err(io_error)
}

/// How to open a file, as `tokio::fs::OpenOptions`.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions(super::std::OpenOptions);

impl OpenOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.0.read(read);
        self
    }
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.0.write(write);
        self
    }
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.0.append(append);
        self
    }
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.0.truncate(truncate);
        self
    }
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.0.create(create);
        self
    }
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.0.create_new(create_new);
        self
    }
    /// The permission bits of a file it creates: applied on a real disk; the simulated disk has
    /// no permissions.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.0.mode(mode);
        self
    }

    pub async fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let path = path.as_ref();
        match current() {
            Some(fs) => {
                let flags: SimOpen = sim_flags(&self.0)?;
                let sim = sim_path(path)?;
                let fd = run(fs.open(sim.clone(), flags)).await?;
                let append = flags.append;
                Ok(File(Inner::Sim(SimFile {
                    file: Descriptor { fs, fd, path: sim },
                    pos: 0,
                    append,
                    pending: Default::default(),
                })))
            }
            None => {
                let o = &self.0;
                let mut options = ::tokio::fs::OpenOptions::new();
                options
                    .read(o.read)
                    .write(o.write)
                    .append(o.append)
                    .truncate(o.truncate)
                    .create(o.create)
                    .create_new(o.create_new);
                if let Some(mode) = o.mode {
                    options.mode(mode);
                }
                options.open(path).await.map(|file| File(Inner::Real(file)))
            }
        }
    }
}

/// An open file, as `tokio::fs::File`.
#[derive(Debug)]
pub struct File(Inner);

#[derive(Debug)]
enum Inner {
    Real(::tokio::fs::File),
    Sim(SimFile),
}

/// A file open on the simulated disk; `pending` is the call a poll started and a later poll
/// finishes (behind a mutex only so that `&File` may cross threads, as tokio's does: it is
/// reached through `&mut` alone, with `get_mut`, never locked).
#[derive(Debug)]
struct SimFile {
    file: Descriptor,
    pos: u64,
    append: bool,
    pending: ::std::sync::Mutex<Option<InFlight>>,
}

enum InFlight {
    Read(Pending<Vec<u8>>),
    Write(Pending<usize>),
    Seek(Pending<u64>),
}

impl ::std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str(match self {
            InFlight::Read(_) => "a read in flight",
            InFlight::Write(_) => "a write in flight",
            InFlight::Seek(_) => "a seek in flight",
        })
    }
}

impl File {
    pub async fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    pub async fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path).await
    }

    pub async fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create_new(true).open(path).await
    }

    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// `fsync(2)` (of a directory too, opened with [`File::open`]).
    pub async fn sync_all(&self) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.sync_all().await,
            Inner::Sim(sim) => run(sim.file.fs.fsync(sim.file.fd)).await,
        }
    }

    /// `fdatasync(2)`.
    pub async fn sync_data(&self) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.sync_data().await,
            Inner::Sim(sim) => run(sim.file.fs.fdatasync(sim.file.fd)).await,
        }
    }

    /// `ftruncate(2)`; the position does not move.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.set_len(size).await,
            Inner::Sim(sim) => run(sim.file.fs.truncate(sim.file.fd, size)).await,
        }
    }

    pub async fn metadata(&self) -> io::Result<Metadata> {
        match &self.0 {
            Inner::Real(file) => file.metadata().await.map(Metadata::from),
            Inner::Sim(sim) => run(sim.file.fs.stat(sim.file.path.clone())).await.map(Metadata::from),
        }
    }

    /// `fchmod(2)` on a real disk; nothing on the simulated one, which has no permissions.
    pub async fn set_permissions(&self, permissions: ::std::fs::Permissions) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.set_permissions(permissions).await,
            Inner::Sim(_) => Ok(()),
        }
    }
}

/// Polls `call`, keeping it in `slot` while it is pending.
fn poll_kept<T>(
    slot: &mut ::std::sync::Mutex<Option<InFlight>>,
    cx: &mut Context<'_>,
    mut call: Pending<T>,
    keep: fn(Pending<T>) -> InFlight,
) -> Poll<io::Result<T>> {
    match call.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result.map_err(io_error)),
        Poll::Pending => {
            *slot.get_mut().expect("never locked") = Some(keep(call));
            Poll::Pending
        }
    }
}

impl AsyncRead for File {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Real(file) => Pin::new(file).poll_read(cx, buf),
            Inner::Sim(sim) => {
                let call = match sim.pending.get_mut().expect("never locked").take() {
                    Some(InFlight::Read(call)) => call,
                    Some(_) => return Poll::Ready(Err(io::Error::other("a read while another call is in flight"))),
                    None => sim.file.fs.pread(sim.file.fd, sim.pos, buf.remaining().min(READ_CHUNK)),
                };
                let bytes = ready!(poll_kept(&mut sim.pending, cx, call, InFlight::Read))?;
                let n = bytes.len().min(buf.remaining());
                buf.put_slice(&bytes[..n]);
                sim.pos += n as u64;
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().0 {
            Inner::Real(file) => Pin::new(file).poll_write(cx, data),
            Inner::Sim(sim) => {
                // A write that was pending is the same write polled again (AsyncWrite's contract).
                let call = match sim.pending.get_mut().expect("never locked").take() {
                    Some(InFlight::Write(call)) => call,
                    Some(_) => return Poll::Ready(Err(io::Error::other("a write while another call is in flight"))),
                    None if sim.append => sim.file.fs.write(sim.file.fd, data.to_vec()),
                    None => sim.file.fs.pwrite(sim.file.fd, sim.pos, data.to_vec()),
                };
                let written = ready!(poll_kept(&mut sim.pending, cx, call, InFlight::Write))?;
                if !sim.append {
                    sim.pos += written as u64;
                }
                Poll::Ready(Ok(written))
            }
        }
    }

    /// Nothing is buffered on the simulated disk: every write is a syscall.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Real(file) => Pin::new(file).poll_flush(cx),
            Inner::Sim(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            Inner::Real(file) => Pin::new(file).poll_shutdown(cx),
            Inner::Sim(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, to: SeekFrom) -> io::Result<()> {
        match &mut self.get_mut().0 {
            Inner::Real(file) => Pin::new(file).start_seek(to),
            Inner::Sim(sim) => {
                if sim.pending.get_mut().expect("never locked").is_some() {
                    return Err(io::Error::other("a seek while another call is in flight"));
                }
                let (fs, path, pos) = (sim.file.fs.clone(), sim.file.path.clone(), sim.pos);
                *sim.pending.get_mut().expect("never locked") = Some(InFlight::Seek(Box::pin(async move {
                    let (base, delta) = match to {
                        SeekFrom::Start(at) => (0, i128::from(at)),
                        SeekFrom::Current(delta) => (pos, i128::from(delta)),
                        SeekFrom::End(delta) => (fs.stat(path).await?.size, i128::from(delta)),
                    };
                    u64::try_from(i128::from(base) + delta).map_err(|_| Errno::EINVAL)
                })));
                Ok(())
            }
        }
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        match &mut self.get_mut().0 {
            Inner::Real(file) => Pin::new(file).poll_complete(cx),
            Inner::Sim(sim) => match sim.pending.get_mut().expect("never locked").take() {
                Some(InFlight::Seek(call)) => {
                    sim.pos = ready!(poll_kept(&mut sim.pending, cx, call, InFlight::Seek))?;
                    Poll::Ready(Ok(sim.pos))
                }
                Some(other) => {
                    *sim.pending.get_mut().expect("never locked") = Some(other);
                    Poll::Ready(Err(io::Error::other("no seek in flight")))
                }
                None => Poll::Ready(Ok(sim.pos)),
            },
        }
    }
}

/// Runs `sim` on the simulated disk of the run in progress, or `real` outside one.
async fn either<T, S, R>(
    path: &Path,
    sim: impl FnOnce(Handle, String) -> S,
    real: impl FnOnce(PathBuf) -> R,
) -> io::Result<T>
where
    S: Future<Output = io::Result<T>>,
    R: Future<Output = io::Result<T>>,
{
    match current() {
        Some(fs) => sim(fs, sim_path(path)?).await,
        None => real(path.to_path_buf()).await,
    }
}

/// The whole file.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    if current().is_none() {
        return ::tokio::fs::read(path).await;
    }
    use ::tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    File::open(path).await?.read_to_end(&mut out).await?;
    Ok(out)
}

/// The whole file, as UTF-8 (`InvalidData` otherwise).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(read(path).await?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Creates or truncates the file and writes all of `contents` (no fsync).
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    if current().is_none() {
        return ::tokio::fs::write(path, contents).await;
    }
    use ::tokio::io::AsyncWriteExt;
    File::create(path).await?.write_all(contents.as_ref()).await
}

pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let to = to.as_ref();
    match current() {
        Some(fs) => run(fs.rename(sim_path(from.as_ref())?, sim_path(to)?)).await,
        None => ::tokio::fs::rename(from, to).await,
    }
}

pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let link = link.as_ref();
    match current() {
        Some(fs) => run(fs.link(sim_path(original.as_ref())?, sim_path(link)?)).await,
        None => ::tokio::fs::hard_link(original, link).await,
    }
}

pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.unlink(p)), ::tokio::fs::remove_file).await
}

pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.mkdir(p)), ::tokio::fs::create_dir).await
}

/// Creates `path` and every missing parent; an existing directory is fine (std's steps).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.mkdir_all(p)), ::tokio::fs::create_dir_all).await
}

/// Removes a directory and everything under it (ENOTDIR for a file, as std).
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.remove_all(p)), ::tokio::fs::remove_dir_all).await
}

/// Whether `path` names anything (`Ok(false)` only when it does not exist), as
/// `tokio::fs::try_exists`. `Path::exists` asks the real disk even inside a run: call this.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    either(path.as_ref(), |fs, p| run(fs.exists(p)), ::tokio::fs::try_exists).await
}

pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.rmdir(p)), ::tokio::fs::remove_dir).await
}

/// `chmod(2)` on a real disk; on the simulated one, which has no permissions, a `stat` of `path`.
pub async fn set_permissions(path: impl AsRef<Path>, permissions: ::std::fs::Permissions) -> io::Result<()> {
    either(
        path.as_ref(),
        |fs, p| async move { run(fs.stat(p)).await.map(|_| ()) },
        |p| ::tokio::fs::set_permissions(p, permissions),
    )
    .await
}

pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    either(
        path.as_ref(),
        |fs, p| async move { run(fs.stat(p)).await.map(Metadata::from) },
        |p| async move { ::tokio::fs::metadata(p).await.map(Metadata::from) },
    )
    .await
}

/// Copies the contents of `from` over `to` (created or truncated), in std's order; the bytes
/// copied.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    if current().is_none() {
        return ::tokio::fs::copy(from, to).await;
    }
    use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut reader = File::open(from).await?;
    if reader.metadata().await?.is_dir() {
        return Err(super::std::not_a_file());
    }
    let mut writer = File::create(to).await?;
    let mut contents = Vec::new();
    reader.read_to_end(&mut contents).await?;
    writer.write_all(&contents).await?;
    Ok(contents.len() as u64)
}

/// An entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry(super::std::DirEntry);

impl DirEntry {
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }
    pub fn file_name(&self) -> ::std::ffi::OsString {
        self.0.file_name()
    }
    pub async fn metadata(&self) -> io::Result<Metadata> {
        metadata(self.0.path()).await
    }
    /// The entry's kind, its link not followed.
    pub async fn file_type(&self) -> io::Result<FileType> {
        either(
            &self.0.path(),
            |fs, p| async move { run(fs.stat(p)).await.map(|stat| stat.kind.into()) },
            |p| async move { ::tokio::fs::symlink_metadata(p).await.map(|meta| meta.file_type().into()) },
        )
        .await
    }
}

/// The entries of a directory, as `tokio::fs::read_dir` (in name order on the simulated disk).
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let dir = path.as_ref().to_path_buf();
    match current() {
        Some(fs) => {
            let names = run(fs.readdir(sim_path(&dir)?)).await?;
            Ok(ReadDir(Listing::Sim(
                names
                    .into_iter()
                    .map(|name| DirEntry(super::std::DirEntry::at(dir.join(name))))
                    .collect::<Vec<_>>()
                    .into_iter(),
            )))
        }
        None => Ok(ReadDir(Listing::Real(::tokio::fs::read_dir(dir).await?))),
    }
}

/// The entries of a directory, one [`ReadDir::next_entry`] at a time.
#[derive(Debug)]
pub struct ReadDir(Listing);

#[derive(Debug)]
enum Listing {
    Real(::tokio::fs::ReadDir),
    Sim(::std::vec::IntoIter<DirEntry>),
}

impl ReadDir {
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        match &mut self.0 {
            Listing::Real(listing) => {
                Ok(listing.next_entry().await?.map(|e| DirEntry(super::std::DirEntry::at(e.path()))))
            }
            Listing::Sim(names) => Ok(names.next()),
        }
    }
}
