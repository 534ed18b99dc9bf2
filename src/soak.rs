//! Soak: seeded random workloads with seeded faults, for as many seeds as the budget allows.
//!
//! With one client, seed s gives one workload from the spec's state machine (a ChaCha stream
//! seeded by s) and one fault plan (an errno or a short write at a syscall drawn from the same
//! seed). Each seed is explored like an exhaustive workload: every crash point and image under
//! the model, the clean points, a restart, then the faulty run.
//!
//! With several clients (races), seed s gives a workload of that many clients spread over the
//! processes (operations of the concurrent alphabet, drawn from a ChaCha stream seeded by s),
//! run under madsim seeded by s: madsim's scheduler and clock pick the interleaving, and for
//! three seeds in four one process is killed at a seeded simulated time within the run (madsim
//! node kill). The run is then checked at every crash point and image, at its quiescent clean
//! points, and after a restart. A build without `--cfg madsim` runs the same workloads on
//! crashsim's executor with a seeded random schedule, and kills nothing. A seed's result depends on the seed alone, so a CI
//! matrix, `cargo nextest --partition` or any batch scheduler can split a seed range with
//! `--shard i/n` (seed s runs on shard s mod n), and a violation replays from its seed.

use std::time::{Duration, Instant};

use crashsim_faults::Plan;
use crashsim_sim::Model;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::cache::RecoveryCache;
use crate::case::{Case, Finding};
use crate::execute::{execute, Execution, Run};
use crate::explore::{
    check_fault_run, check_run, explore_workload, shrink_finding, ExploreOptions, Merger, ModelResult, Scope,
    WorkloadResult,
};
use crate::subject::Subject;
use crate::workload::Workload;

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
    /// Most operations of a workload (over all its clients). Default: 30.
    pub max_ops: usize,
    /// Clients of each workload: 1 runs the seeded-fault soak of one client; more run races.
    /// Default: 1.
    pub clients: usize,
    /// Processes the clients of a race run in (client i in process i mod this). Default: 1.
    pub processes: usize,
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
            clients: 1,
            processes: 1,
            explore: ExploreOptions::default(),
        }
    }
}

/// What a soak found under one model.
pub struct SoakResult<S: Subject> {
    pub result: ModelResult<S>,
    /// Seeds of this shard in the range.
    pub seeds_planned: u64,
    /// Seeds that ran: the first this many of the shard's seeds, in order.
    pub seeds_run: u64,
    /// Whether the time budget stopped the run before the last planned seed.
    pub cut_short: bool,
    /// The seed of the finding shown (the smallest over the seeds that ran; on a tie, the
    /// earliest), if any.
    pub failing_seed: Option<u64>,
    /// The first seed, in the shard's order, that showed a violation (what
    /// `states_to_detection` counts up to); may differ from `failing_seed`.
    pub first_failing_seed: Option<u64>,
}

/// The seeds of this shard, in order, generated lazily (a huge range allocates nothing).
pub fn shard_seeds(opts: &SoakOptions) -> impl Iterator<Item = u64> {
    let (start, end, count) = shard_bounds(opts);
    (start..end).step_by(count as usize)
}

/// How many seeds this shard holds.
pub fn shard_seeds_planned(opts: &SoakOptions) -> u64 {
    let (start, end, count) = shard_bounds(opts);
    if start >= end {
        0
    } else {
        (end - start).div_ceil(count)
    }
}

/// The shard's first seed (the first s >= first_seed with s mod count == index), the end of the
/// range, and the step.
fn shard_bounds(opts: &SoakOptions) -> (u64, u64, u64) {
    let (index, count) = opts.shard;
    assert!(count > 0 && index < count, "shard {index}/{count}: the index must be below the count");
    let end = opts.first_seed.saturating_add(opts.seeds);
    let offset = (index + count - opts.first_seed % count) % count;
    (opts.first_seed.saturating_add(offset), end, count)
}

/// The workload and fault plan of one seed.
pub fn seed_case<S: Subject>(subject: &S, seed: u64, max_ops: usize) -> (Workload<S::Op>, Plan) {
    let workload = Workload::sequential(subject.random_ops(seed, max_ops));
    let steps = execute(subject, &workload, &Plan::none(), &Run::default()).fs.steps();
    let mut plan = Plan::seeded(seed, steps, 1, false);
    plan.crash_after = None;
    (workload, plan)
}

/// Soaks `variant` under `model`; `progress` is told after each seed.
pub fn soak<S: Subject>(
    subject: &S,
    model: Model,
    opts: &SoakOptions,
    cache: &RecoveryCache<S>,
    progress: &(dyn Fn() + Sync),
) -> SoakResult<S> {
    assert!(opts.clients >= 1 && (1..=opts.clients).contains(&opts.processes), "1 to {} processes", opts.clients);
    let started = Instant::now();
    let seeds_planned = shard_seeds_planned(opts);
    let mut seeds = shard_seeds(opts);
    let chunk = rayon::current_num_threads().max(1) * 4;
    let mut merger = Merger::new(subject, model);
    let (mut seeds_run, mut cut_short) = (0u64, false);
    loop {
        if opts.time_budget.is_some_and(|budget| started.elapsed() >= budget) {
            cut_short = seeds_run < seeds_planned;
            break;
        }
        let batch: Vec<u64> = seeds.by_ref().take(chunk).collect();
        if batch.is_empty() {
            break;
        }
        let results: Vec<_> = batch
            .par_iter()
            .map(|&seed| {
                let result = if opts.clients > 1 {
                    evaluate_race(subject, model, &race_case(subject, seed, opts), &opts.explore, cache)
                } else {
                    let (workload, plan) = seed_case(subject, seed, opts.max_ops);
                    let scope = Scope::one(subject, &model, &opts.explore, cache);
                    let mut results = explore_workload(&scope, &workload, false);
                    check_fault_run(&scope, &workload, &plan, false, &mut results);
                    results.pop().expect("one result per model")
                };
                progress();
                (result, started.elapsed().as_millis())
            })
            .collect();
        for (seed, (result, finished_ms)) in batch.iter().zip(results) {
            debug_assert_eq!(shard_seeds(opts).nth(seeds_run as usize), Some(*seed));
            merger.add(seeds_run as usize, result, finished_ms);
            seeds_run += 1;
        }
    }
    // The seed whose finding is kept (the smallest; on a tie, the earliest).
    let seed_at = |i: usize| shard_seeds(opts).nth(i).expect("a seed that ran");
    let first_failing_seed = merger.first_detected().map(seed_at);
    let (mut result, first_index) = merger.finish();
    let failing_seed = first_index.map(seed_at);
    if let (Some(finding), Some(seed)) = (result.first.take(), failing_seed) {
        result.first = Some(if finding.case.workload.is_concurrent() {
            shrink_race_finding(subject, model, finding, seed, &opts.explore, cache)
        } else {
            shrink_finding(subject, model, finding, &opts.explore, cache)
        });
    }
    result.elapsed_ms = started.elapsed().as_millis();
    SoakResult { result, seeds_planned, seeds_run, cut_short, failing_seed, first_failing_seed }
}

/// The workload of race seed `seed`: after the subject's concurrent setup, `clients` clients
/// over `processes` processes, 1 to `max_ops` operations in all (at least one per client) of
/// its concurrent alphabet, from a ChaCha stream seeded by `seed`.
pub fn race_workload<S: Subject>(
    subject: &S,
    seed: u64,
    clients: usize,
    processes: usize,
    max_ops: usize,
) -> Workload<S::Op> {
    assert!(max_ops >= clients, "each of {clients} clients needs an operation; {max_ops} allowed");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let alphabet = subject.concurrent_alphabet();
    assert!(!alphabet.is_empty(), "{} has no concurrent alphabet: it does not race", subject.name());
    let total = rng.random_range(clients..=max_ops);
    let mut each: Vec<Vec<S::Op>> = vec![Vec::new(); clients];
    for i in 0..total {
        // The first operation of each client first, then anywhere.
        let client = if i < clients { i } else { rng.random_range(0..clients) };
        each[client].push(alphabet[rng.random_range(0..alphabet.len())].clone());
    }
    Workload { setup: subject.concurrent_setup(), clients: each, processes }
}

/// Race seed `seed` as a case to check: its workload, and how it runs (madsim seeded by `seed`,
/// with a seeded kill; or, without madsim, a seeded schedule on crashsim's executor).
pub fn race_case<S: Subject>(subject: &S, seed: u64, opts: &SoakOptions) -> Case<S> {
    let workload = race_workload(subject, seed, opts.clients, opts.processes, opts.max_ops);
    let case = Case::restart(workload, Plan::none());
    race_run(subject, seed, case)
}

#[cfg(madsim)]
fn race_run<S: Subject>(subject: &S, seed: u64, mut case: Case<S>) -> Case<S> {
    use crate::execute::{Kill, MadsimRun};
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b69_6c6c);
    let whole = crate::on_madsim::execute(subject, &case.workload, &MadsimRun { seed, kill: None });
    let kill = (rng.random_range(0..4) != 0).then(|| Kill {
        process: rng.random_range(0..case.workload.processes),
        at_us: rng.random_range(0..whole.elapsed_us.max(1)),
    });
    case.madsim = Some(MadsimRun { seed, kill });
    case
}

#[cfg(not(madsim))]
fn race_run<S: Subject>(subject: &S, seed: u64, mut case: Case<S>) -> Case<S> {
    let mut strategy = crate::schedule::Seeded::new(seed);
    let run = crate::execute::execute_with(subject, &case.workload, &Plan::none(), Default::default(), &mut strategy);
    case.schedule = run.interleaving.schedule();
    case
}

/// Runs a race case and checks all of it: every crash point and image, the quiescent clean
/// points, a restart. The one evaluation of a race case, for the soak, its shrinking and tests.
pub(crate) fn evaluate_race<S: Subject>(
    subject: &S,
    model: Model,
    case: &Case<S>,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> WorkloadResult<S> {
    let run: Execution<S> = case.execute(subject, opts.preempt).expect("a race case runs in this build");
    let mut result = WorkloadResult::default();
    result.interleavings += 1;
    let scope = Scope::one(subject, &model, opts, cache);
    check_run(&run, case, 0..=run.fs.steps(), true, None, &scope, std::slice::from_mut(&mut result));
    result
}

/// Shrinks a race finding of seed `seed`: drops one operation at a time (a client with none left
/// goes, and so does a process with no client), as long as some check still fails. Under madsim
/// the run keeps its seed and kill; on crashsim's executor a smaller workload is tried under the
/// schedule the same seed draws for it, then under the default schedule. A smaller workload of
/// at most `SEARCH_OPS_MAX` operations that none of these breaks is searched with the
/// explorer's bounded-preemption DFS. Returns the smallest finding.
pub fn shrink_race_finding<S: Subject>(
    subject: &S,
    model: Model,
    finding: Finding<S>,
    seed: u64,
    opts: &ExploreOptions,
    cache: &RecoveryCache<S>,
) -> Finding<S> {
    let mut best = finding;
    'shrink: loop {
        let workload = best.case.workload.clone();
        for (client, ops) in workload.clients.iter().enumerate().rev() {
            for op in (0..ops.len()).rev() {
                let Some(smaller) = workload.without(client, op) else { continue };
                for case in smaller_cases(subject, seed, &best.case, smaller.clone()) {
                    if let Some(found) = evaluate_race(subject, model, &case, opts, cache).first {
                        best = found;
                        continue 'shrink;
                    }
                }
                // Another interleaving may still break it: the explorer's bounded search, for
                // workloads small enough to search.
                if smaller.is_concurrent() && smaller.len() <= SEARCH_OPS_MAX {
                    let found = explore_workload(&Scope::one(subject, &model, opts, cache), &smaller, false).pop();
                    if let Some(found) = found.and_then(|r| r.first) {
                        best = found;
                        continue 'shrink;
                    }
                }
            }
        }
        return best;
    }
}

/// Most operations of a smaller race workload that shrinking searches with the explorer's
/// bounded-preemption DFS when its own schedule no longer breaks it.
const SEARCH_OPS_MAX: usize = 4;

/// The cases a smaller workload is tried as, in order.
fn smaller_cases<S: Subject>(subject: &S, seed: u64, case: &Case<S>, workload: Workload<S::Op>) -> Vec<Case<S>> {
    let mut smaller = Case { workload, ..case.clone() };
    if let Some(run) = &mut smaller.madsim {
        run.kill = run.kill.take().filter(|kill| kill.process < smaller.workload.processes);
        return vec![smaller];
    }
    let seeded = race_run(subject, seed, Case { schedule: Default::default(), ..smaller.clone() });
    smaller.schedule = Default::default();
    vec![seeded, smaller]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_range_lazily_and_are_counted_without_listing() {
        for first_seed in [0, 1, 5, 17] {
            for seeds in [0, 1, 2, 9, 31] {
                let mut union = Vec::new();
                for count in 1..5 {
                    union.clear();
                    for index in 0..count {
                        let opts = SoakOptions { first_seed, seeds, shard: (index, count), ..SoakOptions::default() };
                        let mine: Vec<u64> = shard_seeds(&opts).collect();
                        assert!(mine.iter().all(|s| s % count == index));
                        assert_eq!(mine.len() as u64, shard_seeds_planned(&opts));
                        union.extend(mine);
                    }
                    union.sort();
                    assert_eq!(union, (first_seed..first_seed + seeds).collect::<Vec<_>>());
                }
            }
        }
        let huge = SoakOptions { first_seed: 3, seeds: u64::MAX, shard: (1, 4), ..SoakOptions::default() };
        assert_eq!(shard_seeds(&huge).take(3).collect::<Vec<_>>(), [5, 9, 13]);
        assert_eq!(shard_seeds_planned(&huge), (u64::MAX - 5).div_ceil(4));
    }
}
