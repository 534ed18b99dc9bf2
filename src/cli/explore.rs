//! `explore`: a table per subject and model, the vulnerabilities of each subject's findings,
//! and the command that replays each first finding.

use std::process::ExitCode;

use crashsim_sim::Model;
use serde_json::json;

use crate::diagnose::{diagnose, group, summary, Diagnosis, Vulnerability};

use super::progress::Progress;
use crate::cache::RecoveryCache;
use crate::case_text::format_workload;
use crate::explore::{explore_models, ExploreOptions, ModelResult};
use crate::subject::Subject;

/// Explores each subject under each model; one progress report over everything (on stderr).
/// `stop_under(subject)`: the models under which a subject stops at the first batch of workloads
/// that catches it (a self-check needs only the verdict there; empty: explore in full).
pub fn run_all<S: Subject>(
    subjects: &[S],
    models: &[Model],
    opts: &ExploreOptions,
    stop_under: &dyn Fn(&S) -> Vec<Model>,
) -> Vec<ModelResult<S>> {
    let total: u64 = subjects.iter().map(|s| models.len() as u64 * opts.workload_count(s)).sum();
    let progress = Progress::new(total, "workloads");
    let cache = RecoveryCache::default();
    let mut results = Vec::new();
    for subject in subjects {
        let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
        progress.set_label(format!("{} / {}", subject.name(), names.join(",")));
        let mine = ExploreOptions { stop_under: stop_under(subject), ..opts.clone() };
        results.extend(explore_models(subject, models, &mine, &cache, &|| progress.inc()));
    }
    progress.finish();
    results
}

/// "N states, T s" until the first violation, or "-".
pub(super) fn detection<S: Subject>(result: &ModelResult<S>) -> String {
    match (result.states_to_detection, result.ms_to_detection) {
        (Some(states), Some(ms)) => format!("{states} states, {:.1}s", ms as f64 / 1000.0),
        _ => "-".to_string(),
    }
}

pub(super) fn invariant_of<S: Subject>(result: &ModelResult<S>) -> String {
    result.first.as_ref().map_or("-".to_string(), |f| f.violation.invariant.to_string())
}

/// The JSON object of the CLI contract.
pub fn to_json<S: Subject>(results: &[ModelResult<S>], opts: &ExploreOptions) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let first = r.first.as_ref().map(|f| {
                let crash_point = match f.case.check {
                    crate::case::Check::Crash { after, .. } | crate::case::Check::Continue { after, .. } => {
                        json!(after)
                    }
                    _ => serde_json::Value::Null,
                };
                json!({
                    "invariant": f.violation.invariant,
                    "operations": f.case.workload.clients.iter().flatten().map(|op| op.to_string()).collect::<Vec<_>>(),
                    "clients": f.case.workload.clients.len(),
                    "processes": f.case.workload.processes,
                    "crash_point": crash_point,
                    "replay": r.subject.replay(r.model, &f.case, opts),
                })
            });
            json!({
                "variant": r.subject.name(),
                "model": r.model.name(),
                "workloads": r.workloads,
                "interleavings": r.interleavings,
                "interleavings_cut": r.interleavings_cut,
                "crash_points": r.crash_points,
                "crash_states": r.crash_states,
                "distinct_states": r.distinct_states,
                "distinct_exact": r.distinct_exact,
                "violations": r.violations,
                "first_violation": first,
                "states_to_detection": r.states_to_detection,
                "ms_to_detection": r.ms_to_detection,
                "elapsed_ms": r.elapsed_ms,
                "seen_skipped": r.seen_skipped,
                "fault_runs_reused": r.fault_runs_reused,
                "crash_points_reused": r.crash_points_reused,
            })
        })
        .collect();
    let ok = results.iter().all(|r| r.violations == 0);
    json!({ "command": "explore", "ok": ok, "results": rows })
}

/// The diagnosis of each result's first finding, when it is a crash point that has one.
fn diagnose_firsts<S: Subject>(results: &[ModelResult<S>], opts: &ExploreOptions) -> Vec<Option<Diagnosis>> {
    results.iter().map(|r| r.first.as_ref().and_then(|f| diagnose(&r.subject, r.model, &f.case, opts).ok())).collect()
}

/// The vulnerabilities of each variant that has diagnoses, in result order.
fn per_subject<S: Subject>(
    results: &[ModelResult<S>],
    diagnoses: &[Option<Diagnosis>],
) -> Vec<(String, Vec<Vulnerability>)> {
    let mut out: Vec<(String, Vec<Diagnosis>)> = Vec::new();
    for (r, diagnosis) in results.iter().zip(diagnoses) {
        let Some(diagnosis) = diagnosis else { continue };
        let name = r.subject.name();
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, found)) => found.push(diagnosis.clone()),
            None => out.push((name, vec![diagnosis.clone()])),
        }
    }
    out.into_iter().map(|(name, found)| (name, group(&found))).collect()
}

/// A table per subject and model; exit 1 if any violation was found.
pub fn per_variant<S: Subject>(subjects: &[S], models: &[Model], opts: &ExploreOptions, json: bool) -> ExitCode {
    let results = run_all(subjects, models, opts, &|_| Vec::new());
    let diagnoses = diagnose_firsts(&results, opts);
    if json {
        let mut value = to_json(&results, opts);
        for (row, diagnosis) in value["results"].as_array_mut().expect("rows").iter_mut().zip(&diagnoses) {
            if let Some(diagnosis) = diagnosis {
                row["first_violation"]["diagnosis"] = json!(diagnosis.to_string());
            }
        }
        value["vulnerabilities"] = per_subject(&results, &diagnoses)
            .iter()
            .flat_map(|(variant, vulnerabilities)| {
                vulnerabilities.iter().map(move |v| {
                    let mut row = v.to_json();
                    row["variant"] = json!(variant);
                    row
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serializes"));
    } else {
        println!(
            "{:<30} {:<8} {:>9} {:>13} {:>12} {:>12} {:>10} {:>10}  {:<11} {:>8}  {:>22}",
            "variant",
            "model",
            "workloads",
            "interleavings",
            "crash points",
            "crash states",
            "distinct",
            "violations",
            "invariant",
            "time",
            "detected after"
        );
        for r in &results {
            println!(
                "{:<30} {:<8} {:>9} {:>13} {:>12} {:>12} {:>10} {:>10}  {:<11} {:>7.1}s  {:>22}",
                r.subject.name(),
                r.model.name(),
                r.workloads,
                r.interleavings,
                r.crash_points,
                r.crash_states,
                crate::distinct::shown(r.distinct_states, r.distinct_exact),
                r.violations,
                invariant_of(r),
                r.elapsed_ms as f64 / 1000.0,
                detection(r)
            );
        }
        for (variant, vulnerabilities) in per_subject(&results, &diagnoses) {
            let points = vulnerabilities.iter().map(|v| v.failing_points).sum();
            println!("\n{variant}: {}", summary(&vulnerabilities, points).trim_end());
        }
        for (r, diagnosis) in results.iter().zip(&diagnoses) {
            let Some(f) = r.first.as_ref() else { continue };
            println!(
                "\n{} / {}: {}\n  operations: {}",
                r.subject.name(),
                r.model,
                f.violation.summary,
                format_workload(&r.subject, &f.case.workload),
            );
            if let Some(diagnosis) = diagnosis {
                println!("  diagnosis: {diagnosis}");
            }
            if let Some(replay) = r.subject.replay(r.model, &f.case, opts) {
                println!("  replay: {replay}");
            }
        }
    }
    if results.iter().any(|r| r.violations > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
