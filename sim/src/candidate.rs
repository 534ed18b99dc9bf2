//! Candidate crash images, fingerprinted as they are built. A candidate is the durable disk with
//! some pending effects applied, and most candidates repeat an image already seen, so each is
//! fingerprinted to find out. An image's fingerprint is a sum over its paths
//! ([`Image::fingerprint`](crate::Image::fingerprint)), so the durable disk is walked once
//! ([`Base`]) and each candidate moves that sum by what its effects change: the paths naming a
//! file whose data an effect changes, and the one path whose target a link, unlink or rename
//! changes. A walk of the whole disk per candidate was most of the time of a crash point on a
//! store of thousands of files.
//!
//! Not followed, and walked instead: an effect on a directory's own entry (a directory made,
//! moved or removed: it changes a whole subtree's paths), a durable disk on which a directory is
//! reachable by two paths (the halves of a cross-directory rename of one), and the candidates of
//! a [`Base::walked`] (posix candidates each apply their effects to the durable disk anew: when
//! they are many per file, following them costs more than a walk).
//!
//! A tracker keeps its last walk ([`Walks`]): the durable disk changes only at a sync, so most
//! crash points walk the disk the one before them walked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use xxhash_rust::xxh3::Xxh3Builder;

use crate::disk::{Disk, Effect, Inode, ROOT};
use crate::image::{file_fingerprint, walk};
use crate::Kind;

type Map<K, V> = HashMap<K, V, Xxh3Builder>;

/// A [`Map`] whose clone is O(1) and shares what it holds until changed.
type SharedMap<K, V> = imbl::GenericHashMap<K, V, Xxh3Builder, imbl::shared_ptr::DefaultSharedPtr>;

/// The durable disk candidates are built from, walked once: its fingerprint, and where its
/// directories and files are.
pub(crate) struct Base<'d> {
    disk: &'d Disk,
    fingerprint: u128,
    /// `None` when a directory is reachable by two paths, or the base is [`Base::walked`]: then
    /// every candidate is walked.
    paths: Option<Arc<Paths>>,
}

/// Where reachable objects are: each directory's one path, each file's paths (hard links).
#[derive(Clone, Default)]
struct Paths {
    dirs: Map<u64, String>,
    files: Map<u64, Vec<String>>,
}

impl<'d> Base<'d> {
    /// A base whose candidates are each walked: for candidates that apply about as many
    /// effects as the disk holds files, a walk is the cheaper way.
    pub(crate) fn walked(disk: &'d Disk) -> Self {
        Self { disk, fingerprint: 0, paths: None }
    }

    pub(crate) fn of(disk: &'d Disk) -> Self {
        let mut paths = Paths::default();
        let mut twice = false;
        let mut fingerprint = 0u128;
        paths.dirs.insert(ROOT, String::new());
        walk(disk, |path, ino, inode| {
            fingerprint = fingerprint.wrapping_add(crate::image::inode_fingerprint(path, inode));
            match inode {
                Inode::Dir(_) => twice |= paths.dirs.insert(ino, path.to_string()).is_some(),
                Inode::File(_) => paths.files.entry(ino).or_default().push(path.to_string()),
            }
        });
        Self { disk, fingerprint, paths: (!twice).then(|| Arc::new(paths)) }
    }
}

/// The walk of a disk a [`Base`] makes, kept while that disk is the one asked about again:
/// consecutive crash points with no sync between them have the same durable disk (the same
/// tree, not only equal), and walking it is the same walk.
#[derive(Default)]
pub(crate) struct Walks {
    last: Mutex<Option<Walked>>,
}

#[derive(Clone)]
struct Walked {
    disk: Disk,
    fingerprint: u128,
    /// The base's paths once a base was asked for (`Some(None)`: a directory reachable twice).
    paths: Option<Option<Arc<Paths>>>,
}

impl Walks {
    /// [`Disk::fingerprint`] of `disk`.
    pub(crate) fn fingerprint(&self, disk: &Disk) -> u128 {
        let mut last = self.lock();
        match Walked::of(&last, disk) {
            Some(walked) => walked.fingerprint,
            None => {
                let fingerprint = disk.fingerprint();
                *last = Some(Walked { disk: disk.clone(), fingerprint, paths: None });
                fingerprint
            }
        }
    }

    /// [`Base::of`] `disk`.
    pub(crate) fn base<'d>(&self, disk: &'d Disk) -> Base<'d> {
        let mut last = self.lock();
        if let Some(Walked { fingerprint, paths: Some(paths), .. }) = Walked::of(&last, disk) {
            return Base { disk, fingerprint: *fingerprint, paths: paths.clone() };
        }
        let base = Base::of(disk);
        *last = Some(Walked { disk: disk.clone(), fingerprint: base.fingerprint, paths: Some(base.paths.clone()) });
        base
    }

    fn lock(&self) -> MutexGuard<'_, Option<Walked>> {
        self.last.lock().expect("never poisoned: nothing panics holding it")
    }
}

impl Walked {
    /// The walk kept in `last` if it is of `disk` (the same tree, not only an equal one).
    fn of<'w>(last: &'w Option<Walked>, disk: &Disk) -> Option<&'w Walked> {
        last.as_ref().filter(|walked| walked.disk.inodes.ptr_eq(&disk.inodes))
    }
}

/// A copy starts with what this one holds (each crash point's tracker is a copy moved on).
impl Clone for Walks {
    fn clone(&self) -> Self {
        Self { last: Mutex::new(self.lock().clone()) }
    }
}

impl std::fmt::Debug for Walks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Walks")
    }
}

/// A candidate image being built: the disk so far and its fingerprint, kept up to date.
#[derive(Clone)]
pub(crate) struct Candidate<'b> {
    base: &'b Base<'b>,
    disk: Disk,
    /// `None` once an effect was not followed: the disk is then walked.
    fingerprint: Option<u128>,
    /// Paths of the files whose names an applied effect changed (the base's for the others);
    /// persistent, since a candidate is cloned for each image along a line of effects.
    renamed: SharedMap<u64, Vec<String>>,
}

impl<'b> Candidate<'b> {
    /// The base disk itself.
    pub(crate) fn new(base: &'b Base<'b>) -> Self {
        let fingerprint = base.paths.as_ref().map(|_| base.fingerprint);
        Self { base, disk: base.disk.clone(), fingerprint, renamed: SharedMap::default() }
    }

    pub(crate) fn apply(&mut self, effect: &Effect) {
        self.change(effect, |disk| disk.apply(effect));
    }

    /// Applies the first `keep` bytes of a write (see [`Disk::apply_torn`]).
    pub(crate) fn apply_torn(&mut self, effect: &Effect, keep: usize) {
        self.change(effect, |disk| disk.apply_torn(effect, keep));
    }

    /// The disk and its image's fingerprint.
    pub(crate) fn finish(self) -> (Disk, u128) {
        let fingerprint = self.fingerprint.unwrap_or_else(|| self.disk.fingerprint());
        (self.disk, fingerprint)
    }

    /// Makes `change` (which applies `effect`) to the disk, and moves the fingerprint by the
    /// paths it touches: each one's fingerprint before is taken out, after is put in.
    fn change(&mut self, effect: &Effect, change: impl FnOnce(&mut Disk)) {
        let Some(sum) = self.fingerprint else { return change(&mut self.disk) };
        let Some(touched) = self.touched(effect) else {
            self.fingerprint = None;
            return change(&mut self.disk);
        };
        let before: Vec<(Option<u64>, u128)> = touched.iter().map(|t| self.at(t)).collect();
        change(&mut self.disk);
        let mut sum = sum;
        for (touch, (was, old)) in touched.iter().zip(before) {
            let (now, new) = self.at(touch);
            if matches!(now.and_then(|ino| self.disk.kind(ino)), Some(Kind::Dir)) {
                self.fingerprint = None;
                return;
            }
            sum = sum.wrapping_sub(old).wrapping_add(new);
            if let (Touch::Entry { path, .. }, true) = (touch, was != now) {
                self.rename(was, now, path);
            }
        }
        self.fingerprint = Some(sum);
    }

    /// The paths `effect` may change the fingerprint of; `None` when it is not followed.
    fn touched(&self, effect: &Effect) -> Option<Vec<Touch>> {
        let paths = self.base.paths.as_ref().expect("followed only on a base with paths");
        let entry = |dir: u64, name: &str| -> Option<Option<Touch>> {
            // A directory's own entry moves a subtree: not followed.
            if matches!(self.disk.lookup(dir, name).and_then(|ino| self.disk.kind(ino)), Some(Kind::Dir)) {
                return None;
            }
            // An entry of an unreachable directory changes no path of the image.
            Some(paths.dirs.get(&dir).map(|at| {
                let path = if at.is_empty() { name.to_string() } else { format!("{at}/{name}") };
                Touch::Entry { dir, name: name.to_string(), path }
            }))
        };
        let touched = match effect {
            Effect::Link { kind: Kind::Dir, .. } | Effect::Rename { kind: Kind::Dir, .. } => return None,
            Effect::Link { dir, name, .. } | Effect::Unlink { dir, name, .. } => vec![entry(*dir, name)?],
            Effect::Rename { from_dir, from, to_dir, to, .. } if (from_dir, from) == (to_dir, to) => {
                vec![entry(*from_dir, from)?]
            }
            Effect::Rename { from_dir, from, to_dir, to, .. } => vec![entry(*from_dir, from)?, entry(*to_dir, to)?],
            Effect::Write { ino, .. } | Effect::Truncate { ino, .. } => {
                let names = self.renamed.get(ino).or_else(|| paths.files.get(ino));
                let data = names.into_iter().flatten().map(|path| Touch::Data { ino: *ino, path: path.clone() });
                return Some(data.collect());
            }
        };
        Some(touched.into_iter().flatten().collect())
    }

    /// What `touch`'s path names now, and the fingerprint of that path's node (0 for none).
    fn at(&self, touch: &Touch) -> (Option<u64>, u128) {
        let (ino, path) = match touch {
            Touch::Entry { dir, name, path } => (self.disk.lookup(*dir, name), path),
            Touch::Data { ino, path } => (Some(*ino), path),
        };
        let print = match ino.and_then(|ino| self.disk.get(ino)) {
            Some(Inode::File(content)) => file_fingerprint(path, content),
            Some(Inode::Dir(_)) | None => 0,
        };
        (ino, print)
    }

    /// `path` named `was` and names `now`.
    fn rename(&mut self, was: Option<u64>, now: Option<u64>, path: &str) {
        let paths = self.base.paths.as_ref().expect("followed only on a base with paths");
        for (ino, named) in [(was, false), (now, true)] {
            let Some(ino) = ino else { continue };
            let names = self.renamed.entry(ino).or_insert_with(|| paths.files.get(&ino).cloned().unwrap_or_default());
            if named {
                names.push(path.to_string());
            } else if let Some(at) = names.iter().position(|p| p == path) {
                names.swap_remove(at);
            }
        }
    }
}

/// A path an effect may change the node of.
enum Touch {
    /// The entry `name` of directory `dir`, at `path`: what it names may change.
    Entry { dir: u64, name: String, path: String },
    /// File `ino` at `path`, one of its names: its data may change.
    Data { ino: u64, path: String },
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{Base, Candidate, Walked, Walks};
    use crate::disk::{Disk, Effect, ROOT};
    use crate::Kind;

    /// A random effect over a small namespace: two directories below the root (inodes 2 and 3),
    /// five file inodes (10..15), three names; directories made, moved and removed now and then,
    /// so that the walk fallback runs too.
    fn random_effect(rng: &mut ChaCha8Rng) -> Effect {
        let dir = |rng: &mut ChaCha8Rng| [ROOT, 2, 3, 4][rng.random_range(0..4)];
        let name = |rng: &mut ChaCha8Rng| ["a", "b", "c"][rng.random_range(0..3)].to_string();
        let file = |rng: &mut ChaCha8Rng| rng.random_range(10..15u64);
        match rng.random_range(0..20) {
            0..=4 => Effect::Link { dir: dir(rng), name: name(rng), ino: file(rng), kind: Kind::File },
            5..=7 => Effect::Unlink { dir: dir(rng), name: name(rng), ino: file(rng) },
            8..=11 => Effect::Rename {
                from_dir: dir(rng),
                from: name(rng),
                to_dir: dir(rng),
                to: name(rng),
                ino: file(rng),
                kind: Kind::File,
            },
            12..=15 => {
                let data = Arc::new(vec![b'x'; rng.random_range(1..6000)]);
                Effect::Write { ino: file(rng), offset: rng.random_range(0..5000), data }
            }
            16..=17 => Effect::Truncate { ino: file(rng), len: rng.random_range(0..3000) },
            18 => Effect::Link { dir: ROOT, name: "d".to_string(), ino: 4, kind: Kind::Dir },
            _ => Effect::Rename {
                from_dir: ROOT,
                from: "d".to_string(),
                to_dir: 2,
                to: "e".to_string(),
                ino: 4,
                kind: Kind::Dir,
            },
        }
    }

    fn base_disk(rng: &mut ChaCha8Rng) -> Disk {
        let mut disk = Disk::default();
        disk.apply(&Effect::Link { dir: ROOT, name: "x".to_string(), ino: 2, kind: Kind::Dir });
        disk.apply(&Effect::Link { dir: ROOT, name: "y".to_string(), ino: 3, kind: Kind::Dir });
        for _ in 0..rng.random_range(0..12) {
            let effect = random_effect(rng);
            if !matches!(effect, Effect::Link { kind: Kind::Dir, .. } | Effect::Rename { kind: Kind::Dir, .. }) {
                disk.apply(&effect);
            }
        }
        disk
    }

    #[test]
    fn a_candidates_fingerprint_kept_up_to_date_is_the_fingerprint_of_a_walk() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut followed, mut applied) = (0, 0);
        for _ in 0..3000 {
            let durable = base_disk(&mut rng);
            let base = Base::of(&durable);
            let mut candidate = Candidate::new(&base);
            let mut torn = None;
            for _ in 0..rng.random_range(1..10) {
                let effect = random_effect(&mut rng);
                if rng.random_range(0..4) == 0 && matches!(effect, Effect::Write { .. }) {
                    let mut split = candidate.clone();
                    split.apply_torn(&effect, 1);
                    torn = Some(split);
                }
                candidate.apply(&effect);
                applied += 1;
                followed += usize::from(candidate.fingerprint.is_some());
                let (disk, fingerprint) = candidate.clone().finish();
                assert_eq!(fingerprint, disk.fingerprint(), "after {effect:?} on {durable:?}");
            }
            if let Some(torn) = torn {
                let (disk, fingerprint) = torn.finish();
                assert_eq!(fingerprint, disk.fingerprint(), "a torn write");
            }
        }
        assert!(followed * 2 > applied, "most effects are followed without a walk: {followed} of {applied}");
    }

    /// A walk kept for the same disk answers as a fresh walk does, and a disk that changed (even
    /// to one of the same size) is walked anew.
    #[test]
    fn a_kept_walk_is_the_walk_of_the_same_disk_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let walks = Walks::default();
        let mut disk = base_disk(&mut rng);
        let (mut kept, mut asked) = (0, 0);
        for _ in 0..3000 {
            if rng.random_range(0..3) == 0 {
                let effect = random_effect(&mut rng);
                if !matches!(effect, Effect::Link { kind: Kind::Dir, .. } | Effect::Rename { kind: Kind::Dir, .. }) {
                    disk.apply(&effect);
                }
            }
            let same = Walked::of(&walks.lock(), &disk).is_some();
            let fresh = Base::of(&disk);
            if rng.random_range(0..2) == 0 {
                assert_eq!(walks.fingerprint(&disk), disk.fingerprint());
            }
            let base = walks.base(&disk);
            asked += 1;
            kept += usize::from(same);
            assert_eq!(base.fingerprint, fresh.fingerprint);
            let paths = |b: &Base| b.paths.as_ref().map(|p| (p.dirs.clone(), p.files.clone()));
            assert_eq!(paths(&base), paths(&fresh));
            let copy = walks.clone();
            assert_eq!(copy.fingerprint(&disk), disk.fingerprint());
        }
        assert!(kept * 2 > asked, "most disks were the one walked before: {kept} of {asked}");
    }
}
