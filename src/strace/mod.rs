//! Trace mode: crash-check an unmodified program, in any language, through its syscall trace.
//!
//! Model, as ALICE (OSDI 2014) on crashsim's disk:
//! - The program runs once, for real, on DIR under `strace -f -y -xx` (its stdout goes to a
//!   file, so what it printed is known call by call).
//! - Its file and descriptor syscalls that touch DIR are replayed, in the order strace printed
//!   them returning, on a `SimFs` started from a snapshot of DIR taken before the run.
//! - A crash point is the end of each replayed call that changed the disk or synced, and of each
//!   write to stdout. Each point's images under each persistence model are the simulated disk's.
//! - Each distinct (image, stdout so far) pair is written to a temporary directory, and the
//!   checker runs there (`sh -c`, `CRASHSIM_STDOUT` names the stdout file, `CRASHSIM_DIR` the
//!   directory the image is a copy of); exit 0 = consistent.
//! - The replay's final tree must equal what the program left on the real disk: a built-in
//!   check that the replay understood the program.
//! - The run is a [`recording::Recording`]; the analysis depends on it alone, so a recording
//!   kept with `--save` is re-checked exactly with `--from`.
//!
//! What it cannot see: writes through shared memory maps, programs that change DIR before the
//! trace starts, and anything outside DIR (recorded and counted, not simulated). Symlinks are
//! not followed when resolving paths (names are resolved lexically).

pub mod check;
pub mod diagnose;
pub mod line;
mod processes;
pub mod recording;
pub mod replay;
pub mod report;
pub mod skipped;

use std::path::{Path, PathBuf};

use crashsim_sim::{preview, Image, Node};

use crate::diagnose::{Diagnosis, Vulnerability};
use check::{CheckOptions, ModelResult};
use recording::Recording;
use replay::{Replay, Setup};

/// The syscalls strace is asked for: everything with a path or a descriptor, the process
/// calls (to follow descriptor tables), and `sync`, which has neither. With stacks, `-k` too
/// ([`STACKS_ARG`]).
pub const STRACE_ARGS: &[&str] = &["-f", "-y", "-xx", "-s", "1048576", "-e", "trace=%file,%desc,%process,sync"];

/// strace's flag for the user stack of each call: the call sites a diagnosis groups failures
/// by and keys its fixes to. It makes tracing several times slower (an unwind per call).
pub const STACKS_ARG: &str = "-k";

/// A finished trace-mode run.
pub struct TraceRun {
    pub program: Vec<String>,
    pub dir: PathBuf,
    /// How the program ended ("exit 0", ...).
    pub exit: String,
    pub replay: Replay,
    /// The tree the program left on the real disk.
    pub real_after: Image,
    pub results: Vec<ModelResult>,
    /// The diagnosis of each failure of each model's result, in the same order (none where a
    /// failure could not be classified, or when diagnosis was not asked for).
    pub diagnoses: Vec<Vec<Option<Diagnosis>>>,
    /// Every failing image of every failing point, grouped (empty without a diagnosis).
    pub vulnerabilities: Vec<Vulnerability>,
}

impl TraceRun {
    /// Whether the replay ended with the tree the program left.
    pub fn replay_matches(&self) -> bool {
        self.replay.fs.volatile_image() == self.real_after
    }

    /// Where the replay's final tree and the real one differ: one line per path, empty when
    /// they are equal.
    pub fn replay_differences(&self) -> Vec<String> {
        let simulated = self.replay.fs.volatile_image();
        let describe = |image: &Image, path: &str| match image.nodes().find(|(p, _)| *p == path).map(|(_, n)| n) {
            None => "missing".to_string(),
            Some(Node::Dir) => "a directory".to_string(),
            Some(Node::File(bytes)) => format!("{} B {}", bytes.len(), preview(bytes)),
        };
        let paths: std::collections::BTreeSet<&str> =
            simulated.nodes().chain(self.real_after.nodes()).map(|(path, _)| path).collect();
        paths
            .into_iter()
            .filter(|path| describe(&simulated, path) != describe(&self.real_after, path))
            .map(|path| {
                format!("{path}: replay {}, real disk {}", describe(&simulated, path), describe(&self.real_after, path))
            })
            .collect()
    }

    /// Whether every image passed the checker.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.failures.is_empty())
    }

    /// Whether the program itself failed (exited non-zero or was killed): its crash images are
    /// those of a failed run, whatever the checker says of them.
    pub fn program_failed(&self) -> bool {
        self.exit != "exit 0"
    }
}

/// Runs `program` on `dir` under strace (the binary `strace`, with `-k` when `stacks`), replays
/// it and checks it.
pub fn trace(
    program: &[String],
    dir: &Path,
    strace: &str,
    stacks: bool,
    options: &CheckOptions,
) -> Result<TraceRun, String> {
    analyze(&Recording::record(program, dir, strace, stacks)?, options)
}

/// Replays a recording and checks every crash image of it.
pub fn analyze(recording: &Recording, options: &CheckOptions) -> Result<TraceRun, String> {
    let setup = Setup { dir: &recording.dir, cwd: &recording.cwd, stdout: &recording.stdout };
    let replay = replay::replay(&recording.log, &recording.before, &setup)?;
    let verdicts = check::Verdicts::default();
    let results = check::check_keeping(&replay, options, &verdicts)?;
    let diagnosed = if options.diagnose && results.iter().any(|r| !r.failures.is_empty()) {
        diagnose::diagnose(recording, &replay, &results, options, &verdicts)?
    } else {
        let per_failure = results.iter().map(|r| vec![None; r.failures.len()]).collect();
        diagnose::Diagnosed { per_failure, vulnerabilities: Vec::new() }
    };
    Ok(TraceRun {
        program: recording.program.clone(),
        dir: recording.dir.clone(),
        exit: recording.exit.clone(),
        replay,
        real_after: recording.after.clone(),
        results,
        diagnoses: diagnosed.per_failure,
        vulnerabilities: diagnosed.vulnerabilities,
    })
}
