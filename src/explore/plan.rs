//! Planning: which workloads are explored, in which order (one length at a time, the exhaustive
//! ones extended only from a new state), and which of them run faults in their last operation or
//! may be cut short.

use crate::bounds::ExploreOptions;
use crate::subject::Subject;
use crate::workload::{self, Workload};

impl ExploreOptions {
    /// Every workload explored without state caching, in order (with it, the exhaustive ones
    /// whose prefix ended in a state already explored are not run). Lists them all: for counting,
    /// [`ExploreOptions::workload_count`].
    pub fn workloads<S: Subject>(&self, subject: &S) -> Vec<Workload<S::Op>> {
        let mut all: Vec<Planned<S::Op>> =
            workload::exhaustive(&subject.alphabet(), self.max_ops).into_iter().map(Planned::exhaustive).collect();
        all.extend(self.planned_others(subject));
        all.sort_by_key(|p| p.workload.len());
        all.into_iter().map(|p| p.workload).collect()
    }

    /// How many workloads [`ExploreOptions::workloads`] lists, without listing the exhaustive ones
    /// (an alphabet of 13 at `max_ops` 6 is 5.2 million of them); saturates at `u64::MAX`.
    pub fn workload_count<S: Subject>(&self, subject: &S) -> u64 {
        let alphabet = subject.alphabet().len() as u64;
        extensions(alphabet, self.max_ops).saturating_add(self.planned_others(subject).len() as u64)
    }

    /// The workloads other than the exhaustive ones, fewest operations first, and for equal
    /// lengths: random, concurrent in one process, concurrent in two, scale. The exhaustive ones
    /// of a length come before them ([`Levels`]), so a two-client race of two operations is
    /// checked before any sequence of three.
    pub(crate) fn planned_others<S: Subject>(&self, subject: &S) -> Vec<Planned<S::Op>> {
        let seeds = self.seed..self.seed + self.random_workloads as u64;
        let mut all: Vec<Planned<S::Op>> = seeds
            .map(|seed| Planned {
                workload: Workload::sequential(subject.random_ops(seed, self.random_max_ops)),
                random: true,
                scale: false,
            })
            .collect();
        assert!((1..=2).contains(&self.processes_max), "concurrent workloads run in one or two processes");
        let alphabet = subject.concurrent_alphabet();
        if self.client_ops_max > 0 && !alphabet.is_empty() {
            let setup = subject.concurrent_setup();
            for processes in 1..=self.processes_max {
                let concurrent = workload::concurrent(&alphabet, &setup, self.client_ops_max, processes);
                all.extend(concurrent.into_iter().map(Planned::exhaustive));
            }
        }
        let scale = self.seed..self.seed + self.scale_workloads as u64;
        all.extend(scale.filter_map(|seed| subject.scale(seed, self.scale_size_max)).map(|workload| Planned {
            workload,
            random: false,
            scale: true,
        }));
        all.sort_by_key(|p| p.workload.len());
        all
    }
}

/// How many sequences of 1 to `depth` operations an alphabet of `alphabet` makes; saturating.
pub(super) fn extensions(alphabet: u64, depth: usize) -> u64 {
    (1..=depth)
        .fold((0u64, 1u64), |(sum, layer), _| {
            let layer = layer.saturating_mul(alphabet);
            (sum.saturating_add(layer), layer)
        })
        .0
}

/// The explorer's plan, made one length at a time (TLC's breadth-first search over workloads):
/// the exhaustive workloads of length n + 1 are those of length n that were extended, each
/// followed by every operation of the alphabet, so a workload whose prefix ended in a state
/// already explored is never listed. Only the frontier is held, never the whole tree.
pub(crate) struct Levels<O> {
    alphabet: Vec<O>,
    max_ops: usize,
    others: std::iter::Peekable<std::vec::IntoIter<Planned<O>>>,
    /// The exhaustive workloads of the length just listed that are to be extended.
    frontier: Vec<Vec<O>>,
    length: usize,
}

impl<O: Clone> Levels<O> {
    pub(crate) fn new<S: Subject<Op = O>>(subject: &S, opts: &ExploreOptions) -> Self {
        Self {
            alphabet: subject.alphabet(),
            max_ops: opts.max_ops,
            others: opts.planned_others(subject).into_iter().peekable(),
            frontier: vec![Vec::new()],
            length: 0,
        }
    }

    /// The workloads of the next length, in order: the extensions of the frontier (each
    /// extended by [`Levels::extend`] since the last call), then the others of that length.
    /// `None` when no workload is left.
    pub(crate) fn next_level(&mut self) -> Option<Vec<Planned<O>>> {
        self.length += 1;
        let frontier = std::mem::take(&mut self.frontier);
        let mut level: Vec<Planned<O>> = Vec::new();
        if self.length <= self.max_ops {
            for prefix in &frontier {
                level.extend(self.alphabet.iter().map(|op| {
                    let mut ops = prefix.clone();
                    ops.push(op.clone());
                    Planned::exhaustive(Workload::sequential(ops))
                }));
            }
        }
        while self.others.peek().is_some_and(|p| p.workload.len() == self.length) {
            level.extend(self.others.next());
        }
        (!level.is_empty() || self.others.peek().is_some()).then_some(level)
    }

    /// Lists the extensions of `ops` (an exhaustive workload of the current length) in the next
    /// level.
    pub(crate) fn extend(&mut self, ops: &[O]) {
        self.frontier.push(ops.to_vec());
    }

    /// The workloads of 1 to `max_ops` operations in all that extend a workload of the current
    /// length that is not extended.
    pub(crate) fn not_extended(&self) -> u64 {
        extensions(self.alphabet.len() as u64, self.max_ops.saturating_sub(self.length))
    }
}

/// A workload in the explorer's plan: whether it is random (its finding is shrunk), and whether
/// it is a scale workload (crash-checked after its setup only).
pub(crate) struct Planned<O> {
    pub(crate) workload: Workload<O>,
    pub(crate) random: bool,
    pub(crate) scale: bool,
}

impl<O> Planned<O> {
    /// A workload of an exhaustive source (one client's sequences, or concurrent pairs).
    pub(crate) fn exhaustive(workload: Workload<O>) -> Self {
        Self { workload, random: false, scale: false }
    }
}

/// Whether `planned` is an exhaustive sequence: a lone client's, all of whose prefixes are
/// explored too, extended by every operation in the next level ([`Levels`]).
pub(super) fn extendable<O: Clone>(planned: &Planned<O>) -> bool {
    let w = &planned.workload;
    !w.is_concurrent() && w.setup.is_empty() && !planned.scale && !planned.random
}

/// Whether `planned` is an exhaustive sequence whose state after its last call state caching
/// records (and whose extensions it skips when an earlier workload reached that state).
pub(super) fn prunable<O: Clone>(opts: &ExploreOptions, planned: &Planned<O>) -> bool {
    opts.state_caching && extendable(planned)
}

/// Whether `planned` gets fault runs in its last operation only ([`ExploreOptions::fault_max_ops`]).
pub(super) fn last_op_faults<O: Clone>(opts: &ExploreOptions, planned: &Planned<O>) -> bool {
    let len = planned.workload.len();
    opts.errno_max_ops > 0 && opts.errno_max_ops < len && len <= opts.fault_max_ops && extendable(planned)
}
