//! Soak: seeded random workloads with seeded faults, for as many seeds as the budget allows.
//!
//! Seed s gives one workload from the spec's state machine (a ChaCha stream seeded by s) and
//! one fault plan (an errno or a short write at a syscall drawn from the same seed). Each seed is
//! explored like an exhaustive workload: every crash point and image under the model, the clean
//! points, a restart, then the faulty run. A seed's result depends on the seed alone, so a CI
//! matrix, `cargo nextest --partition` or any batch scheduler can split a seed range with
//! `--shard i/n` (seed s runs on shard s mod n), and a violation replays from its seed.

use std::time::{Duration, Instant};

use crashsim_faults::Plan;
use crashsim_sim::Model;
use crashsim_store::Variant;
use rayon::prelude::*;

use crate::execute::{execute, Run};
use crate::explore::{
    check_fault_run, explore_workload, shrink_fault_finding, ExploreOptions, Merger, ModelResult, RecoveryCache,
};
use crate::workload::{self, Workload};

/// What to soak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoakOptions {
    /// First seed of the range. Default: 0.
    pub first_seed: u64,
    /// Number of seeds in the range (before sharding). Default: 1000.
    pub seeds: u64,
    /// This shard and the number of shards: seed s runs here when s mod count == index.
    /// Default: (0, 1).
    pub shard: (u64, u64),
    /// Stop starting seeds after this long (`None`: run the whole range). Seeds already started
    /// finish; the report says how many ran. Default: none.
    pub time_budget: Option<Duration>,
    /// Most operations of a workload. Default: 30.
    pub max_ops: usize,
    /// Crash image enumeration and the rest of the explorer's bounds.
    pub explore: ExploreOptions,
}

impl Default for SoakOptions {
    fn default() -> Self {
        Self {
            first_seed: 0,
            seeds: 1000,
            shard: (0, 1),
            time_budget: None,
            max_ops: 30,
            explore: ExploreOptions::default(),
        }
    }
}

/// What a soak found under one model.
pub struct SoakResult {
    pub result: ModelResult,
    /// The seeds that ran, in order.
    pub seeds_run: Vec<u64>,
    /// The seed of the first violation, if any.
    pub failing_seed: Option<u64>,
}

/// The seeds of this shard, in order.
pub fn shard_seeds(opts: &SoakOptions) -> Vec<u64> {
    let (index, count) = opts.shard;
    assert!(count > 0 && index < count, "shard {index}/{count}: the index must be below the count");
    (opts.first_seed..opts.first_seed.saturating_add(opts.seeds)).filter(|s| s % count == index).collect()
}

/// The workload and fault plan of one seed.
pub fn seed_case(variant: Variant, seed: u64, max_ops: usize) -> (Workload, Plan) {
    let (workload, _) = workload::random(seed, 1, max_ops).pop().expect("one workload per seed");
    let steps = execute(variant, &workload, &Plan::none(), &Run::default()).fs.steps();
    let mut plan = Plan::seeded(seed, steps, 1, false);
    plan.crash_after = None;
    (workload, plan)
}

/// Soaks `variant` under `model`; `progress` is told after each seed.
pub fn soak(
    variant: Variant,
    model: Model,
    opts: &SoakOptions,
    cache: &RecoveryCache,
    progress: &(dyn Fn() + Sync),
) -> SoakResult {
    let started = Instant::now();
    let seeds = shard_seeds(opts);
    let chunk = rayon::current_num_threads().max(1) * 4;
    let mut merger = Merger::new(variant, model);
    let mut seeds_run = Vec::new();
    for batch in seeds.chunks(chunk) {
        if opts.time_budget.is_some_and(|budget| started.elapsed() >= budget) {
            break;
        }
        let results: Vec<_> = batch
            .par_iter()
            .map(|&seed| {
                let (workload, plan) = seed_case(variant, seed, opts.max_ops);
                let mut result = explore_workload(variant, model, &workload, false, &opts.explore, cache);
                check_fault_run(variant, model, &workload, &plan, &opts.explore, cache, &mut result);
                progress();
                result
            })
            .collect();
        for (seed, result) in batch.iter().zip(results) {
            merger.add(seeds_run.len(), result);
            seeds_run.push(*seed);
        }
    }
    let (mut result, first_index) = merger.finish();
    if let Some(finding) = result.first.take() {
        result.first = Some(shrink_fault_finding(variant, model, finding, &opts.explore, cache));
    }
    result.elapsed_ms = started.elapsed().as_millis();
    SoakResult { result, failing_seed: first_index.map(|i| seeds_run[i]), seeds_run }
}
