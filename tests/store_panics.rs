//! A store that panics instead of returning an error (an `unwrap` on a failed save) stops the
//! exploration with a panic that names the workload being explored, beside the store's own
//! message, which names neither the workload nor the fault.

use std::sync::Arc;

use crashsim::explore::ExploreOptions;
use crashsim::subject::{Gated, Process, Recovered, Subject};
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Violation};
use crashsim_sim::{Model, SimFs};

#[path = "common/counter.rs"]
mod counter;
use counter::{read_value, replace, CounterSpec};

/// The counter, its save unwrapped: an injected errno panics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Unwrapping;

impl Subject for Unwrapping {
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
        let value = read_value(&**fs).await.expect("the count reads");
        replace(&**fs, &(value + 1).to_string()).await.expect("the count saves");
        Outcome::Replied(value + 1)
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
}

#[test]
fn a_panicking_store_is_reported_with_the_workload_it_panicked_in() {
    let opts = ExploreOptions { max_ops: 1, random_workloads: 0, ..ExploreOptions::default() };
    let explored =
        std::panic::catch_unwind(|| crashsim::testing::explore_models(&Unwrapping, &[Model::Process], &opts));
    let Err(panic) = explored else { panic!("an injected errno makes the store panic") };
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.contains("Unwrapping panicked exploring the workload `inc`"), "{message}");
    assert!(
        message.contains("the count reads") || message.contains("the count saves"),
        "the store's own message is kept: {message}"
    );
}
