//! `crashsim real-disk`: a workload killed for real after every syscall, against the simulator.

use std::process::ExitCode;

use crashsim_store::Variant;
use serde_json::json;

use crate::session::real_disk::compare;
use crate::session::workload;

/// Compares the real disk with the simulator for `text`, a one-client workload of `variant`.
pub fn run(variant: Variant, text: &str, json: bool) -> ExitCode {
    let workload = match workload::parse(text, 1, "") {
        Ok(w) if !w.is_concurrent() => w,
        Ok(_) => return super::error("--workload: the real disk runs one client; drop the '||'"),
        Err(error) => return super::error(&format!("--workload: {error}")),
    };
    let comparison = match compare(variant, &workload) {
        Ok(comparison) => comparison,
        Err(error) => return super::error(&error),
    };
    let points = comparison.steps as f64 + 1.0;
    let rate = |ms: u128| points * 1000.0 / (ms.max(1) as f64);
    let simulated_at =
        |k: usize| comparison.simulated_violations.iter().find(|(at, _)| *at == k).map(|(_, v)| v.invariant);
    let ok = comparison.mismatches.is_empty() && comparison.violations.is_empty();
    if json {
        let violations: Vec<serde_json::Value> = comparison
            .violations
            .iter()
            .map(|(k, v)| {
                json!({ "crash_after": k, "invariant": v.invariant, "summary": v.summary, "simulated": simulated_at(*k) })
            })
            .collect();
        let value = json!({
            "command": "real-disk",
            "ok": ok,
            "variant": variant.name(),
            "workload": text,
            "syscalls": comparison.steps,
            "mismatches": comparison.mismatches,
            "violations": violations,
            "real_ms": comparison.real_ms,
            "simulated_ms": comparison.sim_ms,
            "real_states_per_s": rate(comparison.real_ms),
            "simulated_states_per_s": rate(comparison.sim_ms),
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serializes"));
    } else {
        println!(
            "{variant} on a real disk, '{text}': {} syscalls, killed after each (crash points 0..={})",
            comparison.steps, comparison.steps
        );
        println!(
            "directories equal to the simulator's process image: {} of {}",
            comparison.steps + 1 - comparison.mismatches.len(),
            comparison.steps + 1
        );
        for k in &comparison.mismatches {
            println!("  MISMATCH after {k} syscalls: the simulator's process model is wrong here");
        }
        if comparison.violations.is_empty() {
            println!("no crash point breaks an invariant on the real disk");
        }
        for (k, violation) in &comparison.violations {
            let simulated =
                simulated_at(*k).map_or("the simulator finds none here".to_string(), |i| format!("the simulator: {i}"));
            println!("  crash after {k}: {} violated: {} ({simulated})", violation.invariant, violation.summary);
        }
        println!(
            "time: real disk {} ms ({:.0} crash states/s), simulator {} ms ({:.0} crash states/s): {:.0}x",
            comparison.real_ms,
            rate(comparison.real_ms),
            comparison.sim_ms,
            rate(comparison.sim_ms),
            rate(comparison.sim_ms) / rate(comparison.real_ms)
        );
    }
    super::exit(ok)
}
