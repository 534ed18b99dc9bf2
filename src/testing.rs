//! Exploring a store from its own tests: put one call in `tests/` and `cargo test --release`
//! runs every crash point of every workload under every persistence model.
//!
//! ```text
//! #[test]
//! fn my_store_survives_crashes() {
//!     crashsim::testing::assert_consistent(&MyStore::default());
//! }
//! ```
//!
//! The bounds come from [`ExploreOptions::default`], and three environment variables widen them
//! without a rebuild, as a soak does: `CRASHSIM_SEEDS` (random workloads, default 16),
//! `CRASHSIM_FIRST_SEED` (the first one's seed, default 0) and `CRASHSIM_MAX_OPS` (the length of
//! exhaustive workloads, default 3). A violation panics with the shrunk reproducer.

use crashsim_sim::Model;

use crate::cache::RecoveryCache;
use crate::explore::{self, ExploreOptions, ModelResult};
use crate::report::reproduce;
use crate::subject::Subject;

/// Random workloads explored (a seed budget); default 16.
pub const SEEDS_VAR: &str = "CRASHSIM_SEEDS";
/// The first random workload's seed; default 0.
pub const FIRST_SEED_VAR: &str = "CRASHSIM_FIRST_SEED";
/// Most operations of an exhaustive workload; default 3.
pub const MAX_OPS_VAR: &str = "CRASHSIM_MAX_OPS";

/// The explorer's bounds for a store's tests: the defaults (exhaustive workloads of up to 3
/// operations), widened by the environment variables above. Panics on a variable that is not
/// a number, naming it.
pub fn options_from_env() -> ExploreOptions {
    let read = |name: &str, default: u64| match std::env::var(name) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{name}={text:?}: expected a whole number")),
        Err(_) => default,
    };
    ExploreOptions {
        max_ops: read(MAX_OPS_VAR, 3) as usize,
        random_workloads: read(SEEDS_VAR, 16) as usize,
        seed: read(FIRST_SEED_VAR, 0),
        ..ExploreOptions::default()
    }
}

/// Explores `subject` under each model in `models` with `opts`; one result per model.
pub fn explore_models<S: Subject>(subject: &S, models: &[Model], opts: &ExploreOptions) -> Vec<ModelResult<S>> {
    explore::explore_models(subject, models, opts, &RecoveryCache::default(), &|| {})
}

/// Asserts that `subject` passes every check under every model, within the bounds of
/// [`options_from_env`]; on a violation, panics with the smallest reproducer.
pub fn assert_consistent<S: Subject>(subject: &S) {
    let opts = options_from_env();
    for result in explore_models(subject, &Model::ALL, &opts) {
        if let Some(finding) = &result.first {
            let text = reproduce(subject, result.model, &finding.case, &opts).map_or_else(|e| e, |r| r.text);
            panic!("{} is not crash-consistent under {}:\n{text}", subject.name(), result.model);
        }
    }
}

/// Asserts that the explorer catches `subject` (a bug variant) under exactly `models`, within
/// the bounds of [`options_from_env`]; returns the results, one per model of [`Model::ALL`].
pub fn assert_caught_under<S: Subject>(subject: &S, models: &[Model]) -> Vec<ModelResult<S>> {
    let results = explore_models(subject, &Model::ALL, &options_from_env());
    let caught: Vec<Model> = results.iter().filter(|r| r.first.is_some()).map(|r| r.model).collect();
    assert_eq!(caught, models, "{} is caught under {caught:?}, expected {models:?}", subject.name());
    results
}

/// What an example prints: each subject under each model (states checked, violations, the
/// invariant), then the reproducer of each subject's first finding.
pub fn demo<S: Subject>(subjects: &[S]) {
    let opts = options_from_env();
    println!(
        "{:<36} {:<8} {:>9} {:>12} {:>10}  invariant",
        "store", "model", "workloads", "crash states", "violations"
    );
    let mut reproducers = Vec::new();
    for subject in subjects {
        let results = explore_models(subject, &Model::ALL, &opts);
        for r in &results {
            let invariant = r.first.as_ref().map_or("-", |f| f.violation.invariant);
            println!(
                "{:<36} {:<8} {:>9} {:>12} {:>10}  {invariant}",
                subject.name(),
                r.model.name(),
                r.workloads,
                r.crash_states,
                r.violations
            );
        }
        if let Some(r) = results.iter().find(|r| r.first.is_some()) {
            let case = &r.first.as_ref().expect("found").case;
            let text = reproduce(subject, r.model, case, &opts).map_or_else(|e| e, |r| r.text);
            reproducers.push(format!("==== {} / {} ====\n{text}", subject.name(), r.model));
        }
    }
    for text in reproducers {
        println!("\n{text}");
    }
}
