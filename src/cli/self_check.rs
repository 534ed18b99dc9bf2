//! `crashsim explore` with no variant: the harness's own end-to-end check. The reference store
//! and every variant that reproduces a reported bug, one table; it passes when the reference is
//! clean and every variant is caught exactly under the models its documentation names.

use std::process::ExitCode;

use crashsim_sim::Model;
use crashsim_store::{Concurrency, Variant};
use serde_json::json;

use super::explore::{detection, invariant_of, run_all, to_json};
use crate::explore::{ExploreOptions, ModelResult};
use crate::session::Session;

/// The smallest `--max-ops` at which the self-check can catch every sequential variant.
pub const SELF_CHECK_OPS_MIN: usize = 2;

/// The self-check: the reference and every variant under the given models, one table; exit 0
/// when the reference is clean and every variant is caught exactly under the models its
/// documentation names (variants that need concurrent clients are listed, not counted, when
/// no concurrent workload runs).
pub fn run(models: &[Model], opts: &ExploreOptions, json: bool) -> ExitCode {
    if opts.max_ops < SELF_CHECK_OPS_MIN {
        eprintln!(
            "error: --max-ops {} is too small for the self-check: the shortest reproducers (create then rotate, \
             create then shutdown, ...) take {SELF_CHECK_OPS_MIN} operations. Use --max-ops {SELF_CHECK_OPS_MIN} or more, \
             or explore single variants with --variant",
            opts.max_ops
        );
        return ExitCode::from(2);
    }
    let sessions: Vec<Session> = Variant::ALL.iter().map(|&v| Session(v)).collect();
    let results = run_all(&sessions, models, opts, &|s: &Session| s.0.caught_under().to_vec());
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
