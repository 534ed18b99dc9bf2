//! The problems `check-dir` looks for, as data: each kind names the user-visible failure it rules
//! out and whether `--fix` can repair it; [`find`] lists them in [`Kind::ALL`]'s order.

use std::collections::{BTreeMap, BTreeSet};

use crashsim_store::keys::canonical_key;
use serde_json::json;

use super::scan::{Class, Entry, File, Header, Layout, LockOwner, Registry, Scan, Target};

/// A kind of problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    LostRegistry,
    MalformedRegistry,
    LostAcknowledged,
    MalformedEntry,
    DuplicateKey,
    NonCanonicalKey,
    OutsidePath,
    Symlink,
    DanglingEntry,
    SessionMismatch,
    OrphanTranscript,
    OrphanTrajectory,
    TempDebris,
    StaleLock,
    LockDebris,
}

impl Kind {
    /// Every kind, in the order problems are reported.
    pub const ALL: [Kind; 15] = [
        Kind::LostRegistry,
        Kind::MalformedRegistry,
        Kind::LostAcknowledged,
        Kind::MalformedEntry,
        Kind::DuplicateKey,
        Kind::NonCanonicalKey,
        Kind::OutsidePath,
        Kind::Symlink,
        Kind::DanglingEntry,
        Kind::SessionMismatch,
        Kind::OrphanTranscript,
        Kind::OrphanTrajectory,
        Kind::TempDebris,
        Kind::StaleLock,
        Kind::LockDebris,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::LostRegistry => "lost-registry",
            Kind::MalformedRegistry => "malformed-registry",
            Kind::LostAcknowledged => "lost-acknowledged",
            Kind::MalformedEntry => "malformed-entry",
            Kind::DuplicateKey => "duplicate-key",
            Kind::NonCanonicalKey => "non-canonical-key",
            Kind::OutsidePath => "outside-path",
            Kind::Symlink => "symlink",
            Kind::DanglingEntry => "dangling-entry",
            Kind::SessionMismatch => "session-mismatch",
            Kind::OrphanTranscript => "orphan-transcript",
            Kind::OrphanTrajectory => "orphan-trajectory",
            Kind::TempDebris => "temp-debris",
            Kind::StaleLock => "stale-lock",
            Kind::LockDebris => "lock-debris",
        }
    }

    /// The failure a user sees when this is left alone.
    pub fn failure(self) -> &'static str {
        match self {
            Kind::LostRegistry => "every session the registry listed looks gone, though a backup holds them",
            Kind::MalformedRegistry => "the store cannot read its sessions at all",
            Kind::LostAcknowledged => "a session the program reported done is gone",
            Kind::MalformedEntry => "a session the store cannot load",
            Kind::DuplicateKey => "two sessions for one key: one of them is silently shadowed",
            Kind::NonCanonicalKey => "a lookup by the canonical key misses the session",
            Kind::OutsidePath => "the registry sends the store outside its directory",
            Kind::Symlink => "a file that is not where it seems (never followed)",
            Kind::DanglingEntry => "a listed session whose history is gone",
            Kind::SessionMismatch => "a session that opens another session's history",
            Kind::OrphanTranscript => "a conversation no session lists: lost to the user",
            Kind::OrphanTrajectory => "a trajectory without its conversation",
            Kind::TempDebris => "a half-written registry left by a crash",
            Kind::StaleLock => "a dead writer's lock: writers wait for it to go stale",
            Kind::LockDebris => "a writer lock left behind: writers wait or fail",
        }
    }
}

/// What `--fix` would do about a problem.
#[derive(Clone, Debug, PartialEq)]
pub enum Repair {
    /// Move entry number `index` of the registry (in file order) to the side file.
    Remove { index: usize },
    /// Rename the key of entry `index`.
    Rekey { index: usize, to: String },
    /// Add an entry for an orphan transcript.
    Adopt { key: String, value: serde_json::Value },
    /// Rename files to `<name>.deleted.<ts>`.
    Archive { names: Vec<String> },
    /// Write the registry from the entries of backup `from`, under their original keys (the
    /// unreadable `sessions.json`, if any, is backed up first).
    Restore { from: String, entries: usize },
    /// Rename a dead writer's lock to `<lock>.deleted.<ts>` before taking the lock.
    BreakLock,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub kind: Kind,
    /// The file or key it is about.
    pub subject: String,
    /// What is wrong, in words.
    pub detail: String,
    /// What `--fix` does (with archiving orphans if `archive` is set), or why it leaves it.
    pub repair: Result<Repair, String>,
    /// The repair when orphans are archived instead of adopted (`--archive-orphans`).
    pub archive: Option<Repair>,
}

impl Problem {
    pub(super) fn new(
        kind: Kind,
        subject: impl Into<String>,
        detail: impl Into<String>,
        repair: Result<Repair, String>,
    ) -> Self {
        Self { kind, subject: subject.into(), detail: detail.into(), repair, archive: None }
    }

    /// The repair `--fix` carries out, given whether orphans are archived.
    pub fn chosen(&self, archive_orphans: bool) -> Result<&Repair, &str> {
        match (&self.archive, archive_orphans) {
            (Some(archive), true) => Ok(archive),
            _ => self.repair.as_ref().map_err(String::as_str),
        }
    }
}

/// How long a lock must be unchanged before its dead owner's lock counts as stale: OpenClaw's
/// `withSessionStoreLock` breaks a lock older than this (`staleMs`, 30 s).
pub const LOCK_STALE_MS: u64 = 30_000;

/// Finds every problem of a scanned directory, with `lost` (what it lost of what a program
/// acknowledged: [`lost`](super::acknowledged::lost)), in [`Kind::ALL`]'s order; `now_ms`
/// (milliseconds since the Unix epoch) dates the lock.
pub fn find(scan: &Scan, now_ms: u64, lost: Vec<Problem>) -> Vec<Problem> {
    let mut problems = lost;
    match (&scan.registry, &scan.restored) {
        (Registry::Parsed { .. }, _) => {}
        (registry, Some(restored)) => {
            let state = match registry {
                Registry::Malformed(why) => format!("sessions.json is unreadable ({why})"),
                _ => "there is no sessions.json".to_string(),
            };
            let detail = format!(
                "{state}, and {} holds {} session(s): a crash between rotating the registry away and writing its \
                 successor (OpenClaw #68229) leaves this",
                restored.from,
                restored.entries.len()
            );
            let repair = Repair::Restore { from: restored.from.clone(), entries: restored.entries.len() };
            problems.push(Problem::new(Kind::LostRegistry, "sessions.json", detail, Ok(repair)));
        }
        (Registry::Malformed(why), None) => {
            let leave = "repair it or restore a sessions.json.bak.* backup by hand; --fix refuses to run".to_string();
            problems.push(Problem::new(Kind::MalformedRegistry, "sessions.json", why.clone(), Err(leave)));
        }
        (Registry::Missing, None) => {}
    }
    let entries = scan.entries();
    let mut removed = BTreeSet::new();
    for (index, entry) in entries.iter().enumerate() {
        if let Err(why) = &entry.session_id {
            problems.push(Problem::new(Kind::MalformedEntry, &entry.key, why.clone(), Ok(Repair::Remove { index })));
            removed.insert(index);
        }
    }
    duplicates(entries, &mut removed, &mut problems);
    let valid = || entries.iter().enumerate().filter(|(index, _)| !removed.contains(index));
    for (index, entry) in valid() {
        let canonical = canonical_key(&entry.key);
        if canonical != entry.key {
            let detail = format!("not canonical: lookups use {canonical:?}");
            problems.push(Problem::new(
                Kind::NonCanonicalKey,
                &entry.key,
                detail,
                Ok(Repair::Rekey { index, to: canonical }),
            ));
        }
    }
    for (_, entry) in valid() {
        if let Some(Target::Outside(path)) = &entry.target {
            let detail = format!("its sessionFile {path:?} is not in this directory (not followed)");
            problems.push(Problem::new(Kind::OutsidePath, &entry.key, detail, Err("check it by hand".into())));
        }
    }
    for name in scan.files.iter().filter(|(_, f)| f.symlink).map(|(name, _)| name) {
        let detail = "a symlink: never followed or read";
        problems.push(Problem::new(
            Kind::Symlink,
            name,
            detail,
            Err("replace it by the file it points to, by hand".into()),
        ));
    }
    for (index, entry) in valid() {
        let (Ok(id), Some(Target::Inside(name))) = (&entry.session_id, &entry.target) else { continue };
        match scan.files.get(name) {
            None => {
                let detail = format!("session {id}: its transcript {name} is missing");
                problems.push(Problem::new(Kind::DanglingEntry, &entry.key, detail, Ok(Repair::Remove { index })));
            }
            // A file is the session's when its header or its name says so: OpenClaw's reset
            // keeps the old file name for the new session, and a topic's name has a suffix.
            Some(File { class: Class::Transcript { session, .. }, symlink: false, header, .. })
                if session != id && header_id(header) != Some(id) =>
            {
                let held = header_id(header).unwrap_or(session);
                let detail = format!("sessionId {id} but sessionFile {name} holds session {held}");
                problems.push(Problem::new(
                    Kind::SessionMismatch,
                    &entry.key,
                    detail,
                    Err("decide by hand which of the two is right".into()),
                ));
            }
            _ => {}
        }
    }
    orphans(scan, entries, &removed, &mut problems);
    for (name, file) in &scan.files {
        if file.symlink {
            continue;
        }
        match &file.class {
            Class::Trajectory { session } if !has_transcript(scan, session) => {
                let detail = format!("no transcript of session {session}");
                problems.push(Problem::new(
                    Kind::OrphanTrajectory,
                    name,
                    detail,
                    Ok(Repair::Archive { names: vec![name.clone()] }),
                ));
            }
            _ => {}
        }
    }
    for (name, file) in scan.files.iter().filter(|(_, f)| f.class == Class::Temp && !f.symlink) {
        let detail = format!("a temp file ({} B) a writer never renamed", file.size);
        problems.push(Problem::new(Kind::TempDebris, name, detail, Ok(Repair::Archive { names: vec![name.clone()] })));
    }
    if scan.files.contains_key(super::scan::LOCK) {
        let age_ms = scan.lock.as_ref().map_or(0, |lock| now_ms.saturating_sub(lock.mtime_ms));
        match &scan.lock {
            Some(lock @ LockOwner { pid: Some(pid), alive: false, .. }) if age_ms >= LOCK_STALE_MS => {
                let detail = format!(
                    "held by pid {pid}, which no longer runs, and unchanged for {} s (OpenClaw breaks a lock after {} s)",
                    age_ms / 1000,
                    LOCK_STALE_MS / 1000
                );
                debug_assert!(!lock.alive);
                problems.push(Problem::new(Kind::StaleLock, super::scan::LOCK, detail, Ok(Repair::BreakLock)));
            }
            owner => {
                let detail = match owner {
                    Some(LockOwner { pid: Some(pid), alive: true, .. }) => {
                        format!("the writer lock, held by pid {pid}, which runs: a store is writing")
                    }
                    Some(LockOwner { pid: Some(pid), .. }) => format!(
                        "the writer lock of pid {pid}, which no longer runs, but only {} s old: it may be in use still",
                        age_ms / 1000
                    ),
                    _ => "the writer lock: held by a running store, or left behind by a dead one".to_string(),
                };
                let leave = "remove it by hand when no store runs (--fix refuses while it exists)".to_string();
                problems.push(Problem::new(Kind::LockDebris, super::scan::LOCK, detail, Err(leave)));
            }
        }
    }
    problems.sort_by_key(|p| p.kind);
    problems
}

/// A key written twice keeps its last value (as JSON readers do); keys with one canonical form
/// keep the newest `updatedAt` (on a tie, the canonical one, then the last).
fn duplicates(entries: &[Entry], removed: &mut BTreeSet<usize>, problems: &mut Vec<Problem>) {
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if let Some(earlier) = last.insert(&entry.key, index) {
            if removed.insert(earlier) {
                let detail = format!("written twice in sessions.json: readers keep only entry {}", index + 1);
                problems.push(Problem::new(
                    Kind::DuplicateKey,
                    &entry.key,
                    detail,
                    Ok(Repair::Remove { index: earlier }),
                ));
            }
        }
    }
    let mut by_canonical: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate().filter(|(i, _)| !removed.contains(i)) {
        by_canonical.entry(canonical_key(&entry.key)).or_default().push(index);
    }
    for (canonical, indices) in by_canonical.into_iter().filter(|(_, i)| i.len() > 1) {
        let rank = |&i: &usize| (entries[i].updated_at.unwrap_or(0), entries[i].key == canonical, i);
        let kept = *indices.iter().max_by_key(|i| rank(i)).expect("a group is not empty");
        for &index in indices.iter().filter(|&&i| i != kept) {
            removed.insert(index);
            let detail =
                format!("same canonical key {canonical:?} as {:?}, which is newer and kept", entries[kept].key);
            problems.push(Problem::new(Kind::DuplicateKey, &entries[index].key, detail, Ok(Repair::Remove { index })));
        }
    }
}

/// The session id a transcript's header gives.
fn header_id(header: &Option<Result<Header, String>>) -> Option<&str> {
    match header {
        Some(Ok(header)) => Some(&header.id),
        _ => None,
    }
}

fn has_transcript(scan: &Scan, session: &str) -> bool {
    scan.files.values().any(|f| matches!(&f.class, Class::Transcript { session: s, .. } if s == session))
}

/// Transcripts no remaining entry names (by `sessionFile`, or by `sessionId` for a session's
/// topic transcripts), with the entry that adopts each from its header.
fn orphans(scan: &Scan, entries: &[Entry], removed: &BTreeSet<usize>, problems: &mut Vec<Problem>) {
    let kept = || entries.iter().enumerate().filter(|(i, _)| !removed.contains(i)).map(|(_, e)| e);
    let targets: BTreeSet<&str> = kept()
        .filter_map(|e| match &e.target {
            Some(Target::Inside(name)) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let sessions: BTreeSet<&str> = kept().filter_map(|e| e.session_id.as_deref().ok()).collect();
    let mut keys: BTreeSet<String> = kept().map(|e| canonical_key(&e.key)).collect();
    for (name, file) in scan.files.iter().filter(|(_, f)| !f.symlink) {
        let Class::Transcript { stem, session } = &file.class else { continue };
        if targets.contains(name.as_str()) || sessions.contains(session.as_str()) {
            continue;
        }
        // An archived transcript takes its trajectory along, which would be an orphan next.
        let trajectory = format!("{session}.trajectory.jsonl");
        let along = (stem == session && scan.files.get(&trajectory).is_some_and(|f| !f.symlink)).then_some(trajectory);
        let archive = Repair::Archive { names: std::iter::once(name.clone()).chain(along).collect() };
        let (detail, repair) = match file.header.as_ref().expect("a transcript's header was read") {
            Err(why) => (format!("no entry names it, and {why}"), Err("no header to adopt it from".to_string())),
            Ok(header) if header.id != *session => (
                format!("no entry names it, and its header names session {}", header.id),
                Err("no header to adopt it from".to_string()),
            ),
            Ok(header) => {
                let agent = scan.agent.as_deref().unwrap_or("main");
                let key = match header.key.as_deref().map(canonical_key) {
                    Some(key) if !keys.contains(&key) => key,
                    _ => format!("agent:{agent}:recovered-{stem}"),
                };
                keys.insert(key.clone());
                let value = adopted_entry(scan, name, session, file, header.label.clone());
                (format!("no entry names session {session}"), Ok(Repair::Adopt { key, value }))
            }
        };
        let mut problem = Problem::new(Kind::OrphanTranscript, name, detail, repair);
        problem.archive = Some(archive);
        problems.push(problem);
    }
}

/// The entry an orphan is adopted with, in the directory's layout.
fn adopted_entry(scan: &Scan, name: &str, session: &str, file: &File, label: Option<String>) -> serde_json::Value {
    let mut value = json!({ "sessionId": session, "updatedAt": file.mtime_ms });
    if scan.layout == Layout::Crashsim {
        value["sessionFile"] = json!(name);
        if let Some(label) = label {
            value["label"] = json!(label);
        }
        let trajectory = format!("{session}.trajectory.jsonl");
        if scan.files.contains_key(&trajectory) {
            value["trajectoryFile"] = json!(trajectory);
        }
    } else {
        let dir = std::fs::canonicalize(&scan.path).unwrap_or_else(|_| scan.path.clone());
        value["sessionFile"] = json!(dir.join(name).to_string_lossy());
    }
    value
}

impl Repair {
    /// What the repair does, in words (`ts` stands for the fix's timestamp).
    pub fn describe(&self) -> String {
        match self {
            Repair::Remove { .. } => "move the entry to sessions.removed.<ts>.json".to_string(),
            Repair::Rekey { to, .. } => format!("rename the key to {to:?}"),
            Repair::Adopt { key, .. } => format!("adopt it as {key:?} (from its header)"),
            Repair::Archive { names } if names.len() > 1 => {
                format!("rename to {}.deleted.<ts> with its trajectory", names[0])
            }
            Repair::Archive { names } => format!("rename to {}.deleted.<ts>", names[0]),
            Repair::Restore { from, entries } => {
                format!("restore the {entries} entries of {from} under their original keys (then adopt what it does not name)")
            }
            Repair::BreakLock => "break it: rename it to sessions.json.lock.deleted.<ts>".to_string(),
        }
    }
}
