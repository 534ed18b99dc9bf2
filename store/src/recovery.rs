//! Recovery: what `Store::open` does before serving, so that every operation a crash
//! interrupted ends up fully applied or fully absent.
//!
//! Rules, each reported as a [`Repair`]:
//! - temp files `sessions.json.<n>.tmp` are removed; a stale lock is broken;
//! - a registry that does not parse is moved aside to `sessions.json.corrupt.<n>` (entries that
//!   are malformed make a copy there), then rebuilt from what parses and the transcripts' headers;
//!   a missing registry is rebuilt the same way (or restored from the newest backup, per variant);
//! - non-canonical keys are migrated; duplicates keep the newest `updatedAt`, the other
//!   transcript is archived `.reset.<ts>`;
//! - an entry whose `sessionFile` is not a plain name inside the sessions dir is left untouched
//!   and reported: nothing outside the dir is followed or touched;
//! - an entry whose transcript is gone is dropped (a Delete finishes), its trajectory archived;
//! - a torn last line of a transcript or trajectory is cut back to the last complete line;
//! - a transcript with no entry is adopted when a create made it (its header names no session it
//!   replaces), no reset replaced it, and its header's key has no entry (a Create finishes);
//!   archived `.reset.<ts>` when the key points at another session (a Reset never switched, or
//!   switched and did not archive the old one), when a reset made it (a Reset that never
//!   switched: if the key has no entry, a concurrent delete won), or when the header of another
//!   transcript, archived or not, says a reset replaced it (a Reset switched, and its process
//!   died before archiving the old one); archived `.torn.<ts>` when its header is unreadable. A
//!   transcript is never deleted;
//! - a trajectory whose session is gone is archived with its transcript's archive suffix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crashsim_sim::{Errno, Fs, OpenOptions};

use crate::error::{StoreError, StoreResult};
use crate::fsutil::{read_file, rename, sync_dir, unlink, write_file};
use crate::ids::IdSource;
use crate::keys::{canonical_key, is_canonical};
use crate::layout::{
    archive_name, backup_name, classify, corrupt_name, is_plain_name, path_in, trajectory_name, ArchiveReason,
    FileKind, REGISTRY,
};
use crate::registry::{self, Entry, Registry};
use crate::transcript::{self, Header, Parsed};
use crate::variant::{CorruptRegistry, MissingRegistry, Variant};

/// One repair recovery made (or one thing it refused to touch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    CreatedDir { dir: String },
    BrokeStaleLock { owner: String },
    RemovedTemp { name: String },
    RegistryMissing { restored_from: Option<String> },
    RegistryCorrupt { error: String, moved_to: String },
    DroppedMalformedEntry { key: String, error: String, kept_in: String },
    MigratedKey { from: String, to: String },
    MergedDuplicate { key: String, kept: String, archived: String },
    ForeignEntry { key: String, file: String },
    DroppedDanglingEntry { key: String, session_id: String },
    ClearedTrajectoryRef { key: String, file: String },
    CutTornLine { file: String, from_len: usize, to_len: usize },
    AdoptedOrphan { file: String, key: String },
    ArchivedOrphan { file: String, to: String },
    ArchivedTrajectory { file: String, to: String },
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::CreatedDir { dir } => write!(f, "created the sessions directory {dir}"),
            Repair::BrokeStaleLock { owner } => write!(f, "broke a stale lock of {owner:?}"),
            Repair::RemovedTemp { name } => write!(f, "removed leftover temp file {name}"),
            Repair::RegistryMissing { restored_from: Some(b) } => write!(f, "registry missing: restored from {b}"),
            Repair::RegistryMissing { restored_from: None } => write!(f, "registry missing: rebuilt from transcripts"),
            Repair::RegistryCorrupt { error, moved_to } => {
                write!(f, "registry does not parse ({error}); moved aside to {moved_to}, rebuilt from transcripts")
            }
            Repair::DroppedMalformedEntry { key, error, kept_in } => {
                write!(f, "dropped malformed entry {key:?} ({error}); original kept in {kept_in}")
            }
            Repair::MigratedKey { from, to } => write!(f, "migrated key {from:?} to {to:?}"),
            Repair::MergedDuplicate { key, kept, archived } => {
                write!(f, "merged duplicate entries of {key:?}: kept {kept}, archived {archived}")
            }
            Repair::ForeignEntry { key, file } => {
                write!(f, "entry {key:?} points outside the sessions dir ({file:?}); left untouched")
            }
            Repair::DroppedDanglingEntry { key, session_id } => {
                write!(f, "dropped entry {key:?}: transcript of {session_id} is gone")
            }
            Repair::ClearedTrajectoryRef { key, file } => {
                write!(f, "entry {key:?}: trajectory {file} is gone")
            }
            Repair::CutTornLine { file, from_len, to_len } => {
                write!(f, "cut torn last line of {file}: {from_len} -> {to_len} bytes")
            }
            Repair::AdoptedOrphan { file, key } => {
                write!(f, "adopted orphan transcript {file} as {key:?}")
            }
            Repair::ArchivedOrphan { file, to } => {
                write!(f, "archived orphan transcript {file} as {to}")
            }
            Repair::ArchivedTrajectory { file, to } => {
                write!(f, "archived trajectory {file} as {to}")
            }
        }
    }
}

/// Everything recovery repaired, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub repairs: Vec<Repair>,
}

impl RecoveryReport {
    pub fn is_clean(&self) -> bool {
        self.repairs.is_empty()
    }
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repairs.is_empty() {
            return writeln!(f, "nothing to repair");
        }
        for repair in &self.repairs {
            writeln!(f, "- {repair}")?;
        }
        Ok(())
    }
}

/// The state recovery works on.
pub(crate) struct Recovery<'a, F: Fs> {
    pub fs: &'a F,
    pub dir: &'a str,
    pub variant: Variant,
    pub ids: &'a mut IdSource,
    pub temp_seq: &'a mut u64,
    pub report: RecoveryReport,
    /// Whether a rename or unlink needs a directory fsync before recovery ends.
    dirty_dir: bool,
    /// Names recovery moved away since it listed the directory.
    gone: BTreeSet<String>,
    /// Whether the registry did not parse: then it cannot say which of a key's transcripts a
    /// reset switched to, and the newest is adopted.
    registry_lost: bool,
    /// Whether every orphan is archived, none adopted (the `corrupt-registry-empty` variant,
    /// after it read a damaged registry as empty).
    orphans_dropped: bool,
    /// The registry did not parse and is served as empty, left as it was found (a variant).
    serving_empty: bool,
    /// The sessions the transcripts entries name say they replaced (their headers'
    /// `reset_from`, as each file stands after any cut): recovery reads each transcript once.
    named_replaced: BTreeSet<String>,
}

impl<'a, F: Fs> Recovery<'a, F> {
    pub fn new(fs: &'a F, dir: &'a str, variant: Variant, ids: &'a mut IdSource, temp_seq: &'a mut u64) -> Self {
        Self {
            fs,
            dir,
            variant,
            ids,
            temp_seq,
            report: RecoveryReport::default(),
            dirty_dir: false,
            gone: BTreeSet::new(),
            registry_lost: false,
            orphans_dropped: false,
            serving_empty: false,
            named_replaced: BTreeSet::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        path_in(self.dir, name)
    }

    fn repaired(&mut self, repair: Repair) {
        self.report.repairs.push(repair);
    }

    /// Runs recovery; the caller holds the lock.
    pub async fn run(mut self) -> StoreResult<RecoveryReport> {
        let names = self.fs.readdir(self.dir).await.map_err(|e| StoreError::fs("readdir", self.dir, e))?;
        let files: BTreeMap<String, FileKind> = names.iter().map(|n| (n.clone(), classify(n))).collect();
        self.observe_timestamps(&files);
        for (name, kind) in &files {
            if *kind == FileKind::Temp {
                unlink(self.fs, &self.path(name)).await?;
                self.dirty_dir = true;
                self.repaired(Repair::RemovedTemp { name: name.clone() });
            }
        }
        let (loaded, mut must_write) = self.load_registry(&files).await?;
        if self.serving_empty {
            // The variant's loader took the damaged registry for `{}`: nothing else is repaired.
            return Ok(self.report);
        }
        let (mut registry, migrated) = self.canonicalize(loaded, &files).await?;
        must_write |= migrated;
        must_write |= self.check_entries(&mut registry, &files).await?;
        must_write |= self.adopt_orphans(&mut registry, &files).await?;
        self.archive_stray_trajectories(&registry, &files).await?;
        if must_write {
            *self.temp_seq += 1;
            registry::replace(self.fs, self.dir, *self.temp_seq, &registry, self.variant).await?;
        } else if self.dirty_dir {
            sync_dir(self.fs, self.dir).await?;
        }
        Ok(self.report)
    }

    fn observe_timestamps(&mut self, files: &BTreeMap<String, FileKind>) {
        for kind in files.values() {
            if let FileKind::Archive { ts, .. } = kind {
                self.ids.observe(*ts);
            }
        }
    }

    /// The registry's entries, and whether the registry must be rewritten.
    async fn load_registry(&mut self, files: &BTreeMap<String, FileKind>) -> StoreResult<(Registry, bool)> {
        let path = self.path(REGISTRY);
        let bytes = match read_file(self.fs, &path).await {
            Ok(bytes) => bytes,
            Err(StoreError::Fs { errno: Errno::EISDIR, .. }) => {
                return Err(StoreError::Recovery(format!("{path} is a directory; move it away and restart")))
            }
            Err(other) => return Err(other),
        };
        let Some(bytes) = bytes else {
            return self.missing_registry(files).await;
        };
        let corrupt_slot = files
            .values()
            .filter_map(|k| if let FileKind::Corrupt(n) = k { Some(*n) } else { None })
            .max()
            .map_or(1, |n| n + 1);
        let moved_to = corrupt_name(corrupt_slot);
        match registry::parse(&bytes) {
            Err(_) if self.variant.corrupt_registry() == CorruptRegistry::ServeEmpty => {
                self.serving_empty = true;
                Ok((Registry::new(), false))
            }
            Err(_) if self.variant.corrupt_registry() == CorruptRegistry::ReadAsEmpty => {
                self.orphans_dropped = true;
                Ok((Registry::new(), true))
            }
            Err(error) => {
                rename(self.fs, &path, &self.path(&moved_to)).await?;
                self.dirty_dir = true;
                self.registry_lost = true;
                self.repaired(Repair::RegistryCorrupt { error, moved_to });
                Ok((Registry::new(), true))
            }
            Ok(parsed) if parsed.malformed.is_empty() => {
                let entries = parsed.entries;
                for entry in entries.values() {
                    self.ids.observe(entry.updated_at);
                }
                Ok((entries, false))
            }
            Ok(parsed) => {
                write_file(self.fs, &self.path(&moved_to), OpenOptions::create_new(), &bytes, true).await?;
                self.dirty_dir = true;
                for (key, error) in parsed.malformed {
                    self.repaired(Repair::DroppedMalformedEntry { key, error, kept_in: moved_to.clone() });
                }
                Ok((parsed.entries, true))
            }
        }
    }

    async fn missing_registry(&mut self, files: &BTreeMap<String, FileKind>) -> StoreResult<(Registry, bool)> {
        let fresh = !files.values().any(|k| {
            matches!(
                k,
                FileKind::Transcript(_) | FileKind::Trajectory(_) | FileKind::Backup(_) | FileKind::Archive { .. }
            )
        });
        if fresh {
            // A new store: write its first, empty registry; nothing was lost.
            return Ok((Registry::new(), true));
        }
        if self.variant.missing_registry() == MissingRegistry::RestoreNewestBackup {
            let newest = files.values().filter_map(|k| if let FileKind::Backup(n) = k { Some(*n) } else { None }).max();
            if let Some(n) = newest {
                let name = backup_name(n);
                if let Some(bytes) = read_file(self.fs, &self.path(&name)).await? {
                    if let Ok(parsed) = registry::parse(&bytes) {
                        self.repaired(Repair::RegistryMissing { restored_from: Some(name) });
                        return Ok((parsed.entries, true));
                    }
                }
            }
        }
        self.repaired(Repair::RegistryMissing { restored_from: None });
        Ok((Registry::new(), true))
    }

    /// Migrates non-canonical keys; merges duplicates by newest `updatedAt`.
    async fn canonicalize(
        &mut self,
        loaded: Registry,
        files: &BTreeMap<String, FileKind>,
    ) -> StoreResult<(Registry, bool)> {
        let mut out = Registry::new();
        let mut migrated = false;
        // Canonical keys first, so a migrated duplicate meets the entry it collides with.
        let (canonical, raw): (Vec<_>, Vec<_>) = loaded.into_iter().partition(|(k, _)| is_canonical(k));
        for (key, entry) in canonical {
            out.insert(key, entry);
        }
        for (raw_key, entry) in raw {
            let key = canonical_key(&raw_key);
            migrated = true;
            self.repaired(Repair::MigratedKey { from: raw_key, to: key.clone() });
            let Some(existing) = out.get(&key) else {
                out.insert(key, entry);
                continue;
            };
            let (keep, lose) = if entry.updated_at > existing.updated_at {
                (entry, existing.clone())
            } else {
                (existing.clone(), entry)
            };
            let kept = keep.session_id.clone();
            out.insert(key.clone(), keep);
            if !referenced(&out, &lose.session_file) {
                let archived = self.archive_session(&lose, ArchiveReason::Reset, files, &out).await?;
                self.repaired(Repair::MergedDuplicate { key, kept, archived });
            }
        }
        Ok((out, migrated))
    }

    /// Drops dangling entries, cuts torn lines, checks trajectories. True if the registry changed.
    async fn check_entries(
        &mut self,
        registry: &mut Registry,
        files: &BTreeMap<String, FileKind>,
    ) -> StoreResult<bool> {
        let mut changed = false;
        let keys: Vec<String> = registry.keys().cloned().collect();
        for key in keys {
            let entry = registry[&key].clone();
            if !is_plain_name(&entry.session_file) || !matches!(classify(&entry.session_file), FileKind::Transcript(_))
            {
                self.repaired(Repair::ForeignEntry { key, file: entry.session_file });
                continue;
            }
            if !self.present(files, &entry.session_file) {
                registry.remove(&key);
                changed = true;
                let unshared = |t: &&str| !referenced(registry, t);
                if let Some(trajectory) =
                    entry.trajectory_file.as_deref().filter(|t| self.present(files, t)).filter(unshared)
                {
                    self.archive_trajectory(trajectory, &entry.session_file, files).await?;
                }
                self.repaired(Repair::DroppedDanglingEntry { key, session_id: entry.session_id });
                continue;
            }
            let Some(header) = self.read_and_cut(&entry.session_file).await? else {
                self.repaired(Repair::ForeignEntry { key, file: entry.session_file });
                continue;
            };
            self.named_replaced.extend(header.and_then(|h| h.reset_from));
            let Some(trajectory) = entry.trajectory_file.clone() else {
                continue;
            };
            if is_plain_name(&trajectory) && self.present(files, &trajectory) {
                self.read_and_cut(&trajectory).await?;
            } else if is_plain_name(&trajectory) {
                if self.variant.startup_requires_trajectory() {
                    return Err(StoreError::Recovery(format!(
                        "session {key:?} references trajectory {trajectory}, which is missing; the session loader cannot restore it"
                    )));
                }
                registry.get_mut(&key).expect("entry exists").trajectory_file = None;
                changed = true;
                self.repaired(Repair::ClearedTrajectoryRef { key, file: trajectory });
            }
        }
        Ok(changed)
    }

    /// The sessions some reset replaced, as the headers of the sessions that replaced them say
    /// (archived ones too). Such a transcript with no entry was switched away from, whatever
    /// happened to its key since (another process may have deleted it before the reset's
    /// archive step ran, if the resetting process died holding the lock): it is never adopted.
    /// The transcripts entries name were read by [`Recovery::check_entries`]; the others are
    /// read here, and handed on as [`Recovery::read_jsonl`] reads them.
    async fn replaced_sessions(
        &mut self,
        files: &BTreeMap<String, FileKind>,
        named: &BTreeSet<&str>,
    ) -> StoreResult<Replaced> {
        let mut replaced = Replaced { sessions: std::mem::take(&mut self.named_replaced), read: BTreeMap::new() };
        for (name, kind) in files {
            let transcript = match kind {
                FileKind::Transcript(_) => !named.contains(name.as_str()),
                FileKind::Archive { file, .. } => matches!(classify(file), FileKind::Transcript(_)),
                _ => false,
            };
            if !transcript {
                continue;
            }
            let read = self.read_jsonl(name).await?;
            replaced.sessions.extend(read.as_ref().and_then(|(_, parsed)| parsed.header.as_ref()?.reset_from.clone()));
            replaced.read.insert(name.clone(), read);
        }
        Ok(replaced)
    }

    /// Adopts or archives transcripts no entry names. True if the registry changed.
    async fn adopt_orphans(
        &mut self,
        registry: &mut Registry,
        files: &BTreeMap<String, FileKind>,
    ) -> StoreResult<bool> {
        let named: BTreeSet<&str> = registry.values().map(|e| e.session_file.as_str()).collect();
        // A trajectory an entry names stays with that entry, whatever its file is called.
        let referenced: BTreeSet<String> = registry.values().filter_map(|e| e.trajectory_file.clone()).collect();
        let Replaced { sessions: replaced, mut read } = self.replaced_sessions(files, &named).await?;
        let mut candidates: BTreeMap<String, Vec<Orphan>> = BTreeMap::new();
        let mut unswitched = Vec::new();
        let mut torn = Vec::new();
        for (name, kind) in files {
            let FileKind::Transcript(id) = kind else {
                continue;
            };
            if named.contains(name.as_str()) {
                continue;
            }
            let Some((len, parsed)) = read.remove(name).expect("every transcript no entry names was read") else {
                continue;
            };
            let complete_len = self.variant.torn_tail_cut().cut_to(&parsed, len);
            match parsed.header.filter(|h| h.id == *id) {
                Some(header) => {
                    // A session made after this boot must sort after every one found on disk,
                    // adopted or archived, or prune could take the newer one for the older.
                    if self.variant.adoption_moves_clock() {
                        self.ids.observe(header.created_at);
                    }
                    let trajectory = trajectory_name(id);
                    let entry = Entry {
                        session_id: id.clone(),
                        session_file: name.clone(),
                        updated_at: header.created_at,
                        label: header.label,
                        trajectory_file: (self.present(files, &trajectory) && !referenced.contains(&trajectory))
                            .then_some(trajectory),
                        extra: BTreeMap::new(),
                    };
                    let orphan = Orphan { entry, len, complete_len };
                    // A reset's new transcript, or the transcript a reset replaced, is not
                    // adopted while the registry can tell which one the reset switched to.
                    let unswitched_reset = header.reset_from.is_some() || replaced.contains(id);
                    if self.orphans_dropped || (!self.registry_lost && unswitched_reset) {
                        unswitched.push(orphan);
                    } else {
                        candidates.entry(canonical_key(&header.key)).or_default().push(orphan);
                    }
                }
                None => torn.push(name.clone()),
            }
        }
        let mut changed = false;
        for (key, mut group) in candidates {
            // The newest orphan of a key is adopted; the others lost a race to it.
            group.sort_by(|a, b| {
                (a.entry.updated_at, &a.entry.session_id).cmp(&(b.entry.updated_at, &b.entry.session_id))
            });
            if let std::collections::btree_map::Entry::Vacant(slot) = registry.entry(key.clone()) {
                let Orphan { entry, len, complete_len } = group.pop().expect("a group has a member");
                self.cut_torn(&entry.session_file, len, complete_len).await?;
                if let Some(trajectory) = &entry.trajectory_file {
                    self.read_and_cut(trajectory).await?;
                }
                self.report.repairs.push(Repair::AdoptedOrphan { file: entry.session_file.clone(), key });
                slot.insert(entry);
                changed = true;
            }
            for Orphan { entry, .. } in group {
                let to = self.archive_session(&entry, ArchiveReason::Reset, files, registry).await?;
                self.repaired(Repair::ArchivedOrphan { file: entry.session_file, to });
            }
        }
        for Orphan { entry, .. } in unswitched {
            let to = self.archive_session(&entry, ArchiveReason::Reset, files, registry).await?;
            self.repaired(Repair::ArchivedOrphan { file: entry.session_file, to });
        }
        for name in torn {
            let to = archive_name(&name, ArchiveReason::Torn, self.ids.tick());
            self.move_to(&name, &to).await?;
            self.repaired(Repair::ArchivedOrphan { file: name.clone(), to });
            if let Some(FileKind::Transcript(id)) = files.get(&name) {
                let trajectory = trajectory_name(id);
                if self.present(files, &trajectory) && !referenced.contains(&trajectory) {
                    self.archive_trajectory(&trajectory, &name, files).await?;
                }
            }
        }
        Ok(changed)
    }

    /// Archives trajectories whose session no entry holds.
    async fn archive_stray_trajectories(
        &mut self,
        registry: &Registry,
        files: &BTreeMap<String, FileKind>,
    ) -> StoreResult<()> {
        let live: BTreeSet<&str> = registry.values().filter_map(|e| e.trajectory_file.as_deref()).collect();
        let live_ids: BTreeSet<&str> = registry.values().map(|e| e.session_id.as_str()).collect();
        for (name, kind) in files {
            let FileKind::Trajectory(id) = kind else {
                continue;
            };
            if live.contains(name.as_str()) || live_ids.contains(id.as_str()) {
                continue;
            }
            // Still there? A dropped entry's or archived orphan's trajectory has moved already.
            if self.fs.stat(&self.path(name)).await.is_err() {
                continue;
            }
            self.archive_trajectory(name, &format!("{id}.jsonl"), files).await?;
        }
        Ok(())
    }

    /// Archives an entry's transcript and trajectory; returns the transcript's archive name.
    async fn archive_session(
        &mut self,
        entry: &Entry,
        reason: ArchiveReason,
        files: &BTreeMap<String, FileKind>,
        registry: &Registry,
    ) -> StoreResult<String> {
        let ts = self.ids.tick();
        let to = archive_name(&entry.session_file, reason, ts);
        let movable =
            |this: &Self, name: &str| is_plain_name(name) && this.present(files, name) && !referenced(registry, name);
        if movable(self, &entry.session_file) {
            self.move_to(&entry.session_file, &to).await?;
        }
        if let Some(trajectory) = entry.trajectory_file.as_deref().filter(|t| movable(self, t)) {
            let traj_to = archive_name(trajectory, reason, ts);
            self.move_to(trajectory, &traj_to).await?;
            self.repaired(Repair::ArchivedTrajectory { file: trajectory.to_string(), to: traj_to });
        }
        Ok(to)
    }

    /// Archives a trajectory with the suffix its transcript's archive has (`.deleted` if none).
    async fn archive_trajectory(
        &mut self,
        trajectory: &str,
        transcript: &str,
        files: &BTreeMap<String, FileKind>,
    ) -> StoreResult<()> {
        let existing = files.values().find_map(|k| match k {
            FileKind::Archive { file, reason, ts } if file == transcript => Some((*reason, *ts)),
            _ => None,
        });
        let (reason, ts) = existing.unwrap_or_else(|| (ArchiveReason::Deleted, self.ids.tick()));
        let to = archive_name(trajectory, reason, ts);
        self.move_to(trajectory, &to).await?;
        self.repaired(Repair::ArchivedTrajectory { file: trajectory.to_string(), to });
        Ok(())
    }

    /// Whether `name` is in the directory: listed at the start and not moved away since.
    fn present(&self, files: &BTreeMap<String, FileKind>, name: &str) -> bool {
        files.contains_key(name) && !self.gone.contains(name)
    }

    async fn move_to(&mut self, from: &str, to: &str) -> StoreResult<()> {
        rename(self.fs, &self.path(from), &self.path(to)).await?;
        self.gone.insert(from.to_string());
        self.dirty_dir = true;
        Ok(())
    }

    /// Reads a JSONL file and cuts a torn last line: the header it holds after the cut, if any;
    /// `None` if it is not a readable file.
    async fn read_and_cut(&mut self, name: &str) -> StoreResult<Option<Option<Header>>> {
        let Some(bytes) = self.read_readable(name).await? else {
            return Ok(None);
        };
        let parsed = Parsed::of(&bytes);
        let kept = self.cut_torn(name, bytes.len(), self.variant.torn_tail_cut().cut_to(&parsed, bytes.len())).await?;
        Ok(Some(if kept == bytes.len() { parsed.header } else { transcript::header_of(&bytes[..kept]) }))
    }

    /// Reads and parses a JSONL file: its length and contents; `None` if it is not a readable file.
    async fn read_jsonl(&mut self, name: &str) -> StoreResult<Option<(usize, Parsed)>> {
        Ok(self.read_readable(name).await?.map(|bytes| (bytes.len(), Parsed::of(&bytes))))
    }

    /// The bytes of a file; `None` if it is not a readable file.
    async fn read_readable(&mut self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        match read_file(self.fs, &self.path(name)).await {
            Ok(bytes) => Ok(bytes),
            Err(StoreError::Fs { errno: Errno::EISDIR | Errno::ELOOP, .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Cuts a torn last line back to the last complete line. A file with no complete line at all
    /// is left as it is: cutting it would empty it, and a transcript is never emptied.
    /// Returns the length the file is left with.
    async fn cut_torn(&mut self, name: &str, len: usize, complete_len: usize) -> StoreResult<usize> {
        if complete_len == 0 || complete_len == len {
            return Ok(len);
        }
        let path = self.path(name);
        let fd = self.fs.open(&path, OpenOptions::write()).await.map_err(|e| StoreError::fs("open", &path, e))?;
        let cut = self.fs.truncate(fd, complete_len as u64).await.map_err(|e| StoreError::fs("ftruncate", &path, e));
        let synced = match cut {
            Ok(()) => self.fs.fsync(fd).await.map_err(|e| StoreError::fs("fsync", &path, e)),
            Err(e) => Err(e),
        };
        crate::fsutil::close(self.fs, fd, &path).await?;
        synced?;
        self.repaired(Repair::CutTornLine { file: name.to_string(), from_len: len, to_len: complete_len });
        Ok(complete_len)
    }
}

/// What [`Recovery::replaced_sessions`] found.
struct Replaced {
    /// The sessions some reset replaced.
    sessions: BTreeSet<String>,
    /// The files it read (every transcript no entry names, and the archives): length and
    /// contents, `None` if not readable.
    read: BTreeMap<String, Option<(usize, Parsed)>>,
}

/// A transcript no entry names, with a readable header: the entry adopting it would make.
struct Orphan {
    entry: Entry,
    /// The file's length, and its length up to the last complete line.
    len: usize,
    complete_len: usize,
}

/// Whether an entry of `registry` names `file` as its transcript or trajectory.
fn referenced(registry: &Registry, file: &str) -> bool {
    registry.values().any(|e| e.session_file == file || e.trajectory_file.as_deref() == Some(file))
}
