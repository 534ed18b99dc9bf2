//! `check-dir --fix`: the repairs [`problem::find`](super::problem::find) planned, carried out
//! under the lock file, nothing deleted, every write atomic and durable.

use std::path::Path;

use crashsim_sim::{Errno, Fs, OpenOptions, RealFs};
use crashsim_store::fsutil::{read_file, sync_dir, unlink, write_file};
use crashsim_store::StoreResult;
use serde_json::json;

use super::problem::{Kind, Problem, Repair};
use super::scan::{Registry, LOCK, REGISTRY};
use super::{check_at, Report, Unreadable};

/// How to fix.
#[derive(Clone, Copy, Debug)]
pub struct FixOptions {
    /// Rename orphan transcripts `.deleted.<ts>` instead of adopting them. Default: false.
    pub archive_orphans: bool,
    /// Milliseconds since the Unix epoch, for the names of backups, side files and archives.
    /// The CLI passes the wall clock; tests pass a constant.
    pub now_ms: u64,
}

/// What a fix did.
#[derive(Clone, Debug)]
pub struct Fixed {
    /// The check before fixing, whose problems the fix went through.
    pub before: Report,
    /// For each problem of `before`, in order: what was done, or why it was left.
    pub outcomes: Vec<Result<String, String>>,
    /// The backup of `sessions.json` written first, if the registry changed.
    pub backup: Option<String>,
    /// The side file holding entries taken out of the registry, if any.
    pub side_file: Option<String>,
}

impl Fixed {
    /// Problems left as they were.
    pub fn left(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_err()).count()
    }
}

/// Why a fix was refused or stopped.
#[derive(Clone, Debug)]
pub enum FixError {
    /// The directory cannot be checked at all.
    Unreadable(Unreadable),
    /// Nothing was changed, for this reason.
    Refused { before: Box<Report>, why: String },
    /// A syscall failed part way; what was done before it stands (and was durable).
    Failed { why: String },
}

impl std::fmt::Display for FixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FixError::Unreadable(e) => write!(f, "{e}"),
            FixError::Refused { why, .. } => write!(f, "nothing was changed: {why}"),
            FixError::Failed { why } => write!(f, "the fix stopped part way: {why}"),
        }
    }
}

/// Checks the directory at `path` and repairs what can be repaired without deleting anything.
pub fn fix(path: &Path, opts: FixOptions) -> Result<Fixed, FixError> {
    let before = check_at(path, opts.now_ms).map_err(FixError::Unreadable)?;
    let refuse = |before: Report, why: String| Err(FixError::Refused { before: Box::new(before), why });
    if before.problems.iter().any(|p| p.kind == Kind::MalformedRegistry) {
        return refuse(before, "sessions.json is malformed; it is left untouched (see above)".into());
    }
    if before.problems.iter().any(|p| p.kind == Kind::LockDebris) {
        return refuse(
            before,
            format!("{LOCK} exists: a store may be writing. Stop it; if none runs, remove the lock and fix again"),
        );
    }
    let repairs: Vec<Result<&Repair, &str>> = before.problems.iter().map(|p| p.chosen(opts.archive_orphans)).collect();
    if repairs.iter().all(|r| r.is_err()) {
        let outcomes = repairs.iter().map(|r| Err(r.unwrap_err().to_string())).collect();
        return Ok(Fixed { before, outcomes, backup: None, side_file: None });
    }
    let fs = RealFs::new(path).map_err(|e| FixError::Failed { why: format!("cannot open {}: {e}", path.display()) })?;
    if before.problems.iter().any(|p| p.kind == Kind::StaleLock) {
        // Its owner is dead and it is past OpenClaw's stale limit: broken as a store would
        // break it, but kept, renamed, like everything else a fix moves away.
        let broken = format!("{LOCK}.deleted.{}", opts.now_ms);
        let failed = |e: String| FixError::Failed { why: format!("cannot break the stale {LOCK}: {e}") };
        pollster::block_on(fs.rename(LOCK, &broken)).map_err(|e| failed(e.to_string()))?;
        pollster::block_on(sync_dir(&fs, "")).map_err(|e| failed(e.to_string()))?;
    }
    match pollster::block_on(take_lock(&fs)) {
        Ok(()) => {}
        Err(e) if e.errno() == Some(Errno::EEXIST) => {
            return refuse(before, "another writer took the lock meanwhile; fix again later".into())
        }
        Err(e) => return Err(FixError::Failed { why: format!("cannot take {LOCK}: {e}") }),
    }
    let run: Result<Applied, String> = pollster::block_on(async {
        let result = apply(&fs, &before, &repairs, opts).await;
        let released = async {
            unlink(&fs, LOCK).await?;
            sync_dir(&fs, "").await
        }
        .await;
        let done = result?;
        released.map_err(|e| format!("the fix is done but {LOCK} could not be removed ({e}): remove it by hand"))?;
        Ok(done)
    });
    let (backup, side_file, outcomes) = run.map_err(|why| FixError::Failed { why })?;
    Ok(Fixed { before, outcomes, backup, side_file })
}

type Applied = (Option<String>, Option<String>, Vec<Result<String, String>>);

async fn apply(
    fs: &RealFs,
    before: &Report,
    repairs: &[Result<&Repair, &str>],
    opts: FixOptions,
) -> Result<Applied, String> {
    let entries = before.scan.entries();
    let bytes = match (&before.scan.registry, &before.scan.restored) {
        (Registry::Parsed { bytes, .. }, _) => Some(bytes.clone()),
        (_, Some(restored)) => restored.replaced.clone(),
        _ => None,
    };
    // Under the lock now: the registry must still be what was checked.
    let now = read_file(fs, REGISTRY).await.map_err(|e| e.to_string())?;
    if now != bytes {
        return Err("sessions.json changed since it was checked; fix again".into());
    }
    let ts = opts.now_ms;
    let changes_registry = repairs.iter().flatten().any(|r| !matches!(r, Repair::Archive { .. } | Repair::BreakLock));
    let mut backup = None;
    if let (true, Some(bytes)) = (changes_registry, &bytes) {
        backup = Some(write_new(fs, &format!("{REGISTRY}.bak.{ts}"), bytes).await?);
    }
    let removed: Vec<(&Problem, usize)> = before
        .problems
        .iter()
        .zip(repairs)
        .filter_map(|(p, r)| match r {
            Ok(Repair::Remove { index }) => Some((p, *index)),
            _ => None,
        })
        .collect();
    let mut side_file = None;
    if !removed.is_empty() {
        let rows: Vec<_> = removed
            .iter()
            .map(|(p, i)| json!({"key": entries[*i].key, "problem": p.kind.name(), "why": p.detail, "entry": entries[*i].value}))
            .collect();
        let text =
            serde_json::to_vec_pretty(&json!({ "removedFrom": REGISTRY, "entries": rows })).expect("JSON serializes");
        side_file = Some(write_new(fs, &format!("sessions.removed.{ts}.json"), &text).await?);
    }
    sync_dir(fs, "").await.map_err(|e| e.to_string())?;
    let mut outcomes = Vec::new();
    let mut registry = serde_json::Map::new();
    let (mut rekeyed, mut adopted) = (Vec::new(), Vec::new());
    for (problem, repair) in before.problems.iter().zip(repairs) {
        let outcome = match repair {
            Err(why) => Err(why.to_string()),
            Ok(Repair::Remove { .. }) => {
                Ok(format!("moved to {}", side_file.as_deref().expect("a side file was written")))
            }
            Ok(Repair::Rekey { index, to }) => {
                rekeyed.push((*index, to.clone()));
                Ok(format!("renamed to {to:?}"))
            }
            Ok(Repair::Adopt { key, value }) => {
                adopted.push((key.clone(), value.clone()));
                Ok(format!("adopted as {key:?}"))
            }
            Ok(Repair::Restore { from, entries }) => Ok(format!("restored the {entries} entries of {from}")),
            Ok(Repair::BreakLock) => Ok(format!("broken: renamed to {LOCK}.deleted.{ts}")),
            Ok(Repair::Archive { names }) => {
                let mut to = Vec::new();
                for name in names {
                    let archived = format!("{name}.deleted.{ts}");
                    if fs.stat(&archived).await.is_ok() {
                        return Err(format!("{archived} exists already; fix again"));
                    }
                    fs.rename(name, &archived).await.map_err(|e| format!("rename {name}: {e}"))?;
                    to.push(archived);
                }
                Ok(format!("renamed to {}", to.join(", ")))
            }
        };
        debug_assert!(outcome.is_ok() || problem.chosen(opts.archive_orphans).is_err());
        outcomes.push(outcome);
    }
    sync_dir(fs, "").await.map_err(|e| e.to_string())?;
    if changes_registry {
        let gone: Vec<usize> = removed.iter().map(|(_, i)| *i).collect();
        for (index, entry) in entries.iter().enumerate().filter(|(i, _)| !gone.contains(i)) {
            let key = rekeyed.iter().find(|(i, _)| *i == index).map_or(&entry.key, |(_, to)| to);
            registry.insert(key.clone(), entry.value.clone());
        }
        for (key, value) in adopted {
            registry.insert(key, value);
        }
        let mut text = serde_json::to_vec_pretty(&registry).expect("JSON serializes");
        text.push(b'\n');
        let temp = write_new(fs, &format!("{REGISTRY}.{ts}.tmp"), &text).await?;
        fs.rename(&temp, REGISTRY).await.map_err(|e| format!("rename {temp} over {REGISTRY}: {e}"))?;
        sync_dir(fs, "").await.map_err(|e| e.to_string())?;
    }
    Ok((backup, side_file, outcomes))
}

/// Takes the writer lock as the store does (O_CREAT|O_EXCL, its owner inside, durable).
async fn take_lock(fs: &RealFs) -> StoreResult<()> {
    let owner = format!("crashsim check-dir (pid {})\n", std::process::id());
    write_file(fs, LOCK, OpenOptions::create_new(), owner.as_bytes(), true).await?;
    sync_dir(fs, "").await
}

/// Creates `name` (which must not exist), writes `bytes` and fsyncs it. Returns the name.
async fn write_new(fs: &RealFs, name: &str, bytes: &[u8]) -> Result<String, String> {
    write_file(fs, name, OpenOptions::create_new(), bytes, true).await.map_err(|e| e.to_string())?;
    Ok(name.to_string())
}
