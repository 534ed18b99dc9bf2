//! `crashsim images`: a built-in scenario's trace and the crash images each model allows.

use std::process::ExitCode;

use crashsim_sim::{ImageOptions, Model};

use crate::scenario::Scenario;

pub fn run(scenario: Scenario, models: &[Model], after: Option<usize>, seed: u64) -> ExitCode {
    let fs = match scenario.run() {
        Ok(fs) => fs,
        Err(errno) => {
            eprintln!("error: scenario {scenario} failed with {errno}");
            return ExitCode::from(1);
        }
    };
    let after = after.unwrap_or(fs.steps());
    if after > fs.steps() {
        eprintln!("error: --after {after} is past the end of the scenario ({} syscalls)", fs.steps());
        return ExitCode::from(2);
    }
    println!("scenario {scenario}: {} syscalls, crash after {after}\n", fs.steps());
    println!("initial image:\n{}", fs.initial_image());
    println!("trace:\n{}", fs.trace());
    let opts = ImageOptions { seed, ..ImageOptions::default() };
    for &model in models {
        let set = fs.crash_images(after, model, &opts);
        let how = if set.exhaustive { "exhaustive" } else { "sampled" };
        println!("== {model}: {} distinct image(s), {how}", set.len());
        for (i, image) in set.images().iter().enumerate() {
            println!("-- image {i}\n{image}");
        }
    }
    ExitCode::SUCCESS
}
