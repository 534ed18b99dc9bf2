//! A disk image: the tree a restarted process finds, without inode numbers.
//!
//! Two crash states that differ only in inode numbering or in unreachable inodes are the same
//! image, so images are compared, hashed and deduplicated as trees of paths. An image is built
//! once and never changed: the map is shared behind an `Arc` (a clone is O(1)) and file contents
//! are shared with the disk they came from.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::Hash;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::content::Content;
use crate::disk::{Bytes, Disk, Ino, Inode, ROOT};

/// One object of an image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Dir,
    File(Bytes),
}

impl Node {
    /// A file's bytes; `None` for a directory.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Node::File(bytes) => Some(bytes),
            Node::Dir => None,
        }
    }
}

/// A disk image: every reachable path (root-relative, `/`-separated) and what it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Image {
    /// Built once and never changed: shared, so a clone is O(1).
    nodes: Arc<BTreeMap<String, Node>>,
}

impl Image {
    /// An empty filesystem (just the root).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The tree reachable from the root of `disk`. A directory reachable twice (possible when
    /// halves of cross-directory renames persist independently) is walked once.
    pub(crate) fn of(disk: &Disk) -> Self {
        let mut nodes = BTreeMap::new();
        walk(disk, |path, _, inode| {
            let node = match inode {
                Inode::File(content) => Node::File(content.to_bytes()),
                Inode::Dir(_) => Node::Dir,
            };
            nodes.insert(path.to_string(), node);
        });
        Self { nodes: Arc::new(nodes) }
    }

    /// A disk holding this tree, with inode numbers from 2 upward in path order; returns the
    /// disk and the next free inode number.
    pub(crate) fn to_disk(&self) -> (Disk, Ino) {
        canonical_disk(self.nodes.iter().map(|(path, node)| (path.as_str(), node.bytes().map(Content::from_bytes))))
    }

    /// Builds an image from `(path, node)` pairs; parents must be listed (as `Node::Dir`).
    ///
    /// # Panics
    /// If a path's parent directory is missing: an image is a tree.
    pub fn from_nodes<I: IntoIterator<Item = (String, Node)>>(nodes: I) -> Self {
        let nodes: BTreeMap<String, Node> = nodes.into_iter().collect();
        for path in nodes.keys() {
            if let Some((parent, _)) = path.rsplit_once('/') {
                assert_eq!(nodes.get(parent), Some(&Node::Dir), "parent of {path} is not a directory");
            }
        }
        Self { nodes: Arc::new(nodes) }
    }

    /// Every path and what it holds, in path order.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(path, node)| (path.as_str(), node))
    }

    /// The contents of the file at `path`, if there is one.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.nodes.get(path)?.bytes()
    }

    pub fn contains(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// This image with the file at `path` holding `bytes` instead (a damaged disk); `None` if
    /// there is no file at `path`.
    pub fn with_file(&self, path: &str, bytes: Vec<u8>) -> Option<Image> {
        if !matches!(self.nodes.get(path), Some(Node::File(_))) {
            return None;
        }
        let mut nodes = (*self.nodes).clone();
        nodes.insert(path.to_string(), Node::File(Arc::new(bytes)));
        Some(Self { nodes: Arc::new(nodes) })
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A 128-bit fingerprint that is the same on every machine and every run: the wrapping sum
    /// of each node's XXH3-128 (fixed default secret, never a per-process random key), seeded
    /// by its path. A sum does not depend on the order nodes are visited in, so a disk is
    /// fingerprinted by walking it (`Disk::fingerprint`) without building its image.
    pub fn fingerprint(&self) -> u128 {
        self.nodes.iter().fold(0u128, |sum, (path, node)| sum.wrapping_add(node_fingerprint(path, node.bytes())))
    }
}

/// Prints one line per path: directories end in `/`, files show their size and a preview.
impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes.is_empty() {
            return writeln!(f, "(empty)");
        }
        for (path, node) in self.nodes.iter() {
            match node {
                Node::Dir => writeln!(f, "{path}/")?,
                Node::File(bytes) => writeln!(f, "{path}  ({} B) {}", bytes.len(), preview(bytes))?,
            }
        }
        Ok(())
    }
}

/// The first bytes of a file as escaped text, cut at 72 characters.
pub fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 72;
    let text: String = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).escape_debug().collect();
    if bytes.len() > MAX {
        format!("\"{text}...\"")
    } else {
        format!("\"{text}\"")
    }
}

/// The fingerprint of one node: its contents (`None`: a directory) hashed with a seed drawn from
/// its path and kind.
fn node_fingerprint(path: &str, content: Option<&[u8]>) -> u128 {
    use xxhash_rust::xxh3::{xxh3_128_with_seed, xxh3_64_with_seed};
    let kind = if content.is_some() { 2 } else { 1 };
    xxh3_128_with_seed(content.unwrap_or_default(), xxh3_64_with_seed(path.as_bytes(), kind))
}

/// [`node_fingerprint`] of the node `inode` at `path`.
pub(crate) fn inode_fingerprint(path: &str, inode: &Inode) -> u128 {
    match inode {
        Inode::File(content) => file_fingerprint(path, content),
        Inode::Dir(_) => node_fingerprint(path, None),
    }
}

/// [`node_fingerprint`] of a file, hashed page by page (the same value as of its bytes whole).
pub(crate) fn file_fingerprint(path: &str, content: &Content) -> u128 {
    use xxhash_rust::xxh3::{xxh3_128_with_seed, xxh3_64_with_seed, Xxh3};
    let seed = xxh3_64_with_seed(path.as_bytes(), 2);
    if content.len() <= crate::content::PAGE as u64 {
        // Most files fit a page: one-shot hashing is the faster way to the same value.
        let page = content.chunks().next().unwrap_or_default();
        return xxh3_128_with_seed(&page, seed);
    }
    let mut hasher = Xxh3::with_seed(seed);
    for chunk in content.chunks() {
        hasher.update(&chunk);
    }
    hasher.digest128()
}

/// A disk as it stood at one moment, kept as the simulator's own persistent table (a clone is
/// O(1) and shares what did not change since), its [`Image`] built only when asked for: what a
/// run keeps after each call, thousands of calls over thousands of files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frozen(Disk);

impl Frozen {
    pub(crate) fn of(disk: &Disk) -> Self {
        Self(disk.clone())
    }

    /// Every path and what it held.
    pub fn image(&self) -> Image {
        Image::of(&self.0)
    }
}

impl fmt::Display for Frozen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.image().fmt(f)
    }
}

/// A directory's entries, in name order.
type Entries = Vec<(String, Ino)>;

/// The disk of the tree `nodes` gives in path order (each path with its file's content, or
/// `None` for a directory; parents before their children), inode numbers from 2 upward in that
/// order; and the next free inode number.
fn canonical_disk<'p>(nodes: impl Iterator<Item = (&'p str, Option<Content>)>) -> (Disk, Ino) {
    // Each directory's entries are gathered before it is made, so every inode and every entry
    // is inserted once (linking node by node looked each directory up again for every entry).
    let mut dirs: BTreeMap<&str, (Ino, Entries)> = BTreeMap::new();
    dirs.insert("", (ROOT, Vec::new()));
    let mut files = Vec::new();
    let mut next = ROOT + 1;
    for (path, content) in nodes {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let ino = next;
        next += 1;
        let (_, entries) = dirs.get_mut(parent).expect("an image lists every parent before its children");
        entries.push((name.to_string(), ino));
        match content {
            None => {
                dirs.insert(path, (ino, Vec::new()));
            }
            Some(content) => files.push((ino, Inode::File(content))),
        }
    }
    let dirs = dirs.into_values().map(|(ino, entries)| (ino, Inode::Dir(entries.into_iter().collect())));
    let mut inodes: Vec<(Ino, Inode)> = dirs.chain(files).collect();
    inodes.sort_unstable_by_key(|(ino, _)| *ino);
    (Disk { inodes: inodes.into_iter().collect() }, next)
}

impl Disk {
    /// `Image::of(self).to_disk()`, without the image: the reachable tree renumbered in path
    /// order, each file's pages shared, not copied (equal files compare equal however their
    /// pages fell). Booting a crash image this way skips copying every file twice.
    pub(crate) fn canonical(&self) -> (Disk, Ino) {
        let mut nodes: BTreeMap<String, Option<&Content>> = BTreeMap::new();
        walk(self, |path, _, inode| {
            let content = match inode {
                Inode::File(content) => Some(content),
                Inode::Dir(_) => None,
            };
            nodes.insert(path.to_string(), content);
        });
        canonical_disk(nodes.iter().map(|(path, content)| (path.as_str(), content.cloned())))
    }

    /// Bytes of the reachable tree: its paths and file contents.
    pub(crate) fn tree_bytes(&self) -> usize {
        let mut bytes = 0;
        walk(self, |path, _, inode| {
            bytes += path.len() + if let Inode::File(content) = inode { content.len() as usize } else { 0 };
        });
        bytes
    }
}

/// Calls `visit` with the path and inode of every node reachable from the root of `disk`,
/// walking each directory once (by inode) even if two paths reach it.
pub(crate) fn walk<'d>(disk: &'d Disk, mut visit: impl FnMut(&str, Ino, &'d Inode)) {
    let by_number = InodeIndex::of(disk);
    let mut seen_dirs = BTreeSet::new();
    let mut stack: Vec<(String, Ino)> = vec![(String::new(), ROOT)];
    seen_dirs.insert(ROOT);
    let mut path = String::new();
    while let Some((prefix, dir)) = stack.pop() {
        let Some(Inode::Dir(entries)) = by_number.get(dir) else {
            continue;
        };
        for (name, ino) in entries {
            path.clear();
            if !prefix.is_empty() {
                path.push_str(&prefix);
                path.push('/');
            }
            path.push_str(name);
            let Some(inode) = by_number.get(*ino) else { continue };
            visit(&path, *ino, inode);
            if matches!(inode, Inode::Dir(_)) && seen_dirs.insert(*ino) {
                stack.push((path.clone(), *ino));
            }
        }
    }
}

/// A disk's inodes by number for one walk. Inode numbers come from a counter, so they are dense:
/// read in one ordered pass into a table, each entry's inode is then an index away instead of
/// a search of the persistent map (those searches were most of a walk's time, and a walk is
/// made per candidate crash image). A disk whose numbers are sparse is searched as before.
enum InodeIndex<'d> {
    Table(Vec<Option<&'d Inode>>),
    Map(&'d Disk),
}

impl<'d> InodeIndex<'d> {
    fn of(disk: &'d Disk) -> Self {
        let highest = disk.inodes.get_max().map_or(0, |(ino, _)| *ino);
        if highest > 4 * disk.inodes.len() as u64 + 1024 {
            return InodeIndex::Map(disk);
        }
        let mut table = vec![None; highest as usize + 1];
        for (ino, inode) in disk.inodes.iter() {
            table[*ino as usize] = Some(inode);
        }
        InodeIndex::Table(table)
    }

    fn get(&self, ino: Ino) -> Option<&'d Inode> {
        match self {
            InodeIndex::Table(table) => table.get(ino as usize).copied().flatten(),
            InodeIndex::Map(disk) => disk.get(ino),
        }
    }
}

impl Disk {
    /// The [`Image::fingerprint`] of this disk's image, without building it.
    pub(crate) fn fingerprint(&self) -> u128 {
        let mut sum = 0u128;
        walk(self, |path, _, inode| sum = sum.wrapping_add(inode_fingerprint(path, inode)));
        sum
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{Image, InodeIndex};
    use crate::disk::{Disk, Effect, ROOT};
    use crate::Kind;

    #[test]
    fn a_canonical_disk_is_the_disk_of_its_image() {
        // Random trees over three directories (moved now and then, so one may be reachable by
        // two paths or by none), files with hard links, writes across pages.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..2000 {
            let mut disk = Disk::default();
            for dir in [2, 3, 4] {
                disk.apply(&Effect::Link { dir: ROOT, name: format!("d{dir}"), ino: dir, kind: Kind::Dir });
            }
            for _ in 0..rng.random_range(0..20) {
                let dir = [ROOT, 2, 3, 4][rng.random_range(0..4)];
                let name = ["a", "b", "c"][rng.random_range(0..3)].to_string();
                let file = rng.random_range(10..16u64);
                let effect = match rng.random_range(0..10) {
                    0..=3 => Effect::Link { dir, name, ino: file, kind: Kind::File },
                    4..=6 => {
                        let data = Arc::new(vec![b'x'; rng.random_range(1..9000)]);
                        Effect::Write { ino: file, offset: rng.random_range(0..5000), data }
                    }
                    7 => Effect::Unlink { dir, name, ino: file },
                    _ => {
                        let moved = rng.random_range(2..5u64);
                        let to_dir = [ROOT, 2, 3, 4][rng.random_range(0..4)];
                        if to_dir == moved {
                            continue;
                        }
                        Effect::Link { dir: to_dir, name: format!("m{moved}"), ino: moved, kind: Kind::Dir }
                    }
                };
                disk.apply(&effect);
            }
            assert_eq!(disk.canonical(), Image::of(&disk).to_disk(), "{disk:?}");
            let image = Image::of(&disk);
            // The canonical disk holds the same tree, its nodes numbered 2, 3, ... in path order.
            let (canonical, next) = disk.canonical();
            assert_eq!(Image::of(&canonical), image, "{disk:?}");
            let mut numbered = Vec::new();
            super::walk(&canonical, |path, ino, _| numbered.push((path.to_string(), ino)));
            numbered.sort();
            assert_eq!(numbered.iter().map(|(_, ino)| *ino).collect::<Vec<_>>(), (ROOT + 1..next).collect::<Vec<_>>());
            assert_eq!(canonical.inodes.len() as u64, next - 1, "no inode but the reachable ones");
            let bytes: usize = image.nodes().map(|(path, node)| path.len() + node.bytes().map_or(0, <[u8]>::len)).sum();
            assert_eq!(disk.tree_bytes(), bytes, "{disk:?}");
        }
    }

    /// A directory `d` holding a file `f` (written "x") and a link `g` to it, with the file at
    /// inode number `file` and the directory at `dir`.
    fn disk_numbered(dir: u64, file: u64) -> Disk {
        let mut disk = Disk::default();
        disk.apply(&Effect::Link { dir: ROOT, name: "d".to_string(), ino: dir, kind: Kind::Dir });
        disk.apply(&Effect::Link { dir, name: "f".to_string(), ino: file, kind: Kind::File });
        disk.apply(&Effect::Link { dir, name: "g".to_string(), ino: file, kind: Kind::File });
        disk.apply(&Effect::Write { ino: file, offset: 0, data: Arc::new(b"x".to_vec()) });
        disk
    }

    #[test]
    fn a_walk_finds_the_same_tree_whether_inode_numbers_are_dense_or_sparse() {
        let dense = disk_numbered(2, 3);
        let sparse = disk_numbered(2, 1 << 40);
        assert!(matches!(InodeIndex::of(&dense), InodeIndex::Table(_)), "numbers from a counter make a table");
        assert!(matches!(InodeIndex::of(&sparse), InodeIndex::Map(_)), "a huge number is searched, not tabled");
        let paths = |disk: &Disk| Image::of(disk).nodes().map(|(p, _)| p.to_string()).collect::<Vec<_>>();
        assert_eq!(paths(&dense), ["d", "d/f", "d/g"]);
        assert_eq!(paths(&sparse), paths(&dense));
        assert_eq!(Image::of(&sparse), Image::of(&dense), "the same files with the same bytes");
        assert_eq!(sparse.fingerprint(), dense.fingerprint());
        assert_eq!(dense.fingerprint(), Image::of(&dense).fingerprint());
    }
}
