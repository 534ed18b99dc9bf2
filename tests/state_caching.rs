//! State caching never hides a bug: a store whose bug needs five operations to reach is still
//! caught with caching on, though caching skipped workloads on the way to it.

use std::sync::Arc;

use crashsim::cache::RecoveryCache;
use crashsim::explore::{explore, ExploreOptions};
use crashsim::subject::{Gated, Process, Recovered, Subject};
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Violation};
use crashsim_sim::{files, Model, OpenOptions, SimFs};

#[path = "common/counter.rs"]
mod counter;
use counter::{read_value, replace, CounterSpec};

/// A counter in one file. `inc` adds one and `dbl` doubles it, each saved atomically (a temp
/// file, its fsync, a rename, a directory fsync), except that the value 7 is written in place:
/// a crash between the truncate and the write leaves an empty file, which the store cannot
/// start on. 7 takes five operations
/// from 0 (1, 2, 3, 6, 7), and the two ways to 3 in three (inc inc inc; inc dbl inc) reach the
/// same state, so state caching extends only the first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Counter;

impl Subject for Counter {
    type Op = String;
    type Reply = u64;
    type Store = Arc<Gated>;
    type Observed = Result<u64, String>;
    type Expected = Allowed<u64>;

    fn alphabet(&self) -> Vec<String> {
        vec!["inc".to_string(), "dbl".to_string()]
    }

    async fn open(&self, fs: Arc<Gated>, _process: &Process) -> Result<Arc<Gated>, String> {
        Ok(fs)
    }

    async fn call(&self, fs: &Arc<Gated>, op: &String) -> Outcome<u64> {
        let saved = async {
            let value = read_value(&**fs).await?;
            let next = if op == "inc" { value + 1 } else { value * 2 };
            let text = next.to_string();
            let written = if next == 7 {
                files::write(&**fs, "count", OpenOptions::create_trunc(), text.as_bytes(), true).await
            } else {
                replace(&**fs, &text).await
            };
            written.map_err(|e| e.to_string())?;
            Ok::<u64, String>(next)
        };
        saved.await.map_or_else(Outcome::Failed, Outcome::Replied)
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

    /// Nothing is kept between calls: every call reads the file.
    fn memory(&self, _store: &Arc<Gated>) -> Option<u128> {
        Some(0)
    }

    fn expected_fingerprint(&self, expected: &Allowed<u64>) -> Option<u128> {
        Some(expected.fingerprint())
    }
}

fn exhaustive(max_ops: usize, state_caching: bool) -> ExploreOptions {
    ExploreOptions { max_ops, random_workloads: 0, scale_workloads: 0, state_caching, ..ExploreOptions::default() }
}

#[test]
fn a_bug_five_operations_deep_is_caught_with_state_caching_on() {
    let cache = RecoveryCache::default();
    let four = explore(&Counter, Model::Process, &exhaustive(4, true), &cache, &|| {});
    assert_eq!(four.violations, 0, "7 is out of reach in four operations");

    let cached = explore(&Counter, Model::Process, &exhaustive(5, true), &cache, &|| {});
    let full = explore(&Counter, Model::Process, &exhaustive(5, false), &cache, &|| {});
    let finding = cached.first.as_ref().expect("caught with state caching on");
    assert_eq!(finding.violation.invariant, "Live", "an empty count file: {}", finding.violation);
    assert_eq!(finding.case.workload.len(), 5, "{}", finding.case.workload);
    assert_eq!(full.first.as_ref().map(|f| f.violation.invariant), Some("Live"));
    assert!(cached.seen_skipped > 0, "caching skipped no workload");
    assert_eq!(cached.workloads + cached.seen_skipped as usize, full.workloads, "each workload run or skipped");
    assert!(cached.violations < full.violations, "the workloads skipped would have found it again");
}

/// The plan lists only the extensions of workloads that reached a new state, yet progress and
/// the counts still cover every workload of the bound once: run, or skipped with its prefix.
#[test]
fn every_workload_of_the_bound_is_run_or_counted_skipped_once() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let opts = exhaustive(6, true);
    assert_eq!(opts.workload_count(&Counter), opts.workloads(&Counter).len() as u64);
    let ticks = AtomicU64::new(0);
    let cache = RecoveryCache::default();
    let result = explore(&Counter, Model::Process, &opts, &cache, &|| {
        ticks.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(ticks.load(Ordering::Relaxed), opts.workload_count(&Counter));
    assert_eq!(result.workloads as u64 + result.seen_skipped, opts.workload_count(&Counter));
    assert!(result.seen_skipped > result.workloads as u64, "six deep, most prefixes were reached before");
}
