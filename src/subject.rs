//! The store under test, as the harness sees any store: a [`Subject`].
//!
//! A subject names its operations and replies, opens one store per process on the harness's
//! filesystem, calls an operation on it, boots a fresh store on a crash image and tells what a
//! user would see there, and judges that against its spec replayed over the run's history.
//! Everything else (workloads, interleavings, crash points and images, errno faults, the
//! recovery cache, shrinking, reproducers, the soak) is the harness's, the same for every
//! subject. The built-in session store is one subject (`crashsim::session::Session`, with the `cli` feature); the
//! `examples/` directory holds two more.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use crashsim_model::history::{Outcome, Record};
use crashsim_model::Violation;
use crashsim_sim::{Clock, Frozen, Image, Model, SimFs};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bounds::ExploreOptions;
use crate::case::Case;
pub use crate::schedule::gate::Gated;
use crate::workload::Workload;

/// Where a store instance runs: its process among the run's, and what it shares with them.
#[derive(Clone)]
pub struct Process {
    /// This process, 0-based.
    pub index: usize,
    /// Processes of the run (each opens its own store on the shared disk).
    pub count: usize,
    /// The run's clock: waits sleep on it (a driven clock, or madsim's).
    pub clock: Arc<dyn Clock>,
    /// Whether process `i` is still running (a killed process's locks may be broken).
    pub alive: Arc<dyn Fn(usize) -> bool + Send + Sync>,
}

/// What booting a store on a crash image showed.
pub struct Recovered<O> {
    /// What a user sees: the input of [`Subject::check`].
    pub observed: O,
    /// What recovery did (or why it failed), for reproducers; may be empty.
    pub report: String,
}

/// A store the harness can test. The value itself (its variant, say) keys the recovery cache:
/// two equal subjects must recover alike. The futures run on the harness's executor (or madsim's), so
/// they must be `Send`; a store is usually generic over `crashsim_sim::Fs` and opened here on
/// [`Gated`] (the harness's recording, preemptible filesystem) and, to recover, on a `SimFs`.
pub trait Subject: Clone + Debug + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// One call a client makes.
    type Op: Clone + Debug + Display + Eq + Hash + Send + Sync + 'static;
    /// What a call answers.
    type Reply: Clone + Debug + Display + Eq + Hash + Send + Sync + 'static;
    /// One process's open store.
    type Store: Send + Sync + 'static;
    /// What a user sees of the store on a disk image (compared by [`Subject::check`]).
    type Observed: Debug + Send + Sync + 'static;
    /// What the spec expects after a history ([`Subject::expect`]): computed once per history
    /// and held against every image a crash there may leave.
    type Expected: Send + Sync;

    /// The store's name (with its variant, if it has several), as reports print it. Default:
    /// the subject's `Debug` form.
    fn name(&self) -> String {
        format!("{self:?}")
    }

    /// The first words of a reproducer: what is tested. Default: the name.
    fn describe(&self) -> String {
        self.name()
    }

    /// The words that start this subject's command line: a program whose `main` calls
    /// `crashsim::cli::run` with this subject among its subjects, e.g. `cargo run --release
    /// --example my_store --`. `None` (the default): the subject has none, and reproducers end
    /// with no replay command.
    fn program(&self) -> Option<String> {
        None
    }

    /// The command that replays `case` under `model`, printed at the end of a reproducer.
    /// Default: `repro` through [`Subject::program`] ([`crate::case_text::replay_command`]), or
    /// none when the subject has no program.
    fn replay(&self, model: Model, case: &Case<Self>, opts: &ExploreOptions) -> Option<String> {
        let program = self.program()?;
        Some(crate::case_text::replay_command(&program, self, model, case, opts))
    }

    /// How an operation is written on a command line (`--workload`, `--setup`, a replay
    /// command); it holds neither `;` nor `||`. Default: its `Display` form.
    fn format_op(&self, op: &Self::Op) -> String {
        op.to_string()
    }

    /// Reads an operation written by [`Subject::format_op`]. Default: the one of that text among
    /// the operations the subject names (its alphabets, setup and closing call); a subject
    /// whose workloads hold others (random or scale workloads of its own) reads them here.
    fn parse_op(&self, text: &str) -> Result<Self::Op, String> {
        crate::case_text::parse_known_op(self, text)
    }

    /// The operations exhaustive workloads are made of (every sequence of 1 to `max_ops`).
    fn alphabet(&self) -> Vec<Self::Op>;

    /// The operations of concurrent workloads (every pair of short sequences, one per client);
    /// empty (the default) for a store that is not meant to be shared.
    fn concurrent_alphabet(&self) -> Vec<Self::Op> {
        Vec::new()
    }

    /// What the harness does first, alone, before concurrent clients run (so that they race on
    /// something). Default: nothing.
    fn concurrent_setup(&self) -> Vec<Self::Op> {
        Vec::new()
    }

    /// A random workload of 1 to `ops_max` operations for `seed`. Default: operations of the
    /// alphabet drawn uniformly from a ChaCha8 stream seeded by `seed`.
    fn random_ops(&self, seed: u64, ops_max: usize) -> Vec<Self::Op> {
        assert!(ops_max >= 1, "a workload has at least one operation");
        let alphabet = self.alphabet();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let len = rng.random_range(1..=ops_max);
        (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())].clone()).collect()
    }

    /// A workload past the store's realistic limits for `seed`: a setup that fills it with a
    /// seeded number of items, at most `size_max` (more than its caps and backup counts allow),
    /// then one client's operations that hit those limits. Crash points are checked after the
    /// setup only. Default: none.
    fn scale(&self, seed: u64, size_max: usize) -> Option<Workload<Self::Op>> {
        let _ = (seed, size_max);
        None
    }

    /// Opens process `process`'s store on `fs` (a run starts on an empty disk). `Err`: why it
    /// could not (the run then has no operation).
    fn open(&self, fs: Arc<Gated>, process: &Process) -> impl Future<Output = Result<Self::Store, String>> + Send;

    /// Calls `op`. A filesystem error that leaves the effect uncertain is `Outcome::Failed`.
    fn call(&self, store: &Self::Store, op: &Self::Op) -> impl Future<Output = Outcome<Self::Reply>> + Send;

    /// What every process does after the setup (a server reading its registry at start, say).
    /// Default: nothing.
    fn warm(&self, store: &Self::Store) -> impl Future<Output = ()> + Send {
        let _ = store;
        async {}
    }

    /// The call the harness makes on each process at the end of a run (a clean shutdown), if
    /// any. Default: none.
    fn closing(&self) -> Option<Self::Op> {
        None
    }

    /// Boots a fresh store on `fs` (a crash image, unrecorded) and tells what a user sees.
    ///
    /// The contract: what a user sees is what the booted store *answers*, not only what its
    /// files hold. Once the boot succeeds, ask the store what a client would (the session store
    /// lists its sessions and gets every key the spec may know) and put those answers in
    /// `observed`, beside the files if the subject reads them too, so that [`Subject::check`]
    /// judges a store that serves less than its disk holds (a damaged registry served as empty,
    /// say). A boot that succeeded must never be observed as a refusal; a refusal is a boot that
    /// returned an error.
    fn recover(&self, fs: Arc<SimFs>) -> impl Future<Output = Recovered<Self::Observed>> + Send;

    /// What a user sees of the running store's files in `image`, with no recovery (checked
    /// after each call that answered alone); `None` (the default) skips these checks.
    fn inspect(&self, image: &Image) -> Option<Self::Observed> {
        let _ = image;
        None
    }

    /// Replays the spec over `history`: the outcomes it allows (`crashsim_model::Allowed` for a
    /// `crashsim_model::Spec`).
    fn expect(&self, history: &[Record<Self::Op, Self::Reply>]) -> Self::Expected;

    /// Judges `observed` against what the spec expects.
    fn check(&self, expected: &Self::Expected, observed: &Self::Observed) -> Result<(), Violation>;

    /// Work after recovery: what the spec allows of a store that, booted on a crash image that
    /// showed `recovered` (the run's history `before` the crash), ran the calls of `after` (it
    /// ends with a restart). Default: [`Subject::expect`] over `before`, a restart and `after`,
    /// in which a call uncertain at the crash may still take effect late. A subject whose
    /// observed state is its spec's state should start from `recovered` instead
    /// (`crashsim_model::Allowed::after`), so that what recovery showed is what happened.
    fn expect_after_recovery(
        &self,
        before: &[Record<Self::Op, Self::Reply>],
        recovered: &Self::Observed,
        after: &[Record<Self::Op, Self::Reply>],
    ) -> Self::Expected {
        let _ = recovered;
        let mut history = before.to_vec();
        history.push(Record::Restart);
        history.extend_from_slice(after);
        self.expect(&history)
    }

    /// Files (root-relative paths) the store reads when it opens that a disk or an operator may
    /// hand back damaged: emptied, cut short at any byte, garbage in the last sector. The
    /// explorer restarts the store on such a disk after short workloads. Default: none.
    fn corruptible(&self) -> Vec<String> {
        Vec::new()
    }

    /// Judges `observed` on a disk with one damaged file: the store may refuse to start with an
    /// error, or start without losing anything acknowledged. Default: [`Subject::check`] (a
    /// store must recover from the damage).
    fn check_corrupted(&self, expected: &Self::Expected, observed: &Self::Observed) -> Result<(), Violation> {
        self.check(expected, observed)
    }

    /// State caching: a fingerprint of what `store` remembers between calls (caches, counters,
    /// the time it last read), equal for two stores that, on equal disks, answer alike from
    /// here on. `None` (the default): unknown, and no state of this subject is ever taken for
    /// one already explored.
    fn memory(&self, store: &Self::Store) -> Option<u128> {
        let _ = store;
        None
    }

    /// A copy of `store`, between calls, that runs on `fs` (a copy of its disk) and waits on
    /// `process`'s clock from now on, remembering what `store` does: it must do what `store`
    /// would. The explorer runs a workload's last operation under each of its faults on copies
    /// of one run of the operations before it, instead of running those again for each fault.
    /// `None` (the default): every fault run starts from the beginning.
    fn fork(&self, store: &Self::Store, fs: Arc<Gated>, process: &Process) -> Option<Self::Store> {
        let _ = (store, fs, process);
        None
    }

    /// State caching: a fingerprint of what the spec expects, equal for two expectations that
    /// judge every observation alike. `None` (the default): no state caching.
    fn expected_fingerprint(&self, expected: &Self::Expected) -> Option<u128> {
        let _ = expected;
        None
    }

    /// Whether the store booted in `observed` (false: it refused to start with an error, which
    /// only a damaged file allows). Work after a restart on a damaged disk runs only where the
    /// store started. Default: true (a subject whose `check_corrupted` rejects every refusal
    /// needs nothing more).
    fn started(&self, observed: &Self::Observed) -> bool {
        let _ = observed;
        true
    }

    /// Whether `reply` refuses with no effect (a call whose syscall failed may answer one;
    /// anything else acknowledges what did not happen). Default: no reply refuses.
    fn is_refusal(&self, reply: &Self::Reply) -> bool {
        let _ = reply;
        false
    }
}

/// The history type of subject `S`.
pub type History<S> = Vec<Record<<S as Subject>::Op, <S as Subject>::Reply>>;

/// The outcome type of subject `S`.
pub type OutcomeOf<S> = Outcome<<S as Subject>::Reply>;

/// Boots a store of `subject` on `image` and returns what it showed, or that its recovery
/// panicked, and the disk after (kept as a snapshot: most callers never look at it).
pub fn recover_on<S: Subject>(subject: &S, image: &Image) -> (Booted<S::Observed>, Frozen) {
    recover_on_fs(subject, SimFs::from_image(image, crashsim_sim::SimOptions::unrecorded()))
}

/// [`recover_on`] a filesystem holding the image (unrecorded: nothing of the boot is judged but
/// what the store shows).
pub fn recover_on_fs<S: Subject>(subject: &S, fs: SimFs) -> (Booted<S::Observed>, Frozen) {
    let fs = Arc::new(fs);
    let recovered =
        crate::panics::caught(|| crate::fs::on(fs.clone(), || pollster::block_on(subject.recover(fs.clone()))));
    (recovered.map_err(Panicked), fs.volatile_frozen())
}

/// What a boot on a crash image gives: what the store showed, or that its recovery panicked.
pub type Booted<O> = Result<Recovered<O>, Panicked>;

/// A store's recovery that panicked, with the panic's message: a store that cannot start on that
/// image, and says nothing a user could act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked(pub String);

/// The invariant a recovery that panics breaks.
pub const NO_PANIC: &str = "NoPanic";

impl Panicked {
    /// The violation it is, judged like any other.
    pub fn violation(&self) -> Violation {
        Violation {
            invariant: NO_PANIC,
            summary: format!("the store's recovery panicked: {}", self.0),
            expected: "  a store that starts, or refuses to start with an error\n".to_string(),
            found: format!("  a panic: {}\n", self.0),
        }
    }
}
