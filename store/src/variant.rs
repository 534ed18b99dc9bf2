//! The variants: the reference store and the code paths of reported bugs.
//!
//! A variant departs from the reference only at the decision points below; the protocol code
//! asks these methods and never copies a whole protocol.

use std::fmt;
use std::str::FromStr;

use crashsim_sim::Model;

use crate::transcript::Parsed;

/// Which store code path runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// The fixed path: atomic registry replace, transcript before registry, backup by copy.
    #[default]
    Reference,
    /// openclaw #3210: the transcript is written and the create acknowledged, but the registry
    /// update is skipped, leaving an orphan transcript.
    CreateSkipsRegistry,
    /// openclaw #3210: the registry update is spawned after the create is acknowledged (here it
    /// runs at the start of the next call or at shutdown); a crash in between orphans the session.
    CreateRegistersAfterAck,
    /// openclaw #3210 (concurrent creation): read-modify-write of the registry with neither the
    /// in-process queue nor the lock file, so a concurrent update is lost, even between two tasks
    /// of one process.
    UpdateWithoutLock,
    /// openclaw #9776 (a stale session store cache) at the level of PR #32191: a lockless read
    /// serves the process's cached registry while the file's mtime and size are unchanged, so
    /// another process's rewrite within the same mtime tick and of the same size (a reset
    /// changes an id, not a length) goes unseen for up to the TTL.
    StaleCacheRead,
    /// openclaw PR #68554 ("remove redundant skipCache disk re-read inside session store lock"):
    /// an update under the lock starts from the cached registry (revalidated by mtime and size),
    /// so a rewrite by another process within one mtime tick is overwritten: a lost update.
    CachedUpdate,
    /// openclaw PR #14498 ("replace file-based session store lock with in-process Promise chain
    /// mutex"): updates are serialized by the in-process queue only, with no lock file, so tasks
    /// of one process are safe but a second process (the CLI beside the gateway) loses updates.
    ProcessLocalLock,
    /// Key canonicalization (openclaw #29683 family): writes the entry under the raw key, while
    /// every lookup uses the canonical `agent:main:<key>`.
    WriteRawKey,
    /// openclaw #68229: rotate renames the registry away to `.bak`, then writes the new one; a
    /// crash in between leaves no registry.
    RotateRenamesAway,
    /// openclaw PR #71328, revision 1: rotate writes `{}` over the registry, then renames it to
    /// `.bak`, then writes the new one.
    RotatePlaceholderFirst,
    /// openclaw PR #71328, revision 2: rotate renames the registry away, then writes a `{}`
    /// placeholder, then the new one.
    RotateRenameThenPlaceholder,
    /// openclaw PR #71328, revision 3: revision 2, plus recovery restores the newest `.bak` but
    /// only when the registry is missing (not when it is the `{}` placeholder).
    RotateBackupFallback,
    /// openclaw #75571: shutdown removes the trajectory files before the registry is finalized;
    /// after a crash between the two, startup fails on the missing trajectory.
    ShutdownRemovesTrajectory,
    /// Durability: the temp file is renamed over the registry without fsyncing the directory.
    ReplaceWithoutDirFsync,
    /// Durability: the temp file is renamed over the registry without being fsynced first, so a
    /// crash may leave a zero-length registry.
    ReplaceWithoutTempFsync,
    /// Corruption: a registry that does not parse (emptied, cut short, garbage in its last
    /// sector) is read as empty, as a loader that falls back to `{}` on a parse error does; the
    /// transcripts it listed are archived as orphans instead of adopted from their headers, so
    /// every session is silently gone.
    CorruptRegistryReadAsEmpty,
    /// Corruption, served: a registry that does not parse is taken for `{}` by the loader, at
    /// start and on every read, and left as it was found. The store starts, answers every `get`
    /// with "no such session", and the next update writes `{}` plus its own entry over what the
    /// damage left. Its files alone look like a store that refused to start; only asking the
    /// booted store shows every session gone.
    CorruptRegistryServedEmpty,
    /// Repair: recovery cuts a transcript whose last line is torn one complete line too early,
    /// dropping an acknowledged message with the torn one. A torn line needs a write cut short:
    /// a short write the store did not finish, then a crash before it appends the rest (a killed
    /// process leaves it too, so every model catches it). Found with a short write in the third
    /// operation of `create a L; append a m; append a m`.
    TornTailOvercut,
    /// Repair: recovery adopts an orphan transcript without moving its clock past the
    /// transcript's creation time, so a session created afterwards may sort as older than it and
    /// prune evicts the newer one. The reference's own bug until issue 21: it needs a crash in a
    /// create, then a create and a prune on the recovered store (`create b L; create a L; prune
    /// 1`, crash in the first create, work after recovery), so every model catches it.
    AdoptionClock,
}

/// What identifies a version of the registry file for the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheKey {
    /// Inode number, mtime and size: every atomic replace writes a new inode, so a rewrite is
    /// always seen, whatever the mtime granularity.
    Identity,
    /// Mtime and size only, as OpenClaw revalidates: blind to a same-size rewrite in one tick.
    MtimeSize,
}

impl CacheKey {
    /// The key of a file with this `stat`.
    pub fn of(self, stat: &crashsim_sim::Stat) -> (u64, u64, u64) {
        match self {
            CacheKey::Identity => (stat.ino, stat.mtime_ms, stat.size),
            CacheKey::MtimeSize => (0, stat.mtime_ms, stat.size),
        }
    }
}

/// How much concurrency a bug needs to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Concurrency {
    /// One client is enough.
    None,
    /// Two interleaving clients (tasks of one process suffice).
    Clients,
    /// Clients in two processes (each with its own store instance and queue).
    Processes,
}

/// When a create registers its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    BeforeAck,
    Skipped,
    AfterAck,
}

/// How rotate backs up the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotateProtocol {
    /// Copy the registry to a backup (fsync, dir fsync); the live file is never touched.
    CopyToBackup,
    /// Rename the registry to the backup name, then write the registry anew.
    RenameAwayThenWrite,
    /// Write `{}` over the registry, rename it to the backup name, then write it anew.
    PlaceholderThenRenameAway,
    /// Rename the registry to the backup name, write a `{}` placeholder, then write it anew.
    RenameAwayThenPlaceholder,
}

/// What recovery does with a registry that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorruptRegistry {
    /// Move it aside (`sessions.json.corrupt.<n>`) and rebuild from the transcripts' headers.
    MoveAsideAndRebuild,
    /// Read it as empty and archive every transcript as an orphan.
    ReadAsEmpty,
    /// Take it for `{}` at start and on every read, and leave it as it is.
    ServeEmpty,
}

/// Where recovery cuts a transcript whose last line is torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TornTailCut {
    /// At the end of its last complete line.
    LastCompleteLine,
    /// At the end of the complete line before that one (never into the header).
    OneLineTooMany,
}

impl TornTailCut {
    /// The length a file of `len` bytes read as `parsed` is cut to (`len`: not torn, no cut).
    pub fn cut_to(self, parsed: &Parsed, len: usize) -> usize {
        if parsed.complete_len == len {
            return len;
        }
        match self {
            TornTailCut::LastCompleteLine => parsed.complete_len,
            TornTailCut::OneLineTooMany => parsed.before_last_len,
        }
    }
}

/// What recovery does when the registry file is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingRegistry {
    /// Start from no entries; adopt every transcript through its header.
    RebuildFromTranscripts,
    /// Restore the newest backup, then adopt what it lacks.
    RestoreNewestBackup,
}

impl Variant {
    pub const ALL: [Variant; 19] = [
        Variant::Reference,
        Variant::CreateSkipsRegistry,
        Variant::CreateRegistersAfterAck,
        Variant::UpdateWithoutLock,
        Variant::ProcessLocalLock,
        Variant::StaleCacheRead,
        Variant::CachedUpdate,
        Variant::WriteRawKey,
        Variant::RotateRenamesAway,
        Variant::RotatePlaceholderFirst,
        Variant::RotateRenameThenPlaceholder,
        Variant::RotateBackupFallback,
        Variant::ShutdownRemovesTrajectory,
        Variant::ReplaceWithoutDirFsync,
        Variant::ReplaceWithoutTempFsync,
        Variant::CorruptRegistryReadAsEmpty,
        Variant::CorruptRegistryServedEmpty,
        Variant::TornTailOvercut,
        Variant::AdoptionClock,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Reference => "reference",
            Variant::CreateSkipsRegistry => "unregistered-create",
            Variant::CreateRegistersAfterAck => "unregistered-create-after-ack",
            Variant::UpdateWithoutLock => "unlocked-update",
            Variant::ProcessLocalLock => "process-local-lock",
            Variant::StaleCacheRead => "mtime-cache",
            Variant::CachedUpdate => "cached-update",
            Variant::WriteRawKey => "raw-key-write",
            Variant::RotateRenamesAway => "rotate-rename",
            Variant::RotatePlaceholderFirst => "rotate-placeholder-first",
            Variant::RotateRenameThenPlaceholder => "rotate-rename-placeholder",
            Variant::RotateBackupFallback => "rotate-bak-fallback",
            Variant::ShutdownRemovesTrajectory => "shutdown-trajectory",
            Variant::ReplaceWithoutDirFsync => "no-dir-fsync",
            Variant::ReplaceWithoutTempFsync => "no-temp-fsync",
            Variant::CorruptRegistryReadAsEmpty => "corrupt-registry-empty",
            Variant::CorruptRegistryServedEmpty => "corrupt-registry-served",
            Variant::TornTailOvercut => "torn-tail-overcut",
            Variant::AdoptionClock => "adoption-clock",
        }
    }

    /// The public report this variant reproduces.
    pub fn reported_as(self) -> &'static str {
        match self {
            Variant::Reference => "-",
            Variant::CreateSkipsRegistry | Variant::CreateRegistersAfterAck => "openclaw #3210",
            Variant::UpdateWithoutLock => "openclaw #3210 (concurrent creation)",
            Variant::ProcessLocalLock => "openclaw PR #14498",
            Variant::StaleCacheRead => "openclaw #9776, PR #32191",
            Variant::CachedUpdate => "openclaw PR #68554",
            Variant::WriteRawKey => "openclaw #29683 family",
            Variant::RotateRenamesAway => "openclaw #68229",
            Variant::RotatePlaceholderFirst => "openclaw PR #71328 rev. 1",
            Variant::RotateRenameThenPlaceholder => "openclaw PR #71328 rev. 2",
            Variant::RotateBackupFallback => "openclaw PR #71328 rev. 3",
            Variant::ShutdownRemovesTrajectory => "openclaw #75571",
            Variant::ReplaceWithoutDirFsync | Variant::ReplaceWithoutTempFsync => "durability",
            Variant::CorruptRegistryReadAsEmpty | Variant::CorruptRegistryServedEmpty => "corruption",
            Variant::TornTailOvercut | Variant::AdoptionClock => "repair",
        }
    }

    /// The persistence models under which the bug is real, so a harness must catch it: where a
    /// crash (or, for bugs visible without one, a clean point) breaks an invariant.
    /// `no-temp-fsync` needs a rename to persist without its data (posix only); `no-dir-fsync`
    /// needs a lost rename (ordered and posix; a killed process loses nothing); the rest break
    /// the registry or the startup path itself, which even a kill -9 exposes; a damaged registry
    /// (`corrupt-registry-empty`) is a restart on a disk the model does not decide. The races
    /// (`unlocked-update`, `process-local-lock`) lose an update in the running store, under
    /// every model, once clients interleave (see [`Variant::needs_concurrency`]).
    pub fn caught_under(self) -> &'static [Model] {
        match self {
            Variant::Reference => &[],
            Variant::ReplaceWithoutDirFsync => &[Model::Ordered, Model::Posix],
            Variant::ReplaceWithoutTempFsync => &[Model::Posix],
            _ => &Model::ALL,
        }
    }

    /// What the bug needs to show beyond one client: two interleaving clients of one process,
    /// or clients in two processes. A run without it cannot catch the variant, and a self-check
    /// says so instead of counting a miss.
    pub fn needs_concurrency(self) -> Concurrency {
        match self {
            Variant::UpdateWithoutLock => Concurrency::Clients,
            Variant::ProcessLocalLock | Variant::StaleCacheRead | Variant::CachedUpdate => Concurrency::Processes,
            _ => Concurrency::None,
        }
    }

    pub fn registration(self) -> Registration {
        match self {
            Variant::CreateSkipsRegistry => Registration::Skipped,
            Variant::CreateRegistersAfterAck => Registration::AfterAck,
            _ => Registration::BeforeAck,
        }
    }

    /// What a lockless read compares to decide that its cached registry is still the file's.
    pub fn cache_key(self) -> CacheKey {
        match self {
            Variant::StaleCacheRead | Variant::CachedUpdate => CacheKey::MtimeSize,
            _ => CacheKey::Identity,
        }
    }

    /// An update under the lock starts from the cache instead of re-reading the registry.
    pub fn updates_read_cache(self) -> bool {
        self == Variant::CachedUpdate
    }

    /// Registry updates of one process wait in the in-process queue.
    pub fn queues_updates(self) -> bool {
        self != Variant::UpdateWithoutLock
    }

    /// Registry updates take the lock file, which serializes processes.
    pub fn takes_lock_file(self) -> bool {
        !matches!(self, Variant::UpdateWithoutLock | Variant::ProcessLocalLock)
    }

    pub fn writes_raw_key(self) -> bool {
        self == Variant::WriteRawKey
    }

    pub fn rotate_protocol(self) -> RotateProtocol {
        match self {
            Variant::RotateRenamesAway => RotateProtocol::RenameAwayThenWrite,
            Variant::RotatePlaceholderFirst => RotateProtocol::PlaceholderThenRenameAway,
            Variant::RotateRenameThenPlaceholder | Variant::RotateBackupFallback => {
                RotateProtocol::RenameAwayThenPlaceholder
            }
            _ => RotateProtocol::CopyToBackup,
        }
    }

    pub fn corrupt_registry(self) -> CorruptRegistry {
        match self {
            Variant::CorruptRegistryReadAsEmpty => CorruptRegistry::ReadAsEmpty,
            Variant::CorruptRegistryServedEmpty => CorruptRegistry::ServeEmpty,
            _ => CorruptRegistry::MoveAsideAndRebuild,
        }
    }

    /// Whether recovery moves its clock past the creation time of each orphan it adopts.
    pub fn adoption_moves_clock(self) -> bool {
        self != Variant::AdoptionClock
    }

    pub fn torn_tail_cut(self) -> TornTailCut {
        match self {
            Variant::TornTailOvercut => TornTailCut::OneLineTooMany,
            _ => TornTailCut::LastCompleteLine,
        }
    }
    pub fn missing_registry(self) -> MissingRegistry {
        match self {
            Variant::RotateBackupFallback => MissingRegistry::RestoreNewestBackup,
            _ => MissingRegistry::RebuildFromTranscripts,
        }
    }

    /// Shutdown unlinks each open session's trajectory, then finalizes the registry (#75571).
    pub fn shutdown_removes_trajectory(self) -> bool {
        self == Variant::ShutdownRemovesTrajectory
    }

    /// Startup fails when an entry's trajectory is missing, instead of clearing the reference.
    pub fn startup_requires_trajectory(self) -> bool {
        self == Variant::ShutdownRemovesTrajectory
    }

    pub fn fsyncs_temp_before_rename(self) -> bool {
        self != Variant::ReplaceWithoutTempFsync
    }

    pub fn fsyncs_dir_after_replace(self) -> bool {
        self != Variant::ReplaceWithoutDirFsync
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Variant::ALL.into_iter().find(|v| v.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
            format!("unknown variant {s:?}: expected one of {}", names.join(", "))
        })
    }
}
