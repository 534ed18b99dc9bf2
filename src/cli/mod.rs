//! The `crashsim` command line. Exit codes: 0 success, 1 a check failed, 2 bad usage.

mod check_dir;
mod explore;
mod images;
mod progress;
mod real_disk;
mod repro;
mod soak;
mod spec;
mod trace;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use crashsim_faults::Plan;
use crashsim_sim::{ImageOptions, Model};
use crashsim_store::Variant;

use crate::case::{Case, Check};
use crate::execute::{Kill, MadsimRun};
use crate::explore::ExploreOptions;
use crate::scenario::Scenario;
use crate::schedule::gate::Preempt;
use crate::schedule::Schedule;
use crate::session::workload;

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
    /// Crash the session store at every syscall boundary of every workload, boot a store on
    /// every disk image each crash may leave, and check it against the spec.
    ///
    /// Without --variant: the harness's own end-to-end check. Explores the reference store and
    /// every variant that reproduces a reported bug, prints one table, and exits 0 when the
    /// reference is clean and every variant is caught exactly under the models its documentation
    /// names, 1 otherwise. With --variant: a table per variant and model; exit 0 when no
    /// violation was found, 1 when one was.
    #[command(after_long_help = reference_help())]
    Explore {
        /// A variant (reference, unregistered-create, rotate-rename, ...) or all.
        #[arg(long, value_parser = parse_variants)]
        variant: Option<Variants>,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        #[command(flatten)]
        bounds: Bounds,
        /// Print one JSON object instead of tables: {"command":"explore","ok","results":[{"variant","model","workloads","interleavings",
        /// "interleavings_cut","crash_points","crash_states","distinct_states","distinct_exact","violations","first_violation"
        /// (with its "diagnosis"),"elapsed_ms"}...],"vulnerabilities":[{"variant","kind","calls","sites","failing_points",
        /// "models","fix","verified"}]}.
        #[arg(long)]
        json: bool,
    },
    /// Find, shrink and print the minimal reproducer of a variant's bug (exit 0; 1 when none
    /// exists within the bounds), or replay one case given by --workload (exit 1 when it shows a
    /// violation, 0 when it passes). Every reproducer ends with the command that replays it.
    #[command(after_long_help = reference_help())]
    Repro {
        /// The variant.
        #[arg(long)]
        variant: Variant,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        #[command(flatten)]
        bounds: Bounds,
        /// Replay this workload ('create a L; append a m; rotate; ...') instead of searching.
        /// Concurrent clients are separated by '||': 'create a L || create b L'.
        #[arg(long)]
        workload: Option<String>,
        /// Replay: the processes the workload's clients run in (client i in process i mod N).
        #[arg(long, default_value_t = 1, requires = "workload")]
        processes: usize,
        /// Replay: operations process 0 runs alone before the clients start ('create a L').
        #[arg(long, default_value = "", requires = "workload")]
        setup: String,
        /// Replay: the interleaving of the clients, the client chosen at each choice point
        /// joined by '.' ('0.1.1'; empty: the default, each client on until it blocks or ends).
        #[arg(long, default_value = "", requires = "workload")]
        schedule: Schedule,
        /// Replay under madsim with this seed (what `soak --clients N` prints), instead of a
        /// schedule on crashsim's executor.
        #[arg(long, requires = "workload", conflicts_with = "schedule")]
        madsim_seed: Option<u64>,
        /// Replay under madsim: kill process P at T microseconds of simulated time, as P@T.
        #[arg(long, requires = "madsim_seed", value_parser = parse_kill)]
        kill: Option<Kill>,
        /// Faults injected in the replay ('fail@12=EIO'; 'corrupt@sessions/sessions.json=truncate:40' with --restart).
        #[arg(long, default_value = "none", requires = "workload", value_parser = parse_plan)]
        plan: Box<Plan>,
        /// Replay: crash after this many syscalls.
        #[arg(long, requires = "workload", conflicts_with_all = ["clean_after", "restart"])]
        crash_after: Option<usize>,
        /// Replay: which crash image (index in the model's deterministic order; default 0). Needs
        /// --crash-after.
        #[arg(long)]
        image: Option<usize>,
        /// Replay: work after recovery. With --crash-after, the store booted on the crash image
        /// runs the operations not yet invoked at the crash; with --restart and a damaged file
        /// (--plan 'corrupt@...'), the store booted on it runs the workload's calls again. Either
        /// way it then shuts down, and is restarted and checked.
        #[arg(long = "continue")]
        continue_after: bool,
        /// Replay: look at the running store after this operation (1-based), no crash.
        #[arg(long, requires = "workload", conflicts_with = "restart")]
        clean_after: Option<usize>,
        /// Replay: restart after the run's clean shutdown.
        #[arg(long, requires = "workload")]
        restart: bool,
        /// Show every syscall of the trace (by default those before the operation in flight are
        /// folded into one line per operation).
        #[arg(long)]
        full_trace: bool,
        /// Print one JSON object: {"command":"repro","ok","vulnerabilities":[{"kind","calls","sites",
        /// "failing_points","models","fix","verified"}],"reproducers":[{"variant","model","invariant",
        /// "operations","clients","processes","replay","diagnosis","reproducer"}]}.
        #[arg(long)]
        json: bool,
    },
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
    /// Soak: seeded random workloads (up to 30 operations) with a seeded fault each, every crash
    /// point and image checked. With --clients N (N > 1): races instead, N clients over
    /// --processes processes under madsim, whose seed picks the interleaving and simulated
    /// time, one process killed at a seeded time in three seeds of four. Seed s runs on shard s
    /// mod n; a violation prints its seed and the command that replays it. Exit 0 when no
    /// violation was found, 1 when one was.
    #[command(after_long_help = reference_help())]
    Soak {
        /// The variant.
        #[arg(long, default_value = "reference")]
        variant: Variant,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Number of seeds, before sharding (0 to 2^64-1; generated lazily).
        #[arg(long, default_value_t = 1000)]
        seeds: u64,
        /// This shard of the seed range, as INDEX/COUNT (0-based), e.g. 2/8.
        #[arg(long, default_value = "0/1", value_parser = parse_shard)]
        shard: (u64, u64),
        /// Stop starting new seeds after this many seconds, over all models together (the seeds
        /// that ran are reported; a run that runs none exits 2).
        #[arg(long)]
        time: Option<u64>,
        /// Clients per workload (1: one client with seeded faults; 2 to 4: races).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4))]
        clients: u64,
        /// Processes the clients run in (client i in process i mod N), at most --clients.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4))]
        processes: u64,
        /// Print one JSON object instead of a table: {"command":"soak","ok","shard","first_seed",
        /// "seeds","clients","processes","seeds_planned","seeds_run","cut_short","results":
        /// [{"variant","model","seeds_planned","seeds_run","cut_short","crash_states",
        /// "distinct_states","distinct_exact","violations","failing_seed","replay","elapsed_ms"}]}.
        #[arg(long)]
        json: bool,
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
        /// Print one JSON object: {"command":"trace","ok","program","dir","exit","syscalls",
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

/// Bounds of an exploration.
#[derive(Args, Clone, Debug)]
struct Bounds {
    /// Exhaustive workloads: every sequence of up to N operations over keys a and b (1 to 5; the
    /// self-check needs 2 or more).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=5))]
    max_ops: u64,
    /// Random workloads (up to 30 operations each) from the spec's state machine (0 or more).
    #[arg(long, default_value_t = 16)]
    random: usize,
    /// Fault runs (every errno at every mutating syscall, a short write at every write, every
    /// damage to the registry on restart) and work after recovery (the operations left run on
    /// every crash image, then a restart) for workloads of up to N operations (0: none).
    #[arg(long, default_value_t = 2)]
    errno_ops: usize,
    /// Fault runs in the last operation of longer workloads, up to N operations: every errno at
    /// each of its mutating syscalls, a short write at each of its writes, every damage to the
    /// registry on restart; once per distinct state before that operation (state caching). A
    /// fault in an earlier operation is the last-operation fault of a shorter workload. Ignored
    /// with --errno-ops 0.
    #[arg(long, default_value_t = 4)]
    fault_ops: usize,
    /// Most posix crash images per crash point enumerated exhaustively; beyond, sampled (1 or
    /// more).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_images: u64,
    /// Seed of random workloads, scale workloads and posix sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scale workloads (0 or more): 8 to --scale-size sessions created, then five rotations (past the 3
    /// backups kept), a prune of half (at most 6), a create and a delete; crash-checked after the
    /// creates, up to the final shutdown.
    #[arg(long, default_value_t = 2)]
    scale: usize,
    /// Most sessions a scale workload creates (8 or more; its count is seeded below this):
    /// thousands run the store's size-triggered paths (2,000: about 8 s and 0.9 GB).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(8..))]
    scale_size: u64,
    /// Concurrent workloads: two clients (in one process, then in two), each with 1 to N
    /// operations over create, append, get, reset, delete of one key, a create of another, and
    /// rotate (0 to 3; 0: no concurrent workloads).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=3))]
    client_ops: u64,
    /// Most preemptions per interleaving of concurrent clients (switching away from a client
    /// that could go on; 0 or more).
    #[arg(long, default_value_t = 2)]
    preemptions: usize,
    /// Where a client may be preempted: 'paths' (before each syscall that names a path) or
    /// 'every' (before every syscall).
    #[arg(long, default_value = "every")]
    preempt: Preempt,
    /// Explore every workload and interleaving in full: no state is skipped as already seen
    /// (to measure what state caching saves, or to check that it changes no verdict).
    #[arg(long)]
    no_state_caching: bool,
}

impl Bounds {
    fn options(&self) -> ExploreOptions {
        ExploreOptions {
            max_ops: self.max_ops as usize,
            random_workloads: self.random,
            random_max_ops: 30,
            errno_max_ops: self.errno_ops,
            fault_max_ops: self.fault_ops,
            images: ImageOptions { max_images: self.max_images as usize, seed: self.seed, ..ImageOptions::default() },
            seed: self.seed,
            scale_workloads: self.scale,
            scale_size_max: self.scale_size as usize,
            client_ops_max: self.client_ops as usize,
            processes_max: 2,
            preemptions_max: self.preemptions,
            preempt: self.preempt,
            state_caching: !self.no_state_caching,
            stop_under: Vec::new(),
        }
    }
}

/// Exit 0 when the command found nothing wrong, 1 when it did.
fn exit(clean: bool) -> ExitCode {
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Exit 2 after telling why the command could not run.
fn error(why: &str) -> ExitCode {
    eprintln!("error: {why}");
    ExitCode::from(2)
}

/// A fault plan (boxed: it is the largest argument of the command line).
fn parse_plan(text: &str) -> Result<Box<Plan>, String> {
    text.parse().map(Box::new)
}

/// A list of variants.
#[derive(Clone, Debug)]
pub struct Variants(pub Vec<Variant>);

/// A variant name or `all`.
pub fn parse_variants(text: &str) -> Result<Variants, String> {
    one_or_all(text, &Variant::ALL).map(Variants)
}

/// `INDEX/COUNT`, 0 <= INDEX < COUNT.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("bad shard {text:?}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4");
    let (index, count) = text.split_once('/').ok_or_else(bad)?;
    let (index, count): (u64, u64) = (index.parse().map_err(|_| bad())?, count.parse().map_err(|_| bad())?);
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok((index, count))
}

/// `P@T`: process P killed at T microseconds.
pub fn parse_kill(text: &str) -> Result<Kill, String> {
    let bad = || format!("bad kill {text:?}: expected PROCESS@MICROSECONDS, e.g. 1@350");
    let (process, at) = text.split_once('@').ok_or_else(bad)?;
    Ok(Kill { process: process.parse().map_err(|_| bad())?, at_us: at.parse().map_err(|_| bad())? })
}

/// A list of persistence models.
#[derive(Clone, Debug)]
pub struct Models(pub Vec<Model>);

/// `process`, `ordered`, `posix` or `all`.
pub fn parse_models(text: &str) -> Result<Models, String> {
    one_or_all(text, &Model::ALL).map(Models)
}

/// `all` (every one of `all`), or one name.
fn one_or_all<T: Copy + std::str::FromStr<Err = String>>(text: &str, all: &[T]) -> Result<Vec<T>, String> {
    if text == "all" {
        return Ok(all.to_vec());
    }
    text.parse::<T>().map(|one| vec![one])
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Images { scenario, model, after, seed } => images::run(scenario, &model.0, after, seed),
        Command::Soak { variant, model, first_seed, seeds, shard, time, clients, processes, json } => {
            if processes > clients {
                eprintln!(
                    "error: --processes {processes} is more than --clients {clients}: each process needs a client"
                );
                return ExitCode::from(2);
            }
            let opts = crate::soak::SoakOptions {
                first_seed,
                seeds,
                shard,
                time_budget: time.map(std::time::Duration::from_secs),
                clients: clients as usize,
                processes: processes as usize,
                ..crate::soak::SoakOptions::default()
            };
            soak::run(variant, &model.0, &opts, json)
        }
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
        Command::Explore { variant: None, model, bounds, json } => {
            explore::self_check(&model.0, &bounds.options(), json)
        }
        Command::Explore { variant: Some(variants), model, bounds, json } => {
            explore::per_variant(&variants.0, &model.0, &bounds.options(), json)
        }
        Command::Repro { variant, model, bounds, workload: None, json, full_trace, .. } => {
            repro::find(variant, &model.0, &bounds.options(), full_trace, json)
        }
        Command::Repro {
            variant,
            model,
            bounds,
            workload: Some(workload),
            processes,
            setup,
            schedule,
            madsim_seed,
            kill,
            plan,
            crash_after,
            image,
            continue_after,
            clean_after,
            restart,
            full_trace,
            ..
        } => {
            if image.is_some() && crash_after.is_none() {
                eprintln!("error: --image picks an image of a crash: it needs --crash-after K");
                return ExitCode::from(2);
            }
            if continue_after && crash_after.is_none() && !restart {
                eprintln!(
                    "error: --continue needs --crash-after K (work after a crash) or --restart (after a damaged file)"
                );
                return ExitCode::from(2);
            }
            if continue_after && restart && plan.corrupt.is_none() {
                eprintln!("error: --restart --continue runs work after a restart on a damaged file: add --plan 'corrupt@PATH=...'");
                return ExitCode::from(2);
            }
            let image = image.unwrap_or(0);
            let check = match (crash_after, clean_after, restart) {
                (Some(after), _, _) if continue_after => Check::Continue { after, image },
                (Some(after), _, _) => Check::Crash { after, image },
                (None, Some(0), _) => {
                    eprintln!("error: --clean-after counts operations from 1");
                    return ExitCode::from(2);
                }
                (None, Some(op), _) => Check::Clean { op: op - 1 },
                (None, None, true) if continue_after => Check::WorkAfterRestart,
                (None, None, true) => Check::Restart,
                (None, None, false) => {
                    eprintln!("error: a replay needs --crash-after K, --clean-after N or --restart");
                    return ExitCode::from(2);
                }
            };
            let [model] = model.0[..] else {
                eprintln!("error: a replay needs one --model (process, ordered or posix)");
                return ExitCode::from(2);
            };
            let workload = match workload::parse(&workload, processes, &setup) {
                Ok(workload) => workload,
                Err(error) => {
                    eprintln!("error: --workload: {error}");
                    return ExitCode::from(2);
                }
            };
            let madsim = madsim_seed.map(|seed| MadsimRun { seed, kill });
            if madsim.as_ref().and_then(|m| m.kill.as_ref()).is_some_and(|k| k.process >= workload.processes) {
                eprintln!(
                    "error: --kill names a process the workload does not have ({} processes)",
                    workload.processes
                );
                return ExitCode::from(2);
            }
            let case = Case { workload, faults: *plan, schedule, madsim, check };
            repro::replay(variant, model, case, &bounds.options(), full_trace)
        }
    }
}
