//! The `crashsim` binary's command line: the commands every store has ([`super::StoreCommand`])
//! over the session store's variants, with `explore` alone as the harness's self-check, and the
//! commands of its own (images, check-dir, real-disk, trace, spec). Exit codes: 0 success, 1 a
//! check failed, 2 bad usage.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use crashsim_store::{Concurrency, Variant};

use super::{check_dir, images, parse_models, real_disk, run_command, self_check, spec, trace};
use super::{with_help_after, Models, StoreCommand};
use crate::scenario::Scenario;
use crate::session::Session;

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
    #[command(flatten)]
    Store(StoreCommand),
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
    /// Check a real sessions directory (OpenClaw's ~/.openclaw/agents/<agent>/sessions, or
    /// crashsim's own) against the store's invariants: orphan transcripts, dangling entries,
    /// non-canonical or duplicate keys, entries whose sessionId and sessionFile disagree,
    /// trajectories without a transcript, temp and lock debris, symlinks and paths outside the
    /// directory (reported, never followed). Exit 0 when nothing is wrong, 1 when something is
    /// (or, with --fix, is left), 2 when the directory cannot be read.
    CheckDir {
        /// The sessions directory.
        path: std::path::PathBuf,
        /// Repair without deleting anything: back up sessions.json, adopt orphans from their
        /// headers, move dangling, malformed and duplicate entries to sessions.removed.<ts>.json,
        /// rename orphan trajectories and temp files .deleted.<ts>; writes are atomic and
        /// durable, under the lock file. Refuses a malformed sessions.json or a held lock.
        #[arg(long)]
        fix: bool,
        /// With --fix: rename orphan transcripts .deleted.<ts> instead of adopting them.
        #[arg(long, requires = "fix")]
        archive_orphans: bool,
        /// What a program printed (e.g. "$CRASHSIM_STDOUT" in a trace checker): lines `ack <key>
        /// [<sessionId>]`, `ack-delete <key>`, `ack-line <sessionId> <text>` and `begin <op>
        /// <key>`. Nothing acknowledged may be lost.
        #[arg(long)]
        acknowledged: Option<std::path::PathBuf>,
        /// Judge DIR as a crash image (a trace checker): temp files, the lock, transcripts of
        /// sessions never acknowledged, and half-done operations in flight are what a crash may
        /// leave, and do not fail the check.
        #[arg(long, conflicts_with = "fix")]
        crash_image: bool,
        /// With --crash-image: the directory DIR is an image of (in a trace checker,
        /// "$CRASHSIM_DIR"); an absolute sessionFile in it names the file of that name in DIR.
        #[arg(long, requires = "crash_image")]
        image_of: Option<std::path::PathBuf>,
        /// Print one JSON object: {"command":"check-dir","ok","path","layout","entries",
        /// "transcripts","problems":[{"kind","subject","detail","failure","fix","left_because",
        /// "done","expected_after_crash"}],"fixed"}.
        #[arg(long)]
        json: bool,
    },
    /// Run a workload of the session store on a real directory, killed (fork + SIGKILL) after
    /// every syscall in turn: compare each directory left with the simulator's `process` image,
    /// boot a store on it and check it, and time both. Exit 0 when every directory matches and
    /// none breaks an invariant, 1 otherwise (a bug that reproduces on the real disk, or a
    /// simulator that disagrees with it).
    RealDisk {
        /// The variant.
        #[arg(long, default_value = "reference")]
        variant: Variant,
        /// One client's operations, e.g. 'create a L; rotate' (see the syntax below).
        #[arg(long)]
        workload: String,
        /// Print one JSON object: {"command":"real-disk","ok","variant","workload","syscalls",
        /// "mismatches","violations":[{"crash_after","invariant","summary","simulated"}],
        /// "real_ms","simulated_ms","real_states_per_s","simulated_states_per_s"}.
        #[arg(long)]
        json: bool,
    },
    /// Crash-check an unmodified program, in any language, through its syscall trace: run
    /// PROGRAM on DIR under strace, replay its file syscalls inside DIR on the simulated disk,
    /// and run CHECKER in a copy of every disk image a crash after any of them may leave (exit
    /// 0 = consistent). What the program printed to stdout before the crash is in the file named
    /// by $CRASHSIM_STDOUT: what it said was done must survive ($CRASHSIM_DIR names DIR, which
    /// the image is a copy of). Exit 0 when every image passes,
    /// 1 when one fails, 2 when the program could not be traced or replayed.
    #[command(after_long_help = TRACE_HELP)]
    Trace {
        /// The directory the program keeps its data in (snapshotted before the run).
        #[arg(long, required_unless_present = "from", conflicts_with = "from")]
        dir: Option<std::path::PathBuf>,
        /// Shell command run in each crash image's directory (sh -c), e.g.
        /// 'python3 /abs/check.py' or 'sqlite3 db "PRAGMA integrity_check" | grep -qx ok'.
        #[arg(long)]
        checker: String,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        /// Seconds a checker may run per image before it is killed and counted as a failure.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// Checkers run at once (default: the machine's cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Most posix crash images per crash point enumerated exhaustively; beyond, sampled.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
        max_images: u64,
        /// Seed of the posix sampling stream.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write every failing crash image into this directory, one subdirectory each.
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
        /// The strace binary.
        #[arg(long, default_value = "strace")]
        strace: String,
        /// Do not ask strace for each call's user stack (-k): tracing is several times faster,
        /// and a diagnosis then groups failures by log line instead of code location.
        #[arg(long, conflicts_with = "from")]
        no_stacks: bool,
        /// Do not diagnose the failing crash points (classify, group, propose and verify fixes):
        /// fewer checker runs.
        #[arg(long)]
        no_diagnosis: bool,
        /// Keep the run in this new directory (its strace log, DIR before and after, where it
        /// ran), to re-check it later with --from.
        #[arg(long, conflicts_with = "from")]
        save: Option<std::path::PathBuf>,
        /// Re-check a run kept with --save, exactly, without running the program again (any
        /// checker, model or bound).
        #[arg(long)]
        from: Option<std::path::PathBuf>,
        /// Print one JSON object: {"command":"trace","ok","program","dir","exit","program_failed","syscalls",
        /// "processes","replayed","replay_matches_real_disk","replay_differences","not_simulated":[{"syscall","reason",
        /// "concern","count","first_line","example","detail"}],"results":[{"model","crash_points",
        /// "images","checked","sampled","failing_points","failures":[{"crash_after_call","call",
        /// "log_line","image","images","survived","files","stdout","checker_status","checker_output",
        /// "diagnosis"}]}],"vulnerabilities":[{"kind","calls","sites","failing_points","models","fix",
        /// "verified"}]}.
        #[arg(long)]
        json: bool,
        /// The program and its arguments, after `--`.
        #[arg(last = true, required_unless_present = "from", conflicts_with = "from", num_args = 1..)]
        program: Vec<String>,
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

/// What `crashsim explore` says of itself: the generic text, and the self-check.
const EXPLORE_ABOUT: &str = "Crash the session store at every syscall boundary of every workload, boot a store on \
every disk image each crash may leave, and check it against the spec.";

const EXPLORE_LONG_ABOUT: &str =
    "Crash the session store at every syscall boundary of every workload, boot a store on \
every disk image each crash may leave, and check it against the spec.

Without --variant: the harness's own end-to-end check. Explores the reference store and every variant that \
reproduces a reported bug, prints one table, and exits 0 when the reference is clean and every variant is \
caught exactly under the models its documentation names, 1 otherwise. With --variant: a table per variant \
and model; exit 0 when no violation was found, 1 when one was.";

/// What `--help` of explore, repro and soak ends with: the variants, and the syntax of
/// workloads, setups, schedules and fault plans.
fn reference_help() -> String {
    let mut text = String::from("Variants (--variant):\n");
    for variant in Variant::ALL {
        let models: Vec<&str> = variant.caught_under().iter().map(|m| m.name()).collect();
        let caught = if models.is_empty() { "-".to_string() } else { models.join(",") };
        let race = match variant.needs_concurrency() {
            crashsim_store::Concurrency::None => "",
            crashsim_store::Concurrency::Clients => " (a race: concurrent clients)",
            crashsim_store::Concurrency::Processes => " (a race: two processes)",
        };
        text.push_str(&format!("  {:<30} {:<37} caught under {caught}{race}\n", variant.name(), variant.reported_as()));
    }
    text.push_str(
        "\nWorkloads (--workload, --setup): operations separated by ';', concurrent clients by '||':\n  \
         create KEY [LABEL], append KEY MESSAGE, get KEY, reset KEY, delete KEY, rotate, prune N, shutdown\n  \
         e.g. 'create a L; append a hello; rotate' or 'create b L || delete a'. Keys, labels and messages are single words.\n\
         \nSchedules (--schedule): the client run at each choice point, joined by '.', e.g. 0.1.1 (empty: each\n  \
         client runs until it blocks or ends).\n\
         \nFault plans (--plan): space-separated fail@STEP=ERRNO (ENOSPC, EIO, EACCES, EDQUOT), short@STEP=BYTES\n  \
         (a write shorter than asked), crash@STEP; STEP is the 0-based syscall index of the trace. Each step at\n  \
         most once; a replay refuses a fault its run would not carry out. corrupt@PATH=empty|truncate:BYTES|garbage\n  \
         damages one file of the disk the store restarts on (garbage: its last 512 B), with --restart.\n\
         \nPersistence models (--model): process (kill -9: what the process wrote survives), ordered (ext4\n  \
         data=ordered: fsync is a barrier, any prefix of the rest), posix (only fsynced data and fsynced\n  \
         directory entries are sure; each pending write and each directory's entries independently).",
    );
    text
}

/// What `crashsim trace --help` ends with.
const TRACE_HELP: &str = "Example:
  crashsim trace --dir data --checker 'python3 /abs/check.py' -- python3 app.py

Replayed inside DIR: open, openat, openat2, creat; write, pwrite64, writev, pwritev;
  fsync, fdatasync; sync, syncfs (every file and directory of DIR); rename, renameat,
  renameat2; link, linkat; unlink, unlinkat; mkdir, mkdirat, rmdir; truncate, ftruncate;
  fallocate; copy_file_range and sendfile (as writes); close; dup, dup2, dup3,
  fcntl(F_DUPFD); lseek and reads (for offsets). Threads, forks and exec follow their
  descriptor tables. sync_file_range promises no durability and is replayed as nothing.

Reported, not simulated: calls outside DIR; metadata (chmod, chown, utimensat, xattrs);
  calls inside DIR that cannot be mapped (symlinks, O_TMPFILE, shared writable mmap,
  renames into DIR from outside).

The program's stdout goes to a file: flush after saying something is done. Its stderr
  passes through. The replay's final tree is compared with what the program left; a
  warning says where they differ.";

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let command = Cli::command().mut_subcommand("explore", |c| c.about(EXPLORE_ABOUT).long_about(EXPLORE_LONG_ABOUT));
    let command = with_help_after(command, &reference_help());
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let sessions: Vec<Session> = Variant::ALL.iter().map(|&v| Session(v)).collect();
    match cli.command {
        Command::Store(StoreCommand::Explore { variant: None, model, bounds, json }) => {
            self_check::run(&model.0, &bounds.options(), json)
        }
        Command::Store(command) => {
            if let StoreCommand::Explore { variant: Some(name), bounds, .. } = &command {
                race_note(name, bounds.options().client_ops_max);
            }
            run_command(&sessions, command)
        }
        Command::Images { scenario, model, after, seed } => images::run(scenario, &model.0, after, seed),
        Command::CheckDir { path, fix, archive_orphans, acknowledged, crash_image, image_of, json } => {
            check_dir::run(check_dir::Request {
                path: &path,
                fix,
                archive_orphans,
                acknowledged: acknowledged.as_deref(),
                crash_image,
                image_of: image_of.as_deref(),
                json,
            })
        }
        Command::RealDisk { variant, workload, json } => real_disk::run(variant, &workload, json),
        Command::Trace {
            dir,
            checker,
            model,
            timeout,
            jobs,
            max_images,
            seed,
            keep,
            strace,
            no_stacks,
            no_diagnosis,
            save,
            from,
            json,
            program,
        } => {
            let source = match (from, dir) {
                (Some(from), _) => trace::Source::Saved(from),
                (None, Some(dir)) => trace::Source::Run { dir, program, strace, stacks: !no_stacks, save },
                (None, None) => unreachable!("clap requires --dir or --from"),
            };
            trace::run(trace::Request {
                source,
                checker,
                models: model.0,
                timeout_s: timeout,
                jobs: jobs.map(|j| j as usize),
                max_images: max_images as usize,
                seed,
                keep,
                diagnose: !no_diagnosis,
                json,
            })
        }
        Command::Spec { depth, keys, clients } => spec::run(depth, keys as usize, clients as usize),
    }
}

/// A race variant asked for with no concurrent workload cannot be caught: say so.
fn race_note(name: &str, client_ops: usize) {
    if client_ops > 0 {
        return;
    }
    for variant in Variant::ALL.iter().filter(|v| name == "all" || v.name() == name) {
        if variant.needs_concurrency() != Concurrency::None {
            eprintln!("note: {variant} is a race, and --client-ops 0 runs no concurrent workload: it cannot be caught");
        }
    }
}
