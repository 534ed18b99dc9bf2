//! Running a workload on a recording `SimFs`: its clients interleaved by a scheduling strategy,
//! the trace, which client made each syscall, and when each call was invoked and answered.
//!
//! A run opens one store per process (one after the other), runs every client as a task of the
//! [`schedule`] executor, then shuts each process down cleanly (a last
//! `shutdown` span per process, made by the harness). Processes share one driven clock, so a
//! client waiting for another process's lock sleeps until nothing else can run.

use std::cell::RefCell;
use std::sync::Arc;

use crashsim_faults::Plan;
use crashsim_model::history::{Outcome, Record};
use crashsim_model::NEVER;
use crashsim_sim::{Clock, Frozen, Image, SimClock, SimFs, SimOptions};

use crate::schedule::gate::{Attribution, Gated, Preempt};
use crate::schedule::{self, Interleaving, Replay, Schedule, Strategy, Task};
use crate::subject::{History, Process, Subject};
use crate::workload::Workload;

/// The sources of crashsim itself: its frames (the shims, the scheduler's gate, the harness
/// that calls the program) are never a program's call site.
pub fn harness_sources() -> Vec<String> {
    vec![concat!(env!("CARGO_MANIFEST_DIR"), "/src/").to_string()]
}

/// One call of a run: who made it, what it returned, the syscalls `start..end` that ran while
/// it did (other clients' among them), when it was invoked and answered (a counter of the
/// run's invocations and answers), and the disk the running processes saw right after (V),
/// unless the run was asked to keep it only from a later call on ([`Run::judged_from`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span<S: Subject> {
    /// The client that made the call; `None` for the harness's clean shutdown of a process.
    pub client: Option<usize>,
    pub process: usize,
    pub op: S::Op,
    pub outcome: Outcome<S::Reply>,
    pub start: usize,
    pub end: usize,
    pub invoked: u64,
    pub returned: u64,
    pub after: Option<Frozen>,
    /// The whole state right after the call answered: the filesystem under every model, every
    /// process's store memory ([`Subject::memory`]) and the clock. Recorded only by a run asked
    /// to ([`Run::fingerprint`]), for a subject that tells its memory, and only when no other
    /// call was in flight (a call in flight holds state no fingerprint sees).
    pub state: Option<u128>,
}

/// A recorded run of a workload.
pub struct Execution<S: Subject> {
    pub fs: Arc<SimFs>,
    /// Syscalls the opening of the stores made (recovery of an empty directory).
    pub open_end: usize,
    /// Why a store did not open, if one did not (then no operation ran).
    pub open_error: Option<String>,
    /// Every call, in order of invocation; the harness's shutdowns last. A call that never
    /// answered (its process was killed) ends at `usize::MAX`, answered at [`NEVER`].
    pub spans: Vec<Span<S>>,
    /// The scheduler's choices.
    pub interleaving: Interleaving,
    /// The client of each syscall (`None`: the harness).
    pub owners: Vec<Option<usize>>,
    /// Simulated microseconds until the last client finished (madsim runs; 0 otherwise).
    pub elapsed_us: u64,
}

/// A run under madsim: its seed picks the schedule and the simulated time; a process may be
/// killed at a simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MadsimRun {
    pub seed: u64,
    pub kill: Option<Kill>,
}

/// Kill process `process` at `at_us` microseconds of simulated time (madsim node kill).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kill {
    pub process: usize,
    pub at_us: u64,
}

impl std::fmt::Display for MadsimRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "madsim seed {}", self.seed)?;
        if let Some(kill) = &self.kill {
            write!(f, ", process {} killed at {} us", kill.process, kill.at_us)?;
        }
        Ok(())
    }
}

/// How to run a workload: the schedule to follow and where clients may be preempted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub schedule: Schedule,
    pub preempt: Preempt,
    /// Record each call's [`Span::state`] (state caching). Default: false.
    pub fingerprint: bool,
    /// Record each syscall's call site and insert these fsyncs after the calls at their sites
    /// (a diagnosis and the verification of its fix; slow). Default: `None` (no sites).
    pub sync_rules: Option<Vec<crashsim_sim::SyncRule>>,
    /// The first call (0-based, in invocation order) judged: the calls before keep no
    /// [`Span::after`], and as they answer (every 32 of them, and the last: `FORGET_EVERY`) the
    /// run forgets what only crash points up to there need ([`SimFs::forget_past`]). A scale
    /// workload is judged only after its setup, and thousands of setup calls each holding their
    /// disk and their log keep every version of a rewritten file. Default: 0 (every call judged,
    /// nothing forgotten).
    pub judged_from: usize,
}

/// Runs `workload` with the faults of `plan`, the schedule of `run` (then the default choice).
pub fn execute<S: Subject>(subject: &S, workload: &Workload<S::Op>, plan: &Plan, run: &Run) -> Execution<S> {
    let fs = SimFs::new(SimOptions::default());
    if let Some(rules) = &run.sync_rules {
        let mut library = harness_sources();
        library.push(crashsim_sim::site::own_sources());
        fs.record_sites(library);
        fs.insert_syncs(rules.clone());
    }
    let recording = Recording { fingerprint: run.fingerprint, judged_from: run.judged_from };
    execute_on(subject, fs, workload, plan, run.preempt, recording, &mut Replay::new(run.schedule.clone()))
}

/// Runs `workload` with the faults of `plan`, `strategy` choosing the interleaving. The plan's
/// crash point is the caller's business: the run goes to the end, crash images come afterwards.
pub fn execute_with<S: Subject>(
    subject: &S,
    workload: &Workload<S::Op>,
    plan: &Plan,
    preempt: Preempt,
    strategy: &mut dyn Strategy,
) -> Execution<S> {
    execute_on(subject, SimFs::new(SimOptions::default()), workload, plan, preempt, Recording::default(), strategy)
}

/// Runs `workload` (with its default schedule, no fault) on a disk that starts as `image`: work
/// after recovery, on a crash image.
pub fn execute_from<S: Subject>(
    subject: &S,
    image: &Image,
    workload: &Workload<S::Op>,
    preempt: Preempt,
) -> Execution<S> {
    let fs = SimFs::from_image(image, SimOptions::default());
    execute_on(
        subject,
        fs,
        workload,
        &Plan::none(),
        preempt,
        Recording::default(),
        &mut Replay::new(Schedule::default()),
    )
}

fn execute_on<S: Subject>(
    subject: &S,
    fs: SimFs,
    workload: &Workload<S::Op>,
    plan: &Plan,
    preempt: Preempt,
    recording: Recording,
    strategy: &mut dyn Strategy,
) -> Execution<S> {
    workload.validate().expect("a valid workload");
    let mut running = Running::open(subject, fs, workload, plan, preempt, recording);
    running.run_clients(subject, workload, strategy);
    running.close(subject);
    running.finish()
}

/// A lone client's run stopped before its last call, to run that call under many fault plans:
/// each [`Prefix::run`] runs it, then the clean shutdown, on copies of the disk, the clock and
/// the stores ([`Subject::fork`]), and records exactly what a run of the whole workload under
/// that plan from the start records.
pub struct Prefix<S: Subject> {
    running: Running<S>,
    /// The workload with only its last call left.
    last: Workload<S::Op>,
}

impl<S: Subject> Prefix<S> {
    /// Runs `workload` (one client, at least one call) up to its last call; `None` if a store
    /// did not open or the subject cannot fork its stores (then each fault run starts from the
    /// beginning).
    pub fn of(subject: &S, workload: &Workload<S::Op>, preempt: Preempt) -> Option<Self> {
        workload.validate().expect("a valid workload");
        assert!(!workload.is_concurrent(), "a prefix is a lone client's");
        let (last_op, before) = workload.clients[0].split_last().expect("a workload with a call");
        let mut head = workload.clone();
        head.clients[0] = before.to_vec();
        let fs = SimFs::new(SimOptions::default());
        let mut running = Running::open(subject, fs, &head, &Plan::none(), preempt, Recording::default());
        running.open_error.is_none().then_some(())?;
        running.run_clients(subject, &head, &mut Replay::new(Schedule::default()));
        let mut last = workload.clone();
        last.setup.clear();
        last.clients[0] = vec![last_op.clone()];
        let prefix = Self { running, last };
        // A subject that cannot fork is told now, not at every plan.
        prefix.running.fork(subject, &Plan::none())?;
        Some(prefix)
    }

    /// The syscalls before the last call: a plan run from here has its faults at or after it.
    pub fn steps(&self) -> usize {
        self.running.fs.steps()
    }

    /// The run of the whole workload under `plan` (its faults all at or after [`Prefix::steps`]).
    pub fn run(&self, subject: &S, plan: &Plan) -> Execution<S> {
        assert!(plan.faults.keys().all(|&step| step >= self.steps()), "a fault before the fork: run it whole");
        let mut running = self.running.fork(subject, plan).expect("the subject forked its stores before");
        running.run_clients(subject, &self.last, &mut Replay::new(Schedule::default()));
        running.close(subject);
        running.finish()
    }
}

/// A run under way: its disk, clock and stores, and what it recorded so far.
struct Running<S: Subject> {
    fs: Arc<SimFs>,
    clock: Arc<SimClock>,
    gated: Arc<Gated>,
    attribution: Attribution,
    preempt: Preempt,
    /// One per process, in order.
    stores: Vec<Arc<S::Store>>,
    recorder: Recorder<S>,
    open_end: usize,
    open_error: Option<String>,
    interleaving: Interleaving,
}

impl<S: Subject> Running<S> {
    /// Opens each process's store on `fs` (until one fails to), under `plan`'s faults.
    fn open(
        subject: &S,
        fs: SimFs,
        workload: &Workload<S::Op>,
        plan: &Plan,
        preempt: Preempt,
        recording: Recording,
    ) -> Self {
        let fs = Arc::new(fs);
        if !plan.faults.is_empty() {
            fs.set_injector(plan.injector());
        }
        let clock = Arc::new(SimClock::driven(0));
        fs.set_clock(clock.clone());
        let attribution = Attribution::default();
        let gated = Arc::new(Gated::new(fs.clone(), preempt, attribution.clone()));
        let (stores, open_error) = crate::fs::on(gated.clone(), || {
            let mut stores = Vec::new();
            for index in 0..workload.processes {
                let process = process(index, workload.processes, &clock);
                let opened = RefCell::new(None);
                alone(
                    &fs,
                    &clock,
                    Box::pin(async { *opened.borrow_mut() = Some(subject.open(gated.clone(), &process).await) }),
                );
                match opened.into_inner().expect("the open task ran to its end") {
                    Ok(store) => stores.push(Arc::new(store)),
                    Err(error) => return (stores, Some(error)),
                }
            }
            (stores, None)
        });
        let open_end = fs.steps();
        let whole = recording
            .fingerprint
            .then(|| Arc::new(Whole { subject: subject.clone(), stores: stores.clone(), clock: clock.clone() }));
        let recorder = Recorder { whole, judged_from: recording.judged_from, ..Recorder::new(fs.clone()) };
        let running = Self {
            fs,
            clock,
            gated,
            attribution,
            preempt,
            stores,
            recorder,
            open_end,
            open_error,
            interleaving: Interleaving::default(),
        };
        if running.open_error.is_none() {
            let setup = setup_task(subject, workload.clone(), running.stores.clone(), running.recorder.clone());
            crate::fs::on(running.gated.clone(), || alone(&running.fs, &running.clock, Box::pin(setup)));
        }
        running
    }

    /// Runs the workload's clients, `strategy` choosing the interleaving (none when a store did
    /// not open).
    fn run_clients(&mut self, subject: &S, workload: &Workload<S::Op>, strategy: &mut dyn Strategy) {
        if self.open_error.is_some() {
            return;
        }
        let tasks: Vec<Task<'_>> = workload
            .clients
            .iter()
            .enumerate()
            .map(|(client, ops)| {
                let process = workload.process_of(client);
                let task = client_task(
                    subject,
                    client,
                    process,
                    ops.clone(),
                    self.stores[process].clone(),
                    self.recorder.clone(),
                );
                Box::pin(self.attribution.tag(client, task)) as Task<'_>
            })
            .collect();
        let fs = self.fs.clone();
        let ran = crate::fs::on(self.gated.clone(), || schedule::run(tasks, &self.clock, strategy, &|| fs.steps()));
        self.interleaving.choices.extend(ran.choices);
        self.interleaving.deadlocked = ran.deadlocked;
    }

    /// The harness's clean shutdown of each process ([`Subject::closing`]).
    fn close(&mut self, subject: &S) {
        let Some(closing) = subject.closing().filter(|_| self.open_error.is_none()) else { return };
        for (process, store) in self.stores.iter().enumerate() {
            let call = harness_call(subject, process, closing.clone(), store.clone(), self.recorder.clone());
            crate::fs::on(self.gated.clone(), || alone(&self.fs, &self.clock, Box::pin(call)));
        }
    }

    fn finish(self) -> Execution<S> {
        Execution {
            fs: self.fs,
            open_end: self.open_end,
            open_error: self.open_error,
            spans: self.recorder.spans(),
            interleaving: self.interleaving,
            owners: self.attribution.owners(),
            elapsed_us: 0,
        }
    }

    /// A copy of this run, between calls, to go on under `plan` ([`SimFs::fork`],
    /// [`Subject::fork`]); `None` if the subject cannot fork its stores.
    fn fork(&self, subject: &S, plan: &Plan) -> Option<Self> {
        assert!(self.recorder.whole.is_none(), "a fork records no states");
        let fs = Arc::new(self.fs.fork());
        if !plan.faults.is_empty() {
            fs.set_injector(plan.injector());
        }
        let clock = Arc::new(self.clock.fork());
        fs.set_clock(clock.clone());
        let attribution = Attribution::continued(self.attribution.owners());
        let gated = Arc::new(Gated::new(fs.clone(), self.preempt, attribution.clone()));
        let count = self.stores.len();
        let stores = self
            .stores
            .iter()
            .enumerate()
            .map(|(index, store)| subject.fork(store, gated.clone(), &process(index, count, &clock)).map(Arc::new))
            .collect::<Option<Vec<_>>>()?;
        let recorder = self.recorder.forked(fs.clone());
        Some(Self {
            fs,
            clock,
            gated,
            attribution,
            preempt: self.preempt,
            stores,
            recorder,
            open_end: self.open_end,
            open_error: self.open_error.clone(),
            interleaving: self.interleaving.clone(),
        })
    }
}

/// Process `index` of `count` on the run's `clock`; every process of a run on this executor
/// lives to its end.
fn process(index: usize, count: usize, clock: &Arc<SimClock>) -> Process {
    Process { index, count, clock: clock.clone() as Arc<dyn Clock>, alive: Arc::new(|_| true) }
}

/// Runs `task` alone to its end (an open, the setup, a shutdown).
fn alone(fs: &SimFs, clock: &SimClock, task: Task<'_>) {
    schedule::run(vec![task], clock, &mut Replay::new(Schedule::default()), &|| fs.steps());
}

/// Calls before [`Run::judged_from`] answered between two [`SimFs::forget_past`]: each copies
/// every model's durable state anew, so not after every call; meanwhile the log and the trace
/// hold at most this many calls' bytes (a store that reads and rewrites its registry at each
/// call: by 256 calls, a scale run of 2,000 sessions peaked at 524 MB, by 32 under 400 MB).
const FORGET_EVERY: usize = 32;

/// Records the calls of a run as they are invoked and answered. Shared by the client tasks of
/// any executor (ours or madsim's).
pub struct Recorder<S: Subject> {
    fs: Arc<SimFs>,
    #[allow(clippy::type_complexity)]
    state: Arc<std::sync::Mutex<(Vec<Span<S>>, u64)>>,
    /// What the whole state holds beside the disk; `Some` when each answer records
    /// [`Span::state`].
    whole: Option<Arc<Whole<S>>>,
    /// [`Run::judged_from`].
    judged_from: usize,
}

/// What a run records beside its calls and syscalls ([`Run::fingerprint`], [`Run::judged_from`]).
#[derive(Clone, Copy, Debug, Default)]
struct Recording {
    fingerprint: bool,
    judged_from: usize,
}

/// The parts of a run's state outside the filesystem: every process's store, and the clock.
struct Whole<S: Subject> {
    subject: S,
    stores: Vec<Arc<S::Store>>,
    clock: Arc<SimClock>,
}

impl<S: Subject> Clone for Recorder<S> {
    fn clone(&self) -> Self {
        Self {
            fs: self.fs.clone(),
            state: self.state.clone(),
            whole: self.whole.clone(),
            judged_from: self.judged_from,
        }
    }
}

impl<S: Subject> Recorder<S> {
    pub fn new(fs: Arc<SimFs>) -> Self {
        Self { fs, state: Arc::default(), whole: None, judged_from: 0 }
    }

    /// A recorder that goes on from what this one recorded, on `fs` (a fork of its run).
    fn forked(&self, fs: Arc<SimFs>) -> Self {
        let recorded = self.state.lock().expect("recorder").clone();
        Self { fs, state: Arc::new(std::sync::Mutex::new(recorded)), whole: None, judged_from: self.judged_from }
    }

    /// A call invoked now; in flight until [`Recorder::answered`].
    fn invoked(&self, client: Option<usize>, process: usize, op: &S::Op) -> usize {
        let mut state = self.state.lock().expect("recorder");
        let invoked = state.1;
        state.1 += 1;
        let after = None;
        let span = Span {
            client,
            process,
            op: op.clone(),
            outcome: Outcome::InFlight,
            start: self.fs.steps(),
            end: usize::MAX,
            invoked,
            returned: NEVER,
            after,
            state: None,
        };
        state.0.push(span);
        state.0.len() - 1
    }

    fn answered(&self, index: usize, outcome: Outcome<S::Reply>) {
        let judged = index >= self.judged_from;
        let (end, after) = (self.fs.steps(), judged.then(|| self.fs.volatile_frozen()));
        if !judged && ((index + 1).is_multiple_of(FORGET_EVERY) || index + 1 == self.judged_from) {
            self.fs.forget_past();
        }
        let mut state = self.state.lock().expect("recorder");
        let returned = state.1;
        state.1 += 1;
        let span = &mut state.0[index];
        (span.outcome, span.end, span.returned, span.after) = (outcome, end, returned, after);
    }

    /// Records the state after call `index` answered, when the run records states, no other
    /// call is in flight, and every store tells its memory.
    fn record_state(&self, index: usize) {
        let Some(whole) = &self.whole else { return };
        let in_flight = self.state.lock().expect("recorder").0.iter().any(|span| span.returned == NEVER);
        if in_flight {
            return;
        }
        let mut memory = Vec::with_capacity(16 * whole.stores.len() + 8);
        for store in &whole.stores {
            let Some(fingerprint) = whole.subject.memory(store) else { return };
            memory.extend_from_slice(&fingerprint.to_le_bytes());
        }
        memory.extend_from_slice(&whole.clock.now_ms().to_le_bytes());
        let Some(fs) = self.fs.state_fingerprint() else { return };
        let state = xxhash_rust::xxh3::xxh3_128_with_seed(&memory, fs as u64 ^ (fs >> 64) as u64);
        self.state.lock().expect("recorder").0[index].state = Some(state);
    }

    /// Every call, in order of invocation.
    pub fn spans(&self) -> Vec<Span<S>> {
        self.state.lock().expect("recorder").0.clone()
    }
}

/// Client `client` of process `process`: its operations in order, each recorded.
pub async fn client_task<S: Subject>(
    subject: &S,
    client: usize,
    process: usize,
    ops: Vec<S::Op>,
    store: Arc<S::Store>,
    recorder: Recorder<S>,
) {
    for op in &ops {
        // A yield point before each call: when a call is invoked, relative to the others'
        // answers, is an interleaving choice like any syscall (a lookup invoked after a reset
        // answered must see it; one invoked before may not).
        crate::schedule::gate::yield_now().await;
        let index = recorder.invoked(Some(client), process, op);
        let outcome = subject.call(&store, op).await;
        recorder.answered(index, outcome);
        recorder.record_state(index);
    }
}

/// A call the harness makes on process `process`: the setup, and the clean shutdown.
pub async fn harness_call<S: Subject>(
    subject: &S,
    process: usize,
    op: S::Op,
    store: Arc<S::Store>,
    recorder: Recorder<S>,
) {
    let index = recorder.invoked(None, process, &op);
    let outcome = subject.call(&store, &op).await;
    recorder.answered(index, outcome);
}

/// The workload's setup, on process 0, then [`Subject::warm`] on every process.
pub async fn setup_task<S: Subject>(
    subject: &S,
    workload: Workload<S::Op>,
    stores: Vec<Arc<S::Store>>,
    recorder: Recorder<S>,
) {
    for op in &workload.setup {
        harness_call(subject, 0, op.clone(), stores[0].clone(), recorder.clone()).await;
    }
    if !workload.setup.is_empty() {
        for store in &stores {
            subject.warm(store).await;
        }
    }
}

impl<S: Subject> Execution<S> {
    /// The history a crash after `k` syscalls leaves: the calls that returned before it, and
    /// those running at it (in flight). A call whose last syscall is the k-th has returned: its
    /// acknowledgement counts.
    pub fn history_at(&self, k: usize) -> History<S> {
        let mut history = Vec::new();
        for span in &self.spans {
            let (outcome, returned) = if span.end <= k {
                (span.outcome.clone(), span.returned)
            } else if span.start < k {
                (Outcome::InFlight, NEVER)
            } else {
                continue;
            };
            history.push(Record::Call {
                process: span.process,
                op: span.op.clone(),
                outcome,
                invoked: span.invoked,
                returned,
            });
        }
        history
    }

    /// The history when the answer numbered `returned` ([`Span::returned`]) was given: the
    /// calls answered by then, and those invoked but not answered (in flight).
    pub fn history_at_answer(&self, returned: u64) -> History<S> {
        let mut history = Vec::new();
        for span in self.spans.iter().filter(|span| span.invoked < returned) {
            let (outcome, answered) = if span.returned <= returned {
                (span.outcome.clone(), span.returned)
            } else {
                (Outcome::InFlight, NEVER)
            };
            history.push(Record::Call {
                process: span.process,
                op: span.op.clone(),
                outcome,
                invoked: span.invoked,
                returned: answered,
            });
        }
        history
    }

    /// The history of the whole run.
    pub fn history(&self) -> History<S> {
        self.history_at(self.fs.steps())
    }

    /// The history of the whole run, then a restart: what a store booted on the final disk is
    /// judged against.
    pub fn history_then_restart(&self) -> History<S> {
        let mut history = self.history();
        history.push(Record::Restart);
        history
    }

    /// Whether no other call was in flight when span `i` answered: a point where the running
    /// store's files must be consistent as they stand.
    pub fn quiescent_after(&self, i: usize) -> bool {
        let at = self.spans[i].returned;
        self.spans.iter().enumerate().all(|(j, s)| j == i || s.returned < at || s.invoked > at)
    }
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    use crashsim_faults::{Plan, ERRNOS};
    use crashsim_store::Variant;

    use super::{execute, Execution, Prefix, Run};
    use crate::session::Session;
    use crate::subject::Subject;

    /// Everything a run records, and the state it ends in (mtimes and every model's disk).
    fn recorded(run: &Execution<Session>) -> impl PartialEq + std::fmt::Debug {
        let state = (run.fs.volatile_image(), run.fs.state_fingerprint());
        (
            run.fs.trace(),
            run.fs.log(),
            run.spans.clone(),
            run.owners.clone(),
            run.interleaving.clone(),
            run.open_end,
            state,
        )
    }

    /// A run of a workload's last call on a copy of one run of the calls before it records what
    /// a run of the whole workload from the start does, under every fault in that call: for
    /// stores whose memory holds a registry cache, deferred registrations, or nothing special.
    #[test]
    fn a_forked_run_records_what_a_whole_run_does() {
        for variant in
            [Variant::Reference, Variant::CachedUpdate, Variant::CreateRegistersAfterAck, Variant::StaleCacheRead]
        {
            let subject = Session(variant);
            let mut forked = 0;
            for workload in crate::workload::exhaustive(&subject.alphabet(), 2) {
                let clean = execute(&subject, &workload, &Plan::none(), &Run::default());
                let last = clean.spans.iter().rfind(|s| s.client.is_some()).expect("a call").start;
                let prefix = Prefix::of(&subject, &workload, Default::default()).expect("the session store forks");
                assert_eq!(prefix.steps(), last, "{variant} on {workload}");
                assert_eq!(recorded(&prefix.run(&subject, &Plan::none())), recorded(&clean), "{variant} on {workload}");
                let trace = clean.fs.trace();
                let plans = Plan::each_errno(&trace, &ERRNOS).into_iter().chain(Plan::each_short_write(&trace, 1));
                for plan in plans.filter(|p| p.faults.keys().all(|&step| step >= last)) {
                    let whole = execute(&subject, &workload, &plan, &Run::default());
                    assert_eq!(
                        recorded(&prefix.run(&subject, &plan)),
                        recorded(&whole),
                        "{variant} on {workload} under {plan}"
                    );
                    forked += 1;
                }
            }
            assert!(forked > 1000, "{variant}: {forked} fault runs forked");
        }
    }
}
