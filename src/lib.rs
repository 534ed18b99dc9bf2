//! crashsim: a deterministic crash-consistency testing harness for file-based stores.
//!
//! The harness runs a store against `crashsim_sim::SimFs`, which records every syscall and can
//! list every disk image a crash after any syscall may leave under a persistence model
//! (`process`, `ordered`, `posix`). This package holds the harness library and the `crashsim`
//! CLI; the disk is in `crashsim-sim`, the store under test in `crashsim-store`, the spec in
//! `crashsim-model` and fault plans in `crashsim-faults`.

pub mod cache;
pub mod case;
pub mod check_dir;
pub mod cli;
pub mod execute;
pub mod explore;
pub mod observe;
#[cfg(madsim)]
pub mod on_madsim;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod soak;
pub mod workload;
