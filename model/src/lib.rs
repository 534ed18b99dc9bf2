//! Specs: the generic parts any store's spec uses, and the TLA-style spec of the session store
//! that every run of it is checked against.
//!
//! - [`history`]: calls with outcomes and real-time intervals, and the linearizability search
//!   over the orders they may have taken effect in.
//! - [`judge`](mod@judge): the [`Spec`] trait a user's spec implements (a sequential reference
//!   implementation and its invariants as [`Property`] data), and the judge of an observed state.
//!
//! The session store's spec:
//! - [`store`]: the abstract state (registry: canonical key -> session id and label;
//!   transcripts: id -> messages; trajectories; archived ids) and what each operation does.
//! - [`spec`]: the transition system: `Init`, and `Next` = Begin | Complete | Crash | Recover,
//!   where Crash resolves each operation in flight to fully applied or fully absent.
//! - [`invariant`]: Live, Canonical, NoOrphan, NoDangling, Durable, NoPhantom, Atomic, in the
//!   order a verdict names them, each with the failure it rules out and a predicate over a
//!   [`View`] that both the spec and an observed disk produce.
//! - [`partial`]: an interrupted prune or shutdown as one outcome with optional effects, not
//!   2^n enumerated ones.
//! - [`served`]: what a store booted on a crash image answers a client, judged with its files.
//! - [`check()`]: conformance of an observed store with the spec replayed over a recorded history.
//! - [`bfs`]: a bounded breadth-first check of the spec itself, with counterexample paths.
//! - [`machine`]: a proptest-state-machine reference machine for random workloads.
//!
//! This crate depends on nothing else of crashsim: the spec stands on its own.

pub mod bfs;
mod check;
pub mod history;
pub mod invariant;
pub mod judge;
pub mod keys;
pub mod machine;
pub mod op;
pub mod partial;
pub mod served;
pub mod spec;
pub mod store;

pub use bfs::{check_spec, check_spec_with_progress, BfsReport, Counterexample};
pub use check::{check, Expected, Observed, Record};
pub use history::{Interval, Violation, CALLS_MAX, NEVER};
pub use invariant::{Invariant, Recovery, View, ViewEntry};
pub use judge::{judge, Allowed, Property, Spec};
pub use op::{Op, Outcome, Reply};
pub use served::Served;
pub use spec::{Action, Mutation, SpecConfig, SpecState};
