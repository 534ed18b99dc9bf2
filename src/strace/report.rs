//! Rendering a trace-mode run: a table per model, then every failing crash point with the calls
//! up to it (the first of each model with more of them), what survived, what the program had
//! printed and what the checker said; or one JSON object.

use std::fmt::Write;

use crashsim_sim::{preview, Model, Survivor};
use serde_json::{json, Value};

use super::check::{Failure, ModelResult};
use super::replay::{Reason, Replay};
use super::TraceRun;
use crate::diagnose::summary;

/// Calls shown before a crash point.
const CALLS_SHOWN: usize = 12;

/// The run as text.
pub fn text(run: &TraceRun) -> String {
    let replay = &run.replay;
    let mut out = String::new();
    let _ = writeln!(out, "crashsim trace: `{}` on {} ({})", run.program.join(" "), run.dir.display(), run.exit);
    if run.program_failed() {
        let _ = writeln!(
            out,
            "WARNING: the program itself failed ({}): the run checked is a failed run, and what it did not \
             do is in no crash image",
            run.exit
        );
    }
    let _ = writeln!(
        out,
        "{} syscalls from {} process(es); {} replayed inside DIR; {} crash points",
        replay.syscalls,
        replay.processes,
        replay.calls.len(),
        replay.points.len()
    );
    if !run.replay_matches() {
        let _ = writeln!(
            out,
            "WARNING: the replay ends with a different tree than the program left in DIR: the results below \
             may miss states (see the calls not simulated)"
        );
        for difference in run.replay_differences() {
            let _ = writeln!(out, "  {difference}");
        }
    }
    let _ = writeln!(out, "not simulated:");
    for ((reason, name), skipped) in &replay.skipped {
        if matches!(reason, Reason::Outside | Reason::ReadOnly | Reason::Failed) {
            continue;
        }
        let detail = if skipped.detail.is_empty() { String::new() } else { format!(" ({})", skipped.detail) };
        let _ = writeln!(
            out,
            "  {name} x{}: {}{detail}; first at line {}: {}",
            skipped.count,
            reason.describe(),
            skipped.line,
            skipped.example
        );
    }
    for reason in [Reason::ReadOnly, Reason::Failed, Reason::Outside] {
        let counts: Vec<String> = replay
            .skipped
            .iter()
            .filter(|((r, _), _)| *r == reason)
            .map(|((_, name), s)| format!("{name} {}", s.count))
            .collect();
        if !counts.is_empty() {
            let _ = writeln!(out, "  {}: {}", reason.describe(), counts.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "\n{:<8} {:>12} {:>8} {:>8} {:>15}",
        "model", "crash points", "images", "checked", "failing points"
    );
    for result in &run.results {
        let sampled = if result.sampled { " (sampled)" } else { "" };
        let _ = writeln!(
            out,
            "{:<8} {:>12} {:>8} {:>8} {:>15}{sampled}",
            result.model.name(),
            result.points,
            result.images,
            result.distinct,
            result.failures.len()
        );
    }
    if !run.vulnerabilities.is_empty() {
        let points = run.results.iter().map(|r| r.failures.len()).sum();
        let _ = write!(out, "\n{}", summary(&run.vulnerabilities, points));
    }
    // Every failing crash point: the first of each model with the calls before it, the
    // others with the call they follow.
    for (result, diagnoses) in run.results.iter().zip(&run.diagnoses) {
        for (n, each) in result.failures.iter().enumerate() {
            out.push('\n');
            let calls = if n == 0 { CALLS_SHOWN } else { 1 };
            failure(&mut out, replay, result, each, calls);
            if let Some(Some(diagnosis)) = diagnoses.get(n) {
                let _ = writeln!(out, "  diagnosis: {diagnosis}");
            }
        }
    }
    let verdict = if run.passed() {
        "every crash image passed the checker"
    } else {
        "FAILED: some crash images fail the checker"
    };
    let failed_run = if run.program_failed() {
        format!(" (of a run in which the program failed: {})", run.exit)
    } else {
        String::new()
    };
    let _ = writeln!(out, "\n{verdict}{failed_run}");
    out
}

fn after_text(replay: &Replay, point: usize) -> String {
    match replay.points[point].after {
        None => "before the program's first call".to_string(),
        Some(call) => format!("after call {} of {}", call + 1, replay.calls.len()),
    }
}

/// One failing crash point, with the last `calls` replayed calls before it.
fn failure(out: &mut String, replay: &Replay, result: &ModelResult, failure: &Failure, calls: usize) {
    let point = replay.points[failure.point];
    let _ = writeln!(out, "FAIL under {}: crash {}", result.model.name(), after_text(replay, failure.point));
    if point.after.is_none() {
        let _ = writeln!(out, "  the checker fails on DIR as it was before the program ran: check the checker");
    }
    let shown = point.after.map_or(0, |c| c + 1);
    if shown > 0 {
        let _ = writeln!(out, "  calls up to the crash (log line, pid):");
    }
    let first = shown.saturating_sub(calls);
    if first > 0 {
        let _ = writeln!(out, "      ... {first} earlier calls");
    }
    for (i, call) in replay.calls.iter().enumerate().take(shown).skip(first) {
        let mark = if i + 1 == shown { '>' } else { ' ' };
        let _ = writeln!(out, "    {mark}{:>3}  {}  (line {}, pid {})", i + 1, call.text, call.line, call.pid);
    }
    let survived = survivors(replay, result.model, &failure.survivors);
    let _ = writeln!(out, "  image {} of {}: {survived}", failure.image + 1, failure.images);
    let files: Vec<String> = failure.files.iter().map(|(path, len)| format!("{path} ({len} B)")).collect();
    let _ = writeln!(out, "  files: {}", if files.is_empty() { "none".to_string() } else { files.join(", ") });
    let _ = writeln!(out, "  stdout before the crash: {}", preview(&replay.stdout[..point.stdout]));
    let _ = writeln!(out, "  checker: {}", failure.verdict.status);
    for line in failure.verdict.output.lines().take(20) {
        let _ = writeln!(out, "    | {line}");
    }
}

/// Which pending events reached the disk in an image.
fn survivors(replay: &Replay, model: Model, survivors: &[Survivor]) -> String {
    if model == Model::Process {
        return "kill -9: everything the program wrote survives".to_string();
    }
    if survivors.is_empty() {
        return "nothing pending survived: only what was fsynced".to_string();
    }
    let log = replay.fs.log();
    let parts: Vec<String> = survivors
        .iter()
        .map(|s| {
            let event = &log[s.seq];
            let call = replay.call_of_step(event.step).map_or("?".to_string(), |c| (c + 1).to_string());
            let torn = s.torn.map_or(String::new(), |n| format!(", torn after {n} B"));
            format!("{} (call {call}{torn})", describe(&event.kind))
        })
        .collect();
    format!("survived: {}", parts.join("; "))
}

fn describe(kind: &crashsim_sim::EventKind) -> String {
    match kind {
        crashsim_sim::EventKind::Effect(effect) => effect.to_string(),
        crashsim_sim::EventKind::Sync { ino, .. } => format!("sync of ino {ino}"),
    }
}

/// The run as one JSON object.
pub fn json(run: &TraceRun) -> Value {
    let replay = &run.replay;
    let skipped: Vec<Value> = replay
        .skipped
        .iter()
        .map(|((reason, name), s)| {
            json!({ "syscall": name, "reason": format!("{reason:?}"), "concern": reason.is_concern(), "count": s.count,
                    "first_line": s.line, "example": s.example, "detail": s.detail })
        })
        .collect();
    let results: Vec<Value> = run
        .results
        .iter()
        .zip(&run.diagnoses)
        .map(|(r, diagnoses)| {
            let failures: Vec<Value> = r
                .failures
                .iter()
                .zip(diagnoses)
                .map(|(f, diagnosis)| {
                    let point = replay.points[f.point];
                    json!({
                        "crash_after_call": point.after.map(|c| c + 1),
                        "call": point.after.map(|c| &replay.calls[c].text),
                        "log_line": point.after.map(|c| replay.calls[c].line),
                        "image": f.image + 1,
                        "images": f.images,
                        "survived": survivors(replay, r.model, &f.survivors),
                        "files": f.files.iter().map(|(p, n)| json!({"path": p, "bytes": n})).collect::<Vec<_>>(),
                        "stdout": String::from_utf8_lossy(&replay.stdout[..point.stdout]),
                        "checker_status": f.verdict.status,
                        "checker_output": f.verdict.output,
                        "diagnosis": diagnosis.as_ref().map(|d| d.to_string()),
                    })
                })
                .collect();
            json!({ "model": r.model.name(), "crash_points": r.points, "images": r.images, "checked": r.distinct,
                    "sampled": r.sampled, "failing_points": r.failures.len(), "failures": failures })
        })
        .collect();
    json!({
        "command": "trace",
        "ok": run.passed(),
        "program": run.program,
        "dir": run.dir.display().to_string(),
        "exit": run.exit,
        "program_failed": run.program_failed(),
        "syscalls": replay.syscalls,
        "processes": replay.processes,
        "replayed": replay.calls.iter().map(|c| json!({"line": c.line, "pid": c.pid, "call": c.text})).collect::<Vec<_>>(),
        "replay_matches_real_disk": run.replay_matches(),
        "replay_differences": run.replay_differences(),
        "not_simulated": skipped,
        "vulnerabilities": run.vulnerabilities.iter().map(|v| v.to_json()).collect::<Vec<_>>(),
        "results": results,
    })
}
