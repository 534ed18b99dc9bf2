//! One run of the program, kept: its strace log, DIR before and after, and where it ran. A
//! recording is all the analysis needs, so one saved with `--save` is re-checked exactly, with
//! any checker or model, by `--from`, without running the program again (whose own run is not
//! deterministic: pids, timing, what it reads).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crashsim_sim::{image_of_dir, Image};
use serde_json::json;

use super::check::write_image;
use super::{STACKS_ARG, STRACE_ARGS};

/// A recorded run.
pub struct Recording {
    pub program: Vec<String>,
    /// DIR, canonical, as the log names it.
    pub dir: PathBuf,
    /// The program's first working directory, canonical.
    pub cwd: PathBuf,
    /// The file the program's stdout went to, as the log names it.
    pub stdout: PathBuf,
    /// How the program ended ("exit 0", ...).
    pub exit: String,
    pub log: String,
    /// DIR before the run and after it.
    pub before: Image,
    pub after: Image,
}

impl Recording {
    /// Runs `program` on `dir` under `strace` (asking for each call's stack when `stacks`) and
    /// keeps what the analysis needs.
    pub fn record(program: &[String], dir: &Path, strace: &str, stacks: bool) -> Result<Self, String> {
        assert!(!program.is_empty(), "a program to run");
        let dir = dir.canonicalize().map_err(|e| format!("--dir {}: {e}", dir.display()))?;
        if !dir.is_dir() {
            return Err(format!("--dir {}: not a directory", dir.display()));
        }
        if !is_program(&program[0]) {
            return Err(format!("{}: no such program (not a file, nor on PATH)", program[0]));
        }
        let before = snapshot_of(&dir)?;
        let work = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        let log_path = work.path().join("strace.log");
        let stdout_path = work.path().join("stdout");
        let stdout_file = std::fs::File::create(&stdout_path).map_err(|e| format!("the stdout file: {e}"))?;
        let status = Command::new(strace)
            .args(STRACE_ARGS)
            .args(stacks.then_some(STACKS_ARG))
            .arg("-o")
            .arg(&log_path)
            .arg("--")
            .args(program)
            .stdin(Stdio::null())
            .stdout(stdout_file)
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
        let cwd = std::env::current_dir()
            .and_then(|c| c.canonicalize())
            .map_err(|e| format!("the working directory: {e}"))?;
        let stdout = stdout_path.canonicalize().map_err(|e| e.to_string())?;
        let after = snapshot_of(&dir)?;
        Ok(Self { program: program.to_vec(), dir, cwd, stdout, exit, log, before, after })
    }

    /// Writes the recording into `to` (created): `strace.log`, `before/`, `after/`, `run.json`.
    pub fn save(&self, to: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("--save {}: {e}", to.display());
        if to.exists() && std::fs::read_dir(to).map_err(fail)?.next().is_some() {
            return Err(format!("--save {}: not empty; a recording needs a directory of its own", to.display()));
        }
        std::fs::create_dir_all(to).map_err(fail)?;
        std::fs::write(to.join("strace.log"), &self.log).map_err(fail)?;
        write_image(&self.before, &to.join("before")).map_err(fail)?;
        write_image(&self.after, &to.join("after")).map_err(fail)?;
        let run = json!({
            "program": self.program,
            "dir": self.dir,
            "cwd": self.cwd,
            "stdout": self.stdout,
            "exit": self.exit,
        });
        std::fs::write(to.join("run.json"), serde_json::to_string_pretty(&run).expect("JSON")).map_err(fail)
    }

    /// Reads a recording [`Recording::save`] wrote.
    pub fn load(from: &Path) -> Result<Self, String> {
        let fail =
            |what: &str, e: String| format!("--from {}: {what}: {e} (a directory written by --save)", from.display());
        let run: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(from.join("run.json")).map_err(|e| fail("run.json", e.to_string()))?,
        )
        .map_err(|e| fail("run.json", e.to_string()))?;
        let text =
            |key: &str| run[key].as_str().map(str::to_string).ok_or_else(|| fail("run.json", format!("no {key:?}")));
        let program = run["program"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .ok_or_else(|| fail("run.json", "no \"program\"".to_string()))?;
        let log = std::fs::read_to_string(from.join("strace.log")).map_err(|e| fail("strace.log", e.to_string()))?;
        Ok(Self {
            program,
            dir: text("dir")?.into(),
            cwd: text("cwd")?.into(),
            stdout: text("stdout")?.into(),
            exit: text("exit")?,
            log,
            before: snapshot_of(&from.join("before"))?,
            after: snapshot_of(&from.join("after"))?,
        })
    }
}

/// A directory as it is now.
fn snapshot_of(dir: &Path) -> Result<Image, String> {
    image_of_dir(dir)
        .map_err(|e| format!("reading {}: {e} (trace mode reads plain files and directories)", dir.display()))
}

/// Whether `name` is a file strace can start: a path to one, or a name found on `PATH` (strace
/// would otherwise stop with a trace of nothing, read as a machine that cannot ptrace).
fn is_program(name: &str) -> bool {
    if name.contains('/') {
        return Path::new(name).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(name).is_file())
}
