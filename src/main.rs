//! The `crashsim` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crashsim::scenario::Scenario;
use crashsim_sim::{ImageOptions, Model};

/// Deterministic crash-consistency testing for file-based stores.
///
/// Exit codes: 0 success, 1 a check failed, 2 bad usage.
#[derive(Parser)]
#[command(name = "crashsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a built-in syscall scenario on the simulated disk and print its trace and every disk
    /// image a crash at its end may leave, under each persistence model.
    Images {
        /// Scenario: replace (temp + rename, no fsync), replace-synced (with fsyncs),
        /// create-synced (file fsynced, directory not).
        #[arg(long, default_value = "replace")]
        scenario: Scenario,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all")]
        model: String,
        /// Crash after this many syscalls (default: after the whole scenario).
        #[arg(long)]
        after: Option<usize>,
        /// Seed of the sampling stream when the posix model has too many images to enumerate.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn parse_models(text: &str) -> Result<Vec<Model>, String> {
    if text == "all" {
        return Ok(Model::ALL.to_vec());
    }
    text.parse::<Model>().map(|m| vec![m])
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Images {
            scenario,
            model,
            after,
            seed,
        } => {
            let models = match parse_models(&model) {
                Ok(models) => models,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            };
            let fs = match scenario.run() {
                Ok(fs) => fs,
                Err(errno) => {
                    eprintln!("error: scenario {scenario} failed with {errno}");
                    return ExitCode::from(1);
                }
            };
            let after = after.unwrap_or(fs.steps());
            if after > fs.steps() {
                eprintln!(
                    "error: --after {after} is past the end of the scenario ({} syscalls)",
                    fs.steps()
                );
                return ExitCode::from(2);
            }
            println!("scenario {scenario}: {} syscalls, crash after {after}\n", fs.steps());
            println!("initial image:\n{}", fs.initial_image());
            println!("trace:\n{}", fs.trace());
            let opts = ImageOptions {
                seed,
                ..ImageOptions::default()
            };
            for model in models {
                let set = fs.crash_images(after, model, &opts);
                let how = if set.exhaustive { "exhaustive" } else { "sampled" };
                println!("== {model}: {} distinct image(s), {how}", set.images.len());
                for (i, image) in set.images.iter().enumerate() {
                    println!("-- image {i}\n{image}");
                }
            }
            ExitCode::SUCCESS
        }
    }
}
