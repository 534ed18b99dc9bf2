//! `crashsim trace`: an unmodified program crash-checked through its strace log.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crashsim_sim::{ImageOptions, Model};

use crate::strace::check::CheckOptions;
use crate::strace::recording::Recording;
use crate::strace::{analyze, report};

/// Where the run to check comes from.
pub enum Source {
    /// Run `program` on `dir` under `strace` now, keeping the run in `save` if given.
    Run { dir: PathBuf, program: Vec<String>, strace: String, stacks: bool, save: Option<PathBuf> },
    /// A run kept with `--save`.
    Saved(PathBuf),
}

/// What `crashsim trace` was asked.
pub struct Request {
    pub source: Source,
    pub checker: String,
    pub models: Vec<Model>,
    pub timeout_s: f64,
    pub jobs: Option<usize>,
    pub max_images: usize,
    pub seed: u64,
    pub keep: Option<PathBuf>,
    pub diagnose: bool,
    pub json: bool,
}

pub fn run(request: Request) -> ExitCode {
    if request.checker.trim().is_empty() {
        return super::error("--checker: an empty command checks nothing");
    }
    if !(request.timeout_s > 0.0 && request.timeout_s.is_finite()) {
        return super::error("--timeout: a positive number of seconds");
    }
    if let Source::Run { dir, .. } = &request.source {
        if !dir.is_dir() {
            return super::error(&format!("--dir {}: no such directory", dir.display()));
        }
    }
    let mut options = CheckOptions::new(&request.checker);
    options.models = request.models;
    options.timeout = Duration::from_secs_f64(request.timeout_s);
    if let Some(jobs) = request.jobs {
        options.jobs = jobs;
    }
    options.images = ImageOptions { max_images: request.max_images, seed: request.seed, ..ImageOptions::default() };
    options.keep = request.keep;
    options.diagnose = request.diagnose;
    let recorded = match &request.source {
        Source::Run { dir, program, strace, stacks, save } => Recording::record(program, dir, strace, *stacks)
            .and_then(|recording| {
                save.as_ref().map_or(Ok(()), |to| recording.save(to)).map(|()| (recording, save.clone()))
            }),
        Source::Saved(from) => Recording::load(from).map(|recording| (recording, Some(from.clone()))),
    };
    let (recording, kept) = match recorded {
        Ok(recorded) => recorded,
        Err(why) => return super::error(&why),
    };
    let run = match analyze(&recording, &options) {
        Ok(run) => run,
        Err(why) => return super::error(&why),
    };
    if request.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&run)).expect("JSON serializes"));
    } else {
        print!("{}", report::text(&run));
        if let Some(kept) = kept {
            let checker = request.checker.replace('\'', "'\\''");
            let program = crate::session::program::program();
            println!(
                "re-check this run without running it again: {program} trace --from {} --checker '{checker}'",
                kept.display()
            );
        }
    }
    super::exit(run.passed())
}
