//! Determinism is the product: the same bounds give the same figures, the same first violation
//! and the same reproducer, byte for byte, whatever the number of threads.

use crashsim::cache::RecoveryCache;
use crashsim::explore::{explore, ExploreOptions, ModelResult};
use crashsim::report::reproduce;
use crashsim::session::Session;
use crashsim_sim::Model;
use crashsim_store::Variant;

fn run(threads: usize, variant: Variant, model: Model) -> (ModelResult<Session>, Option<String>) {
    let opts = ExploreOptions { max_ops: 2, random_workloads: 4, errno_max_ops: 1, ..ExploreOptions::default() };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let mut result = pool.install(|| explore(&Session(variant), model, &opts, &RecoveryCache::default(), &|| {}));
    // Wall-clock figures are the only ones allowed to differ.
    assert_eq!(result.ms_to_detection.is_some(), result.states_to_detection.is_some());
    (result.elapsed_ms, result.ms_to_detection) = (0, None);
    let text = result.first.as_ref().map(|f| reproduce(&Session(variant), model, &f.case, &opts).unwrap().text);
    (result, text)
}

#[test]
fn one_thread_or_many_the_same_result() {
    for (variant, model) in [(Variant::Reference, Model::Posix), (Variant::RotateRenamesAway, Model::Ordered)] {
        let single = run(1, variant, model);
        let many = run(3, variant, model);
        assert_eq!(single, many, "{variant} / {model}");
    }
}
