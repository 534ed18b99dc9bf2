//! The explorer's speed on the built-in session store. Run: `cargo bench -p crashsim --bench explore`.
//!
//! - `crash_states` / `distinct_states`: the reference under one model, every workload of up to
//!   two operations and the concurrent ones, no random workloads, no errno runs, a fresh
//!   recovery cache each iteration.
//! - `reference_max_ops_3`: the reference under all three models in one pass at `--max-ops 3`
//!   with the default random, errno and concurrent workloads (`explore --variant reference
//!   --model all --max-ops 3`); counts every crash state checked.
//! - `recoveries`: booting a store on each distinct crash image of a six-operation workload
//!   under posix (the cost a cache miss pays); counts images booted.
//! - `first_detection`: each bug variant under the models it is caught under, stopping at the
//!   first batch that catches it, as the self-check does: the time to first detection.

use crashsim::cache::RecoveryCache;
use crashsim::execute::execute;
use crashsim::explore::{explore, explore_models, ExploreOptions, ModelResult};
use crashsim::session::Session;
use crashsim::subject::recover_on;
use crashsim_faults::Plan;
use crashsim_sim::{Image, ImageOptions, Model};
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

#[divan::bench(sample_count = 5)]
fn reference_max_ops_3(bencher: Bencher) {
    let opts = ExploreOptions { max_ops: 3, ..ExploreOptions::default() };
    let all = || explore_models(&Session(Variant::Reference), &Model::ALL, &opts, &RecoveryCache::default(), &|| {});
    let total: u64 = all().iter().map(|r| r.crash_states).sum();
    bencher.counter(ItemsCount::new(total as usize)).bench(all);
}

#[divan::bench(sample_count = 5)]
fn recoveries(bencher: Bencher) {
    let subject = Session(Variant::Reference);
    let workload =
        crashsim::session::workload::parse("create a L; append a m; create b L; reset a; rotate; delete b", 1, "")
            .unwrap();
    let run = execute(&subject, &workload, &Plan::none(), &Default::default());
    let mut seen = std::collections::BTreeMap::new();
    for k in 0..=run.fs.steps() {
        let set = run.fs.crash_images(k, Model::Posix, &ImageOptions::default());
        for (i, &fingerprint) in set.fingerprints.iter().enumerate() {
            seen.entry(fingerprint).or_insert_with(|| set.image(i));
        }
    }
    let images: Vec<Image> = seen.into_values().collect();
    bencher.counter(ItemsCount::new(images.len())).bench(|| {
        for image in &images {
            let _ = divan::black_box(recover_on(&subject, image));
        }
    });
}

#[divan::bench(args = Variant::ALL.iter().filter(|v| **v != Variant::Reference).map(|v| v.name()), sample_count = 3)]
fn first_detection(variant: &str) {
    let variant: Variant = variant.parse().unwrap();
    let opts = ExploreOptions { stop_under: Model::ALL.to_vec(), ..ExploreOptions::default() };
    let models = variant.caught_under();
    let results = explore_models(&Session(variant), models, &opts, &RecoveryCache::default(), &|| {});
    assert!(results.iter().all(|r| r.violations > 0), "{variant} is caught under {models:?}");
}
