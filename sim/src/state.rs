//! A fingerprint of a filesystem's whole state, so that a harness recognizes a state it has
//! already explored (TLC's state fingerprints).
//!
//! Two `SimFs` in equal states do the same from now on and leave the same crash images under
//! every model: their volatile trees (contents, mtimes, hard links) are equal, and under
//! `ordered` and `posix` so are their durable trees and pending effects. Inode numbers differ
//! between runs that reached one state by different paths, so they are canonicalized: each inode
//! is named by the order in which one walk first meets it (the volatile tree breadth-first in
//! name order, then each model's durable tree, then its pending effects in log order). Under
//! `process` nothing is pending: the durable state is the volatile one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use xxhash_rust::xxh3::Xxh3;

use crate::disk::{Disk, Effect, Ino, Inode, ROOT};
use crate::Kind;

/// A running hash of one state, with its canonical inode names.
#[derive(Default)]
pub(crate) struct Canon {
    names: BTreeMap<Ino, u64>,
    hash: Xxh3,
}

impl Canon {
    /// The canonical name of `ino`: the next free one the first time it is met.
    fn name(&mut self, ino: Ino) -> u64 {
        let next = self.names.len() as u64;
        *self.names.entry(ino).or_insert(next)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.u64(bytes.len() as u64);
        self.hash.update(bytes);
    }

    fn u64(&mut self, n: u64) {
        self.hash.update(&n.to_le_bytes());
    }

    fn ino(&mut self, ino: Ino) {
        let name = self.name(ino);
        self.u64(name);
    }

    fn tag(&mut self, tag: u8) {
        self.hash.update(&[tag]);
    }

    /// Every inode reachable from the root of `disk`, breadth-first in name order, with each
    /// file's mtime when `mtimes` is given.
    pub fn disk(&mut self, disk: &Disk, mtimes: Option<&BTreeMap<Ino, u64>>) {
        self.disk_from(disk, [ROOT], mtimes);
    }

    /// Every inode reachable from `roots` in `disk`, breadth-first in name order: the root, and
    /// under `ordered` and `posix` the objects a pending effect may still link (a file whose data
    /// is durable while its name is not), whose contents a crash image can show.
    pub fn disk_from(
        &mut self,
        disk: &Disk,
        roots: impl IntoIterator<Item = Ino>,
        mtimes: Option<&BTreeMap<Ino, u64>>,
    ) {
        let mut queue: VecDeque<Ino> = roots.into_iter().collect();
        let mut done = BTreeSet::new();
        while let Some(ino) = queue.pop_front() {
            if !done.insert(ino) {
                continue;
            }
            self.ino(ino);
            match disk.get(ino) {
                Some(Inode::Dir(entries)) => {
                    self.tag(b'D');
                    self.u64(entries.len() as u64);
                    for (name, &child) in entries {
                        self.bytes(name.as_bytes());
                        self.ino(child);
                        queue.push_back(child);
                    }
                }
                Some(Inode::File(content)) => {
                    self.tag(b'F');
                    self.u64(content.len());
                    for chunk in content.chunks() {
                        self.hash.update(&chunk);
                    }
                    self.u64(mtimes.and_then(|m| m.get(&ino)).copied().unwrap_or(0));
                }
                None => self.tag(b'N'),
            }
        }
        self.tag(b'.');
    }

    /// One pending effect, and the directories whose half of it has not persisted yet.
    pub fn pending(&mut self, effect: &Effect, dirs_left: &[Ino]) {
        match effect {
            Effect::Link { dir, name, ino, kind } => {
                self.tag(b'l');
                self.ino(*dir);
                self.bytes(name.as_bytes());
                self.ino(*ino);
                self.kind(*kind);
            }
            Effect::Unlink { dir, name, ino } => {
                self.tag(b'u');
                self.ino(*dir);
                self.bytes(name.as_bytes());
                self.ino(*ino);
            }
            Effect::Rename { from_dir, from, to_dir, to, ino, kind } => {
                self.tag(b'r');
                self.ino(*from_dir);
                self.bytes(from.as_bytes());
                self.ino(*to_dir);
                self.bytes(to.as_bytes());
                self.ino(*ino);
                self.kind(*kind);
            }
            Effect::Write { ino, offset, data } => {
                self.tag(b'w');
                self.ino(*ino);
                self.u64(*offset);
                self.bytes(data);
            }
            Effect::Truncate { ino, len } => {
                self.tag(b't');
                self.ino(*ino);
                self.u64(*len);
            }
        }
        self.u64(dirs_left.len() as u64);
        for &dir in dirs_left {
            self.ino(dir);
        }
    }

    fn kind(&mut self, kind: Kind) {
        self.tag(match kind {
            Kind::File => b'f',
            Kind::Dir => b'd',
        });
    }

    /// Marks where one model's part begins.
    pub fn section(&mut self, tag: u8) {
        self.tag(tag);
    }

    pub fn finish(&self) -> u128 {
        self.hash.digest128()
    }
}

#[cfg(test)]
mod tests {
    use crate::{files, Fs, OpenOptions, SimFs, SimOptions};

    fn fs_after(steps: impl AsyncFnOnce(&SimFs)) -> SimFs {
        let fs = SimFs::new(SimOptions::default());
        pollster::block_on(steps(&fs));
        fs
    }

    async fn put(fs: &SimFs, path: &str, data: &[u8], sync: bool) {
        files::write(fs, path, OpenOptions::create_trunc(), data, sync).await.expect("written");
    }

    #[test]
    fn one_state_reached_two_ways_has_one_fingerprint() {
        // A temp file created and removed leaves the state as it was, though it took an inode
        // number: the inode numbers of what follows differ, the state does not.
        let direct = fs_after(async |fs| {
            put(fs, "a", b"1", true).await;
            files::sync_dir(fs, "").await.unwrap();
        });
        let detour = fs_after(async |fs| {
            put(fs, "tmp", b"x", true).await;
            fs.unlink("tmp").await.unwrap();
            put(fs, "a", b"1", true).await;
            files::sync_dir(fs, "").await.unwrap();
        });
        assert_eq!(direct.state_fingerprint(), detour.state_fingerprint());
        assert!(direct.state_fingerprint().is_some());
    }

    #[test]
    fn what_a_crash_may_still_lose_is_part_of_the_state() {
        // The same files, but one has its data and entry on the platter and the other not:
        // a power loss tells them apart, so the fingerprints must.
        let synced = fs_after(async |fs| {
            put(fs, "a", b"1", true).await;
            files::sync_dir(fs, "").await.unwrap();
        });
        let unsynced = fs_after(async |fs| put(fs, "a", b"1", false).await);
        let half = fs_after(async |fs| put(fs, "a", b"1", true).await);
        let prints = [&synced, &unsynced, &half].map(|fs| fs.state_fingerprint().expect("no descriptor open"));
        assert_ne!(prints[0], prints[1]);
        assert_ne!(prints[0], prints[2]);
        assert_ne!(prints[1], prints[2]);
    }

    #[test]
    fn the_durable_contents_of_a_file_whose_name_may_still_persist_are_part_of_the_state() {
        // Under posix, `a`'s data is on the platter ("x" or "y") and its entry is not; its newer
        // contents are pending. The volatile trees and `ordered` (whose later fsync flushed all)
        // agree; a crash that keeps the entry and not the newer data shows "x" or "y".
        let state = |first: &'static [u8]| {
            fs_after(async move |fs| {
                put(fs, "a", first, true).await;
                put(fs, "a", b"q", false).await;
                put(fs, "c", b"c", true).await;
            })
        };
        let (x, y) = (state(b"x"), state(b"y"));
        assert_ne!(x.state_fingerprint().expect("no descriptor open"), y.state_fingerprint().expect("none open"));
    }

    #[test]
    fn a_state_with_a_descriptor_open_has_no_fingerprint() {
        let fs = SimFs::new(SimOptions::default());
        let _fd = pollster::block_on(fs.open("a", OpenOptions::create_trunc())).unwrap();
        assert_eq!(fs.state_fingerprint(), None);
    }
}
