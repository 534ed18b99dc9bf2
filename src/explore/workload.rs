//! Exploring one workload under each of a scope's models: every interleaving of its clients
//! within the preemption bound, each run once and checked (its crash points, clean points,
//! restart, and for short ones every fault run); the faults of a deep workload's last operation;
//! and a scale workload after its setup. The explorer's loop (`explore_models`) decides which
//! workloads run and merges what these return.

use crashsim_faults::Plan;

use super::fault_runs::{check_fault_runs, every_fault};
use super::judge::{check_corruptions, check_crash_points, check_run};
use super::result::{absorb_each, WorkloadResult};
use super::scope::Scope;
use super::seen::{state_keys, Keys, SeenStates};
use super::seen_points::SeenPoints;
use crate::case::Case;
use crate::execute::{execute, Run};
use crate::schedule::dfs::Dfs;
use crate::subject::{History, Subject};
use crate::workload::Workload;

/// Explores one workload under each of the scope's models: every interleaving within the
/// preemption bound, each run once and checked under every model. One result per model, in
/// order.
pub(crate) fn explore_workload<S: Subject>(
    scope: &Scope<S>,
    workload: &Workload<S::Op>,
    errno_runs: bool,
) -> Vec<WorkloadResult<S>> {
    explore_workload_keyed(scope, workload, errno_runs, false).0
}

/// [`explore_workload`]; with `keyed` (an exhaustive workload of a lone client, whose prefix was
/// explored before it), also its state caching [`Keys`] when the subject tells them
/// ([`state_keys`]), and only the crash points and clean points past that prefix.
pub(super) fn explore_workload_keyed<S: Subject>(
    scope: &Scope<S>,
    workload: &Workload<S::Op>,
    errno_runs: bool,
    keyed: bool,
) -> (Vec<WorkloadResult<S>>, Option<Keys>) {
    // Interleavings reach the same crash states again and again: each is judged once.
    let seen_points = (workload.is_concurrent() && scope.opts.state_caching).then(SeenPoints::default);
    explore_interleavings(scope, workload, errno_runs, keyed, seen_points.as_ref())
}

/// [`explore_workload_keyed`], its crash points judged once each with `seen_points`.
fn explore_interleavings<S: Subject>(
    scope: &Scope<S>,
    workload: &Workload<S::Op>,
    errno_runs: bool,
    keyed: bool,
    seen_points: Option<&SeenPoints>,
) -> (Vec<WorkloadResult<S>>, Option<Keys>) {
    let (subject, opts) = (scope.subject, scope.opts);
    let mut key = None;
    let mut results = scope.results();
    let clean = Plan::none();
    let mut dfs = Dfs::new(opts.preemptions_max);
    let concurrent = workload.is_concurrent() && opts.state_caching;
    let mut seen = SeenStates::default();
    // Interleavings repeat histories: the spec replays each once.
    let expected = |history: &History<S>| {
        let fingerprint = || subject.expected_fingerprint(&subject.expect(history));
        seen_points.map_or_else(fingerprint, |points| points.expected::<S>(history, fingerprint))
    };
    while let Some(branch) = dfs.next_branch() {
        let case = Case { schedule: branch.schedule.clone(), ..Case::restart(workload.clone(), clean.clone()) };
        let run =
            execute(subject, workload, &clean, &Run { fingerprint: keyed || concurrent, ..case.run(opts.preempt) });
        if keyed {
            key = state_keys(subject, &run);
        }
        // Interleaving state caching: the rest of a run past a state an earlier interleaving of
        // this workload reached is that interleaving's to explore.
        let cut = if concurrent { seen.cut(&expected, &run, branch.from_step, opts.preemptions_max) } else { None };
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
        // An exhaustive workload's prefix is a workload explored before it (the plan extends
        // only what it ran), and the run is that prefix's up to its last call: those crash
        // points and clean points were judged there.
        let last_call = run.spans.iter().filter(|s| s.client.is_some()).last();
        let prefix_end = last_call.filter(|_| keyed && workload.len() >= 2).map_or(0, |last| last.start + 1);
        let points = branch.from_step.max(prefix_end)..=cut.unwrap_or(run.fs.steps());
        check_run(&run, &case, points, cut.is_none(), seen_points, scope, &mut results);
        if errno_runs && branch.schedule.0.is_empty() {
            if !workload.is_concurrent() {
                let points = run.open_end..=run.fs.steps();
                check_crash_points(&run, &case, points, true, None, scope, &mut results);
            }
            let mut corruptions = WorkloadResult::default();
            check_corruptions(&run, &case, true, scope, &mut corruptions);
            absorb_each(&mut results, &corruptions);
            let last_call = last_call.map(|last| last.start).filter(|_| !workload.is_concurrent());
            check_fault_runs(scope, workload, &every_fault(&run.fs.trace()), last_call, &mut results);
        }
        dfs.explored(&branch, &run.interleaving, cut);
    }
    (results, key)
}

/// The fault runs of a lone client's workload's last operation (with `faults`): every errno at
/// each of its mutating syscalls and a one-byte short write at each of its writes, each checked
/// at the crash points to the end of that operation and after a restart ([`check_fault_run`]),
/// and work after recovery from every crash image of the operations before it;
/// and (with `damage`) every damage on restart after the run ([`check_corruptions`]; work after
/// that restart reruns the whole workload, so it stays with the workloads of `errno_max_ops`).
pub(super) fn check_last_op_faults<S: Subject>(
    scope: &Scope<S>,
    workload: &Workload<S::Op>,
    faults: bool,
    damage: bool,
) -> Vec<WorkloadResult<S>> {
    let mut results = scope.results();
    let run = execute(scope.subject, workload, &Plan::none(), &Run { preempt: scope.opts.preempt, ..Run::default() });
    let Some(last) = run.spans.iter().filter(|s| s.client.is_some()).last() else { return results };
    let in_last = |plan: &Plan| plan.faults.keys().all(|&step| last.start <= step && step < last.end);
    let case = Case::restart(workload.clone(), Plan::none());
    if damage {
        let mut corruptions = WorkloadResult::default();
        check_corruptions(&run, &case, false, scope, &mut corruptions);
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
        check_crash_points(&run, &case, points, true, None, scope, &mut results);
    }
    let plans: Vec<Plan> = every_fault(&run.fs.trace()).into_iter().filter(in_last).collect();
    check_fault_runs(scope, workload, &plans, Some(last.start), &mut results);
    results
}

/// Explores a scale workload under each of the scope's models: one run, crash-checked from the
/// end of its setup to the end of the final clean shutdown (the setup's crash points are those
/// of shorter workloads, many times over). A crash inside the prune or the shutdown, which touch
/// every session, is judged against the spec's symbolic "any subset" of their effects.
pub(super) fn explore_after_setup<S: Subject>(scope: &Scope<S>, workload: &Workload<S::Op>) -> Vec<WorkloadResult<S>> {
    assert!(!workload.is_concurrent(), "a scale workload has one client");
    let mut results = scope.results();
    let case = Case::restart(workload.clone(), Plan::none());
    // The last setup call's disk is the first clean point judged.
    let judged_from = workload.setup.len().saturating_sub(1);
    let run = execute(scope.subject, workload, &Plan::none(), &Run { judged_from, ..case.run(scope.opts.preempt) });
    let setup_end = run.spans.iter().filter(|s| s.client.is_none()).take(workload.setup.len()).map(|s| s.end).max();
    for result in results.iter_mut() {
        result.interleavings += 1;
    }
    let from = setup_end.unwrap_or(run.open_end);
    check_run(&run, &case, from..=run.fs.steps(), true, None, scope, &mut results);
    results
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    use crashsim_sim::Model;
    use crashsim_store::Variant;

    use super::super::seen_points::SeenPoints;
    use super::super::{ExploreOptions, Scope, WorkloadResult};
    use super::explore_interleavings;
    use crate::cache::RecoveryCache;
    use crate::session::Session;

    /// Everything a workload's result reports, as compared with and without reuse.
    fn figures(r: &WorkloadResult<Session>) -> impl PartialEq + std::fmt::Debug + '_ {
        let mut fingerprints: Vec<&u128> = r.fingerprints.iter().collect();
        fingerprints.sort();
        let first = r.first.as_ref().map(|f| (&f.case, &f.violation, f.survivors));
        (
            r.interleavings,
            r.interleavings_cut,
            r.crash_points,
            r.crash_states,
            fingerprints,
            r.violations,
            first,
            r.states_to_detection,
        )
    }

    /// Crash and clean points that take an earlier interleaving's verdicts leave every figure
    /// and finding as judging them does: the reference (clean) and three races (caught, one of
    /// them at clean points), a third of the concurrent workloads in one process and in two,
    /// under every model.
    #[test]
    fn reused_crash_points_change_no_figure() {
        let opts = ExploreOptions { client_ops_max: 1, processes_max: 2, ..ExploreOptions::default() };
        for variant in [
            Variant::Reference,
            Variant::UpdateWithoutLock,
            Variant::ProcessLocalLock,
            Variant::CreateRegistersAfterAck,
        ] {
            let subject = Session(variant);
            let cache = RecoveryCache::default();
            let (mut reused, mut violations) = (0, 0);
            for planned in opts.planned_others(&subject).iter().filter(|p| p.workload.is_concurrent()).step_by(3) {
                let w = &planned.workload;
                let scope = Scope::new(&subject, &Model::ALL, &opts, &cache);
                let judged = explore_interleavings(&scope, w, false, false, None).0;
                let seen = SeenPoints::default();
                let taken = explore_interleavings(&scope, w, false, false, Some(&seen)).0;
                for (j, t) in judged.iter().zip(&taken) {
                    assert_eq!(figures(j), figures(t), "{variant} on {w}");
                    assert_eq!(j.crash_points_reused, 0);
                    reused += t.crash_points_reused;
                    violations += t.violations;
                }
            }
            assert!(reused > 0, "{variant}: no crash point was reused");
            assert_eq!(violations > 0, variant != Variant::Reference, "{variant}");
        }
    }
}
