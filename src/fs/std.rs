//! `std::fs`, shimmed: the same names and signatures, on the simulated disk inside a harness run
//! and on the real filesystem outside one. See [`crate::fs`] for the model and for what is not
//! simulated.

use ::std::io::{self, Read, Seek, SeekFrom, Write};
use ::std::path::{Component, Path, PathBuf};

use crashsim_sim::{Errno, Kind, OpenOptions as SimOpen, Stat};

pub use super::thread::{scheduled, Scheduled};
use super::{current, io_error, Descriptor, Handle, Pending};

/// Largest read asked of the simulated disk at once.
const READ_CHUNK: usize = 64 * 1024;

/// The simulated path of `path`: normal components joined by `/` (a leading `/` is the root,
/// `.` components are dropped, `..` stays for the simulated disk to refuse).
pub(super) fn sim_path(path: &Path) -> io::Result<String> {
    if path.as_os_str().is_empty() {
        return Err(io_error(Errno::ENOENT));
    }
    let mut out = String::new();
    for component in path.components() {
        let name = match component {
            Component::RootDir => {
                out.push('/');
                continue;
            }
            Component::CurDir | Component::Prefix(_) => continue,
            Component::ParentDir => "..",
            Component::Normal(name) => name.to_str().ok_or_else(|| io_error(Errno::EINVAL))?,
        };
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(name);
    }
    Ok(out)
}

/// Runs a call on the simulated disk to its end.
fn run<T>(call: Pending<T>) -> io::Result<T> {
    Handle::block(call).map_err(io_error)
}

/// Runs `sim` on the simulated disk of the run in progress, or `real` outside one.
fn either<T>(
    path: &Path,
    sim: impl FnOnce(&Handle, &str) -> io::Result<T>,
    real: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<T> {
    match current() {
        Some(fs) => sim(&fs, &sim_path(path)?),
        None => real(path),
    }
}

/// What `stat` tells of a file or directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    file_type: FileType,
    len: u64,
}

impl Metadata {
    pub fn file_type(&self) -> FileType {
        self.file_type
    }
    pub fn is_dir(&self) -> bool {
        self.file_type.is_dir()
    }
    pub fn is_file(&self) -> bool {
        self.file_type.is_file()
    }
    /// Bytes (0 for a directory in the simulation; what `std` says on a real disk).
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl From<Stat> for Metadata {
    fn from(stat: Stat) -> Self {
        Self { file_type: FileType::from(stat.kind), len: stat.size }
    }
}

impl From<::std::fs::Metadata> for Metadata {
    fn from(meta: ::std::fs::Metadata) -> Self {
        Self { file_type: meta.file_type().into(), len: meta.len() }
    }
}

/// The kind of a node: a directory or a file on the simulated disk (which has no symlinks);
/// on a real disk, what `std` says (a symlink, a socket: neither a directory nor a file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileType {
    dir: bool,
    file: bool,
    symlink: bool,
}

impl FileType {
    pub fn is_dir(&self) -> bool {
        self.dir
    }
    pub fn is_file(&self) -> bool {
        self.file
    }
    pub fn is_symlink(&self) -> bool {
        self.symlink
    }
}

impl From<Kind> for FileType {
    fn from(kind: Kind) -> Self {
        Self { dir: kind == Kind::Dir, file: kind == Kind::File, symlink: false }
    }
}

impl From<::std::fs::FileType> for FileType {
    fn from(kind: ::std::fs::FileType) -> Self {
        Self { dir: kind.is_dir(), file: kind.is_file(), symlink: kind.is_symlink() }
    }
}

/// How to open a file, as `std::fs::OpenOptions`.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    pub(super) read: bool,
    pub(super) write: bool,
    pub(super) append: bool,
    pub(super) truncate: bool,
    pub(super) create: bool,
    pub(super) create_new: bool,
    /// The permission bits of a file it creates (`OpenOptionsExt::mode`): a real disk's only.
    pub(super) mode: Option<u32>,
}

impl OpenOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }
    /// The permission bits of a file it creates, as `std::os::unix::fs::OpenOptionsExt::mode`:
    /// applied on a real disk; the simulated disk has no permissions.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = Some(mode);
        self
    }

    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let path = path.as_ref();
        either(
            path,
            |fs, sim| {
                let flags = sim_flags(self)?;
                let fd = run(fs.open(sim.to_string(), flags))?;
                let path = sim.to_string();
                Ok(File(Inner::Sim(SimFile {
                    file: Descriptor { fs: fs.clone(), fd, path },
                    pos: 0,
                    append: self.append,
                })))
            },
            |real| {
                use ::std::os::unix::fs::OpenOptionsExt;
                let mut options = ::std::fs::OpenOptions::new();
                options
                    .read(self.read)
                    .write(self.write)
                    .append(self.append)
                    .truncate(self.truncate)
                    .create(self.create)
                    .create_new(self.create_new);
                if let Some(mode) = self.mode {
                    options.mode(mode);
                }
                options.open(real).map(|file| File(Inner::Real(file)))
            },
        )
    }
}

/// The `open(2)` flags, refusing what `std` refuses before the call (an `InvalidInput`
/// error of its own, not an errno).
pub(super) fn sim_flags(o: &OpenOptions) -> io::Result<SimOpen> {
    let invalid = |why: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, why.to_string()));
    let writes = o.write || o.append;
    if !o.read && !writes {
        return invalid("opening a file needs read, write or append access");
    }
    if !writes && (o.truncate || o.create || o.create_new) {
        return invalid("creating or truncating a file needs write or append access");
    }
    if o.append && o.truncate && !o.create_new {
        return invalid("creating or truncating a file needs write or append access");
    }
    Ok(SimOpen {
        read: o.read,
        write: writes,
        append: o.append,
        create: o.create || o.create_new,
        excl: o.create_new,
        trunc: o.truncate && !o.create_new,
        directory: false,
    })
}

/// An open file, as `std::fs::File`.
#[derive(Debug)]
pub struct File(Inner);

#[derive(Debug)]
enum Inner {
    Real(::std::fs::File),
    Sim(SimFile),
}

/// A file open on the simulated disk: its descriptor, the path it was opened by (for
/// `metadata` and `SeekFrom::End`), and the position the shim keeps (reads and positioned
/// writes move it; an append-mode write goes to the end and leaves it).
#[derive(Debug)]
struct SimFile {
    file: Descriptor,
    pos: u64,
    append: bool,
}

impl File {
    /// Opens `path` read-only (a directory too: its `sync_all` is a directory fsync).
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates or truncates `path`, write-only.
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// Creates `path`, read-write, failing if it exists.
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create_new(true).open(path)
    }

    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// `fsync(2)`.
    pub fn sync_all(&self) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.sync_all(),
            Inner::Sim(sim) => run(sim.file.fs.fsync(sim.file.fd)),
        }
    }

    /// `fdatasync(2)`.
    pub fn sync_data(&self) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.sync_data(),
            Inner::Sim(sim) => run(sim.file.fs.fdatasync(sim.file.fd)),
        }
    }

    /// `ftruncate(2)`; the position does not move.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.set_len(size),
            Inner::Sim(sim) => run(sim.file.fs.truncate(sim.file.fd, size)),
        }
    }

    pub fn metadata(&self) -> io::Result<Metadata> {
        match &self.0 {
            Inner::Real(file) => file.metadata().map(Metadata::from),
            Inner::Sim(sim) => run(sim.file.fs.stat(sim.file.path.clone())).map(Metadata::from),
        }
    }

    /// `fchmod(2)` on a real disk; nothing on the simulated one, which has no permissions.
    pub fn set_permissions(&self, permissions: ::std::fs::Permissions) -> io::Result<()> {
        match &self.0 {
            Inner::Real(file) => file.set_permissions(permissions),
            Inner::Sim(_) => Ok(()),
        }
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::Real(file) => file.read(buf),
            Inner::Sim(sim) => {
                let bytes = run(sim.file.fs.pread(sim.file.fd, sim.pos, buf.len().min(READ_CHUNK)))?;
                buf[..bytes.len()].copy_from_slice(&bytes);
                sim.pos += bytes.len() as u64;
                Ok(bytes.len())
            }
        }
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::Real(file) => file.write(buf),
            Inner::Sim(sim) if sim.append => run(sim.file.fs.write(sim.file.fd, buf.to_vec())),
            Inner::Sim(sim) => {
                let written = run(sim.file.fs.pwrite(sim.file.fd, sim.pos, buf.to_vec()))?;
                sim.pos += written as u64;
                Ok(written)
            }
        }
    }

    /// Nothing is buffered: every write is a syscall.
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Inner::Real(file) => file.flush(),
            Inner::Sim(_) => Ok(()),
        }
    }
}

impl Seek for File {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match &mut self.0 {
            Inner::Real(file) => file.seek(to),
            Inner::Sim(sim) => {
                let (base, delta) = match to {
                    SeekFrom::Start(at) => (0, at as i128),
                    SeekFrom::Current(delta) => (sim.pos, delta as i128),
                    SeekFrom::End(delta) => (run(sim.file.fs.stat(sim.file.path.clone()))?.size, delta as i128),
                };
                let at = base as i128 + delta;
                if at < 0 {
                    return Err(io_error(Errno::EINVAL));
                }
                sim.pos = at as u64;
                Ok(sim.pos)
            }
        }
    }
}

impl ::std::os::unix::fs::FileExt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match &self.0 {
            Inner::Real(file) => file.read_at(buf, offset),
            Inner::Sim(sim) => {
                let bytes = run(sim.file.fs.pread(sim.file.fd, offset, buf.len().min(READ_CHUNK)))?;
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        match &self.0 {
            Inner::Real(file) => file.write_at(buf, offset),
            Inner::Sim(sim) => run(sim.file.fs.pwrite(sim.file.fd, offset, buf.to_vec())),
        }
    }
}

/// The whole file.
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}

/// The whole file, as UTF-8 (`InvalidData` otherwise, as `std`).
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Creates or truncates the file and writes all of `contents` (no fsync, as `std`).
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    File::create(path)?.write_all(contents.as_ref())
}

pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let to = to.as_ref();
    either(
        from.as_ref(),
        |fs, from| run(fs.rename(from.to_string(), sim_path(to)?)),
        |from| ::std::fs::rename(from, to),
    )
}

pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let link = link.as_ref();
    either(
        original.as_ref(),
        |fs, original| run(fs.link(original.to_string(), sim_path(link)?)),
        |original| ::std::fs::hard_link(original, link),
    )
}

pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.unlink(p.to_string())), |p| ::std::fs::remove_file(p))
}

pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.mkdir(p.to_string())), |p| ::std::fs::create_dir(p))
}

/// Creates `path` and every missing parent; an existing directory is fine (std's steps).
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.mkdir_all(p.to_string())), |p| ::std::fs::create_dir_all(p))
}

/// Removes a directory and everything under it (ENOTDIR for a file, as std).
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.remove_all(p.to_string())), |p| ::std::fs::remove_dir_all(p))
}

/// Whether `path` names anything (`Ok(false)` only when it does not exist), as `std::fs::exists`.
/// `Path::exists` and `Path::try_exists` ask the real disk even inside a run: call this.
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    either(path.as_ref(), |fs, p| run(fs.exists(p.to_string())), |p| ::std::fs::exists(p))
}

pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    either(path.as_ref(), |fs, p| run(fs.rmdir(p.to_string())), |p| ::std::fs::remove_dir(p))
}

/// `chmod(2)` on a real disk; on the simulated one, which has no permissions, a `stat` of `path`
/// (so that a path that is not there fails as `chmod` does).
pub fn set_permissions<P: AsRef<Path>>(path: P, permissions: ::std::fs::Permissions) -> io::Result<()> {
    either(
        path.as_ref(),
        |fs, p| run(fs.stat(p.to_string())).map(|_| ()),
        |p| ::std::fs::set_permissions(p, permissions),
    )
}

pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    either(
        path.as_ref(),
        |fs, p| run(fs.stat(p.to_string())).map(Metadata::from),
        |p| ::std::fs::metadata(p).map(Metadata::from),
    )
}

/// Copies the contents of `from` over `to` (created or truncated); the bytes copied.
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    if current().is_none() {
        return ::std::fs::copy(from, to);
    }
    // std's order: the source opened, checked, then the target created or truncated (so a copy
    // onto itself leaves it empty), then the bytes.
    let mut reader = File::open(from)?;
    if reader.metadata()?.is_dir() {
        return Err(not_a_file());
    }
    let mut writer = File::create(to)?;
    let mut contents = Vec::new();
    reader.read_to_end(&mut contents)?;
    writer.write_all(&contents)?;
    Ok(contents.len() as u64)
}

/// What `std::fs::copy` says of a source that is a directory (no errno: std checks it itself).
pub(super) fn not_a_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the source path is neither a regular file nor a symlink to a regular file",
    )
}

/// An entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    path: PathBuf,
}

impl DirEntry {
    pub(super) fn at(path: PathBuf) -> Self {
        Self { path }
    }
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }
    pub fn file_name(&self) -> ::std::ffi::OsString {
        self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default()
    }
    pub fn metadata(&self) -> io::Result<Metadata> {
        metadata(&self.path)
    }
    /// The entry's kind, its link not followed (a `stat` on the simulated disk, which has no
    /// links to follow).
    pub fn file_type(&self) -> io::Result<FileType> {
        either(
            &self.path,
            |fs, p| run(fs.stat(p.to_string())).map(|stat| stat.kind.into()),
            |p| ::std::fs::symlink_metadata(p).map(|meta| meta.file_type().into()),
        )
    }
}

/// The entries of a directory (neither `.` nor `..`), as `std::fs::read_dir`: in name order on
/// the simulated disk, in the real directory's order outside one.
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let dir = path.as_ref();
    let entries = either(
        dir,
        |fs, p| {
            Ok(run(fs.readdir(p.to_string()))?.into_iter().map(|name| Ok(DirEntry { path: dir.join(name) })).collect())
        },
        |real| {
            Ok(::std::fs::read_dir(real)?.map(|entry| entry.map(|e| DirEntry { path: e.path() })).collect::<Vec<_>>())
        },
    )?;
    Ok(ReadDir(entries.into_iter()))
}

/// Iterator over the entries of a directory.
#[derive(Debug)]
pub struct ReadDir(::std::vec::IntoIter<io::Result<DirEntry>>);

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}
