//! Soak: the reference store under seeded random workloads with a seeded fault each (an errno
//! or a short write), every persistence model. CI runs a few hundred seeds; a soak run sets its
//! own range:
//!
//! ```sh
//! CRASHSIM_SOAK_SEEDS=100000 CRASHSIM_SOAK_FIRST_SEED=0 cargo test --release --test soak -- --nocapture
//! ```
//!
//! (`crashsim soak --seeds N --shard i/n` does the same from the command line.)

use crashsim::explore::RecoveryCache;
use crashsim::report::replay_command;
use crashsim::soak::{soak, SoakOptions};
use crashsim_sim::Model;
use crashsim_store::Variant;

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn assert_clean(first_seed: u64, seeds: u64) {
    let opts = SoakOptions { first_seed, seeds, ..SoakOptions::default() };
    let cache = RecoveryCache::default();
    for model in Model::ALL {
        let soaked = soak(Variant::Reference, model, &opts, &cache, &|| {});
        let result = &soaked.result;
        eprintln!(
            "soak {model}: seeds {first_seed}..{}, {} crash states ({} distinct)",
            first_seed + seeds,
            result.crash_states,
            result.distinct_states
        );
        if let Some(finding) = &result.first {
            panic!(
                "seed {:?}: {}\nreplay: {}",
                soaked.failing_seed,
                finding.violation,
                replay_command(Variant::Reference, model, &finding.case, &opts.explore)
            );
        }
        assert_eq!(soaked.seeds_run.len() as u64, seeds);
    }
}

#[test]
fn reference_store_survives_seeded_faults() {
    assert_clean(env_or("CRASHSIM_SOAK_FIRST_SEED", 0), env_or("CRASHSIM_SOAK_SEEDS", 300));
}

/// Seeds that once found bugs in the reference store: a delete whose registry update failed
/// after its files were archived (now put back), and resets that failed after switching (the
/// old transcript is now archived at once or at the next call, instead of coming back).
#[test]
fn seeds_that_found_bugs_stay_fixed() {
    for seed in [131, 1734, 2379] {
        assert_clean(seed, 1);
    }
}
