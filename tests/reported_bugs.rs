//! One test per reported bug: its variant is detected exactly under the persistence models where
//! the bug is real, with the documented invariant, and a shrunk reproducer of at most 6
//! operations, kept as a snapshot (`tests/snapshots/`) so a change in what crashsim reports is
//! reviewed. The reference store passes.

use crashsim::cache::RecoveryCache;
use crashsim::case::{Case, Check};
use crashsim::explore::{explore, ExploreOptions, ModelResult};
use crashsim::report::reproduce;
use crashsim::session::Session;
use crashsim_faults::Plan;
use crashsim_model::Invariant;
use crashsim_sim::Model;
use crashsim_store::Variant;

/// Small bounds: every sequence of up to two operations of one client, no random workloads, no
/// errno runs, no concurrent clients (`tests/races.rs` has those).
fn bounds() -> ExploreOptions {
    ExploreOptions { max_ops: 2, random_workloads: 0, errno_max_ops: 0, client_ops_max: 0, ..ExploreOptions::default() }
}

fn explore_all(variant: Variant, opts: &ExploreOptions) -> Vec<ModelResult<Session>> {
    let cache = RecoveryCache::default();
    Model::ALL.iter().map(|&model| explore(&Session(variant), model, opts, &cache, &|| {})).collect()
}

/// Asserts where `variant` is caught and with which invariant, and snapshots its reproducer.
fn assert_reported_bug(variant: Variant, invariant: Invariant) {
    assert_reported_bug_within(variant, invariant, &bounds());
}

fn assert_reported_bug_within(variant: Variant, invariant: Invariant, opts: &ExploreOptions) {
    let results = explore_all(variant, opts);
    let caught: Vec<Model> = results.iter().filter(|r| r.violations > 0).map(|r| r.model).collect();
    assert_eq!(caught, variant.caught_under(), "{variant} is caught exactly where it is documented to be");
    let first = results.iter().find(|r| r.first.is_some()).expect("caught under some model");
    let finding = first.first.as_ref().expect("has a finding");
    assert_eq!(finding.violation.invariant, invariant.name(), "{variant}: {}", finding.violation);
    assert!(finding.case.workload.len() <= 6, "reproducer too long: {:?}", finding.case.workload);
    let reproduction = reproduce(&Session(variant), first.model, &finding.case, opts).expect("the case replays");
    assert_eq!(
        reproduction.violation.as_ref().map(|v| v.invariant),
        Some(invariant.name()),
        "the replay shows it again"
    );
    insta::assert_snapshot!(variant.name(), reproduction.text);
}

#[test]
fn reference_store_passes_every_model() {
    let opts = ExploreOptions { random_workloads: 4, errno_max_ops: 1, ..bounds() };
    for result in explore_all(Variant::Reference, &opts) {
        assert_eq!(result.violations, 0, "{:?}", result.first.map(|f| f.violation.to_string()));
        assert!(result.crash_states > 1000, "{} crash states under {}", result.crash_states, result.model);
    }
}

/// The registry damaged on restart (emptied, cut at every byte, garbage in its last sector),
/// which the fault runs of short workloads inject: read as empty, it loses every session.
#[test]
fn corrupt_registry_read_as_empty_loses_every_session() {
    let opts = ExploreOptions { errno_max_ops: 1, ..bounds() };
    assert_reported_bug_within(Variant::CorruptRegistryReadAsEmpty, Invariant::Durable, &opts);
}

#[test]
fn unregistered_create_3210() {
    assert_reported_bug(Variant::CreateSkipsRegistry, Invariant::NoOrphan);
}

#[test]
fn raw_key_write_29683() {
    assert_reported_bug(Variant::WriteRawKey, Invariant::Canonical);
}

#[test]
fn rotate_rename_68229() {
    assert_reported_bug(Variant::RotateRenamesAway, Invariant::Durable);
}

#[test]
fn rotate_placeholder_first_71328_rev1() {
    assert_reported_bug(Variant::RotatePlaceholderFirst, Invariant::Durable);
}

#[test]
fn rotate_rename_placeholder_71328_rev2() {
    assert_reported_bug(Variant::RotateRenameThenPlaceholder, Invariant::Durable);
}

#[test]
fn rotate_bak_fallback_71328_rev3() {
    assert_reported_bug(Variant::RotateBackupFallback, Invariant::Durable);
}

#[test]
fn shutdown_trajectory_75571() {
    assert_reported_bug(Variant::ShutdownRemovesTrajectory, Invariant::Durable);
}

#[test]
fn shutdown_trajectory_crash_blocks_startup_75571() {
    // The crash of the report: after shutdown removed the trajectory, before the registry was
    // finalized. Startup then fails: Live.
    let opts = bounds();
    let workload = crashsim::workload::Workload::sequential(vec![
        crashsim_model::Op::Create { key: "a".into(), label: Some("L".into()) },
        crashsim_model::Op::Shutdown,
    ]);
    let run = crashsim::execute::execute(
        &Session(Variant::ShutdownRemovesTrajectory),
        &workload,
        &crashsim_faults::Plan::none(),
        &Default::default(),
    );
    let trace = run.fs.trace();
    let unlink = trace
        .steps
        .iter()
        .find(|s| s.call.to_string().starts_with("unlink(\"sessions/") && s.call.to_string().contains("trajectory"))
        .expect("shutdown unlinks the trajectory");
    let case = crashsim::case::Case {
        workload,
        faults: crashsim_faults::Plan::none(),
        schedule: Default::default(),
        madsim: None,
        check: Check::Crash { after: unlink.step + 1, image: 0 },
    };
    let reproduction = reproduce(&Session(Variant::ShutdownRemovesTrajectory), Model::Process, &case, &opts).unwrap();
    let violation = reproduction.violation.expect("startup fails");
    assert_eq!(violation.invariant, Invariant::Live.name(), "{violation}");
    assert!(violation.summary.contains("trajectory"), "{violation}");
    // The reference survives the same crash point of its own shutdown.
    let reference = reproduce(&Session(Variant::Reference), Model::Process, &case, &opts).unwrap();
    assert!(reference.violation.is_none(), "{}", reference.text);
}

#[test]
fn no_dir_fsync_is_caught_under_ordered_and_posix_only() {
    assert_reported_bug(Variant::ReplaceWithoutDirFsync, Invariant::Durable);
}

#[test]
fn no_temp_fsync_is_caught_under_posix_only() {
    assert_reported_bug(Variant::ReplaceWithoutTempFsync, Invariant::Durable);
}

#[test]
fn unregistered_create_after_ack_3210_alone() {
    // The deferred registration runs at the start of the client's next call: a lone client shows
    // the window at the clean point after the ack, or at a crash in it (`tests/races.rs` shows
    // a concurrent client seeing it).
    assert_reported_bug(Variant::CreateRegistersAfterAck, Invariant::NoOrphan);
}

#[test]
fn findings_under_faults_are_shrunk_to_the_operations_that_matter() {
    use crashsim::case::{Case, Finding};
    use crashsim::explore::shrink_finding;
    use crashsim_faults::{Fault, Plan};
    let variant = Variant::CreateSkipsRegistry;
    let opts = bounds();
    let workload =
        crashsim::session::workload::parse("rotate; append b x; create a L; rotate; delete b", 1, "").unwrap();
    // A short write in the create's transcript header: the create still succeeds and skips the
    // registry, so the restart re-adopts an acknowledged session.
    let run = crashsim::execute::execute(&Session(variant), &workload, &Plan::none(), &Default::default());
    let create = &run.spans[2];
    let trace = run.fs.trace();
    let write = trace.steps[create.start..create.end]
        .iter()
        .find(|s| matches!(s.call, crashsim_sim::Call::Write { .. }))
        .expect("the create writes");
    let faults = Plan { faults: [(write.step, Fault::ShortWrite(1))].into_iter().collect(), ..Plan::none() };
    let case = Case { workload, faults, schedule: Default::default(), madsim: None, check: Check::Restart };
    let violation = reproduce(&Session(variant), Model::Process, &case, &opts).unwrap().violation.expect("a violation");
    let finding = Finding { case, violation, survivors: 0 };
    let shrunk = shrink_finding(&Session(variant), Model::Process, finding, &opts, &RecoveryCache::default());
    assert_eq!(crashsim::session::workload::format(&shrunk.case.workload), "create a L", "{:?}", shrunk.case);
    assert_eq!(shrunk.case.faults.faults.len(), 1);
    let replayed = reproduce(&Session(variant), Model::Process, &shrunk.case, &opts).unwrap();
    assert!(replayed.violation.is_some(), "{}", replayed.text);
}

/// The reference rebuilds a damaged registry from the transcripts' headers: after a reset, the
/// newest transcript of the key is the one adopted (a reset's transcript was once archived as an
/// unswitched reset whenever the registry could not say it had switched).
#[test]
fn reference_recovers_every_damage_of_its_registry_after_a_reset() {
    let subject = Session(Variant::Reference);
    let workload = crashsim::session::workload::parse("create a L; append a m; reset a; create b L", 1, "").unwrap();
    let run = crashsim::execute::execute(&subject, &workload, &Plan::none(), &Default::default());
    let registry = run.fs.volatile_image().file("sessions/sessions.json").expect("a registry").len();
    let damages = crashsim_faults::Corruption::each("sessions/sessions.json", registry);
    assert!(damages.len() > 100, "{} damages", damages.len());
    for corruption in damages {
        let case = Case {
            workload: workload.clone(),
            faults: Plan::corrupting(corruption.clone()),
            schedule: Default::default(),
            madsim: None,
            check: Check::Restart,
        };
        let replay = reproduce(&subject, Model::Process, &case, &bounds()).unwrap();
        assert!(replay.violation.is_none(), "{corruption}:\n{}", replay.text);
    }
}

/// A scale workload of hundreds of sessions (a registry of tens of KiB, torn at every sector
/// under posix): the linearizability check chunks a sequential history instead of bounding it,
/// and the reference passes.
#[test]
fn reference_passes_a_scale_workload_of_hundreds_of_sessions() {
    use crashsim::subject::Subject;
    let subject = Session(Variant::Reference);
    let size_max = 300;
    let seed = (0..).find(|&seed| subject.scale(seed, size_max).unwrap().setup.len() > 200).unwrap();
    let sessions = subject.scale(seed, size_max).unwrap().setup.len();
    let opts = ExploreOptions {
        max_ops: 1,
        scale_workloads: 1,
        scale_size_max: size_max,
        seed,
        images: crashsim_sim::ImageOptions { max_images: 64, ..Default::default() },
        ..bounds()
    };
    for result in crashsim::testing::explore_models(&subject, &Model::ALL, &opts) {
        assert_eq!(result.violations, 0, "{sessions} sessions: {:?}", result.first.map(|f| f.violation.to_string()));
        assert!(result.crash_states > 500, "{} crash states", result.crash_states);
    }
}

/// Scale workloads run past the store's caps (more sessions than the prune keeps, more rotations
/// than the 3 backups kept), crash-checked after their setup; the reference passes them.
#[test]
fn reference_passes_scale_workloads_past_its_caps() {
    use crashsim::subject::Subject;
    let subject = Session(Variant::Reference);
    let workload = subject.scale(5, 40).expect("the session store has scale workloads");
    assert!(workload.setup.len() > 8, "{} sessions", workload.setup.len());
    let run = crashsim::execute::execute(&subject, &workload, &Plan::none(), &Default::default());
    let image = run.fs.volatile_image();
    let backups = image.nodes().filter(|(path, _)| path.starts_with("sessions/sessions.json.bak.")).count();
    assert_eq!(backups, 3, "five rotations keep the 3 newest backups:\n{image}");
    let without = ExploreOptions { max_ops: 1, scale_workloads: 0, seed: 5, ..bounds() };
    let with = ExploreOptions { scale_workloads: 1, ..without.clone() };
    for (scaled, plain) in
        explore_all(Variant::Reference, &with).into_iter().zip(explore_all(Variant::Reference, &without))
    {
        assert_eq!(scaled.violations, 0, "{:?}", scaled.first.map(|f| f.violation.to_string()));
        let after_setup = scaled.crash_points - plain.crash_points;
        assert!(
            after_setup > 150 && after_setup < run.fs.steps() as u64 / 2,
            "{after_setup} crash points after the setup"
        );
    }
}

/// A registry that does not parse, served as `{}`: the store starts and answers "no such
/// session" for every key while its files still hold them. Only asking the booted store shows it.
#[test]
fn corrupt_registry_served_empty_is_seen_through_the_store() {
    let opts = ExploreOptions { errno_max_ops: 1, ..bounds() };
    assert_reported_bug_within(Variant::CorruptRegistryServedEmpty, Invariant::NoOrphan, &opts);
}

/// A torn-tail repair that cuts one complete line too many: it takes a short write in the last
/// of three operations (`create a L; append a m; append a m`), which only the last-operation
/// fault runs of longer workloads reach. They run once per state before the last operation, and
/// state caching must not hide it.
#[test]
fn torn_tail_overcut_needs_a_short_write_in_a_third_operation() {
    let deep = assert_missed_in_two_operations_caught_in_three(Variant::TornTailOvercut, Invariant::Durable);
    let results = explore_all(Variant::TornTailOvercut, &deep);
    assert!(results.iter().all(|r| r.seen_skipped > 0), "state caching skipped states already seen");
}

/// Asserts that `variant` is missed when the last-operation tier stops at two operations and
/// caught (with `invariant`) when it reaches three; returns the deeper bounds.
fn assert_missed_in_two_operations_caught_in_three(variant: Variant, invariant: Invariant) -> ExploreOptions {
    let deep = ExploreOptions { max_ops: 3, errno_max_ops: 1, fault_max_ops: 3, ..bounds() };
    let shallow = ExploreOptions { fault_max_ops: 2, ..deep.clone() };
    for result in explore_all(variant, &shallow) {
        assert_eq!(result.violations, 0, "{variant} / {}: caught with the tier two operations deep", result.model);
    }
    assert_reported_bug_within(variant, invariant, &deep);
    deep
}

/// A finding in a scale workload (a store filled with 8 to 40 sessions, then rotations and a
/// prune) is shrunk like any other: its setup bisected to the fewest sessions that still break
/// it, then its calls dropped one at a time.
#[test]
fn a_scale_finding_is_shrunk_to_its_few_sessions_and_calls() {
    let opts = ExploreOptions { max_ops: 1, scale_workloads: 2, ..bounds() };
    let cache = RecoveryCache::default();
    let result = explore(&Session(Variant::RotateBackupFallback), Model::Ordered, &opts, &cache, &|| {});
    let finding = result.first.expect("the scale workloads catch it (one operation alone cannot)");
    let workload = &finding.case.workload;
    assert!(!workload.setup.is_empty(), "it came from a scale workload: {workload}");
    assert!(workload.setup.len() < 8, "fewer sessions than any scale workload creates: {workload}");
    assert!(workload.len() <= 2, "the calls after the setup dropped to what breaks it: {workload}");
}

/// The reference's own adoption-clock bug, kept as a variant: a crash in a create, then a create
/// and a prune on the recovered store. Only work after recovery three operations deep sees it,
/// which the last-operation tier of longer workloads runs.
#[test]
fn adoption_clock_needs_work_after_a_crash_three_operations_deep() {
    assert_missed_in_two_operations_caught_in_three(Variant::AdoptionClock, Invariant::NoPhantom);
}
