//! The counter both counter examples share (`tokio_store`, `std_counter`): its operations and
//! its spec, the count being the number of increments.

use crashsim_model::{Property, Spec};

/// `incr`, or `get`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Incr,
    Get,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if *self == Op::Incr { "incr" } else { "get" })
    }
}

/// The spec: `incr` answers 0 and adds one; `get` answers the count.
pub struct CounterSpec;

impl Spec for CounterSpec {
    type Op = Op;
    type Reply = u64;
    type State = u64;

    fn init(&self) -> u64 {
        0
    }

    /// `incr` answers 0; `get` the count.
    fn step(&self, count: &u64, op: &Op) -> (u64, u64) {
        match op {
            Op::Incr => (0, count + 1),
            Op::Get => (*count, *count),
        }
    }

    fn properties(&self) -> Vec<Property<u64>> {
        let predicate =
            |count: &u64, allowed: &[u64]| (allowed.iter().all(|a| a > count)).then(|| format!("the count is {count}"));
        vec![Property { name: "Durable", failure: "an acknowledged increment is lost", predicate }]
    }
}
