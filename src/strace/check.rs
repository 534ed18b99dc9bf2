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
    // Crash points are visited one at a time, in order, and each distinct (image, stdout) pair
    // goes to the checkers as soon as it is found; a point keeps only which checks it needs.
    // Memory stays that of one point's images and the checks in flight, however long the run.
    let steps: Vec<usize> = replay.points.iter().map(|p| p.steps).collect();
    let mut keys: BTreeMap<(u128, usize), usize> = BTreeMap::new();
    let mut listed: Vec<(Model, Vec<Listed>)> = Vec::new();
    let (to_checkers, queued) = mpsc::sync_channel::<(usize, Image, usize)>(2 * options.jobs);
    let queued = std::sync::Mutex::new(queued);
    let (to_collect, checked) = mpsc::channel::<(usize, Result<Checked, String>)>();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs {
            let (queued, to_collect) = (&queued, to_collect.clone());
            scope.spawn(move || loop {
                let next = queued.lock().expect("not poisoned").recv();
                let Ok((job, image, stdout)) = next else { break };
                let verdict =
                    run_checker(&options.checker, &image, &replay.stdout[..stdout], &replay.dir, options.timeout);
                let result = verdict.map(|verdict| Checked::of(verdict, image, options.keep.is_some()));
                if to_collect.send((job, result)).is_err() {
                    break;
                }
            });
        }
        drop(to_collect);
        for &model in &options.models {
            let mut per_point = Vec::with_capacity(steps.len());
            replay.fs.visit_trackers(model, &steps, |p, tracker| {
                let stdout = replay.points[p].stdout;
                let set = tracker.images(&options.images);
                let checks = (0..set.len())
                    .map(|i| {
                        let next = keys.len();
                        *keys.entry((set.fingerprints[i], stdout)).or_insert_with(|| {
                            // The checkers outlive this loop: a send fails only if they all died.
                            let _ = to_checkers.send((next, set.image(i), stdout));
                            next
                        })
                    })
                    .collect();
                per_point.push(Listed { checks, exhaustive: set.exhaustive });
            });
            listed.push((model, per_point));
        }
        drop(to_checkers);
    });
    let mut done: Vec<Option<Checked>> = vec![None; keys.len()];
    let mut errors = BTreeMap::new();
    for (job, result) in checked.iter() {
        match result {
            Ok(result) => done[job] = Some(result),
            Err(error) => drop(errors.insert(job, error)),
        }
    }
    if let Some((_, error)) = errors.into_iter().next() {
        return Err(error);
    }
    let done: Vec<Checked> = done.into_iter().map(|c| c.expect("every job was checked")).collect();
    let mut kept = verdicts_kept.lock().expect("not poisoned");
    for (key, job) in &keys {
        kept.insert(*key, !done[*job].verdict.ok);
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
        for (point, Listed { checks, exhaustive }) in per_point.into_iter().enumerate() {
            result.images += checks.len();
            result.sampled |= !exhaustive;
            seen.extend(checks.iter().copied());
            let Some(image) = checks.iter().position(|job| !done[*job].verdict.ok) else { continue };
            let failed = &done[checks[image]];
            if let (Some(keep), Some(tree)) = (&options.keep, &failed.image) {
                let after = replay.points[point].after.map_or("start".to_string(), |c| (c + 1).to_string());
                let dir = keep.join(format!("{}-after-{after}-image-{}", model.name(), image + 1));
                write_image(tree, &dir).map_err(|e| format!("--keep {}: {e}", dir.display()))?;
            }
            result.failures.push(Failure {
                point,
                image,
                images: checks.len(),
                survivors: Vec::new(),
                files: failed.files.clone(),
                verdict: failed.verdict.clone(),
            });
        }
        result.distinct = seen.len();
        let failing: Vec<usize> = result.failures.iter().map(|f| replay.points[f.point].steps).collect();
        replay.fs.visit_trackers(model, &failing, |i, tracker| {
            let failure = &mut result.failures[i];
            failure.survivors = tracker.images(&options.images).survivors.swap_remove(failure.image);
        });
        results.push(result);
    }
    Ok(results)
}

/// What a crash point needs once its checks are done (a failing point's survivors are found
/// again afterwards: kept for every point, they grow with the square of the writes pending).
struct Listed {
    /// The check of each of its images.
    checks: Vec<usize>,
    exhaustive: bool,
}

/// One check's outcome, with what a report of a failure shows.
#[derive(Clone)]
struct Checked {
    verdict: Verdict,
    /// A failing image's files and sizes.
    files: Vec<(String, usize)>,
    /// A failing image, kept when failing images are written out (`--keep`).
    image: Option<Image>,
}

impl Checked {
    fn of(verdict: Verdict, image: Image, keep: bool) -> Self {
        let failed = !verdict.ok;
        let files = if failed {
            image.nodes().filter_map(|(path, node)| node.bytes().map(|bytes| (path.to_string(), bytes.len()))).collect()
        } else {
            Vec::new()
        };
        Self { verdict, files, image: (failed && keep).then_some(image) }
    }
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

/// Runs `checker` in a fresh directory holding `image`, with `stdout` in `$CRASHSIM_STDOUT` and
/// the directory the image is a copy of in `$CRASHSIM_DIR`.
pub fn run_checker(
    checker: &str,
    image: &Image,
    stdout: &[u8],
    image_of: &Path,
    timeout: Duration,
) -> Result<Verdict, String> {
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
        .env("CRASHSIM_DIR", image_of)
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
