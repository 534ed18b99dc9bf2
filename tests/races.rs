//! The races: concurrent clients interleaved at syscall granularity (every schedule within the
//! preemption bound), in one process and in two, each interleaving also crashed at every
//! syscall. Each race variant is caught where its documentation says, with a reproducer of at
//! most 2 clients and 4 operations kept as a snapshot, and the reference passes.

use crashsim::cache::RecoveryCache;
use crashsim::case::Check;
use crashsim::explore::{explore, ExploreOptions, ModelResult};
use crashsim::report::reproduce;
use crashsim::session::Session;
use crashsim_sim::Model;
use crashsim_store::{Concurrency, Variant};

/// Concurrent workloads only: two clients with one operation each, in one process and in two
/// (`processes_max`), every interleaving with at most two preemptions.
fn races(processes_max: usize) -> ExploreOptions {
    ExploreOptions {
        max_ops: 0,
        random_workloads: 0,
        errno_max_ops: 0,
        client_ops_max: 1,
        processes_max,
        ..ExploreOptions::default()
    }
}

fn explore_models(variant: Variant, models: &[Model], opts: &ExploreOptions) -> Vec<ModelResult<Session>> {
    let cache = RecoveryCache::default();
    models.iter().map(|&model| explore(&Session(variant), model, opts, &cache, &|| {})).collect()
}

/// Asserts that concurrent exploration catches `variant` under every model it is documented
/// for, replays the smallest finding, and snapshots its reproducer.
fn assert_race(variant: Variant, opts: &ExploreOptions) -> crashsim::case::Finding<Session> {
    let results = explore_models(variant, &Model::ALL, opts);
    let caught: Vec<Model> = results.iter().filter(|r| r.violations > 0).map(|r| r.model).collect();
    assert_eq!(caught, variant.caught_under(), "{variant} is caught exactly where it is documented to be");
    let first = &results[0];
    let finding = first.first.clone().expect("caught under process");
    assert!(finding.case.workload.clients.len() <= 2 && finding.case.workload.len() <= 4, "{:?}", finding.case);
    assert!(first.interleavings > first.workloads as u64, "more than one interleaving per workload");
    let reproduction = reproduce(&Session(variant), first.model, &finding.case, opts).expect("the case replays");
    assert_eq!(
        reproduction.violation.as_ref().map(|v| v.invariant),
        Some(finding.violation.invariant),
        "the replay shows it again:\n{}",
        reproduction.text
    );
    insta::assert_snapshot!(variant.name(), reproduction.text);
    finding
}

#[test]
fn reference_passes_every_interleaving_in_one_and_two_processes() {
    for result in explore_models(Variant::Reference, &Model::ALL, &races(2)) {
        assert_eq!(result.violations, 0, "{:?}", result.first.map(|f| f.violation.to_string()));
        assert!(result.interleavings > 1000, "{} interleavings under {}", result.interleavings, result.model);
    }
}

#[test]
fn unlocked_update_3210_loses_a_concurrent_update() {
    assert_eq!(Variant::UpdateWithoutLock.needs_concurrency(), Concurrency::Clients);
    // One client alone never shows it.
    let alone = ExploreOptions { max_ops: 2, client_ops_max: 0, ..races(1) };
    assert!(explore_models(Variant::UpdateWithoutLock, &Model::ALL, &alone).iter().all(|r| r.violations == 0));
    // Two tasks of one process do.
    let finding = assert_race(Variant::UpdateWithoutLock, &races(1));
    assert_eq!(finding.case.workload.processes, 1);
}

#[test]
fn process_local_lock_14498_is_caught_by_two_processes_only() {
    assert_eq!(Variant::ProcessLocalLock.needs_concurrency(), Concurrency::Processes);
    let one = explore_models(Variant::ProcessLocalLock, &Model::ALL, &races(1));
    for result in &one {
        let first = result.first.as_ref().map(|f| (f.violation.to_string(), f.case.clone()));
        assert_eq!(result.violations, 0, "one process serializes its tasks in its queue: {first:?}");
    }
    let finding = assert_race(Variant::ProcessLocalLock, &races(2));
    assert_eq!(finding.case.workload.processes, 2);
}

#[test]
fn unregistered_create_after_ack_3210_is_seen_by_a_concurrent_client() {
    // Without crashes or clean points between calls of one client: another process looks the
    // session up after the create was acknowledged, and the registration has not run yet.
    let opts = races(2);
    let results = explore_models(Variant::CreateRegistersAfterAck, &[Model::Process], &opts);
    let finding = results[0].first.clone().expect("caught");
    assert!(finding.case.workload.is_concurrent());
    let results = explore_models(Variant::CreateRegistersAfterAck, &Model::ALL, &opts);
    let caught: Vec<Model> = results.iter().filter(|r| r.violations > 0).map(|r| r.model).collect();
    assert_eq!(caught, Variant::CreateRegistersAfterAck.caught_under());
    let reproduction =
        reproduce(&Session(Variant::CreateRegistersAfterAck), Model::Process, &finding.case, &opts).unwrap();
    assert!(reproduction.violation.is_some(), "{}", reproduction.text);
    insta::assert_snapshot!("unregistered-create-after-ack-concurrent", reproduction.text);
}

#[test]
fn a_schedule_replays_byte_for_byte() {
    let opts = races(2);
    let results = explore_models(Variant::UpdateWithoutLock, &[Model::Ordered], &opts);
    let finding = results[0].first.clone().expect("caught");
    let first = reproduce(&Session(Variant::UpdateWithoutLock), Model::Ordered, &finding.case, &opts).unwrap().text;
    let again = reproduce(&Session(Variant::UpdateWithoutLock), Model::Ordered, &finding.case, &opts).unwrap().text;
    assert_eq!(first, again);
    // Another schedule is another run: the default one (no preemption) does not lose the update
    // at this check.
    if let Check::Crash { .. } | Check::Clean { .. } = finding.case.check {
        let default = crashsim::case::Case { schedule: Default::default(), ..finding.case.clone() };
        let replay = reproduce(&Session(Variant::UpdateWithoutLock), Model::Ordered, &default, &opts).unwrap().text;
        assert_ne!(replay, first);
    }
}

/// Interleaving state caching (an interleaving checked only up to a state an earlier one of
/// its workload explored) changes no verdict: each race variant is caught under `process` with
/// the same invariant, and the reference still passes under every model, each with fewer crash
/// states checked.
#[test]
fn interleaving_state_caching_changes_no_verdict() {
    let cases = [
        (Variant::Reference, Model::ALL.to_vec()),
        (Variant::UpdateWithoutLock, vec![Model::Process]),
        (Variant::ProcessLocalLock, vec![Model::Process]),
        (Variant::StaleCacheRead, vec![Model::Process]),
        (Variant::CachedUpdate, vec![Model::Process]),
    ];
    for (variant, models) in cases {
        let processes = if variant.needs_concurrency() == Concurrency::Processes { 2 } else { 1 };
        let cached = explore_models(variant, &models, &races(processes));
        let whole = explore_models(variant, &models, &ExploreOptions { state_caching: false, ..races(processes) });
        for (c, w) in cached.iter().zip(&whole) {
            let invariant = |r: &ModelResult<Session>| r.first.as_ref().map(|f| f.violation.invariant);
            assert_eq!(invariant(c), invariant(w), "{variant} under {}", c.model);
            assert_eq!(invariant(c).is_some(), variant != Variant::Reference, "{variant} under {}", c.model);
            assert_eq!(c.interleavings, w.interleavings, "{variant}: the same schedules run");
            assert_eq!(w.interleavings_cut, 0);
            assert!(c.interleavings_cut > 0, "{variant} under {}: no interleaving reached a seen state", c.model);
            assert!(c.crash_states < w.crash_states, "{variant} under {}: caching checked no fewer", c.model);
        }
    }
}
