//! `soak`: seeded random workloads with seeded faults (or races), sharded.

use std::process::ExitCode;
use std::time::Instant;

use crashsim_sim::Model;
use serde_json::json;

use super::progress::Progress;
use crate::cache::RecoveryCache;
use crate::soak::{shard_seeds_planned, soak, SoakOptions, SoakResult};
use crate::subject::Subject;

/// Soaks `subject` under each model in turn; `opts.time_budget` is one budget for the whole
/// run. Exit 0 when no violation was found, 1 when one was, 2 when no seed ran at all.
pub fn run<S: Subject>(subject: &S, models: &[Model], opts: &SoakOptions, json: bool) -> ExitCode {
    let variant = subject.name();
    let planned = shard_seeds_planned(opts);
    let planned_all = planned.saturating_mul(models.len() as u64);
    let progress = Progress::new(planned_all, "seeds");
    let cache = RecoveryCache::default();
    let started = Instant::now();
    let mut results: Vec<SoakResult<S>> = Vec::new();
    for &model in models {
        progress.set_label(format!("{variant} / {model}"));
        let left = opts.time_budget.map(|budget| budget.saturating_sub(started.elapsed()));
        let mine = SoakOptions { time_budget: left, ..opts.clone() };
        results.push(soak(subject, model, &mine, &cache, &|| progress.inc()));
    }
    progress.finish();
    let (index, count) = opts.shard;
    let seeds_run: u64 = results.iter().map(|s| s.seeds_run).sum();
    let cut_short = results.iter().any(|s| s.cut_short);
    if json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|s| {
                let r = &s.result;
                json!({
                    "variant": variant,
                    "model": r.model.name(),
                    "seeds_planned": s.seeds_planned,
                    "seeds_run": s.seeds_run,
                    "cut_short": s.cut_short,
                    "crash_states": r.crash_states,
                    "distinct_states": r.distinct_states,
                    "distinct_exact": r.distinct_exact,
                    "violations": r.violations,
                    "first_failing_seed": s.first_failing_seed,
                    "failing_seed": s.failing_seed,
                    "states_to_detection": r.states_to_detection,
                    "ms_to_detection": r.ms_to_detection,
                    "replay": r.first.as_ref().and_then(|f| subject.replay(r.model, &f.case, &opts.explore)),
                    "elapsed_ms": r.elapsed_ms,
                })
            })
            .collect();
        let value = json!({
            "command": "soak",
            "ok": seeds_run > 0 && results.iter().all(|s| s.result.violations == 0),
            "shard": format!("{index}/{count}"),
            "first_seed": opts.first_seed,
            "seeds": opts.seeds,
            "clients": opts.clients,
            "processes": opts.processes,
            "seeds_planned": planned_all,
            "seeds_run": seeds_run,
            "cut_short": cut_short,
            "races_run": opts.clients > 1,
            "results": rows,
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serializes"));
    } else {
        let what = if opts.clients > 1 {
            format!("races of {} clients in {} process(es)", opts.clients, opts.processes)
        } else {
            "one client, one seeded fault per seed".to_string()
        };
        println!(
            "soak {variant} ({what}), shard {index}/{count} of seeds {}..{}: {planned} seed(s) per model",
            opts.first_seed,
            opts.first_seed.saturating_add(opts.seeds)
        );
        for s in &results {
            let r = &s.result;
            println!(
                "{:<8} {:>7} seeds  {:>10} crash states  {:>7} distinct  {:>6} violations  {:>7.1}s",
                r.model.name(),
                s.seeds_run,
                r.crash_states,
                crate::distinct::shown(r.distinct_states, r.distinct_exact),
                r.violations,
                r.elapsed_ms as f64 / 1000.0
            );
            if let (Some(finding), Some(seed)) = (&r.first, s.failing_seed) {
                println!("  seed {seed}: {}", finding.violation.summary);
                if let Some(first) = s.first_failing_seed.filter(|first| *first != seed) {
                    println!("  (first detected at seed {first}; seed {seed}'s finding is the smallest)");
                }
                if let Some(replay) = subject.replay(r.model, &finding.case, &opts.explore) {
                    println!("  replay: {replay}");
                }
            }
        }
        if cut_short {
            println!("the time budget ran out: {seeds_run} of {planned_all} seeds ran");
        }
        if opts.clients == 1 && !subject.concurrent_alphabet().is_empty() {
            println!("races were not run: soak --clients 2 runs them (--processes 2: in two processes)");
        }
    }
    if seeds_run == 0 {
        eprintln!(
            "error: no seed ran ({}): give a range with seeds in this shard, or a longer --time",
            if planned == 0 {
                format!("shard {index}/{count} holds none of the range")
            } else {
                "the time budget was spent".to_string()
            }
        );
        return ExitCode::from(2);
    }
    if results.iter().any(|s| s.result.violations > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
