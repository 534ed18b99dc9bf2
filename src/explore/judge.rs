//! Judging one run: every crash point and image, the clean points, the restart, damaged files,
//! and the fault runs, each against the spec replayed over the run's history.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crashsim_faults::{Corruption, Fault, Plan};
use crashsim_model::history::Outcome;
use crashsim_model::Violation;
use crashsim_sim::{Image, ImageSet, SimFs, SimOptions, Tracker};
use rayon::prelude::*;

use super::result::{absorb_each, WorkloadResult};
use super::scope::Scope;
use super::seen_points::{ImageVerdict, SeenPoints};
use crate::case::{Case, Check, Finding};
use crate::continuation;
use crate::execute::{execute, Execution, Run};
use crate::subject::{Panicked, Subject};
use crate::workload::Workload;

/// The invariant a call breaks when it acknowledges what a failed syscall kept from happening:
/// the user is told it is saved when it is not.
pub const FAILURE_REPORTED: &str = "Durable";

/// The checks of one run of `case` at the crash points `points` (earlier ones were checked with
/// the run it branched from; a scale workload stops before its final shutdown), under each of
/// the scope's models into the matching result: the clean points from the first of them on
/// and, with `to_the_end`, a restart after the clean shutdown (the same under every model,
/// judged once), and every image of every crash point. A run cut short at a state already explored
/// ([`SeenStates`]) checks neither the clean points past `points` nor the restart.
pub(crate) fn check_run<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    points: std::ops::RangeInclusive<usize>,
    to_the_end: bool,
    seen: Option<&SeenPoints>,
    scope: &Scope<S>,
    results: &mut [WorkloadResult<S>],
) {
    let mut shared = WorkloadResult::default();
    let clean_end = if to_the_end { usize::MAX } else { *points.end() };
    check_clean_points(run, case, *points.start()..=clean_end, seen, scope.subject, &mut shared);
    if to_the_end {
        check_restart(run, case, scope, &mut shared);
    }
    absorb_each(results, &shared);
    check_crash_points(run, case, points, false, seen, scope, results);
}

/// Every image of every crash point in `points` under each of the scope's models, booted and
/// checked. Crash points between two call boundaries share a history (its spec replay is made once for
/// all models), and a crash inside one syscall usually leaves the images the previous one left:
/// each (history, image) pair is judged once, though every state is counted. Segments of equal
/// history, cut into chunks of at most [`CHUNK`] points, are spread over threads; their findings
/// are merged in crash point order.
///
/// With `work_after`, each image whose recovery passes is also continued
/// ([`continuation::continue_after`]): the calls not yet invoked run on it, and the restart after
/// them is judged. Segments with no call left are skipped. A continuation is run once per image
/// and calls while the cache holds it
/// ([`RecoveryCache::continued`](crate::cache::RecoveryCache::continued)).
///
/// With `seen`, a point whose events, model and expected history a run judged before took
/// ([`SeenPoints`]) takes that point's verdicts.
pub(super) fn check_crash_points<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    points: std::ops::RangeInclusive<usize>,
    work_after: bool,
    seen: Option<&SeenPoints>,
    scope: &Scope<S>,
    results: &mut [WorkloadResult<S>],
) {
    let (subject, models, opts, cache) = (scope.subject, scope.models, scope.opts, scope.cache);
    assert_eq!(models.len(), results.len(), "one result per model");
    if points.is_empty() {
        return;
    }
    let points_made_of = seen.map(|_| run.fs.crash_point_fingerprints());
    let reuse: Option<(&SeenPoints, &[u128])> = seen.zip(points_made_of.as_deref());
    // Each segment with the calls left to run after a crash in it (work after recovery only).
    let segments: Vec<(std::ops::RangeInclusive<usize>, Vec<S::Op>)> = history_segments(run, points)
        .into_iter()
        .map(|segment| {
            let left = if work_after { continuation::remaining(run, *segment.start()) } else { Vec::new() };
            (segment, left)
        })
        .filter(|(_, left)| !work_after || !left.is_empty())
        .collect();
    // Segments cut into chunks of at most CHUNK points, judged in parallel: a prune or a
    // shutdown of thousands of sessions is one call, tens of thousands of points of one
    // history. A chunk shares its segment's history and the spec's expectation of it.
    let chunks: Vec<(usize, std::ops::RangeInclusive<usize>)> = segments
        .iter()
        .enumerate()
        .flat_map(|(s, (segment, _))| {
            let (first, last) = (*segment.start(), *segment.end());
            (first..=last).step_by(CHUNK).map(move |start| (s, start..=last.min(start + CHUNK - 1)))
        })
        .collect();
    let expectations: Vec<OnceLock<S::Expected>> = segments.iter().map(|_| OnceLock::new()).collect();
    // The verdict of each image of a segment, by fingerprint, shared by its chunks: an image a
    // crash leaves at many points of one history is judged once (two chunks may both judge
    // one at the same time: a verdict depends on the image and the history alone).
    #[allow(clippy::type_complexity)]
    let judged: Vec<Mutex<HashMap<u128, Option<Violation>>>> = segments.iter().map(|_| Mutex::default()).collect();
    // Each model's state at the start of each chunk; a chunk's thread moves its own copy on
    // point by point, so one tracker per chunk and model is held, not one per point. With
    // reuse, most points need none: a chunk makes its own at its first point judged.
    let starts: Vec<usize> = chunks.iter().map(|(_, chunk)| *chunk.start()).collect();
    let at_starts: Option<Vec<Vec<Tracker>>> = reuse.is_none().then(|| {
        models
            .iter()
            .map(|&model| {
                let mut out = Vec::with_capacity(starts.len());
                run.fs.visit_trackers(model, &starts, |_, tracker| out.push(tracker.clone()));
                out
            })
            .collect()
    });
    // Each chunk's results, and the verdicts of the points it judged: kept once every chunk is
    // done, so that what a chunk reuses never depends on the threads.
    #[allow(clippy::type_complexity)]
    let partials: Vec<(Vec<WorkloadResult<S>>, HashMap<u128, Arc<Vec<ImageVerdict>>>)> = chunks
        .par_iter()
        .enumerate()
        .map(|(c, (s, chunk))| {
            let (segment, left) = &segments[*s];
            let before = run.history_at(*segment.start());
            // Made when a point is judged: a segment whose points all take earlier verdicts
            // needs only its fingerprint, met before.
            let expected = || expectations[*s].get_or_init(|| subject.expect(&before));
            let judge = |image: &dyn Fn() -> Image, filesystem: &dyn Fn() -> SimFs, fingerprint: u128| {
                let booted = cache.observe_on(subject, fingerprint, filesystem);
                let recovered = match (booted.as_ref(), work_after) {
                    (Ok(recovered), _) => recovered,
                    (Err(panicked), false) => return Some(panicked.violation()),
                    // A recovery that panics is the crash check's finding, not the continuation's.
                    (Err(_), true) => return None,
                };
                match (work_after, subject.check(expected(), recovered).err()) {
                    (false, verdict) => verdict,
                    // A bad recovery is the crash check's finding, not the continuation's.
                    (true, Some(_)) => None,
                    (true, None) => continuation::continued_verdict(
                        subject,
                        &before,
                        fingerprint,
                        image,
                        recovered,
                        left,
                        opts.preempt,
                        cache,
                    )
                    .err(),
                }
            };
            // Reuse needs the spec's fingerprint of this history; work after recovery depends on
            // more than the crash state (the calls left), so it is always judged.
            let expected_key = reuse
                .filter(|_| !work_after)
                .and_then(|(points, _)| points.expected::<S>(&before, || subject.expected_fingerprint(expected())));
            let judged = &judged[*s];
            let mut fresh: HashMap<u128, Arc<Vec<ImageVerdict>>> = HashMap::new();
            let per_model = models.iter().enumerate().map(|(m, &model)| {
                let mut partial = WorkloadResult::default();
                let mut last: Option<(u64, ImageSet)> = None;
                let mut tracker: Option<Tracker> = None;
                for k in chunk.clone() {
                    partial.crash_points += 1;
                    let key = reuse.zip(expected_key).map(|((points, made_of), expected)| {
                        (points, SeenPoints::crash_key(model, made_of[k], expected))
                    });
                    let earlier = key.and_then(|(points, key)| fresh.get(&key).cloned().or_else(|| points.get(key)));
                    if let Some(verdicts) = earlier {
                        partial.crash_points_reused += 1;
                        record(&mut partial, &verdicts, k, case, work_after);
                        continue;
                    }
                    let tracker = tracker.get_or_insert_with(|| match &at_starts {
                        Some(at_starts) => at_starts[m][c].clone(),
                        None => run.fs.trackers(model, k..=k).pop().expect("one tracker"),
                    });
                    run.fs.advance(tracker, k);
                    let seen = tracker.events_seen();
                    // A syscall that logged no event (a read, a stat) leaves the images it found.
                    if last.as_ref().is_none_or(|(at, _)| *at != seen) {
                        last = Some((seen, tracker.images(&opts.images)));
                    }
                    let set = &last.as_ref().expect("just set").1;
                    let verdicts: Vec<ImageVerdict> = set
                        .fingerprints
                        .iter()
                        .enumerate()
                        .map(|(i, &fingerprint)| {
                            let known = judged.lock().expect("judged lock").get(&fingerprint).cloned();
                            let violation = known.unwrap_or_else(|| {
                                let filesystem = || set.filesystem(i, SimOptions::unrecorded());
                                let verdict = judge(&|| set.image(i), &filesystem, fingerprint);
                                judged.lock().expect("judged lock").insert(fingerprint, verdict.clone());
                                verdict
                            });
                            ImageVerdict { fingerprint, violation, survivors: set.survivors[i].len() }
                        })
                        .collect();
                    record(&mut partial, &verdicts, k, case, work_after);
                    if let Some((_, key)) = key {
                        fresh.insert(key, Arc::new(verdicts));
                    }
                }
                partial
            });
            let per_model = per_model.collect();
            (per_model, fresh)
        })
        .collect();
    for (per_model, fresh) in partials {
        for (result, partial) in results.iter_mut().zip(per_model) {
            result.absorb(partial);
        }
        if let Some((points, _)) = reuse {
            fresh.into_iter().for_each(|(key, verdicts)| points.insert(key, verdicts));
        }
    }
}

/// Most crash points of one history judged in one thread.
const CHUNK: usize = 64;

/// Counts the images of crash point `k` and keeps a finding for each whose verdict is a
/// violation: the same whether the point was judged now or took an earlier point's verdicts.
fn record<S: Subject>(
    partial: &mut WorkloadResult<S>,
    verdicts: &[ImageVerdict],
    k: usize,
    case: &Case<S>,
    work_after: bool,
) {
    for (i, verdict) in verdicts.iter().enumerate() {
        partial.crash_states += 1;
        partial.fingerprints.insert(verdict.fingerprint);
        if let Some(violation) = &verdict.violation {
            let check =
                if work_after { Check::Continue { after: k, image: i } } else { Check::Crash { after: k, image: i } };
            let case = Case { check, ..case.clone() };
            partial.found(Finding { case, violation: violation.clone(), survivors: verdict.survivors });
        }
    }
}

/// `points` cut where the history of a crash changes: after a call's first syscall (it is in
/// flight from there) and after its last (it has returned).
pub(super) fn history_segments<S: Subject>(
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
/// ended at or after syscall `from_step`), checked without recovery; with `seen`, one whose
/// files and expected history an earlier run of the workload had takes its verdict.
pub(super) fn check_clean_points<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    steps: std::ops::RangeInclusive<usize>,
    seen: Option<&SeenPoints>,
    subject: &S,
    result: &mut WorkloadResult<S>,
) {
    let made_of = seen.map(|_| run.fs.crash_point_fingerprints());
    for (op, span) in run.spans.iter().enumerate() {
        if span.returned == crashsim_model::NEVER || !steps.contains(&span.end) || !run.quiescent_after(op) {
            continue;
        }
        let history = run.history_at(span.end);
        let expected = OnceCell::new();
        let expected = || expected.get_or_init(|| subject.expect(&history));
        let key = seen.zip(made_of.as_deref()).and_then(|(points, made_of)| {
            let fingerprint = points.expected::<S>(&history, || subject.expected_fingerprint(expected()))?;
            Some((points, SeenPoints::clean_key(made_of[span.end], fingerprint)))
        });
        let verdict = match key.and_then(|(points, key)| points.get(key)) {
            Some(verdicts) => verdicts[0].violation.clone(),
            None => {
                let disk = span.after.as_ref().expect("a clean point judged keeps its disk (Run::judged_from)");
                let Some(observed) = subject.inspect(&disk.image()) else { return };
                let violation = subject.check(expected(), &observed).err();
                if let Some((points, key)) = key {
                    points.insert(
                        key,
                        Arc::new(vec![ImageVerdict { fingerprint: 0, violation: violation.clone(), survivors: 0 }]),
                    );
                }
                violation
            }
        };
        result.crash_states += 1;
        if let Some(violation) = verdict {
            let case = Case { check: Check::Clean { op }, ..case.clone() };
            result.found(Finding { case, violation, survivors: 0 });
        }
    }
}

pub(super) fn check_restart<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    scope: &Scope<S>,
    result: &mut WorkloadResult<S>,
) {
    let (subject, cache) = (scope.subject, scope.cache);
    let image = run.fs.volatile_image();
    let booted = cache.observe(subject, image.fingerprint(), || image.clone());
    result.crash_states += 1;
    let expected = subject.expect(&run.history_then_restart());
    let verdict = booted.as_ref().as_ref().map_err(Panicked::violation);
    if let Err(violation) = verdict.and_then(|observed| subject.check(&expected, observed)) {
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
pub(super) fn check_corruptions<S: Subject>(
    run: &Execution<S>,
    case: &Case<S>,
    work_after: bool,
    scope: &Scope<S>,
    result: &mut WorkloadResult<S>,
) {
    let (subject, opts, cache) = (scope.subject, scope.opts, scope.cache);
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
            let booted = cache.observe(subject, fingerprint, || damaged.clone());
            result.crash_states += 1;
            result.fingerprints.insert(fingerprint);
            let observed = match booted.as_ref() {
                Ok(observed) => observed,
                Err(panicked) => {
                    let case = Case { faults: Plan::corrupting(corruption), check: Check::Restart, ..case.clone() };
                    result.found(Finding { case, violation: panicked.violation(), survivors: 0 });
                    continue;
                }
            };
            if let Err(violation) = subject.check_corrupted(&expected, observed) {
                let case = Case { faults: Plan::corrupting(corruption), check: Check::Restart, ..case.clone() };
                result.found(Finding { case, violation, survivors: 0 });
                continue;
            }
            if work.is_empty() || !subject.started(observed) {
                continue;
            }
            let damaged_image = || damaged.clone();
            let continued = continuation::continued_verdict(
                subject,
                &before,
                fingerprint,
                &damaged_image,
                observed,
                &work,
                opts.preempt,
                cache,
            );
            result.crash_states += 1;
            if let Err(violation) = continued {
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
pub(crate) fn check_fault_run<S: Subject>(
    scope: &Scope<S>,
    workload: &Workload<S::Op>,
    plan: &Plan,
    prefixes_explored: bool,
    results: &mut [WorkloadResult<S>],
) {
    assert_eq!(scope.models.len(), results.len(), "one result per model");
    let run = execute(scope.subject, workload, plan, &Run { preempt: scope.opts.preempt, ..Run::default() });
    judge_fault_run(&run, workload, plan, prefixes_explored, None, scope, results);
}

/// The crash points [`judge_fault_run`] checks in `run`, whose fault is at syscall `step`: from
/// there to the end of the call it hit, unless (with `prefixes_explored`) that call is not the
/// workload's last (a shorter workload's fault run checked them) or it hit no call.
pub(super) fn fault_crash_points<S: Subject>(
    run: &Execution<S>,
    workload: &Workload<S::Op>,
    step: usize,
    prefixes_explored: bool,
) -> Option<std::ops::RangeInclusive<usize>> {
    let span = run.spans.iter().position(|s| s.start <= step && step < s.end)?;
    (!prefixes_explored || span + 1 >= workload.len()).then(|| step..=run.spans[span].end)
}

/// The call of `run` (its index among the run's calls) that an errno of `plan` hit and that
/// answered as if nothing failed, and that violation; `None` if the call failed or refused, or
/// the fault is no errno or hit no call. A failed close keeps nothing from happening: its data
/// is in the page cache by then, and only an fsync decides what is durable (std ignores close
/// errors, as most programs do). Found as a clean point of the call (`Check::Clean`), judged
/// here by the explorer and by a reproducer alike.
pub(crate) fn acknowledged_failure<S: Subject>(
    subject: &S,
    run: &Execution<S>,
    plan: &Plan,
) -> Option<(usize, Violation)> {
    let (&step, fault) = plan.faults.iter().next()?;
    let span = run.spans.iter().position(|s| s.start <= step && step < s.end)?;
    let hit = &run.spans[span];
    let closing = run.fs.trace_from(step).first().is_some_and(|s| matches!(s.call, crashsim_sim::Call::Close { .. }));
    let (Outcome::Replied(reply), Fault::Fail(errno), false) = (&hit.outcome, fault, closing) else {
        return None;
    };
    (!subject.is_refusal(reply)).then(|| {
        let violation = Violation {
            invariant: FAILURE_REPORTED,
            summary: format!("{} was acknowledged ({reply}) although syscall {step} failed with {errno:?}", hit.op),
            expected: "  the call returns an error\n".to_string(),
            found: format!("  the call returned {reply}\n"),
        };
        (span, violation)
    })
}

/// The checks of [`check_fault_run`] on `run`, the workload's run under `plan`.
pub(super) fn judge_fault_run<S: Subject>(
    run: &Execution<S>,
    workload: &Workload<S::Op>,
    plan: &Plan,
    prefixes_explored: bool,
    seen: Option<&SeenPoints>,
    scope: &Scope<S>,
    results: &mut [WorkloadResult<S>],
) {
    let case = Case::restart(workload.clone(), plan.clone());
    let (&step, _) = plan.faults.iter().next().expect("a fault plan has one fault");
    if let Some((span, violation)) = acknowledged_failure(scope.subject, run, plan) {
        let case = Case { check: Check::Clean { op: span }, ..case };
        for result in results.iter_mut() {
            result.found(Finding { case: case.clone(), violation: violation.clone(), survivors: 0 });
        }
        return;
    }
    if let Some(points) = fault_crash_points(run, workload, step, prefixes_explored) {
        check_crash_points(run, &case, points, false, seen, scope, results);
    }
    let mut restart = WorkloadResult::default();
    check_restart(run, &case, scope, &mut restart);
    absorb_each(results, &restart);
}
