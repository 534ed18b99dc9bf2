//! What an exploration found: per workload ([`WorkloadResult`]), merged in workload order into a
//! model's result ([`ModelResult`]) by a [`Merger`].

use std::collections::HashSet;

use crashsim_sim::Model;

use crate::case::{keep_smallest, Finding};
use crate::distinct::DistinctCount;
use crate::subject::Subject;

/// The result of exploring one subject under one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelResult<S: Subject> {
    pub subject: S,
    pub model: Model,
    pub workloads: usize,
    /// Interleavings run (one per workload of a lone client).
    pub interleavings: u64,
    /// Interleavings among them cut short at a state an earlier one of the same workload had
    /// explored (interleaving state caching; checked up to that state only).
    pub interleavings_cut: u64,
    /// Crash points visited (k over all runs).
    pub crash_points: u64,
    /// Crash images checked (each booted or taken from the cache), plus clean checks.
    pub crash_states: u64,
    /// Distinct crash images among them: exact up to [`crate::distinct::EXACT_UP_TO`], then
    /// estimated ([`ModelResult::distinct_exact`] says which).
    pub distinct_states: usize,
    /// Whether `distinct_states` is exact rather than an estimate (0.81% standard error).
    pub distinct_exact: bool,
    /// Checks that found a violation.
    pub violations: u64,
    /// The minimal violation: fewest operations, earliest crash point, fewest survivors.
    pub first: Option<Finding<S>>,
    /// Crash states checked, in workload order, up to and including the first one that found a
    /// violation (deterministic: the cost of detection).
    pub states_to_detection: Option<u64>,
    /// Milliseconds from the start until the first workload that found a violation finished.
    pub ms_to_detection: Option<u128>,
    pub elapsed_ms: u128,
    /// Workloads whose last-operation fault runs ([`ExploreOptions::fault_max_ops`](super::ExploreOptions::fault_max_ops)) were
    /// skipped: the state before that operation, and the operation, were already explored.
    pub seen_skipped: u64,
    /// Fault runs that behaved as an earlier fault run of their workload did (another errno
    /// at the same syscall, passed up alike) and took its verdicts instead of being judged
    /// again; they are counted in every figure above as if judged.
    pub fault_runs_reused: u64,
    /// Crash points of concurrent workloads that had the same log events, model and expected
    /// history as a point an earlier interleaving of their workload judged, and took its
    /// verdicts (the explorer's `SeenPoints`); counted in every figure above as if judged.
    pub crash_points_reused: u64,
}

/// What one workload contributed.
#[derive(Clone)]
pub(crate) struct WorkloadResult<S: Subject> {
    pub(crate) interleavings: u64,
    /// Interleavings cut short at a state already explored ([`SeenStates`]).
    pub(super) interleavings_cut: u64,
    pub(super) crash_points: u64,
    pub(super) crash_states: u64,
    /// Fingerprints of the images checked (only counted, never iterated).
    pub(super) fingerprints: HashSet<u128>,
    pub(super) violations: u64,
    pub(crate) first: Option<Finding<S>>,
    /// Crash states checked up to and including the first that found a violation.
    pub(super) states_to_detection: Option<u64>,
    /// Fault runs that took an earlier run's verdicts ([`ModelResult::fault_runs_reused`]).
    pub(super) fault_runs_reused: u64,
    /// Crash points that took an earlier point's verdicts ([`ModelResult::crash_points_reused`]).
    pub(super) crash_points_reused: u64,
}

impl<S: Subject> Default for WorkloadResult<S> {
    fn default() -> Self {
        Self {
            interleavings: 0,
            interleavings_cut: 0,
            crash_points: 0,
            crash_states: 0,
            fingerprints: HashSet::new(),
            violations: 0,
            first: None,
            states_to_detection: None,
            fault_runs_reused: 0,
            crash_points_reused: 0,
        }
    }
}

impl<S: Subject> WorkloadResult<S> {
    /// A violation at the state just counted.
    pub(super) fn found(&mut self, finding: Finding<S>) {
        self.violations += 1;
        self.states_to_detection.get_or_insert(self.crash_states);
        keep_smallest(&mut self.first, Some(finding));
    }

    /// Adds the counts and the finding of a part of the same workload, checked after it.
    pub(super) fn absorb(&mut self, part: WorkloadResult<S>) {
        detected_after(&mut self.states_to_detection, self.crash_states, part.states_to_detection);
        self.interleavings += part.interleavings;
        self.interleavings_cut += part.interleavings_cut;
        self.crash_points += part.crash_points;
        self.crash_states += part.crash_states;
        self.fingerprints.extend(part.fingerprints);
        self.violations += part.violations;
        self.fault_runs_reused += part.fault_runs_reused;
        self.crash_points_reused += part.crash_points_reused;
        keep_smallest(&mut self.first, part.first);
    }
}

/// Adds `part`, checked the same under every model (it does not depend on one), to each
/// model's result.
pub(super) fn absorb_each<S: Subject>(results: &mut [WorkloadResult<S>], part: &WorkloadResult<S>) {
    for result in results.iter_mut() {
        result.absorb(part.clone());
    }
}

/// Keeps the first detection: when none came yet, a later part's detection counts the
/// `before` states checked ahead of it.
pub(super) fn detected_after(first: &mut Option<u64>, before: u64, later: Option<u64>) {
    if first.is_none() {
        *first = later.map(|n| before + n);
    }
}

/// Sums workload results in workload order into a [`ModelResult`], keeping the smallest finding.
pub(crate) struct Merger<S: Subject> {
    pub(super) result: ModelResult<S>,
    pub(super) distinct: DistinctCount,
    pub(super) first_index: Option<usize>,
    /// The first workload, in index order, that showed a violation.
    pub(super) first_detected: Option<usize>,
}

impl<S: Subject> Merger<S> {
    pub(crate) fn new(subject: &S, model: Model) -> Self {
        let result = ModelResult {
            subject: subject.clone(),
            model,
            workloads: 0,
            interleavings: 0,
            interleavings_cut: 0,
            crash_points: 0,
            crash_states: 0,
            distinct_states: 0,
            distinct_exact: true,
            violations: 0,
            first: None,
            states_to_detection: None,
            ms_to_detection: None,
            elapsed_ms: 0,
            seen_skipped: 0,
            fault_runs_reused: 0,
            crash_points_reused: 0,
        };
        Self { result, distinct: DistinctCount::default(), first_index: None, first_detected: None }
    }

    /// Adds the result of workload `index`, which finished `finished_ms` after the start;
    /// indexes must come in increasing order.
    pub(crate) fn add(&mut self, index: usize, result: WorkloadResult<S>, finished_ms: u128) {
        let merged = &mut self.result;
        detected_after(&mut merged.states_to_detection, merged.crash_states, result.states_to_detection);
        if result.violations > 0 {
            merged.ms_to_detection = Some(merged.ms_to_detection.map_or(finished_ms, |ms| ms.min(finished_ms)));
            self.first_detected.get_or_insert(index);
        }
        merged.workloads += 1;
        merged.interleavings += result.interleavings;
        merged.interleavings_cut += result.interleavings_cut;
        merged.crash_points += result.crash_points;
        merged.crash_states += result.crash_states;
        merged.violations += result.violations;
        merged.fault_runs_reused += result.fault_runs_reused;
        merged.crash_points_reused += result.crash_points_reused;
        self.distinct.extend(result.fingerprints);
        // The smallest finding over all workloads; on a tie, the earliest workload.
        if keep_smallest(&mut merged.first, result.first) {
            self.first_index = Some(index);
        }
    }

    /// The index of the first workload that showed a violation (the finding kept may be
    /// another's: the smallest).
    pub(crate) fn first_detected(&self) -> Option<usize> {
        self.first_detected
    }

    /// The merged result, and the index of the workload its finding came from.
    pub(crate) fn finish(mut self) -> (ModelResult<S>, Option<usize>) {
        self.result.distinct_states = self.distinct.len();
        self.result.distinct_exact = self.distinct.is_exact();
        (self.result, self.first_index)
    }
}
