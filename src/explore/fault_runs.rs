//! A workload's fault runs, each behaviour judged once. A fault at a syscall where an earlier run
//! of the same workload had another fault (another errno, a short write) often leaves the store
//! doing exactly what that run did: a store that passes every I/O error up alike. Such a run
//! has the same crash states and the same history as far as the spec can tell, so it takes the
//! earlier run's verdicts and counts instead of being judged again (TLC's rule: a state seen
//! once is not explored again). It is still run: only its run shows what it did.

use std::cell::OnceCell;

use crashsim_faults::{Plan, ERRNOS};
use crashsim_model::history::Outcome;
use crashsim_sim::{Trace, TraceStep};

use super::judge::{fault_crash_points, history_segments, judge_fault_run};
use super::result::WorkloadResult;
use super::scope::Scope;
use super::seen_points::SeenPoints;
use crate::execute::{execute, Execution, Prefix, Run};
use crate::subject::{History, Subject};
use crate::workload::Workload;

/// A call as [`Behaviour`] compares it: client, process, operation, reply, syscall range, order
/// of invocation and of answer.
type Call<S> = (Option<usize>, usize, <S as Subject>::Op, Outcome<<S as Subject>::Reply>, usize, usize, u64, u64);

/// Everything the checks of a fault run ([`judge_fault_run`]) depend on. Two runs with equal
/// behaviours ([`Behaviour::same`]) get equal verdicts at every check:
/// - every crash image from the fault on is made of the log events from there (the syscalls
///   before it are the same in every run of the workload: runs are deterministic);
/// - every check judges an image against what the spec expects of the history at that point:
///   equal histories, or expectations the subject fingerprints alike
///   ([`Subject::expected_fingerprint`]: equal for expectations that judge alike);
/// - which points are checked, and whether the faulted call was wrongly acknowledged, follow
///   from the calls' syscall ranges and replies.
struct Behaviour<S: Subject> {
    /// The syscall the fault hit.
    step: usize,
    /// The syscalls from the fault on, the faulted one's own outcome left out (the fault is what
    /// differs; what it did to the disk is in its events).
    syscalls: Vec<TraceStep>,
    /// Each call's client, process, operation, reply (a failure's message left out: the
    /// histories below stand for it), syscall range and order of invocation and answer.
    calls: Vec<Call<S>>,
    /// The history at the start of each stretch of crash points from the fault on whose
    /// history is one, then the history of the restart that ends the run; with the spec's
    /// fingerprint of what it expects there, made when first compared.
    histories: Vec<(History<S>, OnceCell<Option<u128>>)>,
}

impl<S: Subject> Behaviour<S> {
    /// The behaviour of `run`, the run under a plan of one fault at syscall `step`, whose
    /// checks are the crash points `points` and the restart.
    fn of(run: &Execution<S>, step: usize, points: std::ops::RangeInclusive<usize>) -> Self {
        let mut syscalls = run.fs.trace_from(step);
        if let Some(faulted) = syscalls.first_mut() {
            faulted.outcome = crashsim_sim::Outcome::Unit;
        }
        let calls = run
            .spans
            .iter()
            .map(|s| {
                let outcome = match &s.outcome {
                    Outcome::Failed(_) => Outcome::Failed(String::new()),
                    other => other.clone(),
                };
                (s.client, s.process, s.op.clone(), outcome, s.start, s.end, s.invoked, s.returned)
            })
            .collect();
        let mut histories: Vec<History<S>> =
            history_segments(run, points).iter().map(|segment| run.history_at(*segment.start())).collect();
        histories.push(run.history_then_restart());
        let histories = histories.into_iter().map(|history| (history, OnceCell::new())).collect();
        Self { step, syscalls, calls, histories }
    }

    /// Whether every check of this run and of `other`'s gives the same verdict. Histories that
    /// differ (a failure's message names its errno) are compared by the spec's fingerprints
    /// (`expected`: [`Subject::expected_fingerprint`] of a history); a subject without them never
    /// has two behaviours the same unless their histories are.
    fn same(&self, other: &Self, expected: &dyn Fn(&History<S>) -> Option<u128>) -> bool {
        let fingerprint =
            |(history, cell): &(History<S>, OnceCell<Option<u128>>)| *cell.get_or_init(|| expected(history));
        (self.step, &self.syscalls, &self.calls) == (other.step, &other.syscalls, &other.calls)
            && self.histories.len() == other.histories.len()
            && self.histories.iter().zip(&other.histories).all(|(mine, theirs)| {
                mine.0 == theirs.0 || fingerprint(mine).is_some_and(|f| Some(f) == fingerprint(theirs))
            })
    }
}

/// The fault runs of a run's `trace`: every errno ([`ERRNOS`]) at each of its mutating syscalls,
/// and a one-byte short write at each of its writes, one fault a plan, in step order.
pub(super) fn every_fault(trace: &Trace) -> Vec<Plan> {
    Plan::each_errno(trace, &ERRNOS).into_iter().chain(Plan::each_short_write(trace, 1)).collect()
}

/// Runs `workload` under each of `plans` (one fault each) and judges each run
/// ([`judge_fault_run`], every prefix's own fault runs explored), into the result of each of
/// the scope's models; with state caching, a run that behaved as an earlier one did takes that
/// run's verdicts (counted in
/// [`ModelResult::fault_runs_reused`](super::ModelResult::fault_runs_reused)).
/// `last_call` is where the workload's last call starts in its clean run: a plan whose faults
/// are all in that call runs on a copy of one run of the calls before it ([`Prefix`]).
pub(super) fn check_fault_runs<S: Subject>(
    scope: &Scope<S>,
    workload: &Workload<S::Op>,
    plans: &[Plan],
    last_call: Option<usize>,
    results: &mut [WorkloadResult<S>],
) {
    let (subject, opts) = (scope.subject, scope.opts);
    assert_eq!(scope.models.len(), results.len(), "one result per model");
    let mut judged: Vec<(Behaviour<S>, Vec<WorkloadResult<S>>)> = Vec::new();
    let seen = opts.state_caching.then(SeenPoints::default);
    let prefix: OnceCell<Option<Prefix<S>>> = OnceCell::new();
    // Fault runs repeat histories (most faults fail the same call): the spec replays each once.
    let expected = |history: &History<S>| {
        let fingerprint = || subject.expected_fingerprint(&subject.expect(history));
        seen.as_ref().map_or_else(fingerprint, |points| points.expected::<S>(history, fingerprint))
    };
    for plan in plans {
        let in_last = last_call.filter(|&start| plan.faults.keys().all(|&step| step >= start));
        let forked = in_last.and_then(|start| {
            let prefix = prefix.get_or_init(|| Prefix::of(subject, workload, opts.preempt)).as_ref()?;
            assert_eq!(prefix.steps(), start, "the prefix of {workload} stops where its clean run's last call starts");
            Some(prefix.run(subject, plan))
        });
        let run = forked
            .unwrap_or_else(|| execute(subject, workload, plan, &Run { preempt: opts.preempt, ..Run::default() }));
        let (&step, _) = plan.faults.iter().next().expect("a fault plan has one fault");
        // A run that checks no crash point (its fault is in an earlier call) checks only its
        // restart, from the recovery cache: cheaper than telling its behaviour.
        let Some(points) = fault_crash_points(&run, workload, step, true).filter(|_| opts.state_caching) else {
            judge_fault_run(&run, workload, plan, true, seen.as_ref(), scope, results);
            continue;
        };
        let behaviour = Behaviour::of(&run, step, points);
        let earlier = judged.iter().find(|(judged, _)| judged.same(&behaviour, &expected));
        if let Some((_, verdicts)) = earlier {
            for (result, part) in results.iter_mut().zip(verdicts) {
                result.absorb(part.clone());
                result.fault_runs_reused += 1;
            }
            continue;
        }
        let mut own = scope.results();
        judge_fault_run(&run, workload, plan, true, seen.as_ref(), scope, &mut own);
        for (result, part) in results.iter_mut().zip(&own) {
            result.absorb(part.clone());
        }
        judged.push((behaviour, own));
    }
}
