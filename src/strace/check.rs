//! Running the user's checker on every distinct crash image of a replay.
//!
//! Each crash point's images under each model are listed by the simulated disk; an image is
//! checked once per distinct (image, stdout printed so far) pair, whichever models and points
//! share it. A check writes the image into a fresh temporary directory, writes the stdout
//! prefix to a file named by `CRASHSIM_STDOUT`, and runs the checker there with `sh -c`; exit 0
//! is consistent. A checker that outlives its time limit is killed with its process group and
//! is a failure, not a hang. Checks run in parallel; results are gathered in a fixed order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crashsim_sim::{Image, ImageOptions, Model, Node, Survivor};
use rayon::prelude::*;

use super::replay::Replay;

/// How the checks run.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The shell command run in each image's directory. Required.
    pub checker: String,
    /// Persistence models, in order. Default: all three.
    pub models: Vec<Model>,
    /// Longest a checker may run, per image. Default: 10 s.
    pub timeout: Duration,
    /// Checkers run at once (1 or more). Default: the machine's cores.
    pub jobs: usize,
    /// Image enumeration: posix images per crash point beyond which they are sampled.
    /// Default here: 64 (a checker run costs milliseconds, not microseconds).
    pub images: ImageOptions,
    /// Where to write every failing image (`<model>-after-<call>-image-<i>/`). Default: none.
    pub keep: Option<PathBuf>,
    /// Diagnose every failing crash point and verify each vulnerability's fix by replaying with
    /// it ([`super::diagnose`]): more checker runs. Default: true.
    pub diagnose: bool,
}

impl CheckOptions {
    pub fn new(checker: &str) -> Self {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            checker: checker.to_string(),
            models: Model::ALL.to_vec(),
            timeout: Duration::from_secs(10),
            jobs,
            images: ImageOptions { max_images: 64, ..ImageOptions::default() },
            keep: None,
            diagnose: true,
        }
    }
}

/// What one checker run said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    /// "exit 0", "exit 1", "killed by signal 9", "timed out after 10 s".
    pub status: String,
    /// Its stdout and stderr, cut at 4 KiB.
    pub output: String,
}

/// A crash point at which some image fails the checker.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Index into [`Replay::points`].
    pub point: usize,
    /// The first failing image, of `images` at this point.
    pub image: usize,
    pub images: usize,
    pub survivors: Vec<Survivor>,
    /// The image's files and sizes.
    pub files: Vec<(String, usize)>,
    pub verdict: Verdict,
}

/// The result under one model.
#[derive(Clone, Debug)]
pub struct ModelResult {
    pub model: Model,
    pub points: usize,
    /// Images over all crash points, and distinct (image, stdout) pairs among them.
    pub images: usize,
    pub distinct: usize,
    /// Whether some crash point had too many images and was sampled.
    pub sampled: bool,
    pub failures: Vec<Failure>,
}

/// Checks every crash image of `replay`. Errors are the harness's own (a temporary directory
/// that cannot be written, a checker that cannot start).
pub fn check(replay: &Replay, options: &CheckOptions) -> Result<Vec<ModelResult>, String> {
    check_keeping(replay, options, &Verdicts::default())
}

/// Verdicts of the checker by (image fingerprint, stdout bytes printed): whether it failed.
pub type Verdicts = std::sync::Mutex<BTreeMap<(u128, usize), bool>>;

/// [`check`], keeping every verdict in `verdicts` (a diagnosis asks again).
pub fn check_keeping(
    replay: &Replay,
    options: &CheckOptions,
    verdicts_kept: &Verdicts,
) -> Result<Vec<ModelResult>, String> {
    assert!(options.jobs >= 1, "at least one checker at a time");
    assert!(!options.checker.trim().is_empty(), "a checker command");
    // Every (model, point, image), and the distinct checks they need.
    let mut keys: BTreeMap<(u128, usize), usize> = BTreeMap::new();
    let mut jobs: Vec<(Image, usize)> = Vec::new();
    let mut listed = Vec::new();
    let last = replay.points.last().map_or(0, |p| p.steps);
    for &model in &options.models {
        // The log replayed once per model, not once per crash point.
        let trackers = replay.fs.trackers(model, 0..=last);
        let mut per_point = Vec::new();
        for point in &replay.points {
            let set = trackers[point.steps].images(&options.images);
            let mut checks = Vec::new();
            for (i, fingerprint) in set.fingerprints.iter().enumerate() {
                let job = *keys.entry((*fingerprint, point.stdout)).or_insert_with(|| {
                    jobs.push((set.image(i), point.stdout));
                    jobs.len() - 1
                });
                checks.push(job);
            }
            per_point.push((set, checks));
        }
        listed.push((model, per_point));
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(options.jobs).build().map_err(|e| e.to_string())?;
    let verdicts: Vec<Verdict> = pool.install(|| {
        jobs.par_iter()
            .map(|(image, stdout)| run_checker(&options.checker, image, &replay.stdout[..*stdout], options.timeout))
            .collect::<Result<_, String>>()
    })?;
    let mut kept = verdicts_kept.lock().expect("not poisoned");
    for ((fingerprint_and_stdout, _), verdict) in keys.iter().map(|(key, job)| ((*key, *job), &verdicts[*job])) {
        kept.insert(fingerprint_and_stdout, !verdict.ok);
    }
    drop(kept);
    let mut results = Vec::new();
    for (model, per_point) in listed {
        let mut result = ModelResult {
            model,
            points: per_point.len(),
            images: 0,
            distinct: 0,
            sampled: false,
            failures: Vec::new(),
        };
        let mut seen = std::collections::BTreeSet::new();
        for (point, (set, checks)) in per_point.into_iter().enumerate() {
            result.images += checks.len();
            result.sampled |= !set.exhaustive;
            seen.extend(checks.iter().copied());
            let Some(image) = checks.iter().position(|job| !verdicts[*job].ok) else { continue };
            let (tree, _) = &jobs[checks[image]];
            let files = tree
                .nodes()
                .filter_map(|(path, node)| match node {
                    Node::File(bytes) => Some((path.to_string(), bytes.len())),
                    Node::Dir => None,
                })
                .collect();
            if let Some(keep) = &options.keep {
                let after = replay.points[point].after.map_or("start".to_string(), |c| (c + 1).to_string());
                let dir = keep.join(format!("{}-after-{after}-image-{}", model.name(), image + 1));
                write_image(tree, &dir).map_err(|e| format!("--keep {}: {e}", dir.display()))?;
            }
            result.failures.push(Failure {
                point,
                image,
                images: checks.len(),
                survivors: set.survivors[image].clone(),
                files,
                verdict: verdicts[checks[image]].clone(),
            });
        }
        result.distinct = seen.len();
        results.push(result);
    }
    Ok(results)
}

/// Writes `image` into `dir` (created; it must not hold anything else).
pub fn write_image(image: &Image, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (path, node) in image.nodes() {
        let at = dir.join(path);
        match node {
            Node::Dir => std::fs::create_dir_all(&at)?,
            Node::File(bytes) => {
                if let Some(parent) = at.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&at, bytes.as_slice())?;
            }
        }
    }
    Ok(())
}

/// Bytes of checker output kept for the report.
const OUTPUT_MAX: usize = 4096;

/// Runs `checker` in a fresh directory holding `image`, with `stdout` in `$CRASHSIM_STDOUT`.
pub fn run_checker(checker: &str, image: &Image, stdout: &[u8], timeout: Duration) -> Result<Verdict, String> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let scratch = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let root = scratch.path().join("dir");
    write_image(image, &root).map_err(|e| format!("writing a crash image: {e}"))?;
    let stdout_file = scratch.path().join("stdout");
    std::fs::write(&stdout_file, stdout).map_err(|e| format!("writing the stdout file: {e}"))?;
    let output_file = scratch.path().join("output");
    let output = std::fs::File::create(&output_file).map_err(|e| format!("the checker's output file: {e}"))?;
    let errors = output.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(checker)
        .current_dir(&root)
        .env("CRASHSIM_STDOUT", &stdout_file)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting the checker with sh -c: {e}"))?;
    let pid = child.id() as i32;
    let (done, waited) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = waited.recv_timeout(timeout).is_err();
    if timed_out {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let status =
        waiter.join().expect("the waiter does not panic").map_err(|e| format!("waiting for the checker: {e}"))?;
    let bytes = std::fs::read(&output_file).unwrap_or_default();
    let mut output = String::from_utf8_lossy(&bytes[..bytes.len().min(OUTPUT_MAX)]).into_owned();
    if bytes.len() > OUTPUT_MAX {
        output.push_str(&format!("... ({} B in all)", bytes.len()));
    }
    let status_text = match (timed_out, status.code(), status.signal()) {
        (true, _, _) => format!("timed out after {} s", timeout.as_secs_f64()),
        (false, Some(code), _) => format!("exit {code}"),
        (false, None, Some(signal)) => format!("killed by signal {signal}"),
        (false, None, None) => "ended without a status".to_string(),
    };
    Ok(Verdict { ok: !timed_out && status.success(), status: status_text, output })
}
