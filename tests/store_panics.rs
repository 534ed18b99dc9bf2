//! A store that panics instead of returning an error. A recovery that panics on a crash image is
//! a store that cannot start there: a finding (`NoPanic`) with its image and reproducer, the
//! exploration going on. A call that panics (an `unwrap` on a failed save) stops the exploration
//! with a panic that names the workload being explored, beside the store's own message, which
//! names neither the workload nor the fault.

use std::sync::Arc;

use crashsim::case::Check;
use crashsim::explore::ExploreOptions;
use crashsim::subject::{Gated, Process, Recovered, Subject, NO_PANIC};
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Violation};
use crashsim_sim::{files, Model, OpenOptions, SimFs};

#[path = "common/counter.rs"]
mod counter;
use counter::{read_value, replace, CounterSpec};

/// The counter, panicking where a store should return an error. `in_recovery: false`: its save
/// is atomic but unwrapped, so an injected errno panics in the call. `in_recovery: true`: it is
/// saved in place (truncate, write, fsync) and read back with an `expect`, so a crash between the
/// truncate and the write leaves an empty count, on which its recovery panics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Panicking {
    in_recovery: bool,
}

impl Subject for Panicking {
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
        if !self.in_recovery {
            let value = read_value(&**fs).await.expect("the count reads");
            replace(&**fs, &(value + 1).to_string()).await.expect("the count saves");
            return Outcome::Replied(value + 1);
        }
        let Ok(value) = read_value(&**fs).await else { return Outcome::Failed("unreadable".to_string()) };
        let text = (value + 1).to_string();
        match files::write(&**fs, "count", OpenOptions::create_trunc(), text.as_bytes(), true).await {
            Ok(()) => Outcome::Replied(value + 1),
            Err(error) => Outcome::Failed(error.to_string()),
        }
    }

    async fn recover(&self, fs: Arc<SimFs>) -> Recovered<Result<u64, String>> {
        let count = read_value(&*fs).await;
        let observed = if self.in_recovery { Ok(count.expect("the count parses")) } else { count };
        Recovered { observed, report: String::new() }
    }

    fn expect(&self, history: &[Record<String, u64>]) -> Allowed<u64> {
        Allowed::of(&CounterSpec, history)
    }

    fn check(&self, allowed: &Allowed<u64>, observed: &Result<u64, String>) -> Result<(), Violation> {
        allowed.judge(&CounterSpec, observed)
    }
}

fn one_op() -> ExploreOptions {
    ExploreOptions { max_ops: 1, random_workloads: 0, ..ExploreOptions::default() }
}

#[test]
fn a_recovery_that_panics_on_a_crash_image_is_a_finding_with_its_reproducer() {
    let subject = Panicking { in_recovery: true };
    let results = crashsim::testing::explore_models(&subject, &[Model::Process], &one_op());
    let finding = results[0].first.as_ref().expect("the empty count after the truncate");
    assert_eq!(finding.violation.invariant, NO_PANIC, "{}", finding.violation);
    assert!(finding.violation.summary.contains("the count parses"), "{}", finding.violation);
    assert!(matches!(finding.case.check, Check::Crash { .. }), "{:?}", finding.case.check);
    let replayed = crashsim::report::reproduce(&subject, Model::Process, &finding.case, &one_op()).expect("replayed");
    assert_eq!(replayed.violation.as_ref().map(|v| v.invariant), Some(NO_PANIC), "{}", replayed.text);
    assert!(replayed.text.contains("recovery: panicked: the count parses"), "{}", replayed.text);
}

#[test]
fn a_call_that_panics_stops_the_exploration_naming_the_workload() {
    let subject = Panicking { in_recovery: false };
    let explored =
        std::panic::catch_unwind(|| crashsim::testing::explore_models(&subject, &[Model::Process], &one_op()));
    let Err(panic) = explored else { panic!("an injected errno makes the store panic") };
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.contains("panicked exploring the workload `inc`"), "{message}");
    let own = message.contains("the count reads") || message.contains("the count saves");
    assert!(own, "the store's own message is kept: {message}");
}
