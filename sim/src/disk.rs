//! Inodes, the effects that change them, and the log of effects and syncs.
//!
//! One `Disk` type serves both V (the volatile state) and D (the durable state): V applies
//! every effect at once, D applies the effects a persistence model says have reached the platter.
//! Because both go through [`Disk::apply`], they can never disagree on what an effect means.

use std::fmt;
use std::sync::Arc;

use imbl::OrdMap;

use crate::content::Content;

use crate::Kind;

/// An inode number. Never reused within one `SimFs`, so an effect always names one object.
pub type Ino = u64;

/// The root directory's inode.
pub(crate) const ROOT: Ino = 1;

/// Bytes as an effect carries them or an image holds them, shared (an image's file is built
/// from a disk's pages once).
pub type Bytes = Arc<Vec<u8>>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Inode {
    /// Paged, shared between disks until written ([`Content`]).
    File(Content),
    Dir(OrdMap<String, Ino>),
}

/// A table of inodes; a name is reachable when a chain of entries leads to it from [`ROOT`].
/// Cloning is O(1): the table is a persistent map and contents are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Disk {
    pub inodes: OrdMap<Ino, Inode>,
}

impl Disk {
    /// A copy sharing nothing with this disk, its nodes and pages allocated one after another
    /// (what a walk of every file reads goes faster from there).
    pub(crate) fn compacted(&self) -> Disk {
        let inodes = self
            .inodes
            .iter()
            .map(|(&ino, inode)| {
                let inode = match inode {
                    Inode::File(content) => Inode::File(Content::from_bytes(&content.to_vec())),
                    Inode::Dir(entries) => Inode::Dir(entries.iter().map(|(name, ino)| (name.clone(), *ino)).collect()),
                };
                (ino, inode)
            })
            .collect();
        Disk { inodes }
    }
}

impl Default for Disk {
    fn default() -> Self {
        let mut inodes = OrdMap::new();
        inodes.insert(ROOT, Inode::Dir(OrdMap::new()));
        Self { inodes }
    }
}

/// One change to the disk, the unit a persistence model keeps or loses.
///
/// Entry effects belong to a directory, data effects to a file inode. A rename across two
/// directories is logged as one effect and split into its two halves (`Unlink` in the source,
/// `Link` in the target) only where a model lets directories persist independently.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `name` in `dir` now points at `ino`, a new (or moved) object of `kind`.
    Link { dir: Ino, name: String, ino: Ino, kind: Kind },
    /// `name` in `dir`, which pointed at `ino`, is gone.
    Unlink { dir: Ino, name: String, ino: Ino },
    /// `from` in `from_dir` moves to `to` in `to_dir`, replacing what was there.
    Rename { from_dir: Ino, from: String, to_dir: Ino, to: String, ino: Ino, kind: Kind },
    /// `data` written at `offset` of `ino`.
    Write { ino: Ino, offset: u64, data: Bytes },
    /// `ino` cut or extended (with zeros) to `len` bytes.
    Truncate { ino: Ino, len: u64 },
}

impl Effect {
    /// The file inode whose data this effect changes, if it is a data effect.
    pub fn data_ino(&self) -> Option<Ino> {
        match self {
            Effect::Write { ino, .. } | Effect::Truncate { ino, .. } => Some(*ino),
            _ => None,
        }
    }

    /// The object this effect changes the data of, or links, unlinks or moves.
    pub fn ino(&self) -> Ino {
        match self {
            Effect::Link { ino, .. }
            | Effect::Unlink { ino, .. }
            | Effect::Rename { ino, .. }
            | Effect::Write { ino, .. }
            | Effect::Truncate { ino, .. } => *ino,
        }
    }

    /// The directories whose entries this effect changes (one, or two for a cross-dir rename).
    pub fn dirs(&self) -> Vec<Ino> {
        match self {
            Effect::Link { dir, .. } | Effect::Unlink { dir, .. } => vec![*dir],
            Effect::Rename { from_dir, to_dir, .. } if from_dir == to_dir => vec![*from_dir],
            Effect::Rename { from_dir, to_dir, .. } => vec![*from_dir, *to_dir],
            Effect::Write { .. } | Effect::Truncate { .. } => Vec::new(),
        }
    }

    /// The part of this effect that concerns directory `dir` alone: for a cross-dir rename, the
    /// unlink half in the source or the link half in the target; otherwise the effect itself.
    pub fn half_in(&self, dir: Ino) -> Effect {
        match self {
            Effect::Rename { from_dir, from, to_dir, to, ino, kind } if from_dir != to_dir => {
                if dir == *from_dir {
                    Effect::Unlink { dir, name: from.clone(), ino: *ino }
                } else {
                    Effect::Link { dir, name: to.clone(), ino: *ino, kind: *kind }
                }
            }
            other => other.clone(),
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Link { dir, name, ino, kind } => {
                let what = if *kind == Kind::Dir { "mkdir" } else { "create" };
                write!(f, "{what} {name} (ino {ino}) in dir {dir}")
            }
            Effect::Unlink { dir, name, ino } => {
                write!(f, "unlink {name} (ino {ino}) in dir {dir}")
            }
            Effect::Rename { from_dir, from, to_dir, to, ino, .. } => {
                write!(f, "rename {from} (dir {from_dir}) -> {to} (dir {to_dir}), ino {ino}")
            }
            Effect::Write { ino, offset, data } => {
                write!(f, "write ino {ino} [{offset}..{})", offset + data.len() as u64)
            }
            Effect::Truncate { ino, len } => write!(f, "truncate ino {ino} to {len}"),
        }
    }
}

/// What the log records: an effect, or the outcome of an fsync on an inode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Effect(Effect),
    /// `fsync`/`fdatasync` of `ino` (a file or a directory); `ok` is false when it failed, in
    /// which case the inode's pending data is dropped.
    Sync {
        ino: Ino,
        kind: Kind,
        ok: bool,
    },
}

/// One entry of the log: which syscall (0-based step) produced it, its sequence number among
/// all events, and what it was.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub step: usize,
    pub seq: usize,
    pub kind: EventKind,
}

impl Disk {
    /// Applies one effect. Tolerant by design: in a durable state a directory may lack an entry
    /// the volatile state had (its creation never persisted), so a missing object is created
    /// empty and an unlink of a name that points elsewhere does nothing.
    pub fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::Link { dir, name, ino, kind } => self.link(*dir, name, *ino, *kind),
            Effect::Unlink { dir, name, ino } => self.unlink(*dir, name, *ino),
            Effect::Rename { from_dir, from, to_dir, to, ino, kind } => {
                self.unlink(*from_dir, from, *ino);
                self.link(*to_dir, to, *ino, *kind);
            }
            Effect::Write { ino, offset, data } => self.file_mut(*ino).write(*offset, data),
            Effect::Truncate { ino, len } => self.file_mut(*ino).truncate(*len),
        }
    }

    /// Applies the first `keep` bytes of a write (a torn write); other effects whole.
    pub fn apply_torn(&mut self, effect: &Effect, keep: usize) {
        match effect {
            Effect::Write { ino, offset, data } => {
                let part = Arc::new(data[..keep].to_vec());
                self.apply(&Effect::Write { ino: *ino, offset: *offset, data: part });
            }
            other => self.apply(other),
        }
    }

    fn link(&mut self, dir: Ino, name: &str, ino: Ino, kind: Kind) {
        if !self.inodes.contains_key(&ino) {
            let fresh = match kind {
                Kind::File => Inode::File(Content::default()),
                Kind::Dir => Inode::Dir(OrdMap::new()),
            };
            self.inodes.insert(ino, fresh);
        }
        self.dir_mut(dir).insert(name.to_string(), ino);
    }

    fn unlink(&mut self, dir: Ino, name: &str, ino: Ino) {
        let entries = self.dir_mut(dir);
        if entries.get(name) == Some(&ino) {
            entries.remove(name);
        }
    }

    /// Whether an entry of any directory, reachable or not, names `ino` (a scan of every
    /// directory: asked only of a file that just lost a name, which a hard link may have kept).
    pub fn is_named(&self, ino: Ino) -> bool {
        self.inodes.values().any(|inode| matches!(inode, Inode::Dir(entries) if entries.values().any(|&i| i == ino)))
    }

    /// Applies `effect` and returns the file whose name it removed, if it did: by an unlink, or
    /// by a rename (or a rename's link half) that replaced it. A hard link may still name it.
    pub fn apply_unnaming(&mut self, effect: &Effect) -> Option<Ino> {
        let lost = match effect {
            Effect::Unlink { dir, name, .. } => self.lookup(*dir, name),
            Effect::Rename { to_dir: dir, to: name, .. } | Effect::Link { dir, name, .. } => self.lookup(*dir, name),
            Effect::Write { .. } | Effect::Truncate { .. } => None,
        };
        self.apply(effect);
        lost.filter(|ino| self.kind(*ino) == Some(Kind::File))
    }

    fn dir_mut(&mut self, dir: Ino) -> &mut OrdMap<String, Ino> {
        let node = self.inodes.entry(dir).or_insert_with(|| Inode::Dir(OrdMap::new()));
        match node {
            Inode::Dir(entries) => entries,
            Inode::File(_) => unreachable!("inode {dir} is logged as a directory and is a file"),
        }
    }

    fn file_mut(&mut self, ino: Ino) -> &mut Content {
        let node = self.inodes.entry(ino).or_insert_with(|| Inode::File(Content::default()));
        match node {
            Inode::File(content) => content,
            Inode::Dir(_) => unreachable!("inode {ino} is logged as a file and is a directory"),
        }
    }

    pub fn get(&self, ino: Ino) -> Option<&Inode> {
        self.inodes.get(&ino)
    }

    /// Looks `name` up in directory `dir`.
    pub fn lookup(&self, dir: Ino, name: &str) -> Option<Ino> {
        match self.inodes.get(&dir) {
            Some(Inode::Dir(entries)) => entries.get(name).copied(),
            _ => None,
        }
    }

    pub fn kind(&self, ino: Ino) -> Option<Kind> {
        match self.inodes.get(&ino)? {
            Inode::File(_) => Some(Kind::File),
            Inode::Dir(_) => Some(Kind::Dir),
        }
    }

    pub fn file_len(&self, ino: Ino) -> u64 {
        match self.inodes.get(&ino) {
            Some(Inode::File(content)) => content.len(),
            _ => 0,
        }
    }

    /// Every inode reachable from `starts` through directory entries (`starts` included).
    pub fn reachable_from(&self, starts: impl IntoIterator<Item = Ino>) -> std::collections::BTreeSet<Ino> {
        let mut seen: std::collections::BTreeSet<Ino> = starts.into_iter().collect();
        let mut stack: Vec<Ino> = seen.iter().copied().collect();
        while let Some(dir) = stack.pop() {
            if let Some(Inode::Dir(entries)) = self.inodes.get(&dir) {
                for ino in entries.values() {
                    if seen.insert(*ino) {
                        stack.push(*ino);
                    }
                }
            }
        }
        seen
    }

    /// Forgets an inode that no name and no descriptor reaches any more.
    pub fn forget(&mut self, ino: Ino) {
        self.inodes.remove(&ino);
    }
}
