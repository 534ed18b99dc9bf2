//! Soak: the reference store under random workloads from the spec's state machine, every
//! persistence model, errno and short-write runs included. A CI run uses a small budget; a soak
//! run sets a large one and a seed of its own:
//!
//! ```sh
//! CRASHSIM_SOAK_WORKLOADS=2000 CRASHSIM_SOAK_SEED=42 cargo test --release --test soak -- --nocapture
//! ```

use crashsim::explore::{explore, ExploreOptions, RecoveryCache};
use crashsim_sim::Model;
use crashsim_store::Variant;

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn reference_store_survives_random_workloads() {
    let opts = ExploreOptions {
        max_ops: 1,
        random_workloads: env_or("CRASHSIM_SOAK_WORKLOADS", 6) as usize,
        random_max_ops: 30,
        errno_max_ops: 1,
        seed: env_or("CRASHSIM_SOAK_SEED", 1),
        ..ExploreOptions::default()
    };
    let cache = RecoveryCache::default();
    for model in Model::ALL {
        let result = explore(Variant::Reference, model, &opts, &cache, &|| {});
        eprintln!(
            "soak {model}: {} workloads, {} crash states ({} distinct), seed {}",
            result.workloads, result.crash_states, result.distinct_states, opts.seed
        );
        if let Some(finding) = result.first {
            panic!(
                "{}\nreplay: {}",
                finding.violation,
                crashsim::report::replay_command(Variant::Reference, model, &finding.case)
            );
        }
        assert!(result.crash_states > 0);
    }
}
