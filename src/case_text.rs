//! A case as command-line text: a workload written the way a subject writes its operations
//! ([`Subject::format_op`]) and read back ([`Subject::parse_op`]), and the command that replays a
//! case through the subject's own program ([`Subject::program`], a `main` that calls
//! `crashsim::cli::run`). Operations are separated by `;` and concurrent clients by `||`, so an
//! operation's text holds neither.

use std::fmt::Write as _;

use crashsim_sim::Model;

use crate::bounds::ExploreOptions;
use crate::case::{Case, Check};
use crate::schedule::gate::Preempt;
use crate::subject::Subject;
use crate::workload::Workload;

/// The one-line form of a list of operations (a client's, or a setup): `op; op; op`.
pub fn format_ops<S: Subject>(subject: &S, ops: &[S::Op]) -> String {
    ops.iter().map(|op| subject.format_op(op)).collect::<Vec<_>>().join("; ")
}

/// The one-line form of a workload's clients: `op; op || op` (its processes and setup are given
/// apart: `--processes`, `--setup`).
pub fn format_workload<S: Subject>(subject: &S, workload: &Workload<S::Op>) -> String {
    workload.clients.iter().map(|ops| format_ops(subject, ops)).collect::<Vec<_>>().join(" || ")
}

/// Reads a workload: `text` holds the clients (`||` between them), `setup` what process 0 runs
/// first (may be empty). Errors say which part could not be read.
pub fn parse_workload<S: Subject>(
    subject: &S,
    text: &str,
    processes: usize,
    setup: &str,
) -> Result<Workload<S::Op>, String> {
    let clients = text.split("||").map(|client| parse_ops(subject, client)).collect::<Result<Vec<_>, _>>()?;
    if clients.iter().any(Vec::is_empty) {
        return Err("a client of the workload has no operation".to_string());
    }
    let setup = parse_ops(subject, setup)?;
    let workload = Workload { setup, clients, processes };
    workload.validate()?;
    Ok(workload)
}

/// The operations of `text`, separated by `;` (blank parts skipped).
fn parse_ops<S: Subject>(subject: &S, text: &str) -> Result<Vec<S::Op>, String> {
    text.split(';').map(str::trim).filter(|part| !part.is_empty()).map(|part| subject.parse_op(part)).collect()
}

/// The default of [`Subject::parse_op`]: the operation whose [`Subject::format_op`] is `text`,
/// among every operation the subject names (its alphabets, its setup and its closing call).
pub fn parse_known_op<S: Subject>(subject: &S, text: &str) -> Result<S::Op, String> {
    let mut known = subject.alphabet();
    known.extend(subject.concurrent_alphabet());
    known.extend(subject.concurrent_setup());
    known.extend(subject.closing());
    if let Some(op) = known.iter().find(|op| subject.format_op(op) == text.trim()) {
        return Ok(op.clone());
    }
    let mut names: Vec<String> = known.iter().map(|op| subject.format_op(op)).collect();
    names.dedup();
    Err(format!("cannot read operation {text:?}: {} knows {}", subject.name(), names.join(", ")))
}

/// `word` as one shell word: as it is when it needs no quoting, else [`quoted`].
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | ',' | '='));
    if plain {
        word.to_string()
    } else {
        quoted(word)
    }
}

/// `text` in single quotes, as one shell word (workloads and plans are always quoted, so that
/// the commands of one store look alike).
pub fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The one-line command that replays `case` of `subject` under `model` through `program` (the
/// words that start the subject's command line, e.g. `cargo run --release --example kv --`):
/// `repro` with the subject's name, the model, the workload and everything the case fixed
/// (schedule, faults, what is checked).
pub fn replay_command<S: Subject>(
    program: &str,
    subject: &S,
    model: Model,
    case: &Case<S>,
    opts: &ExploreOptions,
) -> String {
    let workload = &case.workload;
    let mut command = format!(
        "{program} repro --variant {} --model {model} --workload {}",
        shell_word(&subject.name()),
        quoted(&format_workload(subject, workload))
    );
    if workload.processes > 1 {
        let _ = write!(command, " --processes {}", workload.processes);
    }
    if !workload.setup.is_empty() {
        let _ = write!(command, " --setup {}", quoted(&format_ops(subject, &workload.setup)));
    }
    if let Some(run) = &case.madsim {
        let _ = write!(command, " --madsim-seed {}", run.seed);
        if let Some(kill) = &run.kill {
            let _ = write!(command, " --kill {}@{}", kill.process, kill.at_us);
        }
    } else if !case.schedule.0.is_empty() {
        let _ = write!(command, " --schedule {}", case.schedule);
    }
    if opts.preempt != Preempt::default() {
        let _ = write!(command, " --preempt {}", opts.preempt);
    }
    if !case.faults.is_clean() {
        let _ = write!(command, " --plan {}", quoted(&case.faults.to_string()));
    }
    match case.check {
        Check::Crash { after, image } => {
            let _ = write!(command, " --crash-after {after} --image {image}");
        }
        Check::Clean { op } => {
            let _ = write!(command, " --clean-after {}", op + 1);
        }
        Check::Restart => command.push_str(" --restart"),
        Check::WorkAfterRestart => command.push_str(" --restart --continue"),
        Check::Continue { after, image } => {
            let _ = write!(command, " --crash-after {after} --image {image} --continue");
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(shell_word("std-table"), "std-table");
        assert_eq!(shell_word("create a L; rotate"), "'create a L; rotate'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
