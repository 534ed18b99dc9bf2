//! A proptest-state-machine reference machine over the spec's operations: random workloads
//! that proptest can shrink. One client; keys are drawn raw (`main`, `a`, `A`, `agent:main:b`)
//! so that canonicalization is exercised.

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use crate::op::Op;
use crate::store::{Client, Store};

/// Raw keys the workloads use: some canonical, some not, two spellings of one key.
pub const RAW_KEYS: &[&str] = &["a", "b", "A", "main", "agent:main:b"];

/// The reference machine: the spec store and its one client.
pub struct Workload;

/// The machine's state: the abstract store, its client, and how many ids it handed out.
#[derive(Clone, Debug, Default)]
pub struct WorkloadState {
    pub store: Store,
    pub client: Client,
    pub next_id: u32,
}

/// A strategy for one operation on the keys of [`RAW_KEYS`].
pub fn op_strategy() -> BoxedStrategy<Op> {
    let key = || prop::sample::select(RAW_KEYS).prop_map(str::to_string);
    prop_oneof![
        3 => (key(), prop::option::of(Just("L".to_string()))).prop_map(|(key, label)| Op::Create { key, label }),
        3 => (key(), "[a-z]{1,3}").prop_map(|(key, message)| Op::Append { key, message }),
        1 => key().prop_map(|key| Op::Reset { key }),
        1 => key().prop_map(|key| Op::Delete { key }),
        1 => Just(Op::Rotate),
        1 => (0usize..3).prop_map(|max_entries| Op::Prune { max_entries }),
    ]
    .boxed()
}

impl ReferenceStateMachine for Workload {
    type State = WorkloadState;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Self::State> {
        Just(WorkloadState::default()).boxed()
    }

    fn transitions(_state: &Self::State) -> BoxedStrategy<Self::Transition> {
        op_strategy()
    }

    fn apply(mut state: Self::State, op: &Self::Transition) -> Self::State {
        state.next_id += 1;
        let id = format!("s{}", state.next_id);
        state.store.run(&mut state.client, op, &id);
        state
    }
}
