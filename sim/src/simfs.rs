//! `SimFs`: the in-memory filesystem that records everything a crash could undo.
//!
//! Each call checks its arguments against V (Linux errno for errno), turns what it changes into
//! [`Effect`]s, applies them to V and appends them to the log, and records one trace step. The
//! log is what the persistence models replay to build crash images; a `posix` tracker runs
//! alongside so each trace step can show what is still pending.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use imbl::OrdMap;

use crate::disk::{Bytes, Disk, Effect, Event, EventKind, Ino, Inode, ROOT};
use crate::fd::FdTable;
use crate::path::{components, join, parent_and_leaf};
use crate::persistence::{ImageOptions, ImageSet, Model, Tracker};
use crate::trace::{Call, Outcome, Trace, TraceStep};
use crate::{
    Clock, Errno, Fd, Frozen, Fs, FsResult, Image, Injection, Injector, Kind, OpenOptions, Site, Stat, SyncRule,
    SyncTarget,
};

/// Options of a [`SimFs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SimOptions {
    /// Bytes of file data the disk holds; a write that would pass it is cut short, or fails with
    /// `ENOSPC` when not one byte fits. Default: `None` (unlimited).
    pub capacity: Option<u64>,
    /// Record the trace, the log of effects and the pending state. Without it the filesystem
    /// only keeps V: enough to boot a store on a crash image and look at the result, at a
    /// fraction of the cost. Default: true.
    pub recording: bool,
    /// Granularity of file modification times, in milliseconds of the clock (see
    /// [`SimFs::set_clock`]): an mtime is the clock rounded down to it. Default: 1000 (HFS+'s,
    /// and the tick OpenClaw's PR #32191 reports for its caches on ext4 in practice).
    pub mtime_granularity_ms: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { capacity: None, recording: true, mtime_granularity_ms: 1000 }
    }
}

impl SimOptions {
    /// Only V is kept: no trace, no log (so no crash images).
    pub fn unrecorded() -> Self {
        Self { recording: false, ..Self::default() }
    }
}

/// The simulated filesystem. Shareable between tasks (`&SimFs` is `Send + Sync`); every call
/// takes the state lock for its own duration only.
pub struct SimFs {
    state: Mutex<State>,
}

#[derive(Clone)]
struct OpenFile {
    ino: Ino,
    kind: Kind,
    readable: bool,
    writable: bool,
    append: bool,
    offset: u64,
}

/// Where call sites come from: nowhere (the default: exploring), a backtrace at each call
/// (frames under `library` skipped), or the caller (a replayed trace).
enum Sites {
    Off,
    Captured { library: Vec<String> },
    Given(Option<Site>),
}

struct State {
    options: SimOptions,
    /// The disk this filesystem started from, numbered as [`Image::to_disk`] numbers its image.
    initial: Disk,
    volatile: Disk,
    next_ino: Ino,
    fds: FdTable<OpenFile>,
    /// Files with no name left, kept alive by an open descriptor.
    unlinked: BTreeSet<Ino>,
    /// Files with more than one name (`link`): how many names beyond the first.
    extra_names: BTreeMap<Ino, u32>,
    /// The log events from the floor on (all of them without a floor).
    log: Vec<Event>,
    trace: Vec<TraceStep>,
    posix: Tracker,
    /// What this run keeps of the steps it forgot ([`SimFs::forget_past`]); `None`: nothing
    /// forgotten, crash points replay the log from the initial image.
    floor: Option<Floor>,
    injector: Option<Box<dyn Injector>>,
    /// Syscalls run without recording (see [`SimOptions::recording`]).
    unrecorded_steps: usize,
    /// Where file modification times come from (none: every mtime is 0).
    clock: Option<Arc<dyn Clock>>,
    /// The mtime of each file written since this filesystem started (others: 0).
    mtimes: BTreeMap<Ino, u64>,
    /// Where each call's site comes from.
    sites: Sites,
    /// The fsyncs a fix inserts after calls at given sites.
    rules: Vec<SyncRule>,
    /// Calls the rules inserted so far: the injector numbers the program's own calls only.
    inserted_steps: usize,
    /// The `ordered` and `posix` trackers the last state fingerprint was taken with, moved on
    /// from there by the next: a run fingerprinted after each call replays its log once, not
    /// once per call. `None` until the first, and after the past is forgotten.
    fingerprinted: Option<[Tracker; 2]>,
}

/// The state of every model at the floor: where the trackers of crash points past it start.
#[derive(Clone)]
struct Floor {
    step: usize,
    /// Log events before the floor (the sequence number of the first one kept).
    events: usize,
    /// One per model, in [`Model::ALL`]'s order.
    trackers: Vec<Tracker>,
}

impl Default for SimFs {
    fn default() -> Self {
        Self::new(SimOptions::default())
    }
}

impl SimFs {
    /// An empty filesystem (just the root directory).
    pub fn new(options: SimOptions) -> Self {
        Self::from_image(&Image::empty(), options)
    }

    /// A filesystem holding `image`, all of it durable: the state a restarted process boots on.
    pub fn from_image(image: &Image, options: SimOptions) -> Self {
        let (disk, next_ino) = image.to_disk();
        Self::from_canonical(disk, next_ino, options)
    }

    /// [`SimFs::from_image`] of a disk numbered as [`Image::to_disk`] numbers its image.
    pub(crate) fn from_canonical(disk: Disk, next_ino: Ino, options: SimOptions) -> Self {
        let state = State {
            options,
            initial: disk.clone(),
            posix: Tracker::from_disk(Model::Posix, disk.clone()),
            volatile: disk,
            next_ino,
            fds: FdTable::default(),
            unlinked: BTreeSet::new(),
            extra_names: BTreeMap::new(),
            log: Vec::new(),
            trace: Vec::new(),
            floor: None,
            injector: None,
            unrecorded_steps: 0,
            clock: None,
            mtimes: BTreeMap::new(),
            sites: Sites::Off,
            rules: Vec::new(),
            inserted_steps: 0,
            fingerprinted: None,
        };
        Self { state: Mutex::new(state) }
    }

    /// A copy of this filesystem that goes its own way from here: the same disk, descriptors,
    /// log and trace so far, and no injector or clock (its caller installs its own). What lets
    /// a harness run the rest of a workload under many fault plans from one run of its start:
    /// each copy records exactly what a run from the start would. Panics while call sites are
    /// recorded or fsyncs inserted (a diagnosis replays its runs whole).
    pub fn fork(&self) -> SimFs {
        let state = self.lock();
        assert!(matches!(state.sites, Sites::Off) && state.rules.is_empty(), "forking a run that records call sites");
        let copy = State {
            options: state.options,
            initial: state.initial.clone(),
            volatile: state.volatile.clone(),
            next_ino: state.next_ino,
            fds: state.fds.clone(),
            unlinked: state.unlinked.clone(),
            extra_names: state.extra_names.clone(),
            log: state.log.clone(),
            trace: state.trace.clone(),
            posix: state.posix.clone(),
            floor: state.floor.clone(),
            injector: None,
            unrecorded_steps: state.unrecorded_steps,
            clock: None,
            mtimes: state.mtimes.clone(),
            sites: Sites::Off,
            rules: Vec::new(),
            inserted_steps: state.inserted_steps,
            fingerprinted: state.fingerprinted.clone(),
        };
        SimFs { state: Mutex::new(copy) }
    }

    /// Installs a fault injector, consulted before every following call.
    pub fn set_injector(&self, injector: Box<dyn Injector>) {
        self.lock().injector = Some(injector);
    }

    /// Takes file modification times from `clock` from now on.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        self.lock().clock = Some(clock);
    }

    /// Records the site of every following call ([`Site`]): frames under one of `library`
    /// (absolute path prefixes: the harness's own sources, this crate's
    /// [`crate::site::own_sources`] among them) are never a site. Slow: for a diagnosis, not
    /// an exploration.
    pub fn record_sites(&self, library: Vec<String>) {
        self.lock().sites = Sites::Captured { library };
    }

    /// Records `site` as the site of every following call, until the next `given_site` (a
    /// replay of a traced program, whose sites are the stacks its trace gave).
    pub fn given_site(&self, site: Option<Site>) {
        self.lock().sites = Sites::Given(site);
    }

    /// Inserts the fsyncs of `rules` after every following call made at their sites; sites
    /// must be recorded ([`SimFs::record_sites`]).
    pub fn insert_syncs(&self, rules: Vec<SyncRule>) {
        let mut state = self.lock();
        assert!(state.options.recording, "inserted fsyncs need a recording SimFs");
        assert!(!matches!(state.sites, Sites::Off), "inserted fsyncs are keyed by call sites: record them first");
        state.rules = rules;
    }

    /// Removes the fault injector.
    pub fn clear_injector(&self) {
        self.lock().injector = None;
    }

    /// Number of syscalls run so far.
    pub fn steps(&self) -> usize {
        let state = self.lock();
        state.trace.len() + state.unrecorded_steps
    }

    /// How many log events (effects and syncs) were recorded so far.
    pub fn events(&self) -> usize {
        self.lock().event_count()
    }

    /// The size of the file open as `fd` (`fstat`), without a step of the trace.
    pub fn size(&self, fd: Fd) -> FsResult<u64> {
        let state = self.lock();
        let ino = state.fds.get(fd)?.ino;
        Ok(state.volatile.file_len(ino))
    }

    /// The recorded trace.
    pub fn trace(&self) -> Trace {
        Trace { steps: self.lock().trace.clone() }
    }

    /// The steps of the trace from syscall `step` on (none past its end).
    pub fn trace_from(&self, step: usize) -> Vec<TraceStep> {
        self.lock().trace.get(step..).map_or_else(Vec::new, <[TraceStep]>::to_vec)
    }

    /// The log of effects and syncs, in order (indexed by sequence number: a run that forgot
    /// its past has no whole log).
    pub fn log(&self) -> Vec<Event> {
        let state = self.lock();
        assert!(state.floor.is_none(), "the whole log of a run that forgot its past (SimFs::forget_past)");
        state.log.clone()
    }

    /// A fingerprint of what each crash point's images are made of: element `k` stands for the
    /// events the first `k` syscalls logged (what each did, not at which step). A tracker is fed
    /// events alone, so two runs from the same initial disk with equal elements at their crash
    /// points `k` and `j` leave equal crash images there under every model, however their other
    /// syscalls (reads, stats, failed calls) fell between. Panics on a run that forgot its past.
    pub fn crash_point_fingerprints(&self) -> Vec<u128> {
        use std::hash::Hash;
        let state = self.lock();
        assert!(state.floor.is_none(), "the crash points of a run that forgot its past (SimFs::forget_past)");
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut out = Vec::with_capacity(state.trace.len() + 1);
        let mut events = state.log.iter().peekable();
        for k in 0..=state.trace.len() {
            while let Some(event) = events.next_if(|e| e.step < k) {
                event.kind.hash(&mut hasher);
            }
            out.push(hasher.digest128());
        }
        out
    }

    /// Forgets what only crash points before now need: every model's state here is kept, the
    /// log events so far are dropped, and the trace keeps its steps so far without their bytes,
    /// events and pending sets ([`TraceStep::forgotten`]). Crash points before now can no longer
    /// be asked for, nor what-if images. For a run judged only past a point (a scale workload
    /// after its setup: thousands of rewrites of one file, each version held by the log).
    pub fn forget_past(&self) {
        let mut state = self.lock();
        assert!(state.options.recording, "forgetting the past of an unrecorded SimFs");
        let state = &mut *state;
        let (step, events, from) = (state.trace.len(), state.event_count(), state.floor_step());
        // Moved on in place, not cloned: a clone would copy every node a push then touches; then
        // compacted: the trackers of every crash point after start from these, and a scale run of
        // 1,000 sessions was 30% slower walking nodes allocated among the run's own.
        let mut trackers = match state.floor.take() {
            Some(floor) => floor.trackers,
            None => Model::ALL.iter().map(|&model| Tracker::from_disk(model, state.initial.clone())).collect(),
        };
        for tracker in &mut trackers {
            state.log.iter().for_each(|event| tracker.push(event));
            tracker.compact();
        }
        state.trace[from..].iter_mut().for_each(TraceStep::forget);
        state.log = Vec::new();
        state.floor = Some(Floor { step, events, trackers });
        state.fingerprinted = None;
    }

    /// The image this filesystem started from.
    pub fn initial_image(&self) -> Image {
        Image::of(&self.lock().initial)
    }

    /// Bytes of the image this filesystem started from: its paths and file contents.
    pub fn initial_bytes(&self) -> usize {
        self.lock().initial.tree_bytes()
    }

    /// V: what a running process sees now.
    pub fn volatile_image(&self) -> Image {
        Image::of(&self.lock().volatile)
    }

    /// Each path of [`Self::volatile_image`] with what it holds (a file's bytes, `None` for a
    /// directory), in walk order, without building the image.
    pub fn visit_volatile(&self, mut visit: impl FnMut(&str, Option<&[u8]>)) {
        let disk = self.lock().volatile.clone();
        crate::image::walk(&disk, |path, _, inode| match inode {
            Inode::File(content) => visit(path, Some(&content.to_bytes())),
            Inode::Dir(_) => visit(path, None),
        });
    }

    /// The filesystem the processes see now (V), frozen: O(1), its image built when asked.
    pub fn volatile_frozen(&self) -> Frozen {
        Frozen::of(&self.lock().volatile)
    }

    /// A fingerprint of the whole state now (the `state` module): equal for two filesystems that
    /// do the same from here on and leave the same crash images under every model. `None` while
    /// a descriptor is open (a state between calls has none) or without recording.
    pub fn state_fingerprint(&self) -> Option<u128> {
        let mut state = self.lock();
        if !state.options.recording || state.fds.values().next().is_some() {
            return None;
        }
        let state = &mut *state;
        let mut durable = state
            .fingerprinted
            .take()
            .unwrap_or_else(|| [Model::Ordered, Model::Posix].map(|model| state.start_tracker(model)));
        for tracker in &mut durable {
            let seen = usize::try_from(tracker.events_seen()).expect("an event count fits in memory");
            state.log[seen - state.first_kept_event()..].iter().for_each(|event| tracker.push(event));
        }
        let mut canon = crate::state::Canon::default();
        canon.disk(&state.volatile, Some(&state.mtimes));
        for (tag, tracker) in [b'o', b'p'].into_iter().zip(&durable) {
            canon.section(tag);
            tracker.canonical(&mut canon);
        }
        state.fingerprinted = Some(durable);
        Some(canon.finish())
    }

    /// D under the `posix` model: what is surely on the platter now.
    pub fn durable_image(&self) -> Image {
        self.lock().posix.durable_image()
    }

    /// The images a crash after the first `after_steps` syscalls may leave under `model`.
    pub fn crash_images(&self, after_steps: usize, model: Model, opts: &ImageOptions) -> ImageSet {
        self.tracker_after(model, false, after_steps).images(opts)
    }

    /// The tracker of `model` (noting which effects reach D with `noting`) fed the log of the
    /// first `after_steps` syscalls.
    fn tracker_after(&self, model: Model, noting: bool, after_steps: usize) -> Tracker {
        let state = self.lock();
        assert!(state.options.recording, "crash images need a recording SimFs");
        assert!(after_steps <= state.trace.len(), "crash point {after_steps} is past the trace end");
        state.assert_past_floor(after_steps);
        let mut tracker = if noting {
            assert!(state.floor.is_none(), "the effects reaching D since the start of a run that forgot its past");
            Tracker::from_disk(model, state.initial.clone()).noting_durable()
        } else {
            state.start_tracker(model)
        };
        for event in state.log.iter().take_while(|e| e.step < after_steps) {
            tracker.push(event);
        }
        tracker
    }

    /// Calls `visit(k, images)` for every crash point k in `0..=steps()`, replaying the log once.
    pub fn each_crash_point(&self, model: Model, opts: &ImageOptions, mut visit: impl FnMut(usize, ImageSet)) {
        for (k, tracker) in self.trackers(model, 0..=self.steps()).iter().enumerate() {
            visit(k, tracker.images(opts));
        }
    }

    /// The state of `model` after the first `after_steps` syscalls, noting which effects reached
    /// the durable state ([`Tracker::durable_seqs`]).
    pub fn tracker_noting_durable(&self, model: Model, after_steps: usize) -> Tracker {
        self.tracker_after(model, true, after_steps)
    }

    /// The image of a crash after the first `after_steps` syscalls in which the effects `kept`
    /// says persisted (whole: `Some(None)`, torn to n bytes: `Some(Some(n))`) and no other: a
    /// what-if image, whether or not a model allows it. Effects apply in log order.
    pub fn image_keeping(&self, after_steps: usize, kept: &dyn Fn(usize) -> Option<Option<usize>>) -> Image {
        let state = self.lock();
        assert!(state.options.recording, "crash images need a recording SimFs");
        assert!(state.floor.is_none(), "a what-if image of a run that forgot its past");
        let mut disk = state.initial.clone();
        for event in state.log.iter().take_while(|e| e.step < after_steps) {
            let EventKind::Effect(effect) = &event.kind else { continue };
            match kept(event.seq) {
                Some(Some(keep)) => disk.apply_torn(effect, keep),
                Some(None) => disk.apply(effect),
                None => {}
            }
        }
        Image::of(&disk)
    }

    /// Calls `visit(i, tracker)` with the state of `model` after `steps[i]` steps, for each `i`
    /// in order (`steps` ascending), replaying the log once and keeping no state but the
    /// current: what a long run's crash points cost one at a time. This SimFs stays locked
    /// while `visit` runs: it must not call back into it.
    pub fn visit_trackers(&self, model: Model, steps: &[usize], mut visit: impl FnMut(usize, &Tracker)) {
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "crash points in order");
        let state = self.lock();
        assert!(state.options.recording, "crash images need a recording SimFs");
        let mut tracker = state.start_tracker(model);
        let mut events = state.log.iter().peekable();
        for (i, &k) in steps.iter().enumerate() {
            assert!(k <= state.trace.len(), "crash point {k} is past the trace end");
            state.assert_past_floor(k);
            while let Some(event) = events.next_if(|e| e.step < k) {
                tracker.push(event);
            }
            visit(i, &tracker);
        }
    }

    /// Moves `tracker` (one of this SimFs's, from [`SimFs::trackers`] or [`SimFs::visit_trackers`])
    /// on to the state after the first `to_step` steps: the events it has not seen, up to there.
    /// What a thread walking its own crash points needs, one tracker at a time.
    pub fn advance(&self, tracker: &mut Tracker, to_step: usize) {
        let state = self.lock();
        assert!(to_step <= state.trace.len(), "crash point {to_step} is past the trace end");
        let seen = usize::try_from(tracker.events_seen()).expect("an event count fits in memory");
        let first = state.first_kept_event();
        assert!(first <= seen && seen <= state.event_count(), "a tracker of another run, or from before its floor");
        for event in state.log[seen - first..].iter().take_while(|e| e.step < to_step) {
            tracker.push(event);
        }
    }

    /// The state of `model` at every crash point k in `points` (index `k - points.start()`),
    /// replaying the log once up to the last. Each can list its images on its own, so crash
    /// points can be spread over threads.
    pub fn trackers(&self, model: Model, points: std::ops::RangeInclusive<usize>) -> Vec<Tracker> {
        let steps: Vec<usize> = points.collect();
        let mut out = Vec::with_capacity(steps.len());
        self.visit_trackers(model, &steps, |_, tracker| out.push(tracker.clone()));
        out
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("SimFs state poisoned by a panic in another task")
    }

    /// Runs one syscall: consults the injector, runs `body` unless a failure is injected, and
    /// records the step.
    fn syscall<T>(
        &self,
        call: Call,
        body: impl FnOnce(&mut State, usize, Option<usize>) -> FsResult<T>,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> FsResult<T> {
        let mut state = self.lock();
        let site = match &state.sites {
            Sites::Off => None,
            Sites::Given(site) => site.clone(),
            Sites::Captured { library } => match crate::site::handed_over() {
                Some(site) => site,
                None => {
                    // A backtrace is taken outside the lock: it is slow, and other tasks may call
                    // meanwhile (a diagnosis only; exploring takes the lock once per call).
                    let library = library.clone();
                    drop(state);
                    let site = Site::capture(&library);
                    state = self.lock();
                    site
                }
            },
        };
        let step = state.trace.len() + state.unrecorded_steps;
        let first_event = state.event_count();
        let program_step = step - state.inserted_steps;
        let injection = match state.injector.as_mut() {
            Some(injector) => injector.before(program_step, &call),
            None => Injection::Proceed,
        };
        let (result, injected) = match injection {
            Injection::Proceed => (body(&mut state, step, None), false),
            Injection::ShortWrite(max) => {
                let shortened = matches!(call, Call::Write { .. } | Call::Pwrite { .. });
                (body(&mut state, step, Some(max)), shortened)
            }
            Injection::Fail(errno) => {
                state.failed_sync(step, &call);
                (Err(errno), true)
            }
        };
        if state.options.recording {
            let targets: Vec<SyncTarget> = match &site {
                Some(site) if result.is_ok() => state
                    .rules
                    .iter()
                    .filter(|rule| rule.syscall == call.name() && &rule.after == site)
                    .map(|rule| rule.target)
                    .collect(),
                _ => Vec::new(),
            };
            state.push_step(step, call.clone(), first_event, &result, outcome, injected, &site, false);
            let opened = match state.trace.last().map(|recorded| &recorded.outcome) {
                Some(Outcome::Fd(fd)) => Some(*fd),
                _ => None,
            };
            for target in targets {
                state.insert_sync(&call, opened, target, &site);
            }
        } else {
            state.unrecorded_steps += 1;
        }
        result
    }
}

impl State {
    /// Log events recorded so far, forgotten ones included: the next one's sequence number.
    fn event_count(&self) -> usize {
        self.first_kept_event() + self.log.len()
    }

    /// The sequence number of the log's first event (the events before the floor are gone).
    fn first_kept_event(&self) -> usize {
        self.floor.as_ref().map_or(0, |floor| floor.events)
    }

    /// The first step whose events the log still holds.
    fn floor_step(&self) -> usize {
        self.floor.as_ref().map_or(0, |floor| floor.step)
    }

    fn assert_past_floor(&self, step: usize) {
        let floor = self.floor_step();
        assert!(step >= floor, "crash point {step} is before the floor {floor} of a run that forgot its past");
    }

    /// The state of `model` at the floor (the initial image without one), nothing pending.
    fn start_tracker(&self, model: Model) -> Tracker {
        match &self.floor {
            Some(floor) => {
                let index = Model::ALL.iter().position(|&m| m == model).expect("a model of Model::ALL");
                floor.trackers[index].clone()
            }
            None => Tracker::from_disk(model, self.initial.clone()),
        }
    }

    /// Records trace step `step`: `call`, what it returned, the log events from `first_event` on.
    #[allow(clippy::too_many_arguments)]
    fn push_step<T>(
        &mut self,
        step: usize,
        call: Call,
        first_event: usize,
        result: &FsResult<T>,
        outcome: impl FnOnce(&T) -> Outcome,
        injected: bool,
        site: &Option<Site>,
        inserted: bool,
    ) {
        let outcome = match result {
            Ok(value) => outcome(value),
            Err(errno) => Outcome::Err(*errno),
        };
        let pending = self.posix.pending_seqs();
        let events = self.log[first_event - self.first_kept_event()..].to_vec();
        let site = site.clone();
        self.trace.push(TraceStep { step, call, outcome, injected, events, pending, site, inserted, forgotten: false });
    }

    /// Runs and records one call a fix inserts, outside the injector's numbering.
    fn inserted_call<T>(
        &mut self,
        call: Call,
        site: &Option<Site>,
        body: impl FnOnce(&mut State, usize) -> FsResult<T>,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> FsResult<T> {
        let step = self.trace.len() + self.unrecorded_steps;
        let first_event = self.event_count();
        let result = body(self, step);
        self.push_step(step, call, first_event, &result, outcome, false, site, true);
        self.inserted_steps += 1;
        result
    }

    /// The fsync a rule inserts after `call` (which returned the descriptor `opened`, if any).
    fn insert_sync(&mut self, call: &Call, opened: Option<Fd>, target: SyncTarget, site: &Option<Site>) {
        match target {
            SyncTarget::File => {
                let fd = match call {
                    Call::Write { fd, .. } | Call::Pwrite { fd, .. } | Call::Truncate { fd, .. } => Some(*fd),
                    Call::Open { .. } => opened,
                    _ => None,
                };
                if let Some(fd) = fd {
                    let _ = self.inserted_call(Call::Fsync { fd }, site, |s, step| s.sync(step, fd), |_| Outcome::Unit);
                }
            }
            SyncTarget::Dir => {
                let paths: Vec<&str> = match call {
                    Call::Open { path, .. } | Call::Unlink { path } | Call::Mkdir { path } | Call::Rmdir { path } => {
                        vec![path]
                    }
                    Call::Rename { from, to } => vec![to, from],
                    Call::Link { to, .. } => vec![to],
                    _ => Vec::new(),
                };
                let mut dirs: Vec<String> = Vec::new();
                for (parent, _) in paths.into_iter().filter_map(|path| parent_and_leaf(path).ok()) {
                    let dir = join(&parent);
                    if !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
                for dir in dirs {
                    let shown = if dir.is_empty() { "/".to_string() } else { dir.clone() };
                    let open = Call::Open { path: shown.clone(), opts: OpenOptions::dir() };
                    let opened = self.inserted_call(
                        open,
                        site,
                        |s, step| s.open(step, &shown, OpenOptions::dir()),
                        |fd| Outcome::Fd(*fd),
                    );
                    if let Ok(fd) = opened {
                        let _ =
                            self.inserted_call(Call::Fsync { fd }, site, |s, step| s.sync(step, fd), |_| Outcome::Unit);
                        let _ = self.inserted_call(Call::Close { fd }, site, |s, _| s.close(fd), |_| Outcome::Unit);
                    }
                }
            }
        }
    }

    fn record(&mut self, step: usize, kind: EventKind) {
        if !self.options.recording {
            return;
        }
        let event = Event { step, seq: self.event_count(), kind };
        self.posix.push(&event);
        self.log.push(event);
    }

    fn effect(&mut self, step: usize, effect: Effect) {
        let touched = match &effect {
            Effect::Write { ino, .. } | Effect::Truncate { ino, .. } => Some(*ino),
            Effect::Link { ino, kind: Kind::File, .. } => Some(*ino),
            _ => None,
        };
        if let (Some(ino), Some(clock)) = (touched, &self.clock) {
            let tick = self.options.mtime_granularity_ms.max(1);
            self.mtimes.insert(ino, clock.now_ms() / tick * tick);
        }
        self.volatile.apply(&effect);
        self.record(step, EventKind::Effect(effect));
    }

    /// An injected failure of fsync drops the inode's pending data, as a writeback error does.
    fn failed_sync(&mut self, step: usize, call: &Call) {
        if let Call::Fsync { fd } | Call::Fdatasync { fd } = call {
            if let Ok(file) = self.fds.get(*fd) {
                let (ino, kind) = (file.ino, file.kind);
                self.record(step, EventKind::Sync { ino, kind, ok: false });
            }
        }
    }

    fn fresh_ino(&mut self) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    /// The directory at `parts` and its entries: `ENOENT` if a component is missing, `ENOTDIR`
    /// if one is a file. Each component's node is looked up once.
    fn resolve_dir(&self, parts: &[&str]) -> FsResult<(Ino, &OrdMap<String, Ino>)> {
        let Some(Inode::Dir(root)) = self.volatile.get(ROOT) else { unreachable!("the root is a directory") };
        let mut entries = root;
        let mut dir = ROOT;
        for part in parts {
            dir = *entries.get(*part).ok_or(Errno::ENOENT)?;
            entries = match self.volatile.get(dir) {
                Some(Inode::Dir(inner)) => inner,
                _ => return Err(Errno::ENOTDIR),
            };
        }
        Ok((dir, entries))
    }

    /// The directory at `parent`, and what its entry `leaf` names (`None`: nothing).
    fn resolve_entry(&self, parent: &[&str], leaf: &str) -> FsResult<(Ino, Option<Ino>)> {
        let (dir, entries) = self.resolve_dir(parent)?;
        Ok((dir, entries.get(leaf).copied()))
    }

    /// The object at `path`.
    fn resolve(&self, path: &str) -> FsResult<Ino> {
        let parts = components(path)?;
        match parts.split_last() {
            None => Ok(ROOT),
            Some((leaf, parent)) => self.resolve_entry(parent, leaf)?.1.ok_or(Errno::ENOENT),
        }
    }

    fn kind(&self, ino: Ino) -> Kind {
        self.volatile.kind(ino).expect("a reachable inode exists in V")
    }

    fn is_open(&self, ino: Ino) -> bool {
        self.fds.values().any(|f| f.ino == ino)
    }

    /// A file lost its only name: forget it, or keep it while a descriptor holds it.
    fn drop_name(&mut self, ino: Ino) {
        if self.kind(ino) != Kind::File {
            return;
        }
        if let Some(extra) = self.extra_names.get_mut(&ino) {
            *extra -= 1;
            if *extra == 0 {
                self.extra_names.remove(&ino);
            }
            return;
        }
        if self.is_open(ino) {
            self.unlinked.insert(ino);
        } else {
            self.volatile.forget(ino);
        }
    }

    fn used_bytes(&self) -> u64 {
        self.volatile.inodes.values().map(|node| if let Inode::File(c) = node { c.len() } else { 0 }).sum()
    }

    fn open(&mut self, step: usize, path: &str, opts: OpenOptions) -> FsResult<Fd> {
        opts.validate()?;
        let parts = components(path)?;
        let (ino, kind) = match parts.split_last() {
            None => {
                Self::check_existing(Kind::Dir, opts)?;
                (ROOT, Kind::Dir)
            }
            Some((leaf, parent)) => {
                let (dir, found) = self.resolve_entry(parent, leaf)?;
                match found {
                    Some(ino) => {
                        let kind = self.kind(ino);
                        Self::check_existing(kind, opts)?;
                        if opts.trunc && kind == Kind::File {
                            self.effect(step, Effect::Truncate { ino, len: 0 });
                        }
                        (ino, kind)
                    }
                    None if !opts.create => return Err(Errno::ENOENT),
                    None => {
                        let ino = self.fresh_ino();
                        self.effect(step, Effect::Link { dir, name: leaf.to_string(), ino, kind: Kind::File });
                        (ino, Kind::File)
                    }
                }
            }
        };
        Ok(self.fds.insert(OpenFile {
            ino,
            kind,
            readable: opts.readable(),
            writable: opts.write,
            append: opts.append,
            offset: 0,
        }))
    }

    /// The checks of `open(2)` on a path that exists (a node of `kind`), in Linux's order.
    fn check_existing(kind: Kind, opts: OpenOptions) -> FsResult<()> {
        if opts.create && opts.excl {
            return Err(Errno::EEXIST);
        }
        match kind {
            Kind::Dir if opts.create || opts.write => Err(Errno::EISDIR),
            Kind::File if opts.directory => Err(Errno::ENOTDIR),
            _ => Ok(()),
        }
    }

    fn write_at(
        &mut self,
        step: usize,
        fd: Fd,
        offset: Option<u64>,
        data: &Bytes,
        max: Option<usize>,
    ) -> FsResult<usize> {
        let file = self.fds.get(fd)?;
        if !file.writable {
            return Err(Errno::EBADF);
        }
        let (ino, append, cursor) = (file.ino, file.append, file.offset);
        let size = self.volatile.file_len(ino);
        let at = if append { size } else { offset.unwrap_or(cursor) };
        let mut len = data.len().min(max.unwrap_or(usize::MAX));
        if let Some(capacity) = self.options.capacity {
            let free = capacity.saturating_sub(self.used_bytes());
            let growth = (at + len as u64).saturating_sub(size);
            if growth > free {
                len -= (growth - free).min(len as u64) as usize;
                if len == 0 {
                    return Err(Errno::ENOSPC);
                }
            }
        }
        if len > 0 {
            let bytes = if len == data.len() { data.clone() } else { std::sync::Arc::new(data[..len].to_vec()) };
            self.effect(step, Effect::Write { ino, offset: at, data: bytes });
        }
        if offset.is_none() {
            self.fds.get_mut(fd)?.offset = at + len as u64;
        }
        Ok(len)
    }

    fn read_at(&mut self, fd: Fd, offset: Option<u64>, len: usize) -> FsResult<Vec<u8>> {
        let file = self.fds.get(fd)?;
        if !file.readable {
            return Err(Errno::EBADF);
        }
        if file.kind == Kind::Dir {
            return Err(Errno::EISDIR);
        }
        let at = offset.unwrap_or(file.offset);
        let out = match self.volatile.get(file.ino) {
            Some(Inode::File(content)) => content.read(at, len),
            _ => unreachable!("an open file descriptor names a live file"),
        };
        if offset.is_none() {
            self.fds.get_mut(fd)?.offset = at + out.len() as u64;
        }
        Ok(out)
    }

    fn truncate(&mut self, step: usize, fd: Fd, len: u64) -> FsResult<()> {
        let file = self.fds.get(fd)?;
        if file.kind != Kind::File || !file.writable {
            return Err(Errno::EINVAL);
        }
        let ino = file.ino;
        self.effect(step, Effect::Truncate { ino, len });
        Ok(())
    }

    fn sync(&mut self, step: usize, fd: Fd) -> FsResult<()> {
        let file = self.fds.get(fd)?;
        let (ino, kind) = (file.ino, file.kind);
        self.record(step, EventKind::Sync { ino, kind, ok: true });
        Ok(())
    }

    fn close(&mut self, fd: Fd) -> FsResult<()> {
        let file = self.fds.remove(fd)?;
        if self.unlinked.contains(&file.ino) && !self.is_open(file.ino) {
            self.unlinked.remove(&file.ino);
            self.volatile.forget(file.ino);
        }
        Ok(())
    }

    /// `rename(2)` with the checks in the order Linux makes them (`do_renameat2`, `vfs_rename`).
    fn rename(&mut self, step: usize, from: &str, to: &str) -> FsResult<()> {
        let (from_parent, from_leaf) = parent_and_leaf(from)?;
        let (to_parent, to_leaf) = parent_and_leaf(to)?;
        let (from_dir, from_ino) = self.resolve_entry(&from_parent, from_leaf)?;
        let (to_dir, target) = self.resolve_entry(&to_parent, to_leaf)?;
        let ino = from_ino.ok_or(Errno::ENOENT)?;
        let from_path: Vec<&str> = from_parent.iter().copied().chain([from_leaf]).collect();
        let to_path: Vec<&str> = to_parent.iter().copied().chain([to_leaf]).collect();
        if from_dir != to_dir {
            if to_parent.starts_with(&from_path) {
                return Err(Errno::EINVAL);
            }
            if from_parent.starts_with(&to_path) {
                return Err(Errno::ENOTEMPTY);
            }
        }
        if target == Some(ino) {
            return Ok(());
        }
        let kind = self.kind(ino);
        if let Some(target) = target {
            match (kind, self.kind(target)) {
                (Kind::Dir, Kind::File) => return Err(Errno::ENOTDIR),
                (Kind::File, Kind::Dir) => return Err(Errno::EISDIR),
                (Kind::Dir, Kind::Dir) if !self.is_empty_dir(target) => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        self.effect(
            step,
            Effect::Rename { from_dir, from: from_leaf.to_string(), to_dir, to: to_leaf.to_string(), ino, kind },
        );
        if let Some(target) = target {
            self.drop_name(target);
        }
        Ok(())
    }

    /// `link(2)` with the checks in Linux's order (`do_linkat`): both paths' syntax, the source,
    /// then the new name's parent and the name itself (the root exists), then the source's kind.
    fn link(&mut self, step: usize, from: &str, to: &str) -> FsResult<()> {
        components(from)?;
        let to_parts = components(to)?;
        let ino = self.resolve(from)?;
        let Some((to_leaf, to_parent)) = to_parts.split_last() else {
            return Err(Errno::EEXIST);
        };
        let (dir, existing) = self.resolve_entry(to_parent, to_leaf)?;
        if existing.is_some() {
            return Err(Errno::EEXIST);
        }
        if self.kind(ino) == Kind::Dir {
            return Err(Errno::EPERM);
        }
        self.effect(step, Effect::Link { dir, name: to_leaf.to_string(), ino, kind: Kind::File });
        *self.extra_names.entry(ino).or_default() += 1;
        Ok(())
    }

    fn is_empty_dir(&self, ino: Ino) -> bool {
        matches!(self.volatile.get(ino), Some(Inode::Dir(entries)) if entries.is_empty())
    }

    fn remove(&mut self, step: usize, path: &str, want: Kind) -> FsResult<()> {
        let (parent, leaf) = parent_and_leaf(path)?;
        let (dir, ino) = self.resolve_entry(&parent, leaf)?;
        let ino = ino.ok_or(Errno::ENOENT)?;
        match (want, self.kind(ino)) {
            (Kind::File, Kind::Dir) => return Err(Errno::EISDIR),
            (Kind::Dir, Kind::File) => return Err(Errno::ENOTDIR),
            (Kind::Dir, Kind::Dir) if !self.is_empty_dir(ino) => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        self.effect(step, Effect::Unlink { dir, name: leaf.to_string(), ino });
        self.drop_name(ino);
        Ok(())
    }

    fn mkdir(&mut self, step: usize, path: &str) -> FsResult<()> {
        let (parent, leaf) = parent_and_leaf(path)?;
        let (dir, existing) = self.resolve_entry(&parent, leaf)?;
        if existing.is_some() {
            return Err(Errno::EEXIST);
        }
        let ino = self.fresh_ino();
        self.effect(step, Effect::Link { dir, name: leaf.to_string(), ino, kind: Kind::Dir });
        Ok(())
    }

    fn readdir(&self, path: &str) -> FsResult<Vec<String>> {
        match self.volatile.get(self.resolve(path)?) {
            Some(Inode::Dir(entries)) => Ok(entries.keys().cloned().collect()),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn stat(&self, path: &str) -> FsResult<Stat> {
        let ino = self.resolve(path)?;
        let kind = self.kind(ino);
        let size = if kind == Kind::File { self.volatile.file_len(ino) } else { 0 };
        let mtime_ms = if kind == Kind::File { self.mtimes.get(&ino).copied().unwrap_or(0) } else { 0 };
        Ok(Stat { kind, size, ino, mtime_ms })
    }
}

impl Fs for SimFs {
    fn site_library(&self) -> Option<Vec<String>> {
        match &self.lock().sites {
            Sites::Captured { library } => Some(library.clone()),
            Sites::Off | Sites::Given(_) => None,
        }
    }

    async fn open(&self, path: &str, opts: OpenOptions) -> FsResult<Fd> {
        let call = Call::Open { path: path.to_string(), opts };
        self.syscall(call, |s, step, _| s.open(step, path, opts), |fd| Outcome::Fd(*fd))
    }

    async fn write(&self, fd: Fd, data: &[u8]) -> FsResult<usize> {
        let data = std::sync::Arc::new(data.to_vec());
        let call = Call::Write { fd, data: data.clone() };
        self.syscall(call, |s, step, max| s.write_at(step, fd, None, &data, max), |n| Outcome::Count(*n))
    }

    async fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> FsResult<usize> {
        let data = std::sync::Arc::new(data.to_vec());
        let call = Call::Pwrite { fd, offset, data: data.clone() };
        self.syscall(call, |s, step, max| s.write_at(step, fd, Some(offset), &data, max), |n| Outcome::Count(*n))
    }

    async fn read(&self, fd: Fd, len: usize) -> FsResult<Vec<u8>> {
        let call = Call::Read { fd, len };
        self.syscall(call, |s, _, _| s.read_at(fd, None, len), |b| Outcome::Bytes(b.clone()))
    }

    async fn pread(&self, fd: Fd, offset: u64, len: usize) -> FsResult<Vec<u8>> {
        let call = Call::Pread { fd, offset, len };
        self.syscall(call, |s, _, _| s.read_at(fd, Some(offset), len), |b| Outcome::Bytes(b.clone()))
    }

    async fn truncate(&self, fd: Fd, len: u64) -> FsResult<()> {
        let call = Call::Truncate { fd, len };
        self.syscall(call, |s, step, _| s.truncate(step, fd, len), |_| Outcome::Unit)
    }

    async fn fsync(&self, fd: Fd) -> FsResult<()> {
        self.syscall(Call::Fsync { fd }, |s, step, _| s.sync(step, fd), |_| Outcome::Unit)
    }

    async fn fdatasync(&self, fd: Fd) -> FsResult<()> {
        self.syscall(Call::Fdatasync { fd }, |s, step, _| s.sync(step, fd), |_| Outcome::Unit)
    }

    async fn close(&self, fd: Fd) -> FsResult<()> {
        self.syscall(Call::Close { fd }, |s, _, _| s.close(fd), |_| Outcome::Unit)
    }

    async fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        let call = Call::Rename { from: from.to_string(), to: to.to_string() };
        self.syscall(call, |s, step, _| s.rename(step, from, to), |_| Outcome::Unit)
    }

    async fn link(&self, from: &str, to: &str) -> FsResult<()> {
        let call = Call::Link { from: from.to_string(), to: to.to_string() };
        self.syscall(call, |s, step, _| s.link(step, from, to), |_| Outcome::Unit)
    }

    async fn unlink(&self, path: &str) -> FsResult<()> {
        let call = Call::Unlink { path: path.to_string() };
        self.syscall(call, |s, step, _| s.remove(step, path, Kind::File), |_| Outcome::Unit)
    }

    async fn mkdir(&self, path: &str) -> FsResult<()> {
        let call = Call::Mkdir { path: path.to_string() };
        self.syscall(call, |s, step, _| s.mkdir(step, path), |_| Outcome::Unit)
    }

    async fn rmdir(&self, path: &str) -> FsResult<()> {
        let call = Call::Rmdir { path: path.to_string() };
        self.syscall(call, |s, step, _| s.remove(step, path, Kind::Dir), |_| Outcome::Unit)
    }

    async fn readdir(&self, path: &str) -> FsResult<Vec<String>> {
        let call = Call::Readdir { path: path.to_string() };
        self.syscall(call, |s, _, _| s.readdir(path), |names| Outcome::Names(names.clone()))
    }

    async fn stat(&self, path: &str) -> FsResult<Stat> {
        let call = Call::Stat { path: path.to_string() };
        self.syscall(call, |s, _, _| s.stat(path), |stat| Outcome::Stat(*stat))
    }
}

#[cfg(test)]
mod tests {
    use crate::{files, Fs, OpenOptions, SimFs, SimOptions};

    /// Runs `writes` (path, bytes; each written and synced), reading `a` after the first; the
    /// fingerprints of its crash points where an event was logged, and of the last.
    fn prefixes(writes: &[(&str, &[u8])], read_between: bool) -> Vec<u128> {
        let fs = SimFs::new(SimOptions::default());
        pollster::block_on(async {
            for (i, (path, bytes)) in writes.iter().enumerate() {
                files::write(&fs, path, OpenOptions::create_trunc(), bytes, true).await.unwrap();
                if read_between && i == 0 {
                    files::read(&fs, "a").await.unwrap();
                    fs.stat("a").await.unwrap();
                }
            }
        });
        let all = fs.crash_point_fingerprints();
        assert_eq!(all.len(), fs.steps() + 1, "one per crash point, before the first syscall included");
        let mut out = all.clone();
        out.dedup();
        assert_eq!(out.len(), fs.events() + 1, "a syscall that logs nothing leaves the fingerprint");
        out
    }

    /// Syscalls that log nothing do not move the fingerprints; an event that differs changes
    /// every one from it on and none before.
    #[test]
    fn crash_points_are_fingerprinted_by_their_events_alone() {
        let plain = prefixes(&[("a", b"1"), ("b", b"2")], false);
        assert_eq!(plain, prefixes(&[("a", b"1"), ("b", b"2")], true));
        let other = prefixes(&[("a", b"1"), ("b", b"3")], false);
        let first_b = prefixes(&[("a", b"1")], false).len();
        assert_eq!(plain.len(), other.len());
        assert_eq!(plain[..first_b], other[..first_b]);
        let same: Vec<bool> = plain.iter().zip(&other).map(|(p, o)| p == o).collect();
        let first_different = same.iter().position(|same| !same).expect("the write of b differs");
        assert!(first_different >= first_b, "{same:?}");
        assert!(same[first_different..].iter().all(|same| !same), "once different, always: {same:?}");
    }
}
