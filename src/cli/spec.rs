//! `crashsim spec`: the bounded breadth-first check of the spec itself.

use std::process::ExitCode;

use crashsim_model::{check_spec_with_progress, SpecConfig};

/// Runs the check and prints its figures; exit 1 with the counterexample on a violation.
pub fn run(depth: usize, keys: usize, clients: usize) -> ExitCode {
    let config = SpecConfig { clients, keys, mutation: None };
    println!("checking the spec: {clients} client(s), {keys} key(s), depth {depth}");
    let report = check_spec_with_progress(&config, depth, |level, distinct| {
        eprintln!("  depth {level}: {distinct} distinct states");
    });
    println!("states explored: {}", report.states_explored);
    println!("distinct states: {}", report.distinct_states);
    match report.violation {
        None => {
            println!("every invariant holds (NoOrphan, NoDangling, Durable, NoPhantom, Atomic, Canonical, Live)");
            ExitCode::SUCCESS
        }
        Some(counterexample) => {
            println!("{counterexample}");
            ExitCode::from(1)
        }
    }
}
