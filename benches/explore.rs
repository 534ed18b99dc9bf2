//! Crash states checked per second on the reference store, total and distinct, per persistence
//! model: every workload of up to two operations, no random workloads, no errno runs, a fresh
//! recovery cache each iteration. Run: `cargo bench -p crashsim --bench explore`.

use crashsim::cache::RecoveryCache;
use crashsim::explore::{explore, ExploreOptions, ModelResult};
use crashsim::session::Session;
use crashsim_sim::Model;
use crashsim_store::Variant;
use divan::counter::ItemsCount;
use divan::Bencher;

fn main() {
    divan::main();
}

fn bounds() -> ExploreOptions {
    ExploreOptions { max_ops: 2, random_workloads: 0, errno_max_ops: 0, ..ExploreOptions::default() }
}

fn run(model: Model) -> ModelResult<Session> {
    explore(&Session(Variant::Reference), model, &bounds(), &RecoveryCache::default(), &|| {})
}

#[divan::bench(args = ["process", "ordered", "posix"], sample_count = 5)]
fn crash_states(bencher: Bencher, model: &str) {
    let model: Model = model.parse().unwrap();
    let total = run(model).crash_states as usize;
    bencher.counter(ItemsCount::new(total)).bench(|| run(model));
}

#[divan::bench(args = ["process", "ordered", "posix"], sample_count = 5)]
fn distinct_states(bencher: Bencher, model: &str) {
    let model: Model = model.parse().unwrap();
    let distinct = run(model).distinct_states;
    bencher.counter(ItemsCount::new(distinct)).bench(|| run(model));
}
