//! Fault runs that behave alike are judged once: a run whose fault left the same syscalls and a
//! history the spec expects alike takes an earlier run's verdicts, with the same counts and
//! findings as judging it; a run whose errno changed what the store did to its files is judged.

use std::sync::Arc;

use crashsim::cache::RecoveryCache;
use crashsim::explore::{explore, ExploreOptions, ModelResult};
use crashsim::session::Session;
use crashsim::subject::{Gated, Process, Recovered, Subject};
use crashsim_faults::Fault;
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Violation};
use crashsim_sim::{Errno, Fs, Model, SimFs};

#[path = "common/counter.rs"]
mod counter;
use counter::{read_value, replace, CounterSpec};
use crashsim_store::Variant;

/// Every operation alone, with every fault at every syscall; nothing else. (Longer workloads
/// would check their prefixes' crash points again without state caching.)
fn one_op_with_faults(state_caching: bool) -> ExploreOptions {
    ExploreOptions {
        max_ops: 1,
        random_workloads: 0,
        scale_workloads: 0,
        client_ops_max: 0,
        errno_max_ops: 1,
        state_caching,
        ..ExploreOptions::default()
    }
}

fn figures<S: Subject>(r: &ModelResult<S>) -> (usize, u64, u64, usize, u64) {
    (r.workloads, r.crash_points, r.crash_states, r.distinct_states, r.violations)
}

#[test]
fn the_reference_stores_fault_runs_are_mostly_reused_with_every_figure_unchanged() {
    let cache = RecoveryCache::default();
    for model in Model::ALL {
        let subject = Session(Variant::Reference);
        let reused = explore(&subject, model, &one_op_with_faults(true), &cache, &|| {});
        let judged = explore(&subject, model, &one_op_with_faults(false), &cache, &|| {});
        assert_eq!(figures(&reused), figures(&judged), "{model}: the same figures either way");
        assert_eq!(reused.violations, 0, "{model}");
        assert_eq!(judged.fault_runs_reused, 0, "{model}: without state caching every run is judged");
        // Four errnos at each syscall, passed up alike by the reference store: runs repeat.
        assert!(reused.fault_runs_reused > 0, "{model}: none reused");
    }
}

#[test]
fn a_bug_found_by_fault_runs_is_found_alike_when_they_are_reused() {
    let cache = RecoveryCache::default();
    let subject = Session(Variant::CorruptRegistryServedEmpty);
    for model in Model::ALL {
        let reused = explore(&subject, model, &one_op_with_faults(true), &cache, &|| {});
        let judged = explore(&subject, model, &one_op_with_faults(false), &cache, &|| {});
        assert!(reused.violations > 0, "{model}: caught");
        assert!(reused.fault_runs_reused > 0, "{model}");
        assert_eq!(figures(&reused), figures(&judged), "{model}: the same figures either way");
        assert_eq!(reused.first, judged.first, "{model}: the same finding");
    }
}

/// A counter in one file, saved atomically (a temp file, its fsync, a rename, a directory
/// fsync). When a step of that fails, the store cleans up with one syscall before it reports
/// the failure: it removes the temp file, except after EIO, when it "salvages" it by renaming it
/// over the count, whatever it holds. An EIO at the temp file's write leaves an empty count, on
/// which the store cannot start. Its run differs from the other errnos' runs only in which
/// syscall that one was: same replies, same syscall counts. Its failures' messages name their
/// errno; with `fingerprints` it tells the explorer which expectations judge alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Salvager {
    fingerprints: bool,
}

impl Subject for Salvager {
    type Op = String;
    type Reply = u64;
    type Store = Arc<Gated>;
    type Observed = Result<u64, String>;
    type Expected = Allowed<u64>;

    fn alphabet(&self) -> Vec<String> {
        vec!["inc".to_string()]
    }

    async fn open(&self, fs: Arc<Gated>, _process: &Process) -> Result<Arc<Gated>, String> {
        Ok(fs)
    }

    async fn call(&self, fs: &Arc<Gated>, _op: &String) -> Outcome<u64> {
        let value = match read_value(&**fs).await {
            Ok(value) => value,
            Err(error) => return Outcome::Failed(error),
        };
        let text = (value + 1).to_string();
        match replace(&**fs, &text).await {
            Ok(()) => Outcome::Replied(value + 1),
            Err(error) => {
                let _ = if error == Errno::EIO {
                    fs.rename("count.tmp", "count").await
                } else {
                    fs.unlink("count.tmp").await
                };
                Outcome::Failed(error.to_string())
            }
        }
    }

    async fn recover(&self, fs: Arc<SimFs>) -> Recovered<Result<u64, String>> {
        Recovered { observed: read_value(&*fs).await, report: String::new() }
    }

    fn expect(&self, history: &[Record<String, u64>]) -> Allowed<u64> {
        Allowed::of(&CounterSpec, history)
    }

    fn check(&self, allowed: &Allowed<u64>, observed: &Result<u64, String>) -> Result<(), Violation> {
        allowed.judge(&CounterSpec, observed)
    }

    fn memory(&self, _store: &Arc<Gated>) -> Option<u128> {
        Some(0)
    }

    fn expected_fingerprint(&self, expected: &Allowed<u64>) -> Option<u128> {
        self.fingerprints.then(|| expected.fingerprint())
    }
}

#[test]
fn a_run_whose_errno_changed_what_the_store_wrote_is_judged_not_reused() {
    let cache = RecoveryCache::default();
    let result = explore(&Salvager { fingerprints: true }, Model::Process, &one_op_with_faults(true), &cache, &|| {});
    assert!(result.fault_runs_reused > 0, "the errnos other than EIO repeat the first's run");
    let finding = result.first.as_ref().expect("the salvage after EIO is caught");
    assert_eq!(finding.violation.invariant, "Live", "an empty count: {}", finding.violation);
    let faults: Vec<&Fault> = finding.case.faults.faults.values().collect();
    assert_eq!(faults, [&Fault::Fail(Errno::EIO)], "found in an EIO run");
}

/// Two runs whose histories differ only in a failure's message (it names the errno) are the same
/// to the spec only by its fingerprints: a subject that gives none has every such run judged.
#[test]
fn without_the_specs_fingerprints_runs_whose_messages_differ_are_each_judged() {
    let cache = RecoveryCache::default();
    let subject = Salvager { fingerprints: false };
    let result = explore(&subject, Model::Process, &one_op_with_faults(true), &cache, &|| {});
    assert_eq!(result.fault_runs_reused, 0, "every errno's message differs");
    let with = explore(&Salvager { fingerprints: true }, Model::Process, &one_op_with_faults(true), &cache, &|| {});
    assert_eq!(figures(&result), figures(&with), "the same figures either way");
}
