//! `repro`: the minimal reproducer of a subject's bug, or the replay of one case.

use std::process::ExitCode;

use crashsim_sim::Model;
use serde_json::json;

use super::progress::Progress;
use crate::cache::RecoveryCache;
use crate::case::Case;
use crate::diagnose::{group, summary, Diagnosis};
use crate::explore::{explore, ExploreOptions};
use crate::report::reproduce_with;
use crate::subject::Subject;

/// Finds, shrinks and prints the minimal reproducer of `subject` under each model; exit 0 when
/// one was found under some model, 1 when none exists within the bounds.
pub fn find<S: Subject>(
    subject: &S,
    models: &[Model],
    opts: &ExploreOptions,
    full_trace: bool,
    json: bool,
) -> ExitCode {
    let cache = RecoveryCache::default();
    let mut found = Vec::new();
    let progress = Progress::new(models.len() as u64 * opts.workload_count(subject), "workloads");
    let variant = subject.name();
    for &model in models {
        progress.set_label(format!("searching {variant} / {model}"));
        let result = explore(subject, model, opts, &cache, &|| progress.inc());
        match result.first {
            Some(finding) => {
                let reproduction =
                    reproduce_with(subject, model, &finding.case, opts, full_trace).expect("a found case replays");
                found.push((model, finding.case, reproduction));
            }
            None if !json => println!(
                "{variant} / {model}: no violation in {} workloads ({} crash states); no reproducer exists within these bounds\n",
                result.workloads, result.crash_states
            ),
            None => {}
        }
    }
    progress.finish();
    if json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|(model, case, r)| {
                json!({
                    "variant": variant,
                    "model": model.name(),
                    "invariant": r.violation.as_ref().map(|v| v.invariant),
                    "operations": case.workload.clients.iter().flatten().map(|op| op.to_string()).collect::<Vec<_>>(),
                    "clients": case.workload.clients.len(),
                    "processes": case.workload.processes,
                    "replay": subject.replay(*model, case, opts),
                    "diagnosis": r.diagnosis.as_ref().map(|d| d.to_string()),
                    "reproducer": r.text,
                })
            })
            .collect();
        let diagnoses: Vec<Diagnosis> = found.iter().filter_map(|(_, _, r)| r.diagnosis.clone()).collect();
        let vulnerabilities: Vec<serde_json::Value> = group(&diagnoses).iter().map(|v| v.to_json()).collect();
        let value = json!({
            "command": "repro",
            "ok": !rows.is_empty(),
            "vulnerabilities": vulnerabilities,
            "reproducers": rows,
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serializes"));
    } else {
        let diagnoses: Vec<Diagnosis> = found.iter().filter_map(|(_, _, r)| r.diagnosis.clone()).collect();
        if !diagnoses.is_empty() {
            let points = diagnoses.iter().map(|d| d.failing_points).sum();
            println!("{}", summary(&group(&diagnoses), points));
        }
        for (model, _, reproduction) in &found {
            println!("==== {variant} / {model} ====\n{}", reproduction.text);
        }
    }
    if found.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Replays one case; exit 1 if it shows a violation, 0 if it passes, 2 if it cannot be replayed.
pub fn replay<S: Subject>(
    subject: &S,
    model: Model,
    case: Case<S>,
    opts: &ExploreOptions,
    full_trace: bool,
) -> ExitCode {
    // A fault the run would not carry out (past its end, a short write on another syscall)
    // makes a replay that silently tests nothing.
    if !case.faults.faults.is_empty() {
        let checked = case
            .execute(subject, opts.preempt)
            .and_then(|run| case.faults.check_carried_out(&run.fs.trace()).map_err(|e| format!("--plan: {e}")));
        if let Err(error) = checked {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    }
    match reproduce_with(subject, model, &case, opts, full_trace) {
        Ok(reproduction) => {
            println!("{}", reproduction.text);
            if reproduction.violation.is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
