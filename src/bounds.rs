//! The explorer's bounds ([`ExploreOptions`]): every field read by planning, running or judging.
//! Plain data, apart from the explorer, so that a subject, a case's text and a diagnosis can name
//! the bounds without depending on the explorer.

use crashsim_sim::{ImageOptions, Model};

use crate::schedule::gate::Preempt;

/// Bounds of an exploration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    /// Exhaustive workloads: every sequence of 1 to this many operations. Default: 4.
    pub max_ops: usize,
    /// Random workloads ([`Subject::random_ops`](crate::subject::Subject::random_ops)(crate::subject::Subject::random_ops), seeds `seed` to `seed + random_workloads - 1`).
    /// Default: 16.
    pub random_workloads: usize,
    /// Most operations of a random workload. Default: 30.
    pub random_max_ops: usize,
    /// Fault runs (every errno at every mutating syscall, a one-byte short write at every write,
    /// every damage to each file the subject reads at open on restart) and work after recovery
    /// (every crash image continued with the operations left) for workloads of up to this many
    /// operations (0: none, and no fault run at all). Default: 2.
    pub errno_max_ops: usize,
    /// Fault runs in the last operation for longer workloads, up to this many operations: every
    /// errno at each of its mutating syscalls and a short write at each of its writes (with the
    /// crash points to its end and the restart), and every damage on restart. A fault in an
    /// earlier operation is the last-operation fault of a shorter workload. They run once per
    /// distinct state before the last operation and operation (state caching: the disk under
    /// every model, [`Subject::memory`](crate::subject::Subject::memory), [`Subject::expected_fingerprint`](crate::subject::Subject::expected_fingerprint)); a subject that does
    /// not tell its memory runs them for every workload. Default: 4 (as `max_ops`).
    pub fault_max_ops: usize,
    /// How crash images are enumerated (posix cap, sector size, sampling seed).
    pub images: ImageOptions,
    /// Seed of the random workloads (and of the scale workloads). Default: 0.
    pub seed: u64,
    /// Scale workloads ([`Subject::scale`](crate::subject::Subject::scale), seeds `seed` to `seed + scale_workloads - 1`),
    /// crash-checked after their setup. Default: 2.
    pub scale_workloads: usize,
    /// Most items a scale workload creates (its count is seeded below this). Default: 40;
    /// thousands make a soak of size-triggered paths.
    pub scale_size_max: usize,
    /// Concurrent workloads: two clients (in one process, and in two), each with 1 to this many
    /// operations of the subject's concurrent alphabet (0, or an empty alphabet: none).
    /// Default: 1.
    pub client_ops_max: usize,
    /// Concurrent workloads run their two clients in one process, then (if this is 2) in two
    /// processes. Default: 2.
    pub processes_max: usize,
    /// Most preemptions in an interleaving of concurrent clients. Default: 2 (CHESS found that
    /// two catch most concurrency bugs).
    pub preemptions_max: usize,
    /// Where clients may be preempted. Default: before every syscall.
    pub preempt: Preempt,
    /// State caching: a workload whose prefix ended in a state already explored is not run, a
    /// last-operation fault tier runs once per distinct state ([`ExploreOptions::fault_max_ops`]),
    /// an interleaving is checked only up to a state an earlier interleaving of its workload
    /// explored (`SeenStates`), and a fault run that behaved as an earlier one of its workload
    /// takes that run's verdicts (`fault_runs`). Only for subjects that tell their memory (fault
    /// runs: their expectation). False: everything in full. Default: true.
    pub state_caching: bool,
    /// Models under which exploring stops after the first batch of [`STOP_BATCH`] workloads (in
    /// workload order) that holds a violation: enough to know a variant is caught there, and the
    /// counts stay deterministic. The finding is then the smallest of the workloads run, not of
    /// all. Default: none.
    pub stop_under: Vec<Model>,
}

/// Workloads run (in parallel) between two looks for a violation when a model is in
/// `stop_under`; fixed, so that where a run stops does not depend on the number of threads.
pub const STOP_BATCH: usize = 64;

/// Workloads run (in parallel) between two merges otherwise: what is held at once (each
/// workload's result keeps its fingerprints until merged) does not grow with the exploration.
pub const RUN_BATCH: usize = 512;

impl Default for ExploreOptions {
    fn default() -> Self {
        Self {
            max_ops: 4,
            random_workloads: 16,
            random_max_ops: 30,
            errno_max_ops: 2,
            fault_max_ops: 4,
            images: ImageOptions::default(),
            seed: 0,
            scale_workloads: 2,
            scale_size_max: 40,
            client_ops_max: 1,
            processes_max: 2,
            preemptions_max: 2,
            preempt: Preempt::Every,
            state_caching: true,
            stop_under: Vec::new(),
        }
    }
}
