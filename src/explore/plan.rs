//! Planning: which workloads are explored, in which order, in which batches, and which of them
//! run faults in their last operation or may be cut short.

use super::options::ExploreOptions;
use crate::subject::Subject;
use crate::workload::{self, Workload};

impl ExploreOptions {
    /// Every workload explored, in order.
    pub fn workloads<S: Subject>(&self, subject: &S) -> Vec<Workload<S::Op>> {
        self.planned(subject).into_iter().map(|p| p.workload).collect()
    }

    /// Every workload explored, fewest operations first (the order findings are ranked in), and
    /// for equal lengths: exhaustive, random, concurrent in one process, concurrent in two.
    /// So a two-client race of two operations is checked before any sequence of three.
    pub(crate) fn planned<S: Subject>(&self, subject: &S) -> Vec<Planned<S::Op>> {
        let planned = |random| move |workload| Planned { workload, random, scale: false };
        let mut all: Vec<Planned<S::Op>> =
            workload::exhaustive(&subject.alphabet(), self.max_ops).into_iter().map(planned(false)).collect();
        let seeds = self.seed..self.seed + self.random_workloads as u64;
        all.extend(
            seeds.map(|seed| planned(true)(Workload::sequential(subject.random_ops(seed, self.random_max_ops)))),
        );
        assert!((1..=2).contains(&self.processes_max), "concurrent workloads run in one or two processes");
        let alphabet = subject.concurrent_alphabet();
        if self.client_ops_max > 0 && !alphabet.is_empty() {
            let setup = subject.concurrent_setup();
            for processes in 1..=self.processes_max {
                let concurrent = workload::concurrent(&alphabet, &setup, self.client_ops_max, processes);
                all.extend(concurrent.into_iter().map(planned(false)));
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

/// A workload in the explorer's plan: whether it is random (its finding is shrunk), and whether
/// it is a scale workload (crash-checked after its setup only).
pub(crate) struct Planned<O> {
    pub(crate) workload: Workload<O>,
    pub(crate) random: bool,
    pub(crate) scale: bool,
}

/// Whether `planned` is an exhaustive workload (a lone client's sequence, all of whose prefixes
/// are explored too), whose state after its last call state caching records.
pub(super) fn prunable<O: Clone>(opts: &ExploreOptions, planned: &Planned<O>) -> bool {
    let w = &planned.workload;
    opts.state_caching
        && !w.is_concurrent()
        && w.setup.is_empty()
        && !planned.scale
        && !planned.random
        && w.len() < opts.max_ops.max(1) + 1
}

/// The batches `all` is explored in: at most `batch` workloads, never two lengths in one, so
/// that a workload's prefix is always explored (and its state recorded) before it.
pub(super) fn batches<O: Clone>(all: &[Planned<O>], batch: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < all.len() {
        let len = all[start].workload.len();
        let end =
            (start..all.len()).take(batch).take_while(|&i| all[i].workload.len() == len).last().unwrap_or(start) + 1;
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// Whether `planned` gets fault runs in its last operation only ([`ExploreOptions::fault_max_ops`]).
pub(super) fn last_op_faults<O: Clone>(opts: &ExploreOptions, planned: &Planned<O>) -> bool {
    let w = &planned.workload;
    let len = w.len();
    opts.errno_max_ops > 0
        && opts.errno_max_ops < len
        && len <= opts.fault_max_ops
        && !w.is_concurrent()
        && w.setup.is_empty()
        && !planned.scale
        && !planned.random
}
