//! Shrinking a finding: fewer operations, a smaller setup, a fault at an earlier syscall, as long
//! as the same invariant still breaks.

use crashsim_faults::Plan;
use crashsim_sim::Model;

use super::judge::{check_corruptions, check_fault_run};
use super::result::WorkloadResult;
use super::scope::Scope;
use super::workload::{explore_after_setup, explore_workload};
use crate::bounds::ExploreOptions;
use crate::cache::RecoveryCache;
use crate::case::{Case, Finding};
use crate::execute::{execute, Run};
use crate::subject::Subject;

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
    let scope = Scope::one(subject, &model, opts, cache);
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
                check_corruptions(&run, &case, true, &scope, &mut result);
                result.first
            })
        } else if best.case.faults.is_clean() {
            (0..best.case.workload.len()).rev().find_map(|drop| {
                let workload = smaller(drop)?;
                let mut explored = if workload.setup.is_empty() {
                    explore_workload(&scope, &workload, false)
                } else {
                    // A scale workload: checked after its setup, as it was explored.
                    explore_after_setup(&scope, &workload)
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
pub(super) fn shrink_setup<S: Subject>(
    subject: &S,
    model: Model,
    finding: Finding<S>,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Finding<S> {
    let scope = Scope::one(subject, &model, opts, cache);
    let mut best = finding;
    let (mut holds, mut breaks) = (0, best.case.workload.setup.len());
    while holds + 1 < breaks {
        let mid = (holds + breaks) / 2;
        let mut workload = best.case.workload.clone();
        workload.setup.truncate(mid);
        match explore_after_setup(&scope, &workload).pop().and_then(|r| r.first) {
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
pub(super) fn shrink_fault<S: Subject>(
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
        check_fault_run(&Scope::one(subject, &model, opts, cache), &workload, &plan, false, &mut result);
        let [result] = result;
        if result.first.is_some() {
            return result.first;
        }
    }
    None
}
