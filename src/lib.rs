//! crashsim: a deterministic crash-consistency testing harness for file-based stores.
//!
//! Explore a store under a persistence model and replay the smallest violation; here the
//! built-in session store's `rotate-rename` variant, which renames the registry away before
//! writing its successor (openclaw #68229):
//!
//! ```
//! # #[cfg(feature = "cli")] {
//! use crashsim::cache::RecoveryCache;
//! use crashsim::explore::{explore, ExploreOptions};
//! use crashsim::report::reproduce;
//! use crashsim::session::Session;
//! use crashsim_sim::Model;
//! use crashsim_store::Variant;
//!
//! let subject = Session(Variant::RotateRenamesAway);
//! let opts = ExploreOptions { max_ops: 2, random_workloads: 0, client_ops_max: 0, ..ExploreOptions::default() };
//! let result = explore(&subject, Model::Process, &opts, &RecoveryCache::default(), &|| {});
//! let finding = result.first.expect("a kill -9 mid-rotation loses the registry");
//! assert_eq!(finding.violation.invariant, "Durable");
//! let replay = reproduce(&subject, Model::Process, &finding.case, &opts).unwrap();
//! assert!(replay.text.contains("rotate()"));
//! # }
//! ```
//!
//! Any store can be explored the same way: implement [`subject::Subject`] for it (and
//! `crashsim_model::Spec` for its spec), as `examples/` and the README's "Test your own store"
//! show, and call [`testing::assert_consistent`] from its tests.
//!
//! The harness runs a store against `crashsim_sim::SimFs`, which records every syscall and can
//! list every disk image a crash after any syscall may leave under a persistence model
//! (`process`, `ordered`, `posix`). This package holds the harness library and, with the `cli`
//! feature, the `crashsim` CLI and the session store as a subject (the example above); the disk is in `crashsim-sim`, the store under test in `crashsim-store`, the spec in
//! `crashsim-model` and fault plans in `crashsim-faults`.

mod bounds;
pub mod cache;
pub mod case;
pub mod case_text;
#[cfg(feature = "cli")]
pub mod check_dir;
#[cfg(feature = "runner")]
pub mod cli;
pub mod continuation;
pub mod diagnose;
pub mod distinct;
pub mod execute;
pub mod explore;
pub mod fs;
#[cfg(madsim)]
pub mod on_madsim;
pub mod panics;
pub mod report;
pub mod scenario;
pub mod schedule;
#[cfg(feature = "cli")]
pub mod session;
pub mod soak;
#[cfg(feature = "cli")]
pub mod strace;
pub mod subject;
pub mod testing;
pub mod workload;
