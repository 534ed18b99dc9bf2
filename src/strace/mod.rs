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
//!   checker runs there (`sh -c`, `CRASHSIM_STDOUT` names the stdout file); exit 0 = consistent.
//! - The replay's final tree must equal what the program left on the real disk: a built-in
//!   check that the replay understood the program.
//!
//! What it cannot see: writes through shared memory maps, programs that change DIR before the
//! trace starts, and anything outside DIR (recorded and counted, not simulated). Symlinks are
//! not followed when resolving paths (names are resolved lexically).

pub mod check;
pub mod line;
mod processes;
pub mod replay;
pub mod report;
pub mod skipped;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crashsim_sim::{image_of, preview, Image, Node, RealFs};
use pollster::block_on;

use check::{CheckOptions, ModelResult};
use replay::{Replay, Setup};

/// The syscalls strace is asked for: everything with a path or a descriptor, the process
/// calls (to follow descriptor tables), and `sync`, which has neither.
pub const STRACE_ARGS: &[&str] = &["-f", "-y", "-xx", "-s", "1048576", "-e", "trace=%file,%desc,%process,sync"];

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
}

/// Runs `program` on `dir` under strace (the binary `strace`), replays it and checks it.
pub fn trace(program: &[String], dir: &Path, strace: &str, options: &CheckOptions) -> Result<TraceRun, String> {
    assert!(!program.is_empty(), "a program to run");
    let dir = dir.canonicalize().map_err(|e| format!("--dir {}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("--dir {}: not a directory", dir.display()));
    }
    let snapshot = snapshot_of(&dir)?;
    let work = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let log_path = work.path().join("strace.log");
    let stdout_path = work.path().join("stdout");
    let stdout = std::fs::File::create(&stdout_path).map_err(|e| format!("the stdout file: {e}"))?;
    let status = Command::new(strace)
        .args(STRACE_ARGS)
        .arg("-o")
        .arg(&log_path)
        .arg("--")
        .args(program)
        .stdin(Stdio::null())
        .stdout(stdout)
        .status()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("strace not found (`{strace}`): install it (Debian: apt-get install strace)")
            }
            _ => format!("starting {strace}: {e}"),
        })?;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    if log.trim().is_empty() {
        return Err(format!(
            "{strace} wrote no trace ({status}): can this machine ptrace (a container without CAP_SYS_PTRACE cannot)?"
        ));
    }
    let exit = match status.code() {
        Some(code) => format!("exit {code}"),
        None => format!("{status}"),
    };
    let cwd =
        std::env::current_dir().and_then(|c| c.canonicalize()).map_err(|e| format!("the working directory: {e}"))?;
    let stdout_canonical = stdout_path.canonicalize().map_err(|e| e.to_string())?;
    let setup = Setup { dir: &dir, cwd: &cwd, stdout: &stdout_canonical };
    let replay = replay::replay(&log, &snapshot, &setup)?;
    let real_after = snapshot_of(&dir)?;
    let results = check::check(&replay, options)?;
    Ok(TraceRun { program: program.to_vec(), dir, exit, replay, real_after, results })
}

/// DIR as it is now, through `RealFs` (so a symlink or a special file is an error).
fn snapshot_of(dir: &Path) -> Result<Image, String> {
    let fs = RealFs::new(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    block_on(image_of(&fs))
        .map_err(|e| format!("reading {}: {e} (trace mode reads plain files and directories)", dir.display()))
}
