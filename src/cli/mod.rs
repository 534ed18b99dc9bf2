//! A command line for any store: `explore`, `repro` (search, or replay one case) and `soak` over
//! a program's own subjects, with the flags and JSON of the `crashsim` binary.
//!
//! ```text
//! fn main() -> std::process::ExitCode {
//!     crashsim::cli::run(&[MyStore { buggy: false }, MyStore { buggy: true }])
//! }
//! ```
//!
//! Subjects are named on the command line by [`Subject::name`] (`--variant NAME`, or `all`);
//! with no arguments at all the program explores every one.
//! A reproducer ends with the command that replays it through the program its subject names
//! ([`Subject::program`]). Exit codes: 0 nothing wrong, 1 a check failed, 2 bad usage. The
//! `crashsim` binary is one user of this module (with the session store's variants as its
//! subjects, and commands of its own: [`binary`]). Needs the `runner` feature (clap, indicatif).

#[cfg(feature = "cli")]
pub mod binary;
#[cfg(feature = "cli")]
mod check_dir;
mod explore;
#[cfg(feature = "cli")]
mod images;
mod progress;
#[cfg(feature = "cli")]
mod real_disk;
mod repro;
#[cfg(feature = "cli")]
mod self_check;
mod soak;
#[cfg(feature = "cli")]
mod spec;
#[cfg(feature = "cli")]
mod trace;

use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use crashsim_faults::Plan;
use crashsim_sim::{ImageOptions, Model};

use crate::case::{Case, Check};
use crate::case_text::parse_workload;
use crate::execute::{Kill, MadsimRun};
use crate::explore::ExploreOptions;
use crate::schedule::gate::Preempt;
use crate::schedule::Schedule;
use crate::subject::Subject;

/// Parses the command line and runs the command on `subjects` (at least one; names unique).
pub fn run<S: Subject>(subjects: &[S]) -> ExitCode {
    assert!(!subjects.is_empty(), "a command line needs at least one subject");
    let names: Vec<String> = subjects.iter().map(Subject::name).collect();
    for (i, name) in names.iter().enumerate() {
        assert!(!names[..i].contains(name), "two subjects are named {name:?}: the command line picks them by name");
        assert!(name != "all", "a subject may not be named \"all\": --variant all means every one");
    }
    // clap keeps a program name for the program's life.
    let program: &'static str = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
        .map_or("store", |name| Box::leak(name.into_boxed_str()));
    let command = with_help_after(StoreCli::command().name(program), &subjects_help(subjects));
    // With no arguments at all: explore every subject with the default bounds.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 1 {
        args.push("explore".into());
    }
    let matches = command.get_matches_from(args);
    let cli = StoreCli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    run_command(subjects, cli.command)
}

/// The command line of a program that calls [`run`].
#[derive(Parser)]
#[command(about = "Crash-consistency checks of this program's stores (crashsim)", long_about = None)]
struct StoreCli {
    #[command(subcommand)]
    command: StoreCommand,
}

/// The commands every store has.
#[derive(Subcommand)]
pub enum StoreCommand {
    /// Crash the store at every syscall boundary of every workload, boot a store on every disk
    /// image each crash may leave, and check it against the spec; a table per subject and model.
    /// Exit 0 when no violation was found, 1 when one was.
    Explore {
        /// A subject (see the list below), or all (the default).
        #[arg(long)]
        variant: Option<String>,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        #[command(flatten)]
        bounds: Bounds,
        /// Print one JSON object instead of tables: {"command":"explore","ok","results":[{"variant","model","workloads","interleavings",
        /// "interleavings_cut","crash_points","crash_states","distinct_states","distinct_exact","violations","first_violation"
        /// (with its "diagnosis"),"elapsed_ms","seen_skipped","fault_runs_reused","crash_points_reused"}...],"vulnerabilities":[{"variant","kind","calls","sites","failing_points",
        /// "models","fix","verified"}]}.
        #[arg(long)]
        json: bool,
    },
    /// Find, shrink and print the minimal reproducer of a subject's bug (exit 0; 1 when none
    /// exists within the bounds), or replay one case given by --workload (exit 1 when it shows a
    /// violation, 0 when it passes). Every reproducer ends with the command that replays it.
    Repro {
        /// The subject (required when the program has more than one).
        #[arg(long)]
        variant: Option<String>,
        /// Persistence model: process, ordered, posix, or all.
        #[arg(long, default_value = "all", value_parser = parse_models)]
        model: Models,
        #[command(flatten)]
        bounds: Bounds,
        #[command(flatten)]
        replay: ReplayArgs,
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
    /// Soak: seeded random workloads (up to 30 operations) with a seeded fault each, every crash
    /// point and image checked. With --clients N (N > 1): races instead, N clients over
    /// --processes processes under madsim, whose seed picks the interleaving and simulated
    /// time, one process killed at a seeded time in three seeds of four. Seed s runs on shard s
    /// mod n; a violation prints its seed and the command that replays it. Exit 0 when no
    /// violation was found, 1 when one was.
    Soak {
        /// The subject (default: the program's first).
        #[arg(long)]
        variant: Option<String>,
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
        /// "seeds","clients","processes","seeds_planned","seeds_run","cut_short","races_run","results":
        /// [{"variant","model","seeds_planned","seeds_run","cut_short","crash_states",
        /// "distinct_states","distinct_exact","violations","first_failing_seed","failing_seed",
        /// "replay","elapsed_ms"}]}.
        #[arg(long)]
        json: bool,
    },
}

/// What `repro` replays instead of searching: one case.
#[derive(Args, Clone, Debug)]
pub struct ReplayArgs {
    /// Replay this workload (operations separated by ';') instead of searching. Concurrent
    /// clients are separated by '||': 'create a L || create b L'.
    #[arg(long)]
    workload: Option<String>,
    /// Replay: the processes the workload's clients run in (client i in process i mod N).
    #[arg(long, default_value_t = 1, requires = "workload")]
    processes: usize,
    /// Replay: operations process 0 runs alone before the clients start.
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
    /// Faults injected in the replay ('fail@12=EIO'; 'corrupt@PATH=truncate:40' with --restart).
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
}

impl ReplayArgs {
    /// The case these flags name for `subject`, and its one model; `Err`: why they name none.
    fn case<S: Subject>(&self, subject: &S, models: &[Model]) -> Result<(Model, Case<S>), String> {
        let text = self.workload.as_deref().expect("a replay has --workload");
        if self.image.is_some() && self.crash_after.is_none() {
            return Err("--image picks an image of a crash: it needs --crash-after K".to_string());
        }
        if self.continue_after && self.crash_after.is_none() && !self.restart {
            return Err(
                "--continue needs --crash-after K (work after a crash) or --restart (after a damaged file)".to_string()
            );
        }
        if self.continue_after && self.restart && self.plan.corrupt.is_none() {
            return Err(
                "--restart --continue runs work after a restart on a damaged file: add --plan 'corrupt@PATH=...'"
                    .to_string(),
            );
        }
        let image = self.image.unwrap_or(0);
        let check = match (self.crash_after, self.clean_after, self.restart) {
            (Some(after), _, _) if self.continue_after => Check::Continue { after, image },
            (Some(after), _, _) => Check::Crash { after, image },
            (None, Some(0), _) => return Err("--clean-after counts operations from 1".to_string()),
            (None, Some(op), _) => Check::Clean { op: op - 1 },
            (None, None, true) if self.continue_after => Check::WorkAfterRestart,
            (None, None, true) => Check::Restart,
            (None, None, false) => {
                return Err("a replay needs --crash-after K, --clean-after N or --restart".to_string())
            }
        };
        let [model] = models[..] else {
            return Err("a replay needs one --model (process, ordered or posix)".to_string());
        };
        let workload =
            parse_workload(subject, text, self.processes, &self.setup).map_err(|e| format!("--workload: {e}"))?;
        let madsim = self.madsim_seed.map(|seed| MadsimRun { seed, kill: self.kill.clone() });
        if madsim.as_ref().and_then(|m| m.kill.as_ref()).is_some_and(|k| k.process >= workload.processes) {
            return Err(format!(
                "--kill names a process the workload does not have ({} processes)",
                workload.processes
            ));
        }
        let case = Case { workload, faults: (*self.plan).clone(), schedule: self.schedule.clone(), madsim, check };
        Ok((model, case))
    }
}

/// Runs one of the commands every store has.
pub fn run_command<S: Subject>(subjects: &[S], command: StoreCommand) -> ExitCode {
    match command {
        StoreCommand::Explore { variant, model, bounds, json } => match pick(subjects, variant.as_deref(), Pick::All) {
            Ok(picked) => explore::per_variant(&picked, &model.0, &bounds.options(), json),
            Err(why) => error(&why),
        },
        StoreCommand::Repro { variant, model, bounds, replay, full_trace, json } => {
            let subject = match pick(subjects, variant.as_deref(), Pick::Only) {
                Ok(picked) => picked[0].clone(),
                Err(why) => return error(&why),
            };
            if replay.workload.is_none() {
                return repro::find(&subject, &model.0, &bounds.options(), full_trace, json);
            }
            match replay.case(&subject, &model.0) {
                Ok((model, case)) => repro::replay(&subject, model, case, &bounds.options(), full_trace),
                Err(why) => error(&why),
            }
        }
        StoreCommand::Soak { variant, model, first_seed, seeds, shard, time, clients, processes, json } => {
            let subject = match pick(subjects, variant.as_deref(), Pick::First) {
                Ok(picked) => picked[0].clone(),
                Err(why) => return error(&why),
            };
            if processes > clients {
                return error(&format!(
                    "--processes {processes} is more than --clients {clients}: each process needs a client"
                ));
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
            soak::run(&subject, &model.0, &opts, json)
        }
    }
}

/// What a command takes when `--variant` is not given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pick {
    /// Every subject.
    All,
    /// The only subject; more than one is an error.
    Only,
    /// The first subject.
    First,
}

/// The subjects `--variant` names (`all`: every one; none given: as `default` says).
fn pick<S: Subject>(subjects: &[S], name: Option<&str>, default: Pick) -> Result<Vec<S>, String> {
    let names = || subjects.iter().map(Subject::name).collect::<Vec<_>>().join(", ");
    match name {
        Some("all") if default == Pick::All => Ok(subjects.to_vec()),
        Some(name) => match subjects.iter().find(|s| s.name() == name) {
            Some(subject) => Ok(vec![subject.clone()]),
            None => Err(format!("unknown variant {name:?}: expected one of {}", names())),
        },
        None if default == Pick::All => Ok(subjects.to_vec()),
        None if default == Pick::First || subjects.len() == 1 => Ok(vec![subjects[0].clone()]),
        None => Err(format!("which store? give --variant, one of {}", names())),
    }
}

/// `command` whose store commands (explore, repro, soak) end their `--help` with `help`: the
/// subjects and the syntax of workloads, schedules and plans.
fn with_help_after(command: clap::Command, help: &str) -> clap::Command {
    ["explore", "repro", "soak"]
        .into_iter()
        .fold(command, |command, name| command.mut_subcommand(name, |c| c.after_long_help(help.to_string())))
}

/// What `--help` ends with for a program's own subjects.
fn subjects_help<S: Subject>(subjects: &[S]) -> String {
    let mut text = String::from("Subjects (--variant):\n");
    for subject in subjects {
        text.push_str(&format!("  {}\n", crate::case_text::shell_word(&subject.name())));
    }
    text.push_str(
        "\nWorkloads (--workload, --setup): operations separated by ';', concurrent clients by\n  \
         '||', each written as the store's reproducers write it.\n\
         \nSchedules (--schedule): the client run at each choice point, joined by '.', e.g. 0.1.1.\n\
         \nFault plans (--plan): space-separated fail@STEP=ERRNO (ENOSPC, EIO, EACCES, EDQUOT),\n  \
         short@STEP=BYTES, crash@STEP; STEP is the 0-based syscall index of the trace.\n  \
         corrupt@PATH=empty|truncate:BYTES|garbage damages one file of the disk the store\n  \
         restarts on, with --restart.\n\
         \nPersistence models (--model): process (kill -9), ordered (ext4 data=ordered), posix\n  \
         (only what was fsynced is sure).",
    );
    text
}

/// Bounds of an exploration.
#[derive(Args, Clone, Debug)]
pub struct Bounds {
    /// Exhaustive workloads: every sequence of up to N operations of the store's alphabet (1 to
    /// 8; the session store's self-check needs 2 or more). With state caching, a sequence whose
    /// prefix ended in a state already explored is not run.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=8))]
    max_ops: u64,
    /// Random workloads (up to 30 operations each) of the store's random source (0 or more).
    #[arg(long, default_value_t = 16)]
    random: usize,
    /// Fault runs (every errno at every mutating syscall, a short write at every write, every
    /// damage to the files the store reads on restart) and work after recovery (the operations
    /// left run on every crash image, then a restart) for workloads of up to N operations (0:
    /// none).
    #[arg(long, default_value_t = 2)]
    errno_ops: usize,
    /// Fault runs in the last operation of longer workloads, up to N operations: every errno at
    /// each of its mutating syscalls, a short write at each of its writes, every damage on
    /// restart; once per distinct state before that operation (state caching). A fault in an
    /// earlier operation is the last-operation fault of a shorter workload. Ignored with
    /// --errno-ops 0.
    #[arg(long, default_value_t = 4)]
    fault_ops: usize,
    /// Most posix crash images per crash point enumerated exhaustively; beyond, sampled (1 or
    /// more).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_images: u64,
    /// Seed of random workloads, scale workloads and posix sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scale workloads (0 or more): the store's own workloads past its limits (the session
    /// store: 8 to --scale-size sessions created, then five rotations past the 3 backups kept, a
    /// prune of half, a create and a delete); crash-checked after their setup, through the final
    /// shutdown.
    #[arg(long, default_value_t = 2)]
    scale: usize,
    /// Most items a scale workload creates (8 or more; its count is seeded below this):
    /// thousands run the store's size-triggered paths (the session store, two workloads at
    /// 2,000: 45 to 100 s and 400 MB on 2 cores, by the hour; BENCHMARKS.md).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(8..))]
    scale_size: u64,
    /// Concurrent workloads: two clients (in one process, then in two), each with 1 to N
    /// operations of the store's concurrent alphabet (the session store: create, append, get,
    /// reset, delete of one key, a create of another, and rotate) (0 to 3; 0: none).
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
    /// The explorer's options these flags give.
    pub fn options(&self) -> ExploreOptions {
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
#[cfg(feature = "cli")]
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
