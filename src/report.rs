//! Reproducers: a case replayed and told in full, and the command line that replays it.

use std::fmt::Write as _;

use crashsim_model::history::{Outcome, Record};
use crashsim_model::Violation;
use crashsim_sim::{Model, Trace};

use crate::bounds::ExploreOptions;
use crate::cache::RecoveryCache;
use crate::case::{Case, Check};
use crate::continuation::{continue_after, remaining};
use crate::diagnose::{diagnose, Diagnosis};
use crate::execute::{Execution, Span};
use crate::explore::acknowledged_failure;
use crate::subject::{recover_on, History, Subject};

/// A replayed case.
pub struct Reproduction {
    /// The whole story, for a person.
    pub text: String,
    /// What the check found on replay (none if the case passes).
    pub violation: Option<Violation>,
    /// Why a failing crash image fails, and the fix ([`crate::diagnose`]), or where a call
    /// dropped a failed syscall's error; none for a passing case, a restart or a clean point's
    /// files.
    pub diagnosis: Option<Diagnosis>,
}

/// Replays `case` and tells it: the operations, the syscall trace up to the crash, which pending
/// events survived, the files before and after recovery, the invariant broken with expected
/// against found, and the replay command (the subject's [`Subject::replay`], if it has one).
pub fn reproduce<S: Subject>(
    subject: &S,
    model: Model,
    case: &Case<S>,
    opts: &ExploreOptions,
) -> Result<Reproduction, String> {
    reproduce_with(subject, model, case, opts, false)
}

/// [`reproduce`], with every syscall of the trace when `full_trace` (otherwise the syscalls
/// before the operation in flight are folded into one line per operation).
pub fn reproduce_with<S: Subject>(
    subject: &S,
    model: Model,
    case: &Case<S>,
    opts: &ExploreOptions,
    full_trace: bool,
) -> Result<Reproduction, String> {
    let images = &opts.images;
    let run = case.execute(subject, opts.preempt)?;
    let concurrent = case.workload.is_concurrent();
    let mut text = String::new();
    let _ = writeln!(text, "{}, persistence model {model}", subject.describe());
    if concurrent || case.madsim.is_some() {
        let how = match &case.madsim {
            Some(run) => format!("under {run}"),
            None => {
                format!("schedule {:?}, {} preemption(s)", case.schedule.to_string(), run.interleaving.preemptions())
            }
        };
        let (clients, processes) = (case.workload.clients.len(), case.workload.processes);
        let _ = writeln!(
            text,
            "{clients} clients in {processes} process(es) (client i runs in process i mod {processes}); {how}"
        );
    }
    if !case.faults.is_clean() {
        let _ = writeln!(text, "injected faults: {}", case.faults);
    }
    if case.faults.corrupt.is_some() && !matches!(case.check, Check::Restart | Check::WorkAfterRestart) {
        return Err("a damaged file (corrupt@) is checked on restart: replay it with --restart".to_string());
    }
    if case.faults.corrupt.is_none() && case.check == Check::WorkAfterRestart {
        return Err(
            "--restart --continue runs work after a restart on a damaged file: add --plan 'corrupt@...'".to_string()
        );
    }
    let (history, cut) = match case.check {
        Check::Crash { after, .. } | Check::Continue { after, .. } => {
            if after > run.fs.steps() {
                return Err(format!("--crash-after {after} is past the end of the run ({} syscalls)", run.fs.steps()));
            }
            (run.history_at(after), after)
        }
        Check::Clean { op } => {
            let span = run.spans.get(op).ok_or_else(|| {
                format!(
                    "--clean-after {} is past the last operation ({} with the final shutdown)",
                    op + 1,
                    run.spans.len()
                )
            })?;
            if span.returned == crashsim_model::NEVER {
                return Err(format!("--clean-after {}: that call never returned (its process was killed)", op + 1));
            }
            if !run.quiescent_after(op) {
                let running: Vec<String> = run
                    .spans
                    .iter()
                    .enumerate()
                    .filter(|&(j, s)| j != op && s.invoked < span.returned && s.returned > span.returned)
                    .map(|(j, s)| format!("{}. {}", j + 1, s.op))
                    .collect();
                return Err(format!(
                    "--clean-after {}: call(s) {} still run when it returns; a clean point needs no call in \
                     flight (judge a crash there with --crash-after {})",
                    op + 1,
                    running.join(", "),
                    span.end
                ));
            }
            (run.history_at(span.end), span.end)
        }
        Check::Restart | Check::WorkAfterRestart => (run.history_then_restart(), run.fs.steps()),
    };
    if concurrent {
        render_calls(&mut text, &run, &history);
    } else {
        let closing = subject.closing().map(|op| format!(" (the last, {op}, is the harness's clean shutdown)"));
        let _ = writeln!(text, "\noperations{}:", closing.unwrap_or_default());
        for (i, span) in run.spans.iter().enumerate() {
            let status = match history.iter().filter(|r| matches!(r, Record::Call { .. })).nth(i) {
                Some(Record::Call { outcome: Outcome::InFlight, .. }) => "in flight at the crash".to_string(),
                Some(Record::Call { outcome, .. }) => outcome.to_string(),
                _ => "not reached".to_string(),
            };
            let _ = writeln!(text, "  {}. {:<34} syscalls {} {status}", i + 1, span.op.to_string(), syscalls(span));
        }
    }
    if let Some(error) = &run.open_error {
        let _ = writeln!(text, "  the store did not open: {error}");
    }
    let trace = run.fs.trace();
    let _ = writeln!(text, "\nsyscall trace up to {}:", describe(&case.check));
    let from = if full_trace { 0 } else { fold_before(&mut text, &run, &case.check, cut, concurrent) };
    if concurrent {
        render_interleaved_trace(&mut text, &run, &trace, from, cut);
    } else {
        let _ = write!(text, "{}", Trace { steps: trace.steps[from..cut].to_vec() });
    }
    // A call acknowledged though one of its syscalls failed is a clean point's violation that
    // needs no look at the files.
    let acknowledged = match case.check {
        Check::Clean { op } => acknowledged_failure(subject, &run, &case.faults).filter(|(span, _)| *span == op),
        _ => None,
    };
    let error_dropped = acknowledged.is_some();
    let judged = match case.check {
        Check::Crash { after, image } | Check::Continue { after, image } => {
            let set = run.fs.crash_images(after, model, images);
            if image >= set.len() {
                return Err(format!(
                    "--image {image} does not exist: a crash after {after} leaves {} image(s) under {model}",
                    set.len()
                ));
            }
            let disk = &set.image(image);
            let log = run.fs.log();
            let _ = writeln!(text, "\ncrash after syscall {after}: image {image} of {} under {model}", set.len());
            if set.survivors[image].is_empty() {
                let _ = writeln!(text, "pending events that survived: none beyond the durable state");
            } else {
                let _ = writeln!(text, "pending events that survived:");
                for survivor in &set.survivors[image] {
                    let event = &log[survivor.seq];
                    let torn = survivor.torn.map(|n| format!(" (torn: first {n} B)")).unwrap_or_default();
                    let _ = writeln!(text, "  #{} {}{torn}", survivor.seq, event.kind);
                }
            }
            let _ = write!(text, "\nfiles before recovery:\n{disk}");
            match recovered(&mut text, subject, disk, "recovery") {
                Err(panicked) => Err(panicked),
                Ok(observed) if matches!(case.check, Check::Continue { .. }) => {
                    let ops = remaining(&run, after);
                    if ops.is_empty() {
                        return Err(format!("--continue: no call is left after a crash after {after} syscalls"));
                    }
                    continued(&mut text, subject, "the calls not yet invoked", ops, disk, observed, &history, opts)
                }
                Ok(observed) => Ok((observed, subject.expect(&history))),
            }
        }
        Check::Clean { op } => {
            let disk = &run.spans[op].after.as_ref().expect("a report's run keeps every call's disk").image();
            let _ = write!(text, "\nfiles of the running store (no crash, no recovery):\n{disk}");
            match acknowledged {
                Some((_, violation)) => Err(violation),
                None => {
                    let observed =
                        subject.inspect(disk).ok_or_else(|| format!("{} has no clean-point check", subject.name()))?;
                    Ok((observed, subject.expect(&history)))
                }
            }
        }
        Check::Restart | Check::WorkAfterRestart => {
            let mut disk = run.fs.volatile_image();
            let _ = write!(text, "\nfiles after the clean shutdown:\n{disk}");
            if let Some(corruption) = &case.faults.corrupt {
                let bytes = disk.file(&corruption.path).ok_or_else(|| {
                    format!("{corruption}: there is no file {} after the run to damage", corruption.path)
                })?;
                disk = disk.with_file(&corruption.path, corruption.apply(bytes)).expect("the file is there");
                let _ = write!(text, "\nfiles after the damage ({corruption}):\n{disk}");
            }
            match recovered(&mut text, subject, &disk, "recovery on restart") {
                Err(panicked) => Err(panicked),
                Ok(observed) if case.check == Check::WorkAfterRestart => {
                    if !subject.started(&observed) {
                        return Err(
                            "--continue: the store refused to start on the damaged disk: no work follows".to_string()
                        );
                    }
                    continued(
                        &mut text,
                        subject,
                        "the workload's calls again",
                        remaining(&run, 0),
                        &disk,
                        observed,
                        &history,
                        opts,
                    )
                }
                Ok(observed) => Ok((observed, subject.expect(&history))),
            }
        }
    };
    // Work after a recovery is judged strictly: the store started, so it may no longer refuse.
    // What needs no check (a panic, an acknowledged failure) is a violation already.
    let violation = match judged {
        Err(violation) => Some(violation),
        Ok((observed, expected)) => match (&case.faults.corrupt, &case.check) {
            (Some(_), Check::Restart) => subject.check_corrupted(&expected, &observed),
            _ => subject.check(&expected, &observed),
        }
        .err(),
    };
    let mut diagnosis = None;
    match &violation {
        Some(v) => {
            let _ = write!(text, "\n{v}");
            if matches!(case.check, Check::Crash { .. } | Check::Continue { .. }) || error_dropped {
                match diagnose(subject, model, case, opts) {
                    Ok(found) => {
                        let _ = writeln!(text, "\ndiagnosis: {found}");
                        diagnosis = Some(found);
                    }
                    Err(why) => {
                        let _ = writeln!(text, "\nno diagnosis: {why}");
                    }
                }
            }
        }
        None => {
            let _ = writeln!(text, "\nno violation: the store is consistent with the spec here");
        }
    }
    if let Some(command) = subject.replay(model, case, opts) {
        let _ = writeln!(text, "\nreplay: {command}");
    }
    Ok(Reproduction { text, violation, diagnosis })
}

/// Boots a store on `disk`, tells what recovery did and the files after, and returns what it
/// observed, or the violation of a recovery that panicked.
fn recovered<S: Subject>(
    text: &mut String,
    subject: &S,
    disk: &crashsim_sim::Image,
    title: &str,
) -> Result<S::Observed, Violation> {
    let (booted, after) = recover_on(subject, disk);
    let recovered = booted.map_err(|panicked| {
        let _ = writeln!(text, "\n{title}: panicked: {}", panicked.0);
        panicked.violation()
    })?;
    if !recovered.report.is_empty() {
        let _ = write!(text, "\n{title}:\n{}", recovered.report);
    }
    let _ = write!(text, "\nfiles after recovery:\n{after}");
    Ok(recovered.observed)
}

/// Work after recovery, told: `ops` (`which` calls they are) run on the recovered store (the same [`continue_after`] the
/// explorer judges with), the files after its clean shutdown, and the restart. Returns what the
/// restart showed and what the spec allows after what recovery showed.
#[allow(clippy::too_many_arguments)]
fn continued<S: Subject>(
    text: &mut String,
    subject: &S,
    which: &str,
    ops: Vec<S::Op>,
    disk: &crashsim_sim::Image,
    first: S::Observed,
    history: &History<S>,
    opts: &ExploreOptions,
) -> Result<(S::Observed, S::Expected), Violation> {
    let continued = continue_after(subject, history, disk, &first, ops, opts.preempt, &RecoveryCache::default());
    let _ = writeln!(text, "\nwork after recovery: {which} run on the recovered store:");
    let continuation = continued.run.history_then_restart();
    for span in &continued.run.spans {
        let _ = writeln!(text, "  {:<34} {}", span.op.to_string(), span.outcome);
    }
    let final_disk = continued.run.fs.volatile_image();
    let _ = write!(text, "\nfiles after its clean shutdown:\n{final_disk}");
    let observed = recovered(text, subject, &final_disk, "recovery on restart")?;
    Ok((observed, subject.expect_after_recovery(history, &first, &continuation)))
}

/// Who calls what: each call with its client, its syscalls and how it ended at the check.
fn render_calls<S: Subject>(text: &mut String, run: &Execution<S>, history: &History<S>) {
    let _ = writeln!(
        text,
        "\ncalls, in order of invocation (the harness runs the setup first, and shuts each process down at the end):"
    );
    for (i, span) in run.spans.iter().enumerate() {
        let status = history
            .iter()
            .find_map(|r| match r {
                Record::Call { invoked, outcome, .. } if *invoked == span.invoked => Some(outcome.to_string()),
                _ => None,
            })
            .map_or("not reached".to_string(), |o| {
                if o == Outcome::<S::Reply>::InFlight.to_string() {
                    "in flight at the crash".to_string()
                } else {
                    o
                }
            });
        let status = if span.end == usize::MAX { "never answered: its process was killed".to_string() } else { status };
        let who = span.client.map_or(format!("harness (p{})", span.process), |c| format!("c{c} (p{})", span.process));
        let _ =
            writeln!(text, "  {}. {who:<13} {:<30} syscalls {} {status}", i + 1, span.op.to_string(), syscalls(span));
    }
}

/// A call's syscalls, `start..end`; a call whose process was killed has no end.
fn syscalls<S: Subject>(span: &crate::execute::Span<S>) -> String {
    if span.end == usize::MAX {
        format!("{:>3}..(killed)", span.start)
    } else {
        format!("{:>3}..{:<3}", span.start, span.end)
    }
}

/// The trace up to `cut` with the client of each syscall, and where each call was invoked
/// (`>`) and answered (`<`).
fn render_interleaved_trace<S: Subject>(text: &mut String, run: &Execution<S>, trace: &Trace, from: usize, cut: usize) {
    let mut marks: Vec<(usize, u64, String)> = Vec::new();
    for span in &run.spans {
        let who = span.client.map_or("--".to_string(), |c| format!("c{c}"));
        marks.push((span.start, span.invoked, format!("{who} > {}", span.op)));
        marks.push((span.end, span.returned, format!("{who} < {}", span.outcome)));
    }
    marks.sort();
    marks.retain(|(at, _, _)| *at >= from);
    let mut marks = marks.into_iter().peekable();
    for (i, step) in trace.steps.iter().enumerate().take(cut).skip(from) {
        while let Some((_, _, mark)) = marks.next_if(|(at, _, _)| *at <= i) {
            let _ = writeln!(text, "      {mark}");
        }
        let who = run.owners.get(i).copied().flatten().map_or("--".to_string(), |c| format!("c{c}"));
        let _ = writeln!(text, "{who} {step}");
    }
    while let Some((_, _, mark)) = marks.next_if(|(at, _, _)| *at <= cut) {
        let _ = writeln!(text, "      {mark}");
    }
}

/// Where the trace starts in full: at the operation in flight at the check (for concurrent
/// clients, the first client call that started before it). The syscalls before are told one
/// line per operation. Returns the first step shown in full.
fn fold_before<S: Subject>(
    text: &mut String,
    run: &Execution<S>,
    check: &Check,
    cut: usize,
    concurrent: bool,
) -> usize {
    let started: Vec<&Span<S>> = run.spans.iter().filter(|s| s.start < cut).collect();
    let focus = match check {
        Check::Clean { op } if !concurrent => run.spans.get(*op),
        _ if concurrent => started.iter().copied().filter(|s| s.client.is_some()).min_by_key(|s| s.start),
        _ => started.last().copied(),
    };
    let from = focus.map_or(0, |s| s.start).min(cut);
    if from == 0 {
        return 0;
    }
    let gap = |text: &mut String, start: usize, end: usize, what: &str| {
        if start < end {
            let _ = writeln!(text, "  {start:>4}..{end:<4} -- {what}: {} syscalls", end - start);
        }
    };
    gap(text, 0, run.open_end, "opening the store(s)");
    let mut at = run.open_end;
    for span in run.spans.iter().filter(|s| s.end <= from) {
        gap(text, at, span.start, "the harness, between operations");
        let who = span.client.map_or("--".to_string(), |c| format!("c{c}"));
        let (start, end) = (span.start, span.end);
        let _ =
            writeln!(text, "  {start:>4}..{end:<4} {who} {} -> {}: {} syscalls", span.op, span.outcome, end - start);
        at = at.max(end);
    }
    gap(text, at, from, "the harness, between operations");
    let _ = writeln!(text, "  (syscalls 0..{from} folded, one line per operation: --full-trace shows each)");
    from
}

fn describe(check: &Check) -> String {
    match check {
        Check::Crash { after, .. } => format!("the crash (after syscall {after})"),
        Check::Clean { op } => format!("the end of operation {}", op + 1),
        Check::Restart => "the clean shutdown".to_string(),
        Check::WorkAfterRestart => "the clean shutdown, then work after the restart".to_string(),
        Check::Continue { after, .. } => format!("the crash (after syscall {after}), then work after recovery"),
    }
}
