//! The `crashsim` command line. Exit codes: 0 success, 1 a check failed, 2 bad usage.

mod images;
mod spec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crashsim_sim::Model;

use crate::scenario::Scenario;

/// Deterministic crash-consistency testing for file-based stores.
///
/// Exit codes: 0 success, 1 a check failed (a violation was found), 2 bad usage.
#[derive(Parser)]
#[command(name = "crashsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a built-in syscall scenario on the simulated disk and print its trace and every disk
    /// image a crash may leave, under each persistence model.
    Images {
        /// Scenario: replace (temp + rename, no fsync), replace-synced (with fsyncs),
        /// create-synced (file fsynced, directory not).
        #[arg(long, default_value = "replace")]
        scenario: Scenario,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        /// Crash after this many syscalls (default: after the whole scenario).
        #[arg(long)]
        after: Option<usize>,
        /// Seed of the sampling stream when the posix model has too many images to enumerate.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Model-check the spec itself: breadth-first over Init/Next (with Crash and Recover) up to a
    /// depth; prints states explored and distinct states, and a counterexample path on a
    /// violation (exit 1).
    Spec {
        /// Steps of Next from Init.
        #[arg(long, default_value_t = 8)]
        depth: usize,
        /// Session keys.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=8))]
        keys: u64,
        /// Clients (store instances sharing one directory).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=4))]
        clients: u64,
    },
}

/// A list of persistence models.
#[derive(Clone, Debug)]
pub struct Models(pub Vec<Model>);

/// `process`, `ordered`, `posix` or `all`.
pub fn parse_models(text: &str) -> Result<Models, String> {
    if text == "all" {
        return Ok(Models(Model::ALL.to_vec()));
    }
    text.parse::<Model>().map(|m| Models(vec![m]))
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Images {
            scenario,
            model,
            after,
            seed,
        } => images::run(scenario, &model.0, after, seed),
        Command::Spec { depth, keys, clients } => spec::run(depth, keys as usize, clients as usize),
    }
}
