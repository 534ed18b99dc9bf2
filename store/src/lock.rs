//! The writer lock `sessions.json.lock`, created with O_CREAT|O_EXCL and holding its owner's id.
//!
//! A lock whose owner is not alive (a crashed process) is broken once it is older than the
//! stale age (by its mtime on the store's clock), as OpenClaw breaks a lock whose pid is gone
//! after 30 s. So is one whose owner cannot be read: its owner crashed between creating it and
//! writing its id, or is still between the two, which is why it is not broken at once. A lock
//! held by a live
//! owner is retried a bounded number of times, sleeping on the store's clock in between, then
//! reported as busy: never waited on forever.

use std::sync::Arc;

use crashsim_sim::{Clock, Errno, Fs, OpenOptions};

use crate::error::{StoreError, StoreResult};
use crate::fsutil::{read_file, unlink, write_file};

/// Tells whether the process with this owner id is alive.
#[derive(Clone)]
pub struct OwnerAlive(pub Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl OwnerAlive {
    /// Every other owner is dead: right for one process at a time, and after a crash.
    pub fn none() -> Self {
        Self(Arc::new(|_| false))
    }

    pub fn is_alive(&self, owner: &str) -> bool {
        (self.0)(owner)
    }
}

impl std::fmt::Debug for OwnerAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnerAlive(..)")
    }
}

/// The outcome of taking the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    Clean,
    /// A stale lock of this owner (empty if unreadable) was broken first.
    BrokeStale(String),
}

/// How long to wait for a lock a live owner holds.
pub struct Wait<'a> {
    /// Attempts before giving up with `LockBusy` (at least 1).
    pub attempts: u32,
    /// Milliseconds slept on `clock` after an attempt that found a live owner.
    pub retry_ms: u64,
    /// Age in milliseconds after which a dead owner's lock is broken.
    pub stale_ms: u64,
    pub clock: &'a dyn Clock,
}

/// Takes the lock at `path` for `owner`, breaking a stale one.
pub async fn acquire<F: Fs>(fs: &F, path: &str, owner: &str, alive: &OwnerAlive, wait: Wait<'_>) -> StoreResult<Taken> {
    assert!(wait.attempts > 0, "at least one attempt to take the lock");
    let mut broke = None;
    let mut holder = String::new();
    for _ in 0..wait.attempts {
        match write_file(fs, path, OpenOptions::create_new(), owner.as_bytes(), false).await {
            Ok(()) => return Ok(broke.map_or(Taken::Clean, Taken::BrokeStale)),
            Err(StoreError::Fs { op: "open", errno: Errno::EEXIST, .. }) => {}
            Err(other) => return Err(other),
        }
        holder = match read_file(fs, path).await? {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => continue, // released meanwhile
        };
        // An empty lock is one being taken (its owner created it and has yet to write its id)
        // or one whose owner crashed in between: it is broken only once it is stale, like a
        // dead owner's, never at once (a live owner preempted there would lose its lock).
        let dead = holder.is_empty() || (holder != owner && !alive.is_alive(&holder));
        if dead {
            let stamped = match fs.stat(path).await {
                Ok(stat) => stat.mtime_ms,
                Err(Errno::ENOENT) => continue, // released meanwhile
                Err(errno) => return Err(StoreError::fs("stat", path, errno)),
            };
            let age = wait.clock.now_ms().saturating_sub(stamped);
            if age < wait.stale_ms {
                wait.clock.sleep(wait.stale_ms - age).await;
                continue;
            }
        }
        if holder == owner || dead {
            match unlink(fs, path).await {
                Ok(()) | Err(StoreError::Fs { errno: Errno::ENOENT, .. }) => {}
                Err(other) => return Err(other),
            }
            broke = Some(holder.clone());
        } else {
            wait.clock.sleep(wait.retry_ms).await;
        }
    }
    Err(StoreError::LockBusy { owner: holder })
}

/// Releases the lock.
pub async fn release<F: Fs>(fs: &F, path: &str) -> StoreResult<()> {
    unlink(fs, path).await
}
