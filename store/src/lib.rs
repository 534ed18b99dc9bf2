//! The system under test: a session store shaped like OpenClaw's, on the `crashsim_sim::Fs` trait.
//!
//! # Layout (under the sessions dir, default `sessions/`)
//! `sessions.json` (registry: canonical key -> `sessionId`, `sessionFile`, `updatedAt`, `label`,
//! `trajectoryFile`), `<id>.jsonl` (transcript; line 1 a header with id, key and label),
//! `<id>.trajectory.jsonl` (sidecar), archives `<file>.deleted.<ts>` / `.reset.<ts>` /
//! `.torn.<ts>`, backups `sessions.json.bak.<n>` (newest 3 kept), temp `sessions.json.<n>.tmp`,
//! lock `sessions.json.lock` (O_CREAT|O_EXCL, holds its owner's id). See [`layout`].
//!
//! # Protocol (the reference; [`Variant`]s depart at named decision points)
//! - Replace the registry: write temp, fsync temp, rename over, fsync dir. Under the lock.
//! - Create: write transcript and trajectory, fsync both, fsync dir, then register, then ack.
//! - Append: append the message to the transcript, fsync; append an event to the trajectory, fsync.
//! - Reset: write the new session's files (as create), switch the entry, then archive the old files.
//! - Delete: archive the transcript and trajectory, fsync dir, then remove the entry.
//! - Rotate: copy the registry to a new backup (fsync, dir fsync), drop backups beyond 3.
//! - Prune: archive the oldest sessions' files, fsync dir, then remove their entries.
//! - Shutdown: append `session.ended` to each trajectory this instance used, fsync, and
//!   release a lock it still holds (a failed release of an earlier call leaves one).
//! - Open: [`recovery`] repairs what a crash left, under the lock.
//!
//! Every syscall is an await point, so concurrent clients interleave at syscall boundaries.
//! Session ids and timestamps come from a seeded [`ids::IdSource`], never from the wall clock.

pub mod error;
pub mod fsutil;
pub mod ids;
pub mod keys;
pub mod layout;
pub mod lock;
mod object;
pub mod queue;
pub mod recovery;
pub mod registry;
pub mod transcript;
pub mod variant;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crashsim_sim::{Clock, Errno, Fs, OpenOptions, SimClock};

pub use error::{StoreError, StoreResult};
use fsutil::{read_file, rename, sync_dir, unlink, write_file};
use ids::IdSource;
pub use keys::canonical_key;
use layout::{
    archive_name, backup_name, classify, is_plain_name, path_in, trajectory_name, transcript_name, ArchiveReason,
    FileKind, LOCK, REGISTRY,
};
pub use lock::OwnerAlive;
pub use recovery::{RecoveryReport, Repair};
pub use registry::{Entry, Registry};
use transcript::Header;
pub use variant::{Concurrency, Variant};
use variant::{CorruptRegistry, Registration, RotateProtocol};

/// Options of a [`Store`].
#[derive(Clone)]
pub struct StoreOptions {
    /// The sessions directory, relative to the filesystem root. Default: `"sessions"`.
    pub dir: String,
    /// Which code path runs. Default: [`Variant::Reference`].
    pub variant: Variant,
    /// This instance's owner id, written into the lock file. Default: `"client-0"`.
    pub owner: String,
    /// Seed of the session id stream. Default: 0.
    pub seed: u64,
    /// Where the deterministic clock starts, in milliseconds. Default: 1_700_000_000_000.
    pub clock_start_ms: u64,
    /// Attempts to take a lock that a live owner holds before giving up with `LockBusy`.
    /// Default: 64.
    pub lock_attempts: u32,
    /// Backups that rotate keeps. Default: 3.
    pub backups_kept: usize,
    /// Milliseconds slept on `clock` between attempts to take a lock a live owner holds.
    /// Default: 25.
    pub lock_retry_ms: u64,
    /// Age in milliseconds (of `clock`, from the lock file's mtime) after which a lock whose
    /// owner is not alive is broken. Default: 30_000 (OpenClaw's).
    pub lock_stale_ms: u64,
    /// How long, in milliseconds of `clock`, a lockless read may serve this process's cached
    /// registry while the file still looks the same (see [`variant::CacheKey`]); 0: no cache.
    /// Default: 45_000 (OpenClaw's TTL).
    pub cache_ttl_ms: u64,
    /// Which lock owners are alive. Default: none (any lock found is stale).
    pub owner_alive: OwnerAlive,
    /// The clock waits are measured on. Default: a free [`SimClock`] (a sleep returns at once
    /// and moves the clock), so a lone client never waits for real.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            dir: "sessions".to_string(),
            variant: Variant::Reference,
            owner: "client-0".to_string(),
            seed: 0,
            clock_start_ms: 1_700_000_000_000,
            lock_attempts: 64,
            backups_kept: 3,
            lock_retry_ms: 25,
            lock_stale_ms: 30_000,
            cache_ttl_ms: 45_000,
            owner_alive: OwnerAlive::none(),
            clock: Arc::new(SimClock::new(0)),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("dir", &self.dir)
            .field("variant", &self.variant)
            .field("owner", &self.owner)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// The session store of one process. Its tasks share it (`&self`): registry updates go through
/// the in-process [`queue::Queue`], then the lock file, which alone serializes processes.
pub struct Store<F: Fs> {
    fs: Arc<F>,
    opts: StoreOptions,
    queue: queue::Queue,
    memory: Mutex<Memory>,
    recovery: RecoveryReport,
}

/// What a process remembers between calls. Locked for moments, never across an await.
#[derive(Clone)]
struct Memory {
    ids: IdSource,
    temp_seq: u64,
    /// Sessions this instance created, reset to or appended to, acknowledged: their
    /// trajectories get `session.ended` at shutdown. A call that failed adds nothing, since
    /// its caller cannot know whether the session exists.
    used: BTreeSet<String>,
    /// Registrations spawned after the ack (variant `unregistered-create-after-ack`).
    deferred: Vec<(String, Entry)>,
    /// Sessions a reset switched away from whose files could not be archived yet: retried at
    /// the start of every call, so they cannot come back as orphans later.
    unarchived: Vec<Entry>,
    closed: bool,
    /// The registry as a lockless read last loaded it, for [`StoreOptions::cache_ttl_ms`].
    cache: Option<Cached>,
}

/// A cached registry: what the file looked like when it was read, when, and what it held.
#[derive(Clone)]
struct Cached {
    key: (u64, u64, u64),
    loaded_ms: u64,
    /// Shared with the readers it was handed to: a `get` looks one key up without copying
    /// thousands of entries.
    registry: Arc<Registry>,
}

impl<F: Fs> Store<F> {
    /// A fingerprint of what this store remembers between calls (ids drawn, its clock, the
    /// sessions it used, its registry cache, what recovery found), for state caching: two
    /// stores of one options with equal fingerprints on equal disks answer alike from here on.
    pub fn memory_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let memory = self.memory();
        let cache = memory.cache.as_ref().map(|c| (c.key, c.loaded_ms, format!("{:?}", c.registry)));
        let mut hasher = std::hash::DefaultHasher::new();
        (memory.ids.position(), memory.temp_seq, &memory.used, memory.closed, cache).hash(&mut hasher);
        format!("{:?} {:?} {:?}", memory.deferred, memory.unarchived, self.recovery).hash(&mut hasher);
        self.opts.clock.now_ms().hash(&mut hasher);
        hasher.finish()
    }

    /// A copy of this store, between calls, that runs on `fs` and waits on `clock` from now on,
    /// remembering what this one does (ids drawn, sessions used, its registry cache, what
    /// recovery found): on a copy of this store's disk it does what this one would. What lets a
    /// harness run one operation under many faults from one run of those before it.
    pub fn fork<G: Fs>(&self, fs: Arc<G>, clock: Arc<dyn Clock>) -> Store<G> {
        Store {
            fs,
            opts: StoreOptions { clock, ..self.opts.clone() },
            queue: self.queue.fork(),
            memory: Mutex::new(self.memory().clone()),
            recovery: self.recovery.clone(),
        }
    }

    /// Opens the store: creates the sessions dir if missing, takes the lock (breaking a stale
    /// one), runs recovery, releases the lock.
    pub async fn open(fs: Arc<F>, opts: StoreOptions) -> StoreResult<Self> {
        assert!(opts.backups_kept > 0, "rotate keeps at least one backup");
        assert!(!opts.owner.is_empty(), "a store needs an owner id for its lock");
        let memory = Memory {
            ids: IdSource::new(opts.seed, opts.clock_start_ms),
            temp_seq: 0,
            used: BTreeSet::new(),
            deferred: Vec::new(),
            unarchived: Vec::new(),
            closed: false,
            cache: None,
        };
        let mut store = Self {
            fs,
            opts,
            queue: queue::Queue::default(),
            memory: Mutex::new(memory),
            recovery: RecoveryReport::default(),
        };
        let mut report = RecoveryReport::default();
        if store.ensure_dir().await? {
            report.repairs.push(Repair::CreatedDir { dir: store.opts.dir.clone() });
        }
        if let lock::Taken::BrokeStale(owner) = store.lock().await? {
            report.repairs.push(Repair::BrokeStaleLock { owner });
        }
        let fs = store.fs.clone();
        let (mut ids, mut temp_seq) = {
            let memory = store.memory();
            (memory.ids.clone(), memory.temp_seq)
        };
        let recovered =
            recovery::Recovery::new(&*fs, &store.opts.dir, store.opts.variant, &mut ids, &mut temp_seq).run().await;
        {
            let mut memory = store.memory();
            memory.ids = ids;
            memory.temp_seq = temp_seq;
        }
        let released = lock::release(&*fs, &store.path(LOCK)).await;
        report.repairs.extend(recovered?.repairs);
        released?;
        store.recovery = report;
        Ok(store)
    }

    /// What recovery repaired when this store opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().expect("store memory poisoned by a panic in another task")
    }

    /// The next timestamp of this process.
    fn tick(&self) -> u64 {
        self.memory().ids.tick()
    }

    fn path(&self, name: &str) -> String {
        path_in(&self.opts.dir, name)
    }

    /// Creates the sessions dir if missing (durably); true if it did.
    async fn ensure_dir(&self) -> StoreResult<bool> {
        let dir = &self.opts.dir;
        match self.fs.stat(dir).await {
            Ok(stat) if stat.kind == crashsim_sim::Kind::Dir => Ok(false),
            Ok(_) => Err(StoreError::Recovery(format!("{dir:?} is a file, not a sessions directory"))),
            Err(Errno::ENOENT) => {
                self.fs.mkdir(dir).await.map_err(|e| StoreError::fs("mkdir", dir, e))?;
                let parent = dir.rsplit_once('/').map_or("", |(p, _)| p);
                sync_dir(&*self.fs, parent).await?;
                Ok(true)
            }
            Err(errno) => Err(StoreError::fs("stat", dir, errno)),
        }
    }

    async fn lock(&self) -> StoreResult<lock::Taken> {
        let opts = &self.opts;
        let wait = lock::Wait {
            attempts: opts.lock_attempts,
            retry_ms: opts.lock_retry_ms,
            stale_ms: opts.lock_stale_ms,
            clock: &*opts.clock,
        };
        lock::acquire(&*self.fs, &self.path(LOCK), &opts.owner, &opts.owner_alive, wait).await
    }

    /// Runs registrations spawned after an earlier ack, retries archives a failed reset left
    /// behind, and refuses calls after shutdown.
    async fn begin(&self) -> StoreResult<()> {
        if self.memory().closed {
            return Err(StoreError::Closed);
        }
        let unarchived = std::mem::take(&mut self.memory().unarchived);
        for old in unarchived {
            // Best effort: a failure keeps it for the next call, and must not fail this one.
            let _ = self.archive_switched_away(old).await;
        }
        let deferred = std::mem::take(&mut self.memory().deferred);
        for (key, entry) in deferred {
            self.update_registry(|r| {
                r.insert(key, entry);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// The registry as a lockless reader may act on it: from this process's cache while the
    /// file looks the same and the cache is younger than its TTL, else read, then made durable
    /// if a writer may not have finished. A writer renames the new registry into place, fsyncs
    /// the directory, then removes the lock file and leaves the in-process queue; a registry
    /// read while either is held may be a rename that a crash can still undo, so the reader
    /// fsyncs the directory before trusting it (else an append routed by it could land in a
    /// session the crash takes back). With neither held after the read, the last writer had
    /// finished.
    async fn load(&self) -> StoreResult<Registry> {
        Ok(Arc::unwrap_or_clone(self.load_shared().await?))
    }

    /// [`Store::load`], shared with the cache.
    async fn load_shared(&self) -> StoreResult<Arc<Registry>> {
        let path = self.path(REGISTRY);
        let seen = match self.opts.cache_ttl_ms {
            0 => None,
            _ => match self.fs.stat(&path).await {
                Ok(stat) => Some(self.opts.variant.cache_key().of(&stat)),
                Err(Errno::ENOENT) => None,
                Err(errno) => return Err(StoreError::fs("stat", &path, errno)),
            },
        };
        let now = self.opts.clock.now_ms();
        if let Some(key) = seen {
            let memory = self.memory();
            if let Some(cached) = memory.cache.as_ref() {
                if cached.key == key && now.saturating_sub(cached.loaded_ms) < self.opts.cache_ttl_ms {
                    return Ok(cached.registry.clone());
                }
            }
        }
        let registry = Arc::new(self.load_locked().await?);
        let lock = self.path(LOCK);
        let writing = self.queue.is_held()
            || match self.fs.stat(&lock).await {
                Ok(_) => true,
                Err(Errno::ENOENT) => false,
                Err(errno) => return Err(StoreError::fs("stat", &lock, errno)),
            };
        if writing {
            sync_dir(&*self.fs, &self.opts.dir).await?;
        }
        if let Some(key) = seen {
            self.memory().cache = Some(Cached { key, loaded_ms: now, registry: registry.clone() });
        }
        Ok(registry)
    }

    /// The registry as on disk now (a missing registry is empty), read under the lock (or by
    /// a variant that takes none).
    async fn load_locked(&self) -> StoreResult<Registry> {
        let path = self.path(REGISTRY);
        match read_file(&*self.fs, &path).await? {
            None => Ok(Registry::new()),
            Some(bytes) => match registry::parse(&bytes) {
                Ok(parsed) => Ok(parsed.entries),
                Err(_) if self.opts.variant.corrupt_registry() == CorruptRegistry::ServeEmpty => Ok(Registry::new()),
                Err(e) => {
                    Err(StoreError::Recovery(format!("{path} does not parse ({e}); reopen the store to recover it")))
                }
            },
        }
    }

    /// Takes the lock file before a registry change, unless the variant skips it; returns
    /// whether it did, for [`Self::unlock_after`].
    async fn lock_for_update(&self) -> StoreResult<bool> {
        let locked = self.opts.variant.takes_lock_file();
        if locked {
            self.lock().await?;
        }
        Ok(locked)
    }

    /// Releases the lock [`Self::lock_for_update`] took, whatever `result` is; the first error wins.
    async fn unlock_after<T>(&self, locked: bool, result: StoreResult<T>) -> StoreResult<T> {
        if !locked {
            return result;
        }
        let released = lock::release(&*self.fs, &self.path(LOCK)).await;
        result.and_then(|value| released.map(|()| value))
    }

    /// This process's turn in the writer queue, unless the variant skips it (`unlocked-update`).
    async fn queue_turn(&self) -> Option<queue::Turn<'_>> {
        if self.opts.variant.queues_updates() {
            Some(self.queue.acquire().await)
        } else {
            None
        }
    }

    /// Read-modify-write of the registry: in the queue, under the lock file.
    async fn update_registry<T>(&self, change: impl FnOnce(&mut Registry) -> StoreResult<T>) -> StoreResult<T> {
        let _turn = self.queue_turn().await;
        let locked = self.lock_for_update().await?;
        let result = self.modify(change).await;
        self.unlock_after(locked, result).await
    }

    async fn modify<T>(&self, change: impl FnOnce(&mut Registry) -> StoreResult<T>) -> StoreResult<T> {
        let mut registry =
            if self.opts.variant.updates_read_cache() { self.load().await? } else { self.load_locked().await? };
        let value = change(&mut registry)?;
        self.write_back(&registry).await?;
        Ok(value)
    }

    /// The key an entry is stored under: canonical, or raw in `raw-key-write`.
    fn storage_key(&self, raw: &str) -> String {
        if self.opts.variant.writes_raw_key() {
            raw.to_string()
        } else {
            canonical_key(raw)
        }
    }

    /// A session id no file in the sessions dir carries, archives included: a restarted
    /// instance with the same seed draws the same ids, and an id must never name two sessions.
    async fn fresh_id(&self) -> StoreResult<String> {
        let dir = &self.opts.dir;
        let names = self.fs.readdir(dir).await.map_err(|e| StoreError::fs("readdir", dir, e))?;
        loop {
            let id = self.memory().ids.session_id();
            let prefix = format!("{id}.");
            if !names.iter().any(|name| name.starts_with(&prefix)) {
                return Ok(id);
            }
        }
    }

    /// A new session's entry: a fresh id, the current time, its file names.
    async fn new_entry(&self, label: Option<String>) -> StoreResult<Entry> {
        let id = self.fresh_id().await?;
        let updated_at = self.tick();
        Ok(Entry {
            session_file: transcript_name(&id),
            trajectory_file: Some(trajectory_name(&id)),
            session_id: id,
            updated_at,
            label,
            extra: Default::default(),
        })
    }

    /// Writes a new session's trajectory and transcript header, fsyncs both and the dir.
    /// `replacing`: the session a reset makes this one to replace, written into the header.
    async fn write_session(&self, key: &str, entry: &Entry, replacing: Option<&str>) -> StoreResult<()> {
        let id = &entry.session_id;
        // The trajectory first: a transcript (which recovery may adopt) never lacks its sidecar,
        // and a lone trajectory is archived by recovery as debris of a create that never was.
        let started = transcript::trajectory_started(id);
        let trajectory = self.path(&trajectory_name(id));
        write_file(&*self.fs, &trajectory, OpenOptions::create_new(), &started, true).await?;
        let mut header = Header::new(id, key, entry.updated_at, entry.label.clone());
        if let Some(old) = replacing {
            header = header.replacing(old);
        }
        write_file(&*self.fs, &self.path(&entry.session_file), OpenOptions::create_new(), &header.line(), true).await?;
        sync_dir(&*self.fs, &self.opts.dir).await
    }

    /// After a create or reset failed: unless the registry already points `key` at the new
    /// session (the call took effect before it failed), archive its files `.abandoned.<ts>`, so
    /// that a session the caller was told failed does not appear at the next start. Returns
    /// whether the call took effect. Best effort: the caller reports the first error whatever
    /// happens here.
    async fn abandon(&self, key: &str, entry: &Entry) -> bool {
        match self.load().await {
            Ok(registry) if registry.get(key).is_some_and(|e| e.session_id == entry.session_id) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        let ts = self.tick();
        for name in [Some(&entry.session_file), entry.trajectory_file.as_ref()].into_iter().flatten() {
            let to = self.path(&archive_name(name, ArchiveReason::Abandoned, ts));
            let _ = self.fs.rename(&self.path(name), &to).await;
        }
        let _ = sync_dir(&*self.fs, &self.opts.dir).await;
        false
    }

    /// Creates a session for `raw_key`; returns its session id.
    pub async fn create(&self, raw_key: &str) -> StoreResult<String> {
        self.create_labeled(raw_key, None).await
    }

    /// Creates a session for `raw_key` with a label; returns its session id.
    pub async fn create_labeled(&self, raw_key: &str, label: Option<&str>) -> StoreResult<String> {
        self.begin().await?;
        if raw_key.trim().is_empty() {
            return Err(StoreError::InvalidInput("a session key cannot be empty".to_string()));
        }
        let key = canonical_key(raw_key);
        if self.get(&key).await?.is_some() {
            return Err(StoreError::Exists { key });
        }
        let entry = self.new_entry(label.map(str::to_string)).await?;
        let id = entry.session_id.clone();
        let storage_key = self.storage_key(raw_key);
        if let Err(error) = self.write_session(&key, &entry, None).await {
            self.abandon(&storage_key, &entry).await;
            return Err(error);
        }
        match self.opts.variant.registration() {
            Registration::Skipped => {}
            Registration::AfterAck => self.memory().deferred.push((storage_key, entry)),
            Registration::BeforeAck => {
                let registered = self
                    .update_registry(|r| {
                        if r.contains_key(&storage_key) {
                            return Ok(true);
                        }
                        r.insert(storage_key.clone(), entry.clone());
                        Ok(false)
                    })
                    .await;
                let conflict = match registered {
                    Ok(conflict) => conflict,
                    Err(error) => {
                        self.abandon(&storage_key, &entry).await;
                        return Err(error);
                    }
                };
                if conflict {
                    // Another client created the key meanwhile: ours never became visible.
                    let ts = self.tick();
                    self.archive_files(&entry, ArchiveReason::Reset, ts).await?;
                    sync_dir(&*self.fs, &self.opts.dir).await?;
                    return Err(StoreError::Exists { key });
                }
            }
        }
        self.memory().used.insert(id.clone());
        Ok(id)
    }

    /// Appends a message to the session of `key`, and an event to its trajectory.
    pub async fn append(&self, key: &str, message: &str) -> StoreResult<()> {
        self.begin().await?;
        let key = canonical_key(key);
        let entry = self.get(&key).await?.ok_or(StoreError::NotFound { key: key.clone() })?;
        let file = self.own_file(&key, &entry.session_file)?;
        let appending = OpenOptions { write: true, append: true, ..OpenOptions::default() };
        write_file(&*self.fs, &file, appending, &transcript::message_line(message), true).await?;
        if let Some(trajectory) = &entry.trajectory_file {
            let path = self.own_file(&key, trajectory)?;
            let seq = self.history(&key).await?.len();
            write_file(&*self.fs, &path, appending, &transcript::trajectory_appended(seq), true).await?;
        }
        self.memory().used.insert(entry.session_id);
        Ok(())
    }

    /// Starts a new session for `key`; the old transcript is archived `.reset.<ts>`. The session
    /// switched away from is the one the registry holds under the lock (another process may
    /// have reset the key since this call looked it up).
    pub async fn reset(&self, key: &str) -> StoreResult<String> {
        self.begin().await?;
        let key = canonical_key(key);
        let seen = self.get(&key).await?.ok_or(StoreError::NotFound { key: key.clone() })?;
        let new = self.new_entry(seen.label.clone()).await?;
        let id = new.session_id.clone();
        let storage_key = self.storage_key(&key);
        let mut replaced = None;
        let mut switched = self.write_session(&key, &new, Some(&seen.session_id)).await;
        if switched.is_ok() {
            let _turn = self.queue_turn().await;
            switched = match self.lock_for_update().await {
                Ok(locked) => {
                    let result = self.switch_locked(&storage_key, &new, &mut replaced).await;
                    self.unlock_after(locked, result).await
                }
                Err(error) => Err(error),
            };
        }
        if let Err(error) = switched {
            if self.abandon(&storage_key, &new).await {
                // The switch took effect before the failure: finish the reset, or the old
                // transcript would linger as an orphan and come back at the next start.
                let _ = self.archive_switched_away(replaced.unwrap_or(seen)).await;
            }
            return Err(error);
        }
        self.memory().used.insert(id.clone());
        Ok(id)
    }

    /// Under the lock: points `key` at `new`, then archives the session it pointed at (noted in
    /// `replaced`) before the lock is released. While the old files wait for their archive they
    /// are orphans that recovery must read as switched away from; were the lock released first,
    /// another process could delete the key, and recovery would adopt them as a create's.
    async fn switch_locked(&self, key: &str, new: &Entry, replaced: &mut Option<Entry>) -> StoreResult<()> {
        let mut registry = self.load_locked().await?;
        let current = registry.get(key).cloned().ok_or(StoreError::NotFound { key: key.to_string() })?;
        registry.insert(key.to_string(), Entry { label: current.label.clone(), ..new.clone() });
        self.write_back(&registry).await?;
        *replaced = Some(current.clone());
        self.archive_switched_away(current).await
    }

    /// Deletes the session of `key`: its files are archived `.deleted.<ts>`.
    pub async fn delete(&self, key: &str) -> StoreResult<()> {
        self.begin().await?;
        let key = canonical_key(key);
        let storage_key = self.storage_key(&key);
        self.remove_sessions(|registry| match registry.get(&storage_key) {
            Some(entry) => Ok(vec![(storage_key.clone(), entry.clone())]),
            None => Err(StoreError::NotFound { key: key.clone() }),
        })
        .await
        .map(drop)
    }

    /// In the queue and under the lock file: re-reads the registry, picks the sessions to remove
    /// with `choose`, archives their files `.deleted.<ts>`, fsyncs the dir, then removes their
    /// entries. Everything happens under the lock, so the sessions removed are the ones the
    /// registry holds (a lookup made before the lock may be stale). If the registry write fails,
    /// the files are put back, so that a call reported failed took no visible effect.
    async fn remove_sessions(
        &self,
        choose: impl FnOnce(&Registry) -> StoreResult<Vec<(String, Entry)>>,
    ) -> StoreResult<Vec<(String, Entry)>> {
        let _turn = self.queue_turn().await;
        let locked = self.lock_for_update().await?;
        let result = self.remove_locked(choose).await;
        self.unlock_after(locked, result).await
    }

    async fn remove_locked(
        &self,
        choose: impl FnOnce(&Registry) -> StoreResult<Vec<(String, Entry)>>,
    ) -> StoreResult<Vec<(String, Entry)>> {
        let mut registry = self.load_locked().await?;
        let victims = choose(&registry)?;
        if victims.is_empty() {
            return Ok(victims);
        }
        let ts = self.tick();
        let mut result = Ok(());
        for (_, entry) in &victims {
            result = self.archive_files(entry, ArchiveReason::Deleted, ts).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = sync_dir(&*self.fs, &self.opts.dir).await;
        }
        if result.is_ok() {
            for (key, _) in &victims {
                registry.remove(key);
            }
            result = self.write_back(&registry).await;
        }
        if let Err(error) = result {
            self.restore(&victims, ArchiveReason::Deleted, ts).await;
            return Err(error);
        }
        Ok(victims)
    }

    /// Archives the files of a session a reset switched away from (a file an earlier attempt
    /// already moved is skipped); on failure it is kept for a retry at the start of the next call.
    async fn archive_switched_away(&self, old: Entry) -> StoreResult<()> {
        let ts = self.tick();
        let mut archived = Ok(());
        for name in [Some(&old.session_file), old.trajectory_file.as_ref()].into_iter().flatten() {
            if archived.is_ok() && is_plain_name(name) {
                let (from, to) = (self.path(name), self.path(&archive_name(name, ArchiveReason::Reset, ts)));
                archived = match rename(&*self.fs, &from, &to).await {
                    Err(StoreError::Fs { errno: Errno::ENOENT, .. }) => Ok(()),
                    other => other,
                };
            }
        }
        if archived.is_ok() {
            archived = sync_dir(&*self.fs, &self.opts.dir).await;
        }
        if archived.is_err() {
            self.memory().unarchived.push(old);
        }
        archived
    }

    /// Best effort, after a failed delete or prune: puts back the archived files of every
    /// session the registry still holds. The caller reports the first error whatever happens.
    async fn restore(&self, victims: &[(String, Entry)], reason: ArchiveReason, ts: u64) {
        let Ok(registry) = self.load_locked().await else { return };
        for (key, entry) in victims {
            if registry.get(key).is_none_or(|e| e.session_id != entry.session_id) {
                continue;
            }
            // The trajectory first: until the transcript is back, recovery still reads the entry
            // as deleted (dangling), and archives the trajectory again.
            for name in [entry.trajectory_file.as_ref(), Some(&entry.session_file)].into_iter().flatten() {
                if is_plain_name(name) {
                    let archived = self.path(&archive_name(name, reason, ts));
                    let _ = self.fs.rename(&archived, &self.path(name)).await;
                }
            }
        }
        let _ = sync_dir(&*self.fs, &self.opts.dir).await;
    }

    /// Renames a session's transcript and trajectory to their archive names, stamped `ts`.
    async fn archive_files(&self, entry: &Entry, reason: ArchiveReason, ts: u64) -> StoreResult<()> {
        let key = entry.session_id.clone();
        let file = self.own_file(&key, &entry.session_file)?;
        rename(&*self.fs, &file, &self.path(&archive_name(&entry.session_file, reason, ts))).await?;
        if let Some(trajectory) = &entry.trajectory_file {
            let path = self.own_file(&key, trajectory)?;
            match rename(&*self.fs, &path, &self.path(&archive_name(trajectory, reason, ts))).await {
                Ok(()) | Err(StoreError::Fs { errno: Errno::ENOENT, .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Backs up the registry (see [`RotateProtocol`] for the variants' ways).
    pub async fn rotate(&self) -> StoreResult<()> {
        self.begin().await?;
        let _turn = self.queue_turn().await;
        let locked = self.lock_for_update().await?;
        let result = self.rotate_locked().await;
        self.unlock_after(locked, result).await
    }

    async fn rotate_locked(&self) -> StoreResult<()> {
        let fs_handle = self.fs.clone();
        let fs = &*fs_handle;
        let dir = self.opts.dir.clone();
        let live = self.path(REGISTRY);
        let names = fs.readdir(&dir).await.map_err(|e| StoreError::fs("readdir", &dir, e))?;
        let mut backups: Vec<u64> =
            names.iter().filter_map(|n| if let FileKind::Backup(k) = classify(n) { Some(k) } else { None }).collect();
        backups.sort_unstable();
        let next = backups.last().map_or(1, |n| n + 1);
        let backup = self.path(&backup_name(next));
        let registry = self.load_locked().await?;
        let placeholder = b"{}\n";
        match self.opts.variant.rotate_protocol() {
            RotateProtocol::CopyToBackup => {
                write_file(fs, &backup, OpenOptions::create_new(), &registry::serialize(&registry), true).await?;
                sync_dir(fs, &dir).await?;
            }
            RotateProtocol::RenameAwayThenWrite => {
                rename(fs, &live, &backup).await?;
                self.write_back(&registry).await?;
            }
            RotateProtocol::PlaceholderThenRenameAway => {
                write_file(fs, &live, OpenOptions::create_trunc(), placeholder, true).await?;
                rename(fs, &live, &backup).await?;
                self.write_back(&registry).await?;
            }
            RotateProtocol::RenameAwayThenPlaceholder => {
                rename(fs, &live, &backup).await?;
                write_file(fs, &live, OpenOptions::create_new(), placeholder, true).await?;
                self.write_back(&registry).await?;
            }
        }
        backups.push(next);
        let excess = backups.len().saturating_sub(self.opts.backups_kept);
        for n in &backups[..excess] {
            unlink(&*self.fs, &self.path(&backup_name(*n))).await?;
        }
        if excess > 0 {
            sync_dir(&*self.fs, &dir).await?;
        }
        Ok(())
    }

    async fn write_back(&self, registry: &Registry) -> StoreResult<()> {
        let temp_seq = {
            let mut memory = self.memory();
            // This process's own write makes its cache stale (OpenClaw invalidates it too).
            memory.cache = None;
            memory.temp_seq += 1;
            memory.temp_seq
        };
        registry::replace(&*self.fs, &self.opts.dir, temp_seq, registry, self.opts.variant).await
    }

    /// Evicts the oldest sessions (by `updatedAt`, then key) beyond `max_entries`, as the
    /// registry stands under the lock; their files are archived `.deleted.<ts>`. Returns the
    /// evicted keys, oldest first.
    pub async fn prune(&self, max_entries: usize) -> StoreResult<Vec<String>> {
        self.begin().await?;
        let victims = self
            .remove_sessions(|registry| {
                let mut by_age: Vec<(&String, &Entry)> = registry.iter().collect();
                by_age.sort_by(|a, b| (a.1.updated_at, a.0).cmp(&(b.1.updated_at, b.0)));
                let excess = by_age.len().saturating_sub(max_entries);
                Ok(by_age[..excess].iter().map(|(k, e)| ((*k).clone(), (*e).clone())).collect())
            })
            .await?;
        Ok(victims.into_iter().map(|(key, _)| key).collect())
    }

    /// Ends every session this instance used: `session.ended` in its trajectory (fsynced); runs
    /// pending registrations. The store refuses calls afterwards.
    pub async fn shutdown(&self) -> StoreResult<()> {
        self.begin().await?;
        let registry = self.load().await?;
        let used: Vec<(String, Entry)> = {
            let memory = self.memory();
            registry.into_iter().filter(|(_, e)| memory.used.contains(&e.session_id)).collect()
        };
        if self.opts.variant.shutdown_removes_trajectory() {
            for (key, entry) in &used {
                if let Some(trajectory) = &entry.trajectory_file {
                    unlink(&*self.fs, &self.own_file(key, trajectory)?).await?;
                }
            }
            self.update_registry(|r| {
                for (key, _) in &used {
                    if let Some(e) = r.get_mut(key) {
                        e.trajectory_file = None;
                    }
                }
                Ok(())
            })
            .await?;
        } else {
            let appending = OpenOptions { write: true, append: true, ..OpenOptions::default() };
            for (key, entry) in &used {
                if let Some(trajectory) = &entry.trajectory_file {
                    let path = self.own_file(key, trajectory)?;
                    write_file(&*self.fs, &path, appending, &transcript::trajectory_ended(), true).await?;
                }
            }
        }
        self.release_own_lock().await?;
        self.memory().closed = true;
        Ok(())
    }

    /// Removes the lock if this instance holds it: normally it holds none between calls, but a
    /// call whose release failed leaves one behind, which would make other clients wait.
    async fn release_own_lock(&self) -> StoreResult<()> {
        let path = self.path(LOCK);
        match read_file(&*self.fs, &path).await? {
            Some(holder) if holder == self.opts.owner.as_bytes() => lock::release(&*self.fs, &path).await,
            _ => Ok(()),
        }
    }

    /// The entry of `key` (raw or canonical), if any. Takes no lock: a reader sees the registry
    /// as the last completed replace left it.
    pub async fn get(&self, key: &str) -> StoreResult<Option<Entry>> {
        if self.memory().closed {
            return Err(StoreError::Closed);
        }
        Ok(self.load_shared().await?.get(&canonical_key(key)).cloned())
    }

    /// Every entry, by key.
    pub async fn list(&self) -> StoreResult<Registry> {
        self.load().await
    }

    /// The messages of the session of `key`, in order.
    pub async fn history(&self, key: &str) -> StoreResult<Vec<String>> {
        let key = canonical_key(key);
        let entry = self.get(&key).await?.ok_or(StoreError::NotFound { key: key.clone() })?;
        let path = self.own_file(&key, &entry.session_file)?;
        let bytes = read_file(&*self.fs, &path).await?.ok_or(StoreError::fs("open", &path, Errno::ENOENT))?;
        Ok(transcript::Parsed::of(&bytes).messages)
    }

    /// The path of a file an entry names, refusing anything outside the sessions dir.
    fn own_file(&self, key: &str, name: &str) -> StoreResult<String> {
        if !is_plain_name(name) {
            return Err(StoreError::InvalidInput(format!(
                "session {key:?} names {name:?}, which is outside the sessions directory; it is never followed"
            )));
        }
        Ok(self.path(name))
    }
}
