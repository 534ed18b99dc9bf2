//! `crashsim explore`: the exploration, as a self-check table or per variant and model.

use std::process::ExitCode;

use crashsim_sim::Model;
use crashsim_store::{Concurrency, Variant};
use serde_json::json;

use crate::diagnose::{diagnose, group, summary, Diagnosis, Vulnerability};

use super::progress::Progress;
use crate::cache::RecoveryCache;
use crate::explore::{explore_models, ExploreOptions, ModelResult};
use crate::session::replay::replay_command;
use crate::session::workload;
use crate::session::Session;

/// Explores each variant under each model; one progress report over everything (on stderr).
/// With `stop_at_expected`, a variant stops under a model where it is expected to be caught at
/// the first batch of workloads that catches it (the self-check needs only the verdict there).
pub fn run_all(
    variants: &[Variant],
    models: &[Model],
    opts: &ExploreOptions,
    stop_at_expected: bool,
) -> Vec<ModelResult<Session>> {
    let per_run = opts.workloads(&Session(Variant::Reference)).len();
    let progress = Progress::new((variants.len() * models.len() * per_run) as u64, "workloads");
    let cache = RecoveryCache::default();
    let mut results = Vec::new();
    for &variant in variants {
        progress.set_label(format!("{variant} / {}", models.iter().map(|m| m.name()).collect::<Vec<_>>().join(",")));
        let stop_under = if stop_at_expected { variant.caught_under().to_vec() } else { Vec::new() };
        let mine = ExploreOptions { stop_under, ..opts.clone() };
        results.extend(explore_models(&Session(variant), models, &mine, &cache, &|| progress.inc()));
    }
    progress.finish();
    results
}

/// "N states, T s" until the first violation, or "-".
fn detection(result: &ModelResult<Session>) -> String {
    match (result.states_to_detection, result.ms_to_detection) {
        (Some(states), Some(ms)) => format!("{states} states, {:.1}s", ms as f64 / 1000.0),
        _ => "-".to_string(),
    }
}

fn invariant_of(result: &ModelResult<Session>) -> String {
    result.first.as_ref().map_or("-".to_string(), |f| f.violation.invariant.to_string())
}

/// The JSON object of the CLI contract.
pub fn to_json(results: &[ModelResult<Session>], opts: &ExploreOptions) -> serde_json::Value {
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
                    "replay": replay_command(&r.subject, r.model, &f.case, opts),
                })
            });
            json!({
                "variant": r.subject.0.name(),
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
            })
        })
        .collect();
    let ok = results.iter().all(|r| r.violations == 0);
    json!({ "command": "explore", "ok": ok, "results": rows })
}

/// The diagnosis of each result's first finding, when it is a crash point that has one.
fn diagnose_firsts(results: &[ModelResult<Session>], opts: &ExploreOptions) -> Vec<Option<Diagnosis>> {
    results.iter().map(|r| r.first.as_ref().and_then(|f| diagnose(&r.subject, r.model, &f.case, opts).ok())).collect()
}

/// The vulnerabilities of each variant that has diagnoses, in result order.
fn per_subject(results: &[ModelResult<Session>], diagnoses: &[Option<Diagnosis>]) -> Vec<(String, Vec<Vulnerability>)> {
    let mut out: Vec<(String, Vec<Diagnosis>)> = Vec::new();
    for (r, diagnosis) in results.iter().zip(diagnoses) {
        let Some(diagnosis) = diagnosis else { continue };
        let name = r.subject.0.name().to_string();
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, found)) => found.push(diagnosis.clone()),
            None => out.push((name, vec![diagnosis.clone()])),
        }
    }
    out.into_iter().map(|(name, found)| (name, group(&found))).collect()
}

/// The smallest `--max-ops` at which the self-check can catch every sequential variant.
pub const SELF_CHECK_OPS_MIN: usize = 2;

/// A table per variant and model; exit 1 if any violation was found.
pub fn per_variant(variants: &[Variant], models: &[Model], opts: &ExploreOptions, json: bool) -> ExitCode {
    if opts.client_ops_max == 0 {
        for variant in variants.iter().filter(|v| v.needs_concurrency() != Concurrency::None) {
            eprintln!("note: {variant} is a race, and --client-ops 0 runs no concurrent workload: it cannot be caught");
        }
    }
    let results = run_all(variants, models, opts, false);
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
                r.subject.0.name(),
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
                r.subject.0,
                r.model,
                f.violation.summary,
                workload::format(&f.case.workload),
            );
            if let Some(diagnosis) = diagnosis {
                println!("  diagnosis: {diagnosis}");
            }
            println!("  replay: {}", replay_command(&r.subject, r.model, &f.case, opts));
        }
    }
    if results.iter().any(|r| r.violations > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The self-check: the reference and every variant under the given models, one table; exit 0
/// when the reference is clean and every variant is caught exactly under the models its
/// documentation names (variants that need concurrent clients are listed, not counted, when
/// no concurrent workload runs).
pub fn self_check(models: &[Model], opts: &ExploreOptions, json: bool) -> ExitCode {
    if opts.max_ops < SELF_CHECK_OPS_MIN {
        eprintln!(
            "error: --max-ops {} is too small for the self-check: the shortest reproducers (create then rotate, \
             create then shutdown, ...) take {SELF_CHECK_OPS_MIN} operations. Use --max-ops {SELF_CHECK_OPS_MIN} or more, \
             or explore single variants with --variant",
            opts.max_ops
        );
        return ExitCode::from(2);
    }
    let results = run_all(&Variant::ALL, models, opts, true);
    let mut all_ok = true;
    let mut rows = Vec::new();
    for variant in Variant::ALL {
        let mine: Vec<&ModelResult<Session>> = results.iter().filter(|r| r.subject.0 == variant).collect();
        let caught: Vec<Model> = mine.iter().filter(|r| r.violations > 0).map(|r| r.model).collect();
        let expected: Vec<Model> = variant.caught_under().iter().copied().filter(|m| models.contains(m)).collect();
        let uncovered = variant.needs_concurrency() != Concurrency::None && opts.client_ops_max == 0;
        let status = if uncovered {
            "needs concurrency: --client-ops 0 runs none (not counted)"
        } else if caught == expected {
            "ok"
        } else {
            all_ok = false;
            if caught.len() < expected.len() {
                "MISSED"
            } else {
                "UNEXPECTED"
            }
        };
        let invariants: Vec<String> = mine.iter().filter(|r| r.first.is_some()).map(|r| invariant_of(r)).collect();
        let mut invariants_unique = invariants.clone();
        invariants_unique.dedup();
        rows.push((variant, caught, expected, invariants_unique, mine, status));
    }
    if json {
        let mut value = to_json(&results, opts);
        value["self_check"] = json!(all_ok);
        value["ok"] = json!(all_ok);
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serializes"));
    } else {
        println!(
            "{:<30} {:<37} {:<22} {:<22} {:<20} {:>12} {:>8} {:>24}  status",
            "variant",
            "reported bug",
            "caught under",
            "expected",
            "invariant",
            "crash states",
            "time",
            "detected after (worst)"
        );
        for (variant, caught, expected, invariants, mine, status) in &rows {
            let names = |ms: &[Model]| {
                if ms.is_empty() {
                    "-".to_string()
                } else {
                    ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(",")
                }
            };
            let states: u64 = mine.iter().map(|r| r.crash_states).sum();
            let ms: u128 = mine.iter().map(|r| r.elapsed_ms).max().unwrap_or(0);
            let invariant = if invariants.is_empty() { "-".to_string() } else { invariants.join(",") };
            // The slowest detection over the models that caught it.
            let worst = mine.iter().filter(|r| r.states_to_detection.is_some()).max_by_key(|r| r.states_to_detection);
            println!(
                "{:<30} {:<37} {:<22} {:<22} {:<20} {:>12} {:>7.1}s {:>24}  {status}",
                variant.name(),
                variant.reported_as(),
                names(caught),
                names(expected),
                invariant,
                states,
                ms as f64 / 1000.0,
                worst.map_or("-".to_string(), |r| detection(r))
            );
        }
        let reference: Vec<&ModelResult<Session>> =
            results.iter().filter(|r| r.subject.0 == Variant::Reference).collect();
        let states: u64 = reference.iter().map(|r| r.crash_states).sum();
        let distinct: usize = reference.iter().map(|r| r.distinct_states).sum();
        println!(
            "\nreference: {states} crash states checked ({distinct} distinct images) over {} workloads ({} interleavings) per model, {} violations",
            reference.first().map_or(0, |r| r.workloads),
            reference.first().map_or(0, |r| r.interleavings),
            reference.iter().map(|r| r.violations).sum::<u64>()
        );
        println!("self-check: {}", if all_ok { "passed" } else { "FAILED" });
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
