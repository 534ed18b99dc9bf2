//! The explorer: crash at every syscall boundary, boot a store on every crash image, check it.
//!
//! For each workload (exhaustive ones shortest first, then random ones, then concurrent ones:
//! two clients in one process, then in two):
//! 1. run it on a recording SimFs (plus a clean shutdown at the end), once per interleaving of
//!    its clients with at most `preemptions_max` preemptions ([`dfs`]): N syscalls each;
//! 2. for every crash point k in 0..=N and every image the persistence model allows there,
//!    boot a fresh store on the image and check what recovery left against the spec, replayed
//!    over the history at k (operations that returned, the one in flight);
//! 3. check the clean points: the running store's files after each call that answered while no
//!    other call ran (no recovery), and a restart after the clean shutdown;
//! 4. for short workloads, rerun with each errno at each mutating syscall: the failing operation
//!    must return an error, and the store must pass the checks after it and after a crash;
//! 5. for the same short workloads (one client), work after recovery: on every crash image whose
//!    recovery passed, run the operations not yet invoked, shut down, restart, and judge from
//!    the state recovery showed ([`continuation`]).
//!
//! An interleaving shares its first syscalls with the one it branched from; crash points in that
//! common part are checked once, by the first. Recovery depends on the image alone, so
//! identical images (by 128-bit fingerprint) are booted once per variant ([`RecoveryCache`]).
//! Workloads are spread over all cores with rayon; results are merged in workload order, so
//! every figure and the first violation are the same on every run.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crashsim_faults::{Corruption, Fault, Plan, ERRNOS};
use crashsim_model::history::Outcome;
use crashsim_model::Violation;
use crashsim_sim::{Image, ImageOptions, ImageSet, Model, Tracker};
use rayon::prelude::*;

use crate::cache::RecoveryCache;
use crate::case::{keep_smallest, Case, Check, Finding};
use crate::continuation;
use crate::distinct::DistinctCount;
use crate::execute::{execute, Execution, Run};
use crate::schedule::dfs::Dfs;
use crate::schedule::gate::Preempt;
use crate::schedule::Schedule;
use crate::subject::Subject;
use crate::workload::{self, Workload};

/// Bounds of an exploration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    /// Exhaustive workloads: every sequence of 1 to this many operations. Default: 4.
    pub max_ops: usize,
    /// Random workloads ([`Subject::random_ops`], seeds `seed` to `seed + random_workloads - 1`).
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
    /// every model, [`Subject::memory`], [`Subject::expected_fingerprint`]); a subject that does
    /// not tell its memory runs them for every workload. Default: 4 (as `max_ops`).
    pub fault_max_ops: usize,
    /// How crash images are enumerated (posix cap, sector size, sampling seed).
    pub images: ImageOptions,
    /// Seed of the random workloads (and of the scale workloads). Default: 0.
    pub seed: u64,
    /// Scale workloads ([`Subject::scale`], seeds `seed` to `seed + scale_workloads - 1`),
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
    /// and an interleaving is checked only up to a state an earlier interleaving of its workload
    /// explored ([`SeenStates`]). Only for subjects that tell their memory. False: everything in
    /// full. Default: true.
    pub state_caching: bool,
    /// Models under which exploring stops after the first batch of [`STOP_BATCH`] workloads (in
    /// workload order) that holds a violation: enough to know a variant is caught there, and the
    /// counts stay deterministic. The finding is then the smallest of the workloads run, not of
    /// all. Default: none.
    pub stop_under: Vec<Model>,
}

/// The invariant a call breaks when it acknowledges what a failed syscall kept from happening:
/// the user is told it is saved when it is not.
pub const FAILURE_REPORTED: &str = "Durable";

/// Workloads run (in parallel) between two looks for a violation when a model is in
/// `stop_under`; fixed, so that where a run stops does not depend on the number of threads.
pub const STOP_BATCH: usize = 64;

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
    /// Workloads whose last-operation fault runs ([`ExploreOptions::fault_max_ops`]) were
    /// skipped: the state before that operation, and the operation, were already explored.
    pub seen_skipped: u64,
}

/// What one workload contributed.
#[derive(Clone)]
pub(crate) struct WorkloadResult<S: Subject> {
    pub(crate) interleavings: u64,
    /// Interleavings cut short at a state already explored ([`SeenStates`]).
    interleavings_cut: u64,
    crash_points: u64,
    crash_states: u64,
    /// Fingerprints of the images checked (only counted, never iterated).
    fingerprints: HashSet<u128>,
    violations: u64,
    pub(crate) first: Option<Finding<S>>,
    /// Crash states checked up to and including the first that found a violation.
    states_to_detection: Option<u64>,
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
        }
    }
}

impl<S: Subject> WorkloadResult<S> {
    /// A violation at the state just counted.
    fn found(&mut self, finding: Finding<S>) {
        self.violations += 1;
        self.states_to_detection.get_or_insert(self.crash_states);
        keep_smallest(&mut self.first, Some(finding));
    }

    /// Adds the counts and the finding of a part of the same workload, checked after it.
    fn absorb(&mut self, part: WorkloadResult<S>) {
        detected_after(&mut self.states_to_detection, self.crash_states, part.states_to_detection);
        self.interleavings += part.interleavings;
        self.interleavings_cut += part.interleavings_cut;
        self.crash_points += part.crash_points;
        self.crash_states += part.crash_states;
        self.fingerprints.extend(part.fingerprints);
        self.violations += part.violations;
        keep_smallest(&mut self.first, part.first);
    }
}

/// Adds `part`, checked the same under every model (it does not depend on one), to each
/// model's result.
fn absorb_each<S: Subject>(results: &mut [WorkloadResult<S>], part: &WorkloadResult<S>) {
    for result in results.iter_mut() {
        result.absorb(part.clone());
    }
}

/// Keeps the first detection: when none came yet, a later part's detection counts the
/// `before` states checked ahead of it.
fn detected_after(first: &mut Option<u64>, before: u64, later: Option<u64>) {
    if first.is_none() {
        *first = later.map(|n| before + n);
    }
}

/// Sums workload results in workload order into a [`ModelResult`], keeping the smallest finding.
pub(crate) struct Merger<S: Subject> {
    result: ModelResult<S>,
    distinct: DistinctCount,
    first_index: Option<usize>,
    /// The first workload, in index order, that showed a violation.
    first_detected: Option<usize>,
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

/// Explores `subject` under `model`; `progress` is told after each workload.
pub fn explore<S: Subject>(
    subject: &S,
    model: Model,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
    progress: &(dyn Fn() + Sync),
) -> ModelResult<S> {
    explore_models(subject, &[model], opts, cache, progress).pop().expect("one result per model")
}

/// Explores `subject` under each of `models` in one pass: each run (interleaving, fault) is
/// made once and checked under every model still exploring. One result per model, in order,
/// each the same as [`explore`] under that model alone gives; `progress` is told after each
/// workload under each model. A model's time is the wall time until its last workload.
pub fn explore_models<S: Subject>(
    subject: &S,
    models: &[Model],
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
    progress: &(dyn Fn() + Sync),
) -> Vec<ModelResult<S>> {
    assert!(!models.is_empty(), "explore under at least one model");
    let started = Instant::now();
    let all = opts.planned(subject);
    let stops = |model: &Model| opts.stop_under.contains(model);
    let batch = if models.iter().any(stops) { STOP_BATCH } else { all.len().max(1) };
    let mut mergers: Vec<Merger<S>> = models.iter().map(|&model| Merger::new(subject, model)).collect();
    let mut ended_ms: Vec<Option<u128>> = vec![None; models.len()];
    // The states before a last operation (with it) whose fault runs ran, and how many
    // workloads asked.
    let mut seen_before_last: HashSet<u128> = HashSet::new();
    // The states after a run (with what the spec expects of them) whose damages were checked.
    let mut seen_after: HashSet<u128> = HashSet::new();
    // State caching of the exhaustive workloads: the states after a workload's last call (with
    // the spec's expectation) reached so far, and the workloads whose state was reached first by
    // an earlier one (their extensions are skipped).
    let mut seen_after_last: HashSet<u128> = HashSet::new();
    let mut pruned: HashSet<Vec<S::Op>> = HashSet::new();
    let mut skipped: u64 = 0;
    for range in batches(&all, batch) {
        let live: Vec<usize> = (0..models.len()).filter(|&m| ended_ms[m].is_none()).collect();
        if live.is_empty() {
            break;
        }
        let live_models: Vec<Model> = live.iter().map(|&m| models[m]).collect();
        let end = range.end;
        let mut indexes: Vec<usize> = Vec::new();
        for i in range {
            let planned = &all[i];
            let ops = &planned.workload.clients[0];
            let prunable = prunable(opts, planned) && planned.workload.len() > opts.errno_max_ops.max(1);
            if prunable && pruned.contains(&ops[..ops.len() - 1]) {
                pruned.insert(ops.clone());
                skipped += 1;
                live.iter().for_each(|_| progress());
            } else {
                indexes.push(i);
            }
        }
        let workloads: Vec<&Planned<S::Op>> = indexes.iter().map(|&i| &all[i]).collect();
        let explored: Vec<(Vec<WorkloadResult<S>>, Option<Keys>)> = workloads
            .par_iter()
            .map(|planned| {
                let w = &planned.workload;
                let errno_runs = !w.is_concurrent() && w.len() <= opts.errno_max_ops && !planned.scale;
                if planned.scale {
                    (explore_after_setup(subject, &live_models, w, opts, cache), None)
                } else {
                    let keyed = prunable(opts, planned);
                    explore_workload_keyed(subject, &live_models, w, errno_runs, keyed, opts, cache)
                }
            })
            .collect();
        // State caching, decided in workload order so that which workload runs a state's fault
        // runs does not depend on the threads: the first with that state before its last op.
        let deep: Vec<(bool, bool)> = workloads
            .iter()
            .zip(&explored)
            .map(|(planned, (_, keys))| {
                let deep = last_op_faults(opts, planned);
                match keys.as_ref().and_then(|k| k.before_last.map(|before| (before, k.after))) {
                    Some((before, after)) if deep => (seen_before_last.insert(before), seen_after.insert(after)),
                    _ => (deep, deep),
                }
            })
            .collect();
        for (planned, (_, keys)) in workloads.iter().zip(&explored) {
            // A state already reached by an earlier workload: this one's extensions are that
            // one's, and are not run.
            if let Some(keys) = keys {
                if !seen_after_last.insert(keys.after_last) {
                    pruned.insert(planned.workload.clients[0].clone());
                }
            }
        }
        let results: Vec<(Vec<WorkloadResult<S>>, u128)> = workloads
            .par_iter()
            .zip(explored)
            .zip(deep)
            .map(|((planned, (mut results, _)), (faults, damage))| {
                if faults || damage {
                    let w = &planned.workload;
                    let faults = check_last_op_faults(subject, &live_models, w, faults, damage, opts, cache);
                    for (result, part) in results.iter_mut().zip(faults) {
                        result.absorb(part);
                    }
                }
                live.iter().for_each(|_| progress());
                (results, started.elapsed().as_millis())
            })
            .collect();
        let mut found = vec![false; live.len()];
        for ((per_model, finished_ms), &i) in results.into_iter().zip(&indexes) {
            for (j, result) in per_model.into_iter().enumerate() {
                found[j] |= result.violations > 0;
                mergers[live[j]].add(i, result, finished_ms);
            }
        }
        for (j, &m) in live.iter().enumerate() {
            if found[j] && stops(&models[m]) {
                ended_ms[m] = Some(started.elapsed().as_millis());
                (end..all.len()).for_each(|_| progress());
            }
        }
    }
    let all_done = started.elapsed().as_millis();
    let mut results = Vec::new();
    for (m, merger) in mergers.into_iter().enumerate() {
        let shrinking = Instant::now();
        let (mut merged, first_index) = merger.finish();
        // Workloads come shortest first, so an exhaustive or concurrent finding is as short as
        // any; a random workload's finding, or one under an injected fault, is shrunk by
        // dropping operations.
        let shrink =
            |f: &Finding<S>| !f.case.faults.is_clean() || first_index.is_some_and(|i| all[i].random || all[i].scale);
        if let Some(finding) = merged.first.take_if(|f| shrink(f)) {
            merged.first = Some(shrink_finding(subject, models[m], finding, opts, cache));
        }
        merged.elapsed_ms = ended_ms[m].unwrap_or(all_done) + shrinking.elapsed().as_millis();
        merged.seen_skipped = skipped;
        results.push(merged);
    }
    results
}

/// Shrinks a lone client's finding: drops one operation at a time as long as the smaller
/// workload still breaks an invariant. Under an injected fault, the operation the fault hit
/// stays, with the fault moved to the same syscall of it (its offset in the operation's span).
/// Concurrent findings are the race shrinker's ([`crate::soak::shrink_race_finding`]).
pub fn shrink_finding<S: Subject>(
    subject: &S,
    model: Model,
    finding: Finding<S>,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Finding<S> {
    let mut best = finding;
    if !best.case.workload.is_concurrent() && !best.case.workload.setup.is_empty() && best.case.faults.is_clean() {
        best = shrink_setup(subject, model, best, opts, cache);
    }
    while !best.case.workload.is_concurrent() {
        let smaller = |drop: usize| best.case.workload.without(0, drop);
        let shrunk = if best.case.faults.corrupt.is_some() {
            // A damaged file: any damage that still breaks the smaller workload's restart.
            (0..best.case.workload.len()).rev().find_map(|drop| {
                let workload = smaller(drop)?;
                let run = execute(subject, &workload, &Plan::none(), &Run::default());
                let case = Case { workload, faults: Plan::none(), ..best.case.clone() };
                let mut result = WorkloadResult::default();
                check_corruptions(&run, &case, true, subject, opts, cache, &mut result);
                result.first
            })
        } else if best.case.faults.is_clean() {
            (0..best.case.workload.len()).rev().find_map(|drop| {
                let workload = smaller(drop)?;
                let mut explored = if workload.setup.is_empty() {
                    explore_workload(subject, &[model], &workload, false, opts, cache)
                } else {
                    // A scale workload: checked after its setup, as it was explored.
                    explore_after_setup(subject, &[model], &workload, opts, cache)
                };
                explored.pop()?.first
            })
        } else {
            shrink_fault(subject, model, &best, opts, cache)
        };
        match shrunk {
            Some(found) => best = found,
            None => break,
        }
    }
    best
}

/// Shrinks the setup of a scale workload's finding (a store filled past its caps): the shortest
/// prefix of the setup that still breaks an invariant after it, by bisection (a store's limits
/// are counts, so fewer items rarely break what more did not; the smallest prefix found that
/// breaks is kept either way).
fn shrink_setup<S: Subject>(
    subject: &S,
    model: Model,
    finding: Finding<S>,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Finding<S> {
    let mut best = finding;
    let (mut holds, mut breaks) = (0, best.case.workload.setup.len());
    while holds + 1 < breaks {
        let mid = (holds + breaks) / 2;
        let mut workload = best.case.workload.clone();
        workload.setup.truncate(mid);
        match explore_after_setup(subject, &[model], &workload, opts, cache).pop().and_then(|r| r.first) {
            Some(found) => {
                best = found;
                breaks = mid;
            }
            None => holds = mid,
        }
    }
    best
}

/// One step of shrinking a finding under an injected fault: the first smaller workload that
/// still breaks an invariant with the fault at the same place of the operation it hit.
fn shrink_fault<S: Subject>(
    subject: &S,
    model: Model,
    best: &Finding<S>,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Option<Finding<S>> {
    let run = execute(subject, &best.case.workload, &best.case.faults, &best.case.run(opts.preempt));
    let (&step, &fault) = best.case.faults.faults.iter().next()?;
    let hit = run.spans.iter().position(|s| s.start <= step && step < s.end)?;
    let offset = step - run.spans[hit].start;
    for drop in (0..best.case.workload.len()).rev().filter(|d| *d != hit) {
        let Some(workload) = best.case.workload.without(0, drop) else { continue };
        let target = if drop < hit { hit - 1 } else { hit };
        let clean = execute(subject, &workload, &Plan::none(), &Run::default());
        let Some(span) = clean.spans.get(target).filter(|s| s.start + offset < s.end) else { continue };
        let plan = Plan { faults: [(span.start + offset, fault)].into_iter().collect(), ..Plan::none() };
        let mut result = [WorkloadResult::default()];
        check_fault_run(subject, &[model], &workload, &plan, false, opts, cache, &mut result);
        let [result] = result;
        if result.first.is_some() {
            return result.first;
        }
    }
    None
}

/// Explores one workload under each of `models`: every interleaving within the preemption
/// bound, each run once and checked under every model. One result per model, in order.
pub(crate) fn explore_workload<S: Subject>(
    subject: &S,
    models: &[Model],
    workload: &Workload<S::Op>,
    errno_runs: bool,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Vec<WorkloadResult<S>> {
    explore_workload_keyed(subject, models, workload, errno_runs, false, opts, cache).0
}

/// Whether `planned` is an exhaustive workload (a lone client's sequence, all of whose prefixes
/// are explored too), whose state after its last call state caching records.
fn prunable<O: Clone>(opts: &ExploreOptions, planned: &Planned<O>) -> bool {
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
fn batches<O: Clone>(all: &[Planned<O>], batch: usize) -> Vec<std::ops::Range<usize>> {
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
fn last_op_faults<O: Clone>(opts: &ExploreOptions, planned: &Planned<O>) -> bool {
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

/// [`explore_workload`]; with `keyed` (a lone client's workload of two or more operations), also
/// its state caching [`Keys`], when the subject tells them ([`state_keys`]).
fn explore_workload_keyed<S: Subject>(
    subject: &S,
    models: &[Model],
    workload: &Workload<S::Op>,
    errno_runs: bool,
    keyed: bool,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> (Vec<WorkloadResult<S>>, Option<Keys>) {
    let mut key = None;
    let mut results: Vec<WorkloadResult<S>> = models.iter().map(|_| WorkloadResult::default()).collect();
    let clean = Plan::none();
    let mut dfs = Dfs::new(opts.preemptions_max);
    let concurrent = workload.is_concurrent() && opts.state_caching;
    let mut seen = SeenStates::default();
    while let Some(branch) = dfs.next_branch() {
        let case = Case {
            workload: workload.clone(),
            faults: clean.clone(),
            schedule: branch.schedule.clone(),
            madsim: None,
            check: Check::Restart,
        };
        let run =
            execute(subject, workload, &clean, &Run { fingerprint: keyed || concurrent, ..case.run(opts.preempt) });
        if keyed {
            key = state_keys(subject, &run);
        }
        // Interleaving state caching: the rest of a run past a state an earlier interleaving of
        // this workload reached is that interleaving's to explore.
        let cut = if concurrent { seen.cut(subject, &run, branch.from_step, opts.preemptions_max) } else { None };
        assert!(
            run.interleaving.deadlocked.is_empty(),
            "clients {:?} of {} deadlocked on workload {workload} with schedule {}: a store must never wait forever",
            run.interleaving.deadlocked,
            subject.name(),
            case.schedule
        );
        for result in results.iter_mut() {
            result.interleavings += 1;
            result.interleavings_cut += u64::from(cut.is_some());
        }
        let points = branch.from_step..=cut.unwrap_or(run.fs.steps());
        check_run(&run, &case, points, cut.is_none(), subject, models, opts, cache, &mut results);
        if errno_runs && branch.schedule.0.is_empty() {
            if !workload.is_concurrent() {
                let points = run.open_end..=run.fs.steps();
                check_crash_points(&run, &case, points, true, subject, models, opts, cache, &mut results);
            }
            let mut corruptions = WorkloadResult::default();
            check_corruptions(&run, &case, true, subject, opts, cache, &mut corruptions);
            absorb_each(&mut results, &corruptions);
            let trace = run.fs.trace();
            for plan in Plan::each_errno(&trace, &ERRNOS).iter().chain(&Plan::each_short_write(&trace, 1)) {
                check_fault_run(subject, models, workload, plan, true, opts, cache, &mut results);
            }
        }
        dfs.explored(&branch, &run.interleaving, cut);
    }
    (results, key)
}

/// Interleaving state caching within one workload (TLC's and SPIN's visited set, over the
/// schedules [`Dfs`] makes): each state a run reached between calls (no call in flight), with
/// the most preemptions it had left there. A later run that reaches a state already reached
/// with at least as many preemptions left stops being checked there: the earlier run's branches
/// explore every continuation of that state within the bound.
///
/// A state is the disk under every model, every process's store memory and the clock
/// ([`Span::state`](crate::execute::Span::state)), the spec's expectation of the history so far,
/// how many calls each client made, and the client that just answered (whose switching away is
/// a preemption). Its runs are made in one thread in [`Dfs`] order, so what is cut is
/// deterministic.
#[derive(Default)]
struct SeenStates {
    preemptions_left: HashMap<u128, usize>,
}

impl SeenStates {
    /// The step at which `run`, branched at `from_step` from an earlier run, reached a state an
    /// earlier run reached with at least as many preemptions left; `None` if it reached none.
    /// Every state it reached before that is remembered.
    fn cut<S: Subject>(&mut self, subject: &S, run: &Execution<S>, from_step: usize, bound: usize) -> Option<usize> {
        use std::hash::{Hash, Hasher};
        let mut answers: Vec<&crate::execute::Span<S>> =
            run.spans.iter().filter(|s| s.client.is_some() && s.state.is_some() && s.end >= from_step).collect();
        answers.sort_by_key(|s| s.returned);
        let clients = run.spans.iter().filter_map(|s| s.client).max().map_or(0, |c| c + 1);
        for span in answers {
            let expected = subject.expected_fingerprint(&subject.expect(&run.history_at_answer(span.returned)))?;
            let made: Vec<usize> = (0..clients)
                .map(|c| run.spans.iter().filter(|s| s.client == Some(c) && s.returned <= span.returned).count())
                .collect();
            let mut hasher = std::hash::DefaultHasher::new();
            (span.state, expected, span.client, made).hash(&mut hasher);
            let key = span.state.expect("filtered") ^ u128::from(hasher.finish()).rotate_left(64);
            // A choice at the answer's own step may come before or after it: counted as used
            // when the state is remembered, as unused when it is looked up.
            let preempted = |through_answer: bool| {
                run.interleaving
                    .choices
                    .iter()
                    .filter(|c| c.step < span.end || (through_answer && c.step == span.end))
                    .filter(|c| c.preempts(c.chosen))
                    .count()
            };
            if self.preemptions_left.get(&key).is_some_and(|&left| left >= bound.saturating_sub(preempted(false))) {
                return Some(span.end);
            }
            let left = self.preemptions_left.entry(key).or_insert(0);
            *left = (*left).max(bound.saturating_sub(preempted(true)));
        }
        None
    }
}

/// What state caching knows of a lone client's run ([`state_keys`]).
struct Keys {
    /// The state before the last call, with that call: the disk under every model and the
    /// store's memory after the call before it ([`Span::state`]), the spec's expectation there,
    /// and the last call. `None` for a one-call run.
    before_last: Option<u128>,
    /// The state after the last call (before the clean shutdown), with the spec's expectation
    /// there: what every extension of the workload starts from.
    after_last: u128,
    /// The disk after the run's clean shutdown, with the spec's expectation of a restart there:
    /// all that a damage on restart is judged by.
    after: u128,
}

/// The [`Keys`] of `run`; `None` when the subject does not tell its memory and expectation.
fn state_keys<S: Subject>(subject: &S, run: &Execution<S>) -> Option<Keys> {
    use std::hash::{Hash, Hasher};
    let calls: Vec<&crate::execute::Span<S>> = run.spans.iter().filter(|s| s.client.is_some()).collect();
    let after_call = |span: &crate::execute::Span<S>| -> Option<u128> {
        let expected = subject.expected_fingerprint(&subject.expect(&run.history_at(span.end)))?;
        Some(span.state? ^ expected.rotate_left(32))
    };
    let last = calls.last()?;
    let before_last = match calls[..] {
        [.., before, _] => {
            let mut hasher = std::hash::DefaultHasher::new();
            last.op.hash(&mut hasher);
            Some(after_call(before)? ^ u128::from(hasher.finish()).rotate_left(80))
        }
        _ => None,
    };
    let restart = subject.expected_fingerprint(&subject.expect(&run.history_then_restart()))?;
    Some(Keys {
        before_last,
        after_last: after_call(last)?,
        after: run.fs.volatile_image().fingerprint() ^ restart.rotate_left(64),
    })
}

/// The fault runs of a lone client's workload's last operation (with `faults`): every errno at
/// each of its mutating syscalls and a one-byte short write at each of its writes, each checked
/// at the crash points to the end of that operation and after a restart ([`check_fault_run`]),
/// and work after recovery from every crash image of the operations before it;
/// and (with `damage`) every damage on restart after the run ([`check_corruptions`]; work after
/// that restart reruns the whole workload, so it stays with the workloads of `errno_max_ops`).
fn check_last_op_faults<S: Subject>(
    subject: &S,
    models: &[Model],
    workload: &Workload<S::Op>,
    faults: bool,
    damage: bool,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Vec<WorkloadResult<S>> {
    let mut results: Vec<WorkloadResult<S>> = models.iter().map(|_| WorkloadResult::default()).collect();
    let run = execute(subject, workload, &Plan::none(), &Run { preempt: opts.preempt, ..Run::default() });
    let Some(last) = run.spans.iter().filter(|s| s.client.is_some()).last() else { return results };
    let in_last = |plan: &&Plan| plan.faults.keys().all(|&step| last.start <= step && step < last.end);
    let case = Case {
        workload: workload.clone(),
        faults: Plan::none(),
        schedule: Schedule::default(),
        madsim: None,
        check: Check::Restart,
    };
    if damage {
        let mut corruptions = WorkloadResult::default();
        check_corruptions(&run, &case, false, subject, opts, cache, &mut corruptions);
        absorb_each(&mut results, &corruptions);
    }
    if !faults {
        return results;
    }
    // Work after recovery: a crash in any operation before the last, then the calls left on
    // the recovered store.
    let calls: Vec<&crate::execute::Span<S>> = run.spans.iter().filter(|s| s.client.is_some()).collect();
    if let [.., before, _] = calls[..] {
        let points = run.open_end..=before.end;
        check_crash_points(&run, &case, points, true, subject, models, opts, cache, &mut results);
    }
    let trace = run.fs.trace();
    let plans = Plan::each_errno(&trace, &ERRNOS).into_iter().chain(Plan::each_short_write(&trace, 1));
    for plan in plans.collect::<Vec<Plan>>().iter().filter(in_last) {
        check_fault_run(subject, models, workload, plan, true, opts, cache, &mut results);
    }
    results
}

/// Explores a scale workload under each of `models`: one run, crash-checked from the end of
/// its setup to the start of the final clean shutdown. The setup's crash points are those of
/// shorter workloads, many times over; so are the shutdown's, and a crash inside a shutdown
/// that ends thousands of sessions would have the spec enumerate every subset of them.
fn explore_after_setup<S: Subject>(
    subject: &S,
    models: &[Model],
    workload: &Workload<S::Op>,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Vec<WorkloadResult<S>> {
    assert!(!workload.is_concurrent(), "a scale workload has one client");
    let mut results: Vec<WorkloadResult<S>> = models.iter().map(|_| WorkloadResult::default()).collect();
    let case = Case {
        workload: workload.clone(),
        faults: Plan::none(),
        schedule: Schedule::default(),
        madsim: None,
        check: Check::Restart,
    };
    let run = execute(subject, workload, &Plan::none(), &case.run(opts.preempt));
    let setup_end = run.spans.iter().filter(|s| s.client.is_none()).take(workload.setup.len()).map(|s| s.end).max();
    for result in results.iter_mut() {
        result.interleavings += 1;
    }
    let from = setup_end.unwrap_or(run.open_end);
    let shutdown = run.spans.last().filter(|s| s.client.is_none() && s.start >= from).map(|s| s.start);
    check_run(&run, &case, from..=shutdown.unwrap_or(run.fs.steps()), true, subject, models, opts, cache, &mut results);
    results
}

/// The checks of one run of `case` at the crash points `points` (earlier ones were checked with
/// the run it branched from; a scale workload stops before its final shutdown), under each of
/// `models` into the matching result: the clean points from the first of them on and, with
/// `to_the_end`, a restart after the clean shutdown (the same under every model, judged once),
/// and every image of every crash point. A run cut short at a state already explored
/// ([`SeenStates`]) checks neither the clean points past `points` nor the restart.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_run<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    points: std::ops::RangeInclusive<usize>,
    to_the_end: bool,
    subject: &S,
    models: &[Model],
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
    results: &mut [WorkloadResult<S>],
) {
    let mut shared = WorkloadResult::default();
    let clean_end = if to_the_end { usize::MAX } else { *points.end() };
    check_clean_points(run, case, *points.start()..=clean_end, subject, &mut shared);
    if to_the_end {
        check_restart(run, case, subject, cache, &mut shared);
    }
    absorb_each(results, &shared);
    check_crash_points(run, case, points, false, subject, models, opts, cache, results);
}

/// Every image of every crash point in `points` under each of `models`, booted and checked.
/// Crash points between two call boundaries share a history (its spec replay is made once for
/// all models), and a crash inside one syscall usually leaves the images the previous one left:
/// each (history, image) pair is judged once, though every state is counted. Segments of equal
/// history are spread over threads; their findings are merged in crash point order.
///
/// With `work_after`, each image whose recovery passes is also continued
/// ([`continuation::continue_after`]): the calls not yet invoked run on it, and the restart after
/// them is judged. Segments with no call left are skipped.
#[allow(clippy::too_many_arguments)]
fn check_crash_points<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    points: std::ops::RangeInclusive<usize>,
    work_after: bool,
    subject: &S,
    models: &[Model],
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
    results: &mut [WorkloadResult<S>],
) {
    assert_eq!(models.len(), results.len(), "one result per model");
    if points.is_empty() {
        return;
    }
    let first = *points.start();
    let trackers: Vec<Vec<Tracker>> = models.iter().map(|&model| run.fs.trackers(model, points.clone())).collect();
    // Each segment with the calls left to run after a crash in it (work after recovery only).
    let segments: Vec<(std::ops::RangeInclusive<usize>, Vec<S::Op>)> = history_segments(run, points)
        .into_iter()
        .map(|segment| {
            let left = if work_after { continuation::remaining(run, *segment.start()) } else { Vec::new() };
            (segment, left)
        })
        .filter(|(_, left)| !work_after || !left.is_empty())
        .collect();
    let partials: Vec<Vec<WorkloadResult<S>>> = segments
        .par_iter()
        .map(|(segment, left)| {
            let before = run.history_at(*segment.start());
            let expected = subject.expect(&before);
            let judge = |image: &dyn Fn() -> Image, fingerprint: u128| {
                let recovered = cache.observe(subject, fingerprint, image);
                match (work_after, subject.check(&expected, &recovered).err()) {
                    (false, verdict) => verdict,
                    // A bad recovery is the crash check's finding, not the continuation's.
                    (true, Some(_)) => None,
                    (true, None) => {
                        let ops = left.clone();
                        continuation::continue_after(subject, &before, &image(), &recovered, ops, opts.preempt, cache)
                            .verdict
                            .err()
                    }
                }
            };
            let mut judged: HashMap<u128, Option<Violation>> = HashMap::new();
            let per_model = trackers.iter().map(|trackers| {
                let mut partial = WorkloadResult::default();
                let mut last: Option<(u64, ImageSet)> = None;
                for k in segment.clone() {
                    partial.crash_points += 1;
                    // A syscall that logged no event (a read, a stat) leaves the images it found.
                    let tracker = &trackers[k - first];
                    let seen = tracker.events_seen();
                    if last.as_ref().is_none_or(|(at, _)| *at != seen) {
                        last = Some((seen, tracker.images(&opts.images)));
                    }
                    let set = &last.as_ref().expect("just set").1;
                    for (i, &fingerprint) in set.fingerprints.iter().enumerate() {
                        partial.crash_states += 1;
                        partial.fingerprints.insert(fingerprint);
                        let verdict = judged.entry(fingerprint).or_insert_with(|| judge(&|| set.image(i), fingerprint));
                        if let Some(violation) = verdict {
                            let check = if work_after {
                                Check::Continue { after: k, image: i }
                            } else {
                                Check::Crash { after: k, image: i }
                            };
                            let case = Case { check, ..case.clone() };
                            let survivors = set.survivors[i].len();
                            partial.found(Finding { case, violation: violation.clone(), survivors });
                        }
                    }
                }
                partial
            });
            per_model.collect()
        })
        .collect();
    for per_model in partials {
        for (result, partial) in results.iter_mut().zip(per_model) {
            result.absorb(partial);
        }
    }
}

/// `points` cut where the history of a crash changes: after a call's first syscall (it is in
/// flight from there) and after its last (it has returned).
fn history_segments<S: Subject>(
    run: &Execution<S>,
    points: std::ops::RangeInclusive<usize>,
) -> Vec<std::ops::RangeInclusive<usize>> {
    let (first, last) = (*points.start(), *points.end());
    let mut cuts: Vec<usize> =
        run.spans.iter().flat_map(|s| [s.start + 1, s.end]).filter(|&k| first < k && k <= last).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut segments = Vec::with_capacity(cuts.len() + 1);
    let mut start = first;
    for cut in cuts {
        segments.push(start..=cut - 1);
        start = cut;
    }
    segments.push(start..=last);
    segments
}

/// The running store's files after each call that answered with no other call in flight (and
/// ended at or after syscall `from_step`), checked without recovery.
fn check_clean_points<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    steps: std::ops::RangeInclusive<usize>,
    subject: &S,
    result: &mut WorkloadResult<S>,
) {
    for (op, span) in run.spans.iter().enumerate() {
        if span.returned == crashsim_model::NEVER || !steps.contains(&span.end) || !run.quiescent_after(op) {
            continue;
        }
        let Some(observed) = subject.inspect(&span.after) else { return };
        result.crash_states += 1;
        if let Err(violation) = subject.check(&subject.expect(&run.history_at(span.end)), &observed) {
            let case = Case { check: Check::Clean { op }, ..case.clone() };
            result.found(Finding { case, violation, survivors: 0 });
        }
    }
}

/// A restart after the clean shutdown that ends every run.
fn check_restart<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    subject: &S,
    cache: &RecoveryCache<S>,
    result: &mut WorkloadResult<S>,
) {
    let image = run.fs.volatile_image();
    let observed = cache.observe(subject, image.fingerprint(), || image.clone());
    result.crash_states += 1;
    if let Err(violation) = subject.check(&subject.expect(&run.history_then_restart()), &observed) {
        let case = Case { check: Check::Restart, ..case.clone() };
        result.found(Finding { case, violation, survivors: 0 });
    }
}

/// The store restarted on the run's final disk with one file damaged, for every damage
/// ([`Corruption::each`]) of every file the subject reads at open ([`Subject::corruptible`]):
/// it may refuse to start, or start without losing anything acknowledged. The disk is the same
/// under every model, so this is judged once.
///
/// With `work_after`, where the store started (and lost nothing), a lone client's workload also
/// does work after that restart ([`continuation::continue_after`]): its calls run again on the
/// store booted on the damaged disk, which then shuts down and restarts. A damage recovery left
/// in place and the next write makes live (a torn tail appended after, say) shows there.
fn check_corruptions<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    work_after: bool,
    subject: &S,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
    result: &mut WorkloadResult<S>,
) {
    let files = subject.corruptible();
    if files.is_empty() {
        return;
    }
    let image = run.fs.volatile_image();
    let before = run.history_then_restart();
    let expected = subject.expect(&before);
    let work = if work_after && !case.workload.is_concurrent() { continuation::remaining(run, 0) } else { Vec::new() };
    for path in files {
        let Some(bytes) = image.file(&path) else { continue };
        for corruption in Corruption::each(&path, bytes.len()) {
            let damaged = image.with_file(&path, corruption.apply(bytes)).expect("the file is there");
            let fingerprint = damaged.fingerprint();
            let observed = cache.observe(subject, fingerprint, || damaged.clone());
            result.crash_states += 1;
            result.fingerprints.insert(fingerprint);
            if let Err(violation) = subject.check_corrupted(&expected, &observed) {
                let case = Case { faults: Plan::corrupting(corruption), check: Check::Restart, ..case.clone() };
                result.found(Finding { case, violation, survivors: 0 });
                continue;
            }
            if work.is_empty() || !subject.started(&observed) {
                continue;
            }
            let continued =
                continuation::continue_after(subject, &before, &damaged, &observed, work.clone(), opts.preempt, cache);
            result.crash_states += 1;
            if let Err(violation) = continued.verdict {
                let case =
                    Case { faults: Plan::corrupting(corruption), check: Check::WorkAfterRestart, ..case.clone() };
                result.found(Finding { case, violation, survivors: 0 });
            }
        }
    }
}

/// One fault at one syscall of a lone client's run. An errno: the operation it hits must fail.
/// A short write: the store must carry on (write the rest). Either way the store must pass the
/// checks after it: at every crash point from the fault to the end of that operation, and after
/// a clean restart. The running store's own files are not checked after a failure: like a
/// filesystem after EIO, a store that saw an I/O error is consistent again once it recovers.
///
/// With `prefixes_explored` (every prefix of the workload has its own fault runs), the crash
/// points of a fault in an operation before the last are not checked again: the run is the
/// prefix's up to the end of that operation, and so are those crash states. The restart after
/// the operations that follow the fault is what this run adds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_fault_run<S: Subject>(
    subject: &S,
    models: &[Model],
    workload: &Workload<S::Op>,
    plan: &Plan,
    prefixes_explored: bool,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
    results: &mut [WorkloadResult<S>],
) {
    assert_eq!(models.len(), results.len(), "one result per model");
    let run = execute(subject, workload, plan, &Run { preempt: opts.preempt, ..Run::default() });
    let case = Case {
        workload: workload.clone(),
        faults: plan.clone(),
        schedule: Schedule::default(),
        madsim: None,
        check: Check::Restart,
    };
    let (&step, fault) = plan.faults.iter().next().expect("a fault plan has one fault");
    let hit = run.spans.iter().position(|s| s.start <= step && step < s.end);
    if let Some(span) = hit {
        let hit = &run.spans[span];
        // A failed close keeps nothing from happening: its data is in the page cache by then,
        // and only an fsync decides what is durable (std ignores close errors, as most programs
        // do).
        let closing =
            run.fs.trace().steps.get(step).is_some_and(|s| matches!(s.call, crashsim_sim::Call::Close { .. }));
        if let (Outcome::Replied(reply), Fault::Fail(errno), false) = (&hit.outcome, fault, closing) {
            if !subject.is_refusal(reply) {
                let violation = Violation {
                    invariant: FAILURE_REPORTED,
                    summary: format!(
                        "{} was acknowledged ({reply}) although syscall {step} failed with {errno:?}",
                        hit.op
                    ),
                    expected: "  the call returns an error\n".to_string(),
                    found: format!("  the call returned {reply}\n"),
                };
                let case = Case { check: Check::Clean { op: span }, ..case };
                for result in results.iter_mut() {
                    result.found(Finding { case: case.clone(), violation: violation.clone(), survivors: 0 });
                }
                return;
            }
        }
    }
    if let Some(span) = hit.filter(|&span| !prefixes_explored || span + 1 >= workload.len()) {
        check_crash_points(&run, &case, step..=run.spans[span].end, false, subject, models, opts, cache, results);
    }
    let mut restart = WorkloadResult::default();
    check_restart(&run, &case, subject, cache, &mut restart);
    absorb_each(results, &restart);
}
