//! The example stores of `examples/`, written on the harness API: each correct version passes
//! under every persistence model, and each bug variant is caught under exactly the models its
//! documentation names, with the invariant a user would notice.

// Each example is its own program: the two counters each load examples/shared/counter.rs.
#![allow(clippy::duplicate_mod)]

use crashsim::case::Check;
use crashsim::explore::ExploreOptions;
use crashsim::report::reproduce;
use crashsim::testing::{assert_caught_under, assert_consistent, explore_models, options_from_env};
use crashsim_sim::Model;

// Each example is a program; its `main` is unused here.
#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

#[allow(dead_code)]
#[path = "../examples/kv_manifest.rs"]
mod kv_manifest;

#[allow(dead_code)]
#[path = "../examples/append_log.rs"]
mod append_log;

#[test]
fn quickstart_passes_and_its_missing_temp_fsync_is_caught_under_posix_only() {
    assert_consistent(&quickstart::Note { buggy: false });
    let results = assert_caught_under(&quickstart::Note { buggy: true }, &[Model::Posix]);
    let finding = results[2].first.as_ref().expect("caught under posix");
    assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
}

#[test]
fn the_readme_shows_the_quickstart_as_it_is() {
    let readme = include_str!("../README.md");
    let quickstart = include_str!("../examples/quickstart.rs");
    assert!(
        readme.contains(quickstart),
        "README.md's \"Test your own store\" must hold examples/quickstart.rs verbatim"
    );
    let code = quickstart.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//")).count();
    assert!(code < 60, "the quickstart is {code} lines of code; the README promises under 60");
}

#[test]
fn kv_manifest_is_consistent_and_its_unsynced_data_is_caught_under_posix_only() {
    assert_consistent(&kv_manifest::Kv { sync_data: true });
    let buggy = kv_manifest::Kv { sync_data: false };
    let results = assert_caught_under(&buggy, &[Model::Posix]);
    let finding = results[2].first.as_ref().expect("caught under posix");
    // The manifest names a data file whose bytes did not survive: a value never written.
    assert_eq!(finding.violation.invariant, "NoPhantom", "{}", finding.violation);
    let replay = reproduce(&buggy, Model::Posix, &finding.case, &options_from_env()).expect("the case replays");
    assert_eq!(replay.violation.as_ref(), Some(&finding.violation), "the replay shows it again");
    assert!(replay.text.contains("put(a, 1)"), "{}", replay.text);
}

#[test]
fn append_log_is_consistent_and_its_in_place_checkpoint_is_caught_under_every_model() {
    assert_consistent(&append_log::AppendLog { bug: None });
    let buggy = append_log::AppendLog { bug: Some(append_log::LogBug::CheckpointInPlace) };
    for result in assert_caught_under(&buggy, &Model::ALL) {
        let finding = result.first.expect("caught");
        assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
        // Two appends: the first acknowledged, the second truncating the checkpoint.
        assert_eq!(finding.case.workload.len(), 2, "{}", finding.case.workload);
    }
}

/// A recovery that shows the right entries but leaves the uncommitted tail in place: only work
/// after recovery sees it (the next append commits the tail), and only when the spec starts from
/// what recovery showed.
#[test]
fn append_log_keeping_its_uncommitted_tail_is_caught_by_work_after_recovery_only() {
    let buggy = append_log::AppendLog { bug: Some(append_log::LogBug::TailKept) };
    for result in assert_caught_under(&buggy, &Model::ALL) {
        let finding = result.first.expect("caught");
        assert_eq!(finding.violation.invariant, "NoResurrection", "{}", finding.violation);
        assert!(matches!(finding.case.check, Check::Continue { .. }), "{:?}", finding.case.check);
        let replay = reproduce(&buggy, result.model, &finding.case, &options_from_env()).expect("the case replays");
        assert_eq!(replay.violation.as_ref(), Some(&finding.violation), "the replay shows it again");
        assert!(replay.text.contains("work after recovery"), "{}", replay.text);
    }
    // Without work after recovery (no fault runs), the same bug passes.
    let opts = ExploreOptions { errno_max_ops: 0, ..options_from_env() };
    for result in explore_models(&buggy, &Model::ALL, &opts) {
        assert!(result.first.is_none(), "{:?}", result.first.map(|f| f.violation));
    }
}

#[allow(dead_code)]
#[path = "../examples/std_store.rs"]
mod std_store;

#[test]
fn a_store_on_plain_std_fs_through_the_shim_and_its_missing_dir_fsync_caught_under_power_loss_only() {
    assert_consistent(&std_store::harness::StdTable { sync_dir: true });
    let buggy = std_store::harness::StdTable { sync_dir: false };
    let results = assert_caught_under(&buggy, &[Model::Ordered, Model::Posix]);
    let finding = results[1].first.as_ref().expect("caught under ordered");
    assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
    // Its put runs on a scheduled thread: the lost rename is named at the store's own line,
    // the site captured on that thread (not the glue's await on the harness's).
    let d = crashsim::diagnose::diagnose(&buggy, Model::Ordered, &finding.case, &options_from_env()).unwrap();
    let site = d.calls[0].site.as_ref().expect("a site: the tests have line tables");
    let rename = include_str!("../examples/std_store.rs").lines().position(|l| l.contains("fs::rename(&temp")).unwrap();
    assert!(site.line().file.ends_with("examples/std_store.rs"), "{d}");
    assert_eq!(site.line().line as usize, rename + 1, "{d}");
    assert!(d.fix.as_ref().is_some_and(|fix| fix.verified), "{d}");
}

#[allow(dead_code)]
#[path = "../examples/tokio_store.rs"]
mod tokio_store;

#[test]
fn a_store_on_tokio_fs_through_the_shim_and_its_read_modify_write_race_caught_under_every_model() {
    use tokio_store::harness::TokioCounter;
    assert_consistent(&TokioCounter { read_modify_write: false });
    let results = assert_caught_under(&TokioCounter { read_modify_write: true }, &Model::ALL);
    let finding = results[0].first.as_ref().expect("caught under process");
    assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
    // The race: two clients, preempted inside the store's own tokio::fs calls.
    assert_eq!(finding.case.workload.clients.len(), 2, "{}", finding.case.workload);
    assert!(!finding.case.schedule.0.is_empty(), "not the default schedule: {:?}", finding.case.schedule);
}

/// madsim's race soak runs a store written on the tokio shim too: its clients interleave at the
/// store's own calls on madsim's clock, the read-modify-write race is found, and the journal
/// counter is clean. (A descriptor dropped in a madsim task closes without waiting on madsim's
/// clock, which only its runtime could advance.)
#[test]
fn a_tokio_shim_store_runs_under_the_madsim_race_soak() {
    use crashsim::cache::RecoveryCache;
    use crashsim::soak::{soak, SoakOptions};
    use tokio_store::harness::TokioCounter;
    let opts = SoakOptions { seeds: 40, max_ops: 4, clients: 2, processes: 1, ..SoakOptions::default() };
    let racy =
        soak(&TokioCounter { read_modify_write: true }, Model::Process, &opts, &RecoveryCache::default(), &|| {});
    let finding = racy.result.first.as_ref().expect("the race is found by some seed");
    assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
    let clean =
        soak(&TokioCounter { read_modify_write: false }, Model::Process, &opts, &RecoveryCache::default(), &|| {});
    assert_eq!(clean.result.violations, 0, "{:?}", clean.result.first.map(|f| f.violation));
    assert_eq!(clean.seeds_run, 40);
}

#[allow(dead_code)]
#[path = "../examples/std_counter.rs"]
mod std_counter;

/// A sync store on the std shim, its calls awaited through `crashsim::fs::std::scheduled`: the
/// harness preempts a client inside a call, before any of its syscalls, so the read-modify-write
/// race is found under every model; the same store called from the task (each call whole)
/// cannot show it. The shrunk reproducer replays to the same violation.
#[test]
fn a_sync_std_store_is_preempted_at_its_own_syscalls_when_its_calls_run_scheduled() {
    use std_counter::harness::StdCounter;
    let counter = |read_modify_write, scheduled| StdCounter { read_modify_write, scheduled };
    assert_consistent(&counter(false, true));
    let racy = counter(true, true);
    let results = assert_caught_under(&racy, &Model::ALL);
    let finding = results[0].first.as_ref().expect("caught under process");
    assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
    assert_eq!(finding.case.workload.clients.len(), 2, "{}", finding.case.workload);
    assert!(!finding.case.schedule.0.is_empty(), "preempted inside a call: {:?}", finding.case.schedule);
    let replay = reproduce(&racy, Model::Process, &finding.case, &options_from_env()).expect("the case replays");
    assert_eq!(replay.violation.as_ref(), Some(&finding.violation), "the replay shows it again");
    // Unscheduled, a call runs whole: the race between its read and its write never shows.
    for result in explore_models(&counter(true, false), &Model::ALL, &options_from_env()) {
        assert!(result.first.is_none(), "{:?}", result.first.map(|f| f.violation));
        assert!(result.interleavings > 0, "concurrent workloads ran");
    }
}

/// madsim's race soak runs scheduled sync calls too: the clients interleave at the store's own
/// syscalls on madsim's clock, and the race is found; the journal counter is clean.
#[test]
fn a_scheduled_sync_store_runs_under_the_madsim_race_soak() {
    use crashsim::cache::RecoveryCache;
    use crashsim::soak::{soak, SoakOptions};
    use std_counter::harness::StdCounter;
    let opts = SoakOptions { seeds: 40, max_ops: 4, clients: 2, processes: 1, ..SoakOptions::default() };
    let soak_of = |read_modify_write| {
        let subject = StdCounter { read_modify_write, scheduled: true };
        soak(&subject, Model::Process, &opts, &RecoveryCache::default(), &|| {})
    };
    let racy = soak_of(true);
    let finding = racy.result.first.as_ref().expect("the race is found by some seed");
    assert_eq!(finding.violation.invariant, "Durable", "{}", finding.violation);
    let clean = soak_of(false);
    assert_eq!(clean.result.violations, 0, "{:?}", clean.result.first.map(|f| f.violation));
    assert_eq!(clean.seeds_run, 40);
}
