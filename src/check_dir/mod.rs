//! `check-dir`: the store's invariants applied to a real sessions directory on disk.
//!
//! # Model
//! A sessions directory holds a registry `sessions.json` (a JSON object from session key to an
//! entry with `sessionId`, optionally `sessionFile` and `updatedAt`) beside one `<id>.jsonl`
//! transcript per session, whose first line is a header `{"type":"session","id":...}`. Two
//! layouts are understood: OpenClaw's (`~/.openclaw/agents/<agent>/sessions`: absolute
//! `sessionFile`, headers without a key, `<id>-topic-<thread>.jsonl` transcripts) and crashsim's
//! own (plain-name `sessionFile`, headers naming their key). Both may hold `<id>.trajectory.jsonl`
//! sidecars, archives (`<file>.deleted.<ts>`, `.reset.`, `.bak.`, `.torn.`, `.abandoned.`),
//! backups `sessions.json.bak.<n>`, temp files `*.tmp` and the writer lock `sessions.json.lock`.
//!
//! # What is checked ([`Kind`], in this order)
//! A registry that is missing or unreadable while a backup holds sessions is one problem (what
//! a crash between rotating `sessions.json` away and writing its successor leaves, OpenClaw
//! #68229): the newest backup that parses stands for the registry in every other check. Every
//! transcript has an entry, every entry has its transcript, keys are canonical and unique, an
//! entry's `sessionId` and `sessionFile` agree, every trajectory has its transcript, and no temp
//! file or lock is left behind. A lock whose owner no longer runs (by pid, and by start time
//! when the lock gives one) and that is older than OpenClaw's stale limit (30 s) is stale. A symlink is never followed and a path outside the
//! directory (an absolute `sessionFile` elsewhere) is reported, never opened.
//!
//! With what a program acknowledged ([`Acknowledged`]: keys registered or deleted, messages
//! written), nothing acknowledged may be lost; as a crash image's checker, the debris a crash
//! may leave, and the half-done states of the operations in flight, are expected
//! ([`expected_after_crash`]). A crash image is a copy of another directory: absolute paths
//! into that one name files of the copy (`image_of`).
//!
//! # What `--fix` does
//! Nothing is ever deleted. Under the lock file (refused while another writer holds it): a
//! timestamped backup of `sessions.json` first; entries that must leave the registry (dangling,
//! malformed, shadowed duplicates) go to a side file `sessions.removed.<ts>.json`; orphan
//! transcripts are adopted from their headers (or renamed `.deleted.<ts>` with
//! `archive_orphans`), orphan trajectories and temp files renamed `.deleted.<ts>`; then the
//! registry is replaced atomically and durably (temp, fsync, rename, directory fsync). A lost
//! registry is restored from its backup under the original keys, and only transcripts no
//! restored entry names are adopted. A stale lock is broken first (renamed `.deleted.<ts>`, and
//! said so); a live or recent lock still refuses the fix. A malformed `sessions.json` with no
//! backup that parses is reported and left untouched. A second fix finds nothing to do.
//! All reads and writes go through [`RealFs`](crashsim_sim::RealFs), which resolves every path
//! beneath the directory and refuses symlinks.

pub mod acknowledged;
mod fix;
pub mod problem;
pub mod scan;

pub use acknowledged::{expected_after_crash, Acked, Acknowledged};
pub use fix::{fix, FixError, FixOptions, Fixed};
pub use problem::{Kind, Problem};
pub use scan::{Layout, Scan};

use std::path::Path;

/// What a check found.
#[derive(Clone, Debug)]
pub struct Report {
    /// What was read.
    pub scan: Scan,
    /// Every problem, in the order of [`Kind::ALL`], then in registry order (entries) or name
    /// order (files).
    pub problems: Vec<Problem>,
}

/// Why a directory cannot be checked at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks the sessions directory at `path` (read only), dating its lock by the wall clock.
pub fn check(path: &Path) -> Result<Report, Unreadable> {
    check_at(path, wall_clock_ms())
}

/// [`check`] at `now_ms` (milliseconds since the Unix epoch): a lock is stale by that clock.
pub fn check_at(path: &Path, now_ms: u64) -> Result<Report, Unreadable> {
    check_acknowledged(path, now_ms, &Acknowledged::default(), None)
}

/// [`check_at`] of a crash image taken of the directory `image_of` (see [`Scan::read_as`]), where
/// nothing `acknowledged` may be lost.
pub fn check_acknowledged(
    path: &Path,
    now_ms: u64,
    acknowledged: &Acknowledged,
    image_of: Option<&Path>,
) -> Result<Report, Unreadable> {
    let scan = Scan::read_as(path, image_of)?;
    let problems = problem::find(&scan, now_ms, acknowledged::lost(&scan, acknowledged));
    Ok(Report { scan, problems })
}

/// The wall clock in milliseconds since the Unix epoch (a real directory's locks are dated by it).
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
