//! `crashsim soak`: seeded random workloads with seeded faults, sharded.

use std::process::ExitCode;

use crashsim_sim::Model;
use crashsim_store::Variant;
use indicatif::ProgressBar;
use serde_json::json;

use crate::explore::RecoveryCache;
use crate::report::replay_command;
use crate::soak::{shard_seeds, soak, SoakOptions, SoakResult};

pub fn run(variant: Variant, models: &[Model], opts: &SoakOptions, json: bool) -> ExitCode {
    let planned = shard_seeds(opts).len();
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new((planned * models.len()) as u64) };
    let cache = RecoveryCache::default();
    let results: Vec<SoakResult> = models.iter().map(|&m| soak(variant, m, opts, &cache, &|| bar.inc(1))).collect();
    bar.finish_and_clear();
    let (index, count) = opts.shard;
    if json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|s| {
                let r = &s.result;
                json!({
                    "variant": variant.name(),
                    "model": r.model.name(),
                    "shard": format!("{index}/{count}"),
                    "seeds_run": s.seeds_run.len(),
                    "first_seed": s.seeds_run.first(),
                    "last_seed": s.seeds_run.last(),
                    "crash_states": r.crash_states,
                    "distinct_states": r.distinct_states,
                    "violations": r.violations,
                    "failing_seed": s.failing_seed,
                    "replay": r.first.as_ref().map(|f| replay_command(variant, r.model, &f.case, &opts.explore)),
                    "elapsed_ms": r.elapsed_ms,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "soak": rows })).expect("JSON serializes"));
    } else {
        println!("soak {variant}, shard {index}/{count}, seeds {}..{}", opts.first_seed, opts.first_seed + opts.seeds);
        for s in &results {
            let r = &s.result;
            println!(
                "{:<8} {:>6} seeds  {:>10} crash states  {:>7} distinct  {:>6} violations  {:>7.1}s",
                r.model.name(),
                s.seeds_run.len(),
                r.crash_states,
                r.distinct_states,
                r.violations,
                r.elapsed_ms as f64 / 1000.0
            );
            if let (Some(finding), Some(seed)) = (&r.first, s.failing_seed) {
                println!(
                    "  seed {seed}: {}\n  replay: {}",
                    finding.violation.summary,
                    replay_command(variant, r.model, &finding.case, &opts.explore)
                );
            }
        }
        if results.iter().any(|s| s.seeds_run.len() < planned) {
            println!("(the time budget ran out before the last seeds: {planned} were planned)");
        }
    }
    if results.iter().any(|s| s.result.violations > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
