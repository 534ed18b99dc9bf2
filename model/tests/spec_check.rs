//! The bounded check of the spec itself, and a deliberately broken spec caught by it.

use crashsim_model::machine::{Workload, WorkloadState};
use crashsim_model::{check, check_spec, Invariant, Mutation, Observed, Record, Recovery, Reply, SpecConfig};
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

#[test]
fn every_invariant_holds_to_depth_8_with_2_clients_and_3_keys() {
    let report = check_spec(&SpecConfig { clients: 2, keys: 3, mutation: None }, 8);
    assert!(report.violation.is_none(), "{}", report.violation.unwrap());
    assert!(report.distinct_states > 1_000_000, "{} distinct states", report.distinct_states);
    assert!(report.states_explored > report.distinct_states as u64);
}

#[test]
fn a_crash_that_drops_an_acknowledged_create_is_caught_with_a_path() {
    let config = SpecConfig { clients: 2, keys: 3, mutation: Some(Mutation::CrashDropsAckedCreate) };
    let report = check_spec(&config, 8);
    let counterexample = report.violation.expect("the broken spec must be caught");
    assert_eq!(counterexample.invariant, Invariant::Durable);
    let text = counterexample.to_string();
    assert!(text.contains("begins create"), "{text}");
    assert!(text.contains("completes"), "{text}");
    assert!(text.contains("crash"), "{text}");
    assert!(counterexample.path.len() <= 4, "BFS finds a shortest path:\n{text}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// The reference machine's workloads, checked against the spec through the same conformance
    /// check the harness uses: the spec agrees with itself.
    #[test]
    fn random_workloads_conform(ops in Workload::sequential_strategy(1..30)) {
        let (_, transitions, _) = ops;
        let mut state = WorkloadState::default();
        let mut calls = Vec::new();
        for op in &transitions {
            state.next_id += 1;
            let id = format!("s{}", state.next_id);
            let reply: Reply = state.store.run(&mut state.client, op, &id);
            calls.push((op.clone(), crashsim_model::Outcome::Replied(reply)));
            state = WorkloadState { ..state };
        }
        let history = Record::sequential(calls);
        let observed = Observed { view: state.store.view(), recovery: Recovery::Ok { adopted: Default::default() }, served: None };
        prop_assert_eq!(check(&history, &observed), Ok(()));
        prop_assert!(crashsim_model::invariant::structural(&observed.view).is_none());
    }
}
