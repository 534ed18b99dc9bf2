//! The explorer: crash at every syscall boundary, boot a store on every crash image, check it.
//!
//! For each workload (exhaustive ones shortest first, then random ones, then concurrent ones:
//! two clients in one process, then in two):
//! 1. run it on a recording SimFs (plus a clean shutdown at the end), once per interleaving of
//!    its clients with at most `preemptions_max` preemptions ([`dfs`](crate::schedule::dfs)): N syscalls each;
//! 2. for every crash point k in 0..=N and every image the persistence model allows there,
//!    boot a fresh store on the image and check what recovery left against the spec, replayed
//!    over the history at k (operations that returned, the one in flight);
//! 3. check the clean points: the running store's files after each call that answered while no
//!    other call ran (no recovery), and a restart after the clean shutdown;
//! 4. for short workloads, rerun with each errno at each mutating syscall: the failing operation
//!    must return an error, and the store must pass the checks after it and after a crash (a
//!    rerun that did what an earlier one did takes its verdicts: `fault_runs`);
//! 5. for the same short workloads (one client), work after recovery: on every crash image whose
//!    recovery passed, run the operations not yet invoked, shut down, restart, and judge from
//!    the state recovery showed ([`continuation`](crate::continuation)).
//!
//! Exhaustive workloads are planned one length at a time (`plan::Levels`): only the workloads
//! whose state after their last call was new are extended, and a workload's crash points inside
//! its prefix (the prefix's own, checked when it ran) are not checked again.
//!
//! An interleaving shares its first syscalls with the one it branched from; crash points in that
//! common part are checked once, by the first. Recovery depends on the image alone, so
//! identical images (by 128-bit fingerprint) are booted once per variant ([`RecoveryCache`]).
//! Workloads are spread over all cores with rayon; results are merged in workload order, so
//! every figure and the first violation are the same on every run.
//!
//! Here the loop: which workloads run (`plan`), what state caching skips, when a model stops,
//! and the merge. One workload's runs and checks are `workload`'s; one run's crash points,
//! clean points and restart, `judge`'s.

mod fault_runs;
mod judge;
mod plan;
mod result;
mod scope;
mod seen;
mod seen_points;
mod seen_workloads;
mod shrink;
mod workload;

use std::time::Instant;

use crashsim_sim::Model;
use rayon::prelude::*;

use self::plan::{extendable, prunable, Levels};
use self::seen::Keys;
use self::seen_workloads::SeenWorkloads;
use self::workload::{check_last_op_faults, explore_after_setup, explore_workload_keyed};
use crate::cache::RecoveryCache;
use crate::case::Finding;
use crate::subject::Subject;
use crate::workload::Workload;

pub use self::judge::FAILURE_REPORTED;
pub(crate) use self::judge::{acknowledged_failure, check_fault_run, check_run};
pub use self::result::ModelResult;
pub(crate) use self::result::{Merger, WorkloadResult};
pub(crate) use self::scope::Scope;
pub use self::shrink::shrink_finding;
pub(crate) use self::workload::explore_workload;
pub use crate::bounds::{ExploreOptions, RUN_BATCH, STOP_BATCH};

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
    let total = opts.workload_count(subject);
    let mut levels = Levels::new(subject, opts);
    let stops = |model: &Model| opts.stop_under.contains(model);
    let batch = if models.iter().any(stops) { STOP_BATCH } else { RUN_BATCH };
    let mut mergers: Vec<Merger<S>> = models.iter().map(|&model| Merger::new(subject, model)).collect();
    let mut ended_ms: Vec<Option<u128>> = vec![None; models.len()];
    // Whether each workload run (in merge order) is shrunk when its finding is kept: a random
    // or scale workload's.
    let mut shrinkable: Vec<bool> = Vec::new();
    // Workloads run or skipped so far (for the progress of a model that stops early).
    let mut accounted: u64 = 0;
    let mut seen = SeenWorkloads::default();
    'levels: while let Some(level) = levels.next_level() {
        for chunk in level.chunks(batch) {
            let live: Vec<usize> = (0..models.len()).filter(|&m| ended_ms[m].is_none()).collect();
            if live.is_empty() {
                break 'levels;
            }
            let live_models: Vec<Model> = live.iter().map(|&m| models[m]).collect();
            let scope = Scope::new(subject, &live_models, opts, cache);
            let explored: Vec<(Vec<WorkloadResult<S>>, Option<Keys>)> = chunk
                .par_iter()
                .map(|planned| {
                    let w = &planned.workload;
                    let errno_runs = !w.is_concurrent() && w.len() <= opts.errno_max_ops && !planned.scale;
                    naming_workload(subject, w, || {
                        if planned.scale {
                            (explore_after_setup(&scope, w), None)
                        } else {
                            explore_workload_keyed(&scope, w, errno_runs, prunable(opts, planned))
                        }
                    })
                })
                .collect();
            // State caching, decided in workload order (`SeenWorkloads`).
            let deep: Vec<(bool, bool)> = chunk
                .iter()
                .zip(&explored)
                .map(|(planned, (_, keys))| seen.last_op_checks(opts, planned, keys.as_ref()))
                .collect();
            for (planned, (_, keys)) in chunk.iter().zip(&explored) {
                if !extendable(planned) {
                    continue;
                }
                if seen.extends(opts, planned, keys.as_ref()) {
                    levels.extend(&planned.workload.clients[0]);
                } else {
                    let not_run = levels.not_extended();
                    seen.skipped += not_run;
                    accounted += not_run;
                    (0..not_run * live.len() as u64).for_each(|_| progress());
                }
            }
            let results: Vec<(Vec<WorkloadResult<S>>, u128)> = chunk
                .par_iter()
                .zip(explored)
                .zip(deep)
                .map(|((planned, (mut results, _)), (faults, damage))| {
                    if faults || damage {
                        let w = &planned.workload;
                        let faults = naming_workload(subject, w, || check_last_op_faults(&scope, w, faults, damage));
                        for (result, part) in results.iter_mut().zip(faults) {
                            result.absorb(part);
                        }
                    }
                    live.iter().for_each(|_| progress());
                    (results, started.elapsed().as_millis())
                })
                .collect();
            let mut found = vec![false; live.len()];
            for (planned, (per_model, finished_ms)) in chunk.iter().zip(results) {
                let index = shrinkable.len();
                shrinkable.push(planned.random || planned.scale);
                for (j, result) in per_model.into_iter().enumerate() {
                    found[j] |= result.violations > 0;
                    mergers[live[j]].add(index, result, finished_ms);
                }
            }
            accounted += chunk.len() as u64;
            for (j, &m) in live.iter().enumerate() {
                if found[j] && stops(&models[m]) {
                    ended_ms[m] = Some(started.elapsed().as_millis());
                    (accounted..total).for_each(|_| progress());
                }
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
        let shrink = |f: &Finding<S>| !f.case.faults.is_clean() || first_index.is_some_and(|i| shrinkable[i]);
        if let Some(finding) = merged.first.take_if(|f| shrink(f)) {
            merged.first = Some(shrink_finding(subject, models[m], finding, opts, cache));
        }
        merged.elapsed_ms = ended_ms[m].unwrap_or(all_done) + shrinking.elapsed().as_millis();
        merged.seen_skipped = seen.skipped;
        results.push(merged);
    }
    results
}

/// Runs `explore` on `workload`. The store's own code may panic in a call (a recovery's panic is
/// a finding: [`crate::subject::Panicked`]); that panic is raised again naming the workload,
/// which the store's message alone does not: a store should return its errors, not panic on them.
fn naming_workload<S: Subject, T>(subject: &S, workload: &Workload<S::Op>, explore: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(explore)).unwrap_or_else(|panic| {
        let message = crate::panics::message(&*panic);
        panic!(
            "{} panicked exploring the workload `{workload}` (in a call, maybe under an injected fault): {message}",
            subject.name()
        )
    })
}
