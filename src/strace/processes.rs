//! The traced program's processes and their descriptor tables, as the kernel keeps them.
//!
//! Threads (`CLONE_FILES`) share a table; a fork copies it, each copied slot naming the same
//! open file description; exec closes the close-on-exec slots; a table dies with the last
//! process using it. A description (its simulated descriptor, offset and flags) lives while a
//! slot names it: the calls that drop the last reference hand back the simulated descriptor
//! for the caller to close.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crashsim_sim::Fd;

/// A descriptor table slot: the description it names.
#[derive(Clone, Copy)]
pub struct Slot {
    pub desc: usize,
    pub cloexec: bool,
}

/// An open file description inside DIR.
pub struct Desc {
    pub sim: Fd,
    pub offset: u64,
    pub append: bool,
    /// `O_SYNC`/`O_DSYNC`: every write is followed by an fdatasync.
    pub sync: bool,
    refs: usize,
}

impl Desc {
    pub fn new(sim: Fd, append: bool, sync: bool) -> Self {
        Self { sim, offset: 0, append, sync, refs: 0 }
    }
}

struct Proc {
    table: usize,
    cwd: Vec<u8>,
}

/// Every process seen, its table and working directory, and the descriptions.
pub struct Processes {
    procs: BTreeMap<u32, Proc>,
    tables: BTreeMap<usize, BTreeMap<i64, Slot>>,
    descs: BTreeMap<usize, Desc>,
    next_id: usize,
    /// Processes inside a clone-like call, oldest first, with the arguments printed so far.
    spawning: Vec<(u32, String)>,
    /// Every pid registered so far (a child may exit before its parent's clone returns).
    seen: BTreeSet<u32>,
    /// The working directory of a process with no parent in the trace.
    first_cwd: Vec<u8>,
}

impl Processes {
    pub fn new(first_cwd: Vec<u8>) -> Self {
        Self {
            procs: BTreeMap::new(),
            tables: BTreeMap::new(),
            descs: BTreeMap::new(),
            next_id: 0,
            spawning: Vec::new(),
            seen: BTreeSet::new(),
            first_cwd,
        }
    }

    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    /// Registers `pid` if it is not running: a child of the oldest process inside a clone-like
    /// call, or (none pending) a process of its own, as the traced program is. True if new.
    pub fn register(&mut self, pid: u32) -> bool {
        if self.procs.contains_key(&pid) {
            return false;
        }
        self.seen.insert(pid);
        let parent = (!self.spawning.is_empty()).then(|| self.spawning.remove(0));
        let proc = match parent.and_then(|(ppid, head)| self.procs.get(&ppid).map(|p| (p.table, p.cwd.clone(), head))) {
            Some((table, cwd, head)) if head.contains("CLONE_FILES") => Proc { table, cwd },
            Some((table, cwd, _)) => {
                let copy = self.tables[&table].clone();
                for slot in copy.values() {
                    self.descs.get_mut(&slot.desc).expect("a slot names a live description").refs += 1;
                }
                let id = self.id();
                self.tables.insert(id, copy);
                Proc { table: id, cwd }
            }
            None => {
                let id = self.id();
                self.tables.insert(id, BTreeMap::new());
                Proc { table: id, cwd: self.first_cwd.clone() }
            }
        };
        self.procs.insert(pid, proc);
        true
    }

    /// `pid` is inside a clone-like call (`head`: its arguments so far).
    pub fn spawning(&mut self, pid: u32, head: String) {
        self.spawning.push((pid, head));
    }

    /// `parent`'s clone-like call (`text`) returned `child`: registers the child unless it
    /// already ran. True if it was registered now.
    pub fn cloned(&mut self, parent: u32, child: u32, text: &str) -> bool {
        if self.seen.contains(&child) {
            if let Some(at) = self.spawning.iter().position(|(pid, _)| *pid == parent) {
                self.spawning.remove(at);
            }
            return false;
        }
        self.spawning.retain(|(pid, _)| *pid != parent);
        self.spawning.insert(0, (parent, text.to_string()));
        self.register(child)
    }

    /// `pid` is gone; the simulated descriptors to close.
    pub fn gone(&mut self, pid: u32) -> Vec<Fd> {
        let Some(proc) = self.procs.remove(&pid) else { return Vec::new() };
        if self.procs.values().any(|p| p.table == proc.table) {
            return Vec::new();
        }
        let fds: Vec<i64> = self.tables[&proc.table].keys().copied().collect();
        let closing = fds.into_iter().filter_map(|fd| self.close_in(proc.table, fd)).collect();
        self.tables.remove(&proc.table);
        closing
    }

    pub fn cwd(&self, pid: u32) -> &[u8] {
        &self.procs[&pid].cwd
    }

    pub fn set_cwd(&mut self, pid: u32, cwd: Vec<u8>) {
        self.procs.get_mut(&pid).expect("a registered process").cwd = cwd;
    }

    pub fn slot(&self, pid: u32, fd: i64) -> Option<Slot> {
        self.tables[&self.procs[&pid].table].get(&fd).copied()
    }

    /// Closes `pid`'s `fd`; the simulated descriptor to close if that was its last reference.
    pub fn close(&mut self, pid: u32, fd: i64) -> Option<Fd> {
        self.close_in(self.procs[&pid].table, fd)
    }

    fn close_in(&mut self, table: usize, fd: i64) -> Option<Fd> {
        let slot = self.tables.get_mut(&table)?.remove(&fd)?;
        let desc = self.descs.get_mut(&slot.desc).expect("a slot names a live description");
        desc.refs -= 1;
        (desc.refs == 0).then(|| self.descs.remove(&slot.desc).expect("just found").sim)
    }

    /// `pid`'s `fd` now names a new description; what the number named before is closed.
    pub fn open(&mut self, pid: u32, fd: i64, desc: Desc, cloexec: bool) -> Option<Fd> {
        let id = self.id();
        self.descs.insert(id, desc);
        self.dup(pid, fd, id, cloexec)
    }

    /// `pid`'s `fd` now names description `desc`; what the number named before is closed.
    pub fn dup(&mut self, pid: u32, fd: i64, desc: usize, cloexec: bool) -> Option<Fd> {
        if self.slot(pid, fd).is_some_and(|slot| slot.desc == desc) {
            // dup2(fd, fd): nothing changes but the flag.
            self.set_cloexec(pid, fd, cloexec);
            return None;
        }
        let closing = self.close(pid, fd);
        self.descs.get_mut(&desc).expect("a live description").refs += 1;
        let table = self.procs[&pid].table;
        self.tables.get_mut(&table).expect("a live table").insert(fd, Slot { desc, cloexec });
        closing
    }

    pub fn set_cloexec(&mut self, pid: u32, fd: i64, cloexec: bool) {
        let table = self.procs[&pid].table;
        if let Some(slot) = self.tables.get_mut(&table).and_then(|t| t.get_mut(&fd)) {
            slot.cloexec = cloexec;
        }
    }

    /// `pid`'s open descriptors in `range`.
    pub fn fds_in(&self, pid: u32, range: RangeInclusive<i64>) -> Vec<i64> {
        self.tables[&self.procs[&pid].table].range(range).map(|(fd, _)| *fd).collect()
    }

    /// `pid`'s close-on-exec descriptors.
    pub fn cloexec_fds(&self, pid: u32) -> Vec<i64> {
        self.tables[&self.procs[&pid].table].iter().filter(|(_, s)| s.cloexec).map(|(fd, _)| *fd).collect()
    }

    pub fn desc(&self, id: usize) -> &Desc {
        &self.descs[&id]
    }

    pub fn desc_mut(&mut self, id: usize) -> &mut Desc {
        self.descs.get_mut(&id).expect("a live description")
    }
}
