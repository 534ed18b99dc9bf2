//! `crashsim trace`: an unmodified program crash-checked through its strace log.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crashsim_sim::{ImageOptions, Model};

use crate::strace::check::CheckOptions;
use crate::strace::{report, trace};

/// What `crashsim trace` was asked.
pub struct Request {
    pub dir: PathBuf,
    pub checker: String,
    pub models: Vec<Model>,
    pub timeout_s: f64,
    pub jobs: Option<usize>,
    pub max_images: usize,
    pub seed: u64,
    pub keep: Option<PathBuf>,
    pub strace: String,
    pub program: Vec<String>,
    pub json: bool,
}

pub fn run(request: Request) -> ExitCode {
    if request.checker.trim().is_empty() {
        return super::error("--checker: an empty command checks nothing");
    }
    if !(request.timeout_s > 0.0 && request.timeout_s.is_finite()) {
        return super::error("--timeout: a positive number of seconds");
    }
    if !request.dir.is_dir() {
        return super::error(&format!("--dir {}: no such directory", request.dir.display()));
    }
    let mut options = CheckOptions::new(&request.checker);
    options.models = request.models;
    options.timeout = Duration::from_secs_f64(request.timeout_s);
    if let Some(jobs) = request.jobs {
        options.jobs = jobs;
    }
    options.images = ImageOptions { max_images: request.max_images, seed: request.seed, ..ImageOptions::default() };
    options.keep = request.keep;
    let run = match trace(&request.program, &request.dir, &request.strace, &options) {
        Ok(run) => run,
        Err(why) => return super::error(&why),
    };
    if request.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&run)).expect("JSON serializes"));
    } else {
        print!("{}", report::text(&run));
    }
    super::exit(run.passed())
}
