//! The session store on a real disk, killed for real: the simulator's `process` model held to
//! what a kill -9 leaves, and a simulated finding reproduced on a real directory.
//!
//! For a crash point k, a forked child runs the workload on a fresh temporary directory through
//! [`RealFs`] and SIGKILLs itself before its (k+1)-th syscall; the parent reads the directory
//! back as an image, boots a fresh store on the real directory, and judges what it shows
//! against the spec replayed over the history at k (taken from the simulated run, which makes
//! the same syscalls). Forking needs a process with one thread: call this before any thread
//! pool starts (the `real-disk` command does; tests run it in a binary of its own).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crashsim_faults::Plan;
use crashsim_model::{Expected, Op, Violation};
use crashsim_sim::{image_of_dir, Fd, Fs, FsResult, Image, ImageOptions, Model, OpenOptions, RealFs, SimClock, Stat};
use crashsim_store::{Store, StoreOptions, Variant};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, ForkResult};

use super::observe::{boot, image_files, observed_after};
use super::{call, Session};
use crate::execute::{execute, Execution};
use crate::workload::Workload;

/// A real filesystem that kills its own process before the (k+1)-th call.
pub struct KillAfter {
    inner: RealFs,
    calls: AtomicUsize,
    limit: usize,
}

impl KillAfter {
    /// `RealFs` on `root`, killing the process before call number `limit + 1`.
    pub fn new(root: &Path, limit: usize) -> std::io::Result<Self> {
        Ok(Self { inner: RealFs::new(root)?, calls: AtomicUsize::new(0), limit })
    }

    fn gate(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.limit {
            kill(getpid(), Signal::SIGKILL).expect("SIGKILL to self");
        }
    }
}

/// Each call passes the gate, then runs on the real directory.
impl Fs for KillAfter {
    async fn open(&self, path: &str, opts: OpenOptions) -> FsResult<Fd> {
        self.gate();
        self.inner.open(path, opts).await
    }
    async fn write(&self, fd: Fd, data: &[u8]) -> FsResult<usize> {
        self.gate();
        self.inner.write(fd, data).await
    }
    async fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> FsResult<usize> {
        self.gate();
        self.inner.pwrite(fd, offset, data).await
    }
    async fn read(&self, fd: Fd, len: usize) -> FsResult<Vec<u8>> {
        self.gate();
        self.inner.read(fd, len).await
    }
    async fn pread(&self, fd: Fd, offset: u64, len: usize) -> FsResult<Vec<u8>> {
        self.gate();
        self.inner.pread(fd, offset, len).await
    }
    async fn truncate(&self, fd: Fd, len: u64) -> FsResult<()> {
        self.gate();
        self.inner.truncate(fd, len).await
    }
    async fn fsync(&self, fd: Fd) -> FsResult<()> {
        self.gate();
        self.inner.fsync(fd).await
    }
    async fn fdatasync(&self, fd: Fd) -> FsResult<()> {
        self.gate();
        self.inner.fdatasync(fd).await
    }
    async fn close(&self, fd: Fd) -> FsResult<()> {
        self.gate();
        self.inner.close(fd).await
    }
    async fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        self.gate();
        self.inner.rename(from, to).await
    }
    async fn link(&self, from: &str, to: &str) -> FsResult<()> {
        self.gate();
        self.inner.link(from, to).await
    }
    async fn unlink(&self, path: &str) -> FsResult<()> {
        self.gate();
        self.inner.unlink(path).await
    }
    async fn mkdir(&self, path: &str) -> FsResult<()> {
        self.gate();
        self.inner.mkdir(path).await
    }
    async fn rmdir(&self, path: &str) -> FsResult<()> {
        self.gate();
        self.inner.rmdir(path).await
    }
    async fn readdir(&self, path: &str) -> FsResult<Vec<String>> {
        self.gate();
        self.inner.readdir(path).await
    }
    async fn stat(&self, path: &str) -> FsResult<Stat> {
        self.gate();
        self.inner.stat(path).await
    }
}

/// Runs a lone client's `ops` and the clean shutdown on `fs`, as the explorer's runs do.
async fn run_store(fs: Arc<KillAfter>, variant: Variant, ops: &[Op]) {
    let opts = StoreOptions { variant, owner: "client-0".into(), seed: 0, ..StoreOptions::default() };
    let Ok(store) = Store::open(fs, opts).await else { return };
    for op in ops.iter().chain([&Op::Shutdown]) {
        let _ = call(&store, op).await;
    }
}

/// Runs `ops` of `variant` on the real directory `dir` in a forked child killed before its
/// (k+1)-th syscall (a run of k syscalls or fewer ends normally).
pub fn run_killed(variant: Variant, ops: &[Op], k: usize, dir: &Path) -> Result<(), String> {
    let fs = Arc::new(KillAfter::new(dir, k).map_err(|e| format!("{}: {e}", dir.display()))?);
    // SAFETY: callers fork from a process with one thread (see the module's documentation), so
    // the child, which runs only the store on a fresh directory, holds no lock of another thread.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            pollster::block_on(run_store(fs, variant, ops));
            // Past the end: exit without running the parent's destructors.
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => match waitpid(child, None).map_err(|e| format!("waitpid: {e}"))? {
            WaitStatus::Signaled(_, Signal::SIGKILL, _) | WaitStatus::Exited(_, 0) => Ok(()),
            other => Err(format!("the store's child process ended with {other:?}")),
        },
    }
}

/// The tree under a real directory, as an image.
pub fn read_back(dir: &Path) -> Result<Image, String> {
    image_of_dir(dir).map_err(|e| format!("reading {} back: {e}", dir.display()))
}

/// What a kill after k syscalls left on the real disk, and what a store booted there showed.
pub struct RealCrash {
    pub k: usize,
    /// The directory the killed process left.
    pub image: Image,
    /// The image the simulator's `process` model gives for a crash after k.
    pub simulated: Image,
    /// The spec's verdict on the store booted on the real directory.
    pub violation: Option<Violation>,
}

/// Crashes a lone client's workload of `variant` on the real disk after `k` syscalls, boots a
/// store on the directory and judges it.
pub fn crash_at(variant: Variant, workload: &Workload, k: usize) -> Result<RealCrash, String> {
    let ops = lone_client(workload)?;
    let sim = execute(&Session(variant), workload, &Plan::none(), &Default::default());
    if k > sim.fs.steps() {
        return Err(format!("crash point {k} is past the end of the run ({} syscalls)", sim.fs.steps()));
    }
    crash_after(variant, ops, &sim, k)
}

/// The operations of `workload`'s one client: the real disk runs no other shape.
fn lone_client(workload: &Workload) -> Result<&[Op], String> {
    match workload.clients.as_slice() {
        [ops] if workload.setup.is_empty() => Ok(ops),
        _ => Err("the real disk runs one client with no setup".to_string()),
    }
}

/// [`crash_at`], with the simulated run of the same workload.
fn crash_after(variant: Variant, ops: &[Op], sim: &Execution<Session>, k: usize) -> Result<RealCrash, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    run_killed(variant, ops, k, dir.path())?;
    let image = read_back(dir.path())?;
    let simulated = sim.fs.crash_images(k, Model::Process, &ImageOptions::default()).image(0);
    let real = Arc::new(RealFs::new(dir.path()).map_err(|e| e.to_string())?);
    // A real directory's mtimes are wall-clock time: the store restarts on a clock a lock's
    // stale age past now, as a restart after a crash would, so a dead owner's lock is broken.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let clock = Arc::new(SimClock::new(now_ms + StoreOptions::default().lock_stale_ms));
    let booted = pollster::block_on(boot(real, variant, clock));
    let after = read_back(dir.path())?;
    let observed = observed_after(booted, || image.clone(), &image_files(&after)).observed;
    let violation = Expected::of(&sim.history_at(k)).check(&observed).err();
    Ok(RealCrash { k, image, simulated, violation })
}

/// Every crash point of a workload on the real disk, against the simulator.
pub struct Comparison {
    /// Syscalls of the run (crash points 0..=steps).
    pub steps: usize,
    /// Crash points where the real directory differs from the `process` image.
    pub mismatches: Vec<usize>,
    /// Crash points where the store booted on the real directory breaks an invariant.
    pub violations: Vec<(usize, Violation)>,
    /// Crash points where the store booted on the simulator's `process` image breaks one.
    pub simulated_violations: Vec<(usize, Violation)>,
    /// Wall time of the real crashes (fork, run, kill, read back, boot, judge), in ms.
    pub real_ms: u128,
    /// Wall time of the same crash points on the simulator (one run, every `process` image
    /// booted and judged), in ms.
    pub sim_ms: u128,
}

/// Crashes `workload` of `variant` on the real disk at every syscall and compares.
pub fn compare(variant: Variant, workload: &Workload) -> Result<Comparison, String> {
    let ops = lone_client(workload)?;
    let started = Instant::now();
    let sim = execute(&Session(variant), workload, &Plan::none(), &Default::default());
    let steps = sim.fs.steps();
    let mut simulated_violations = Vec::new();
    for k in 0..=steps {
        let image = sim.fs.crash_images(k, Model::Process, &ImageOptions::default()).image(0);
        let booted = crate::subject::recover_on(&Session(variant), &image).0;
        let observed = booted.map_err(|panicked| format!("the store's recovery panicked: {}", panicked.0))?.observed;
        if let Err(violation) = Expected::of(&sim.history_at(k)).check(&observed) {
            simulated_violations.push((k, violation));
        }
    }
    let sim_ms = started.elapsed().as_millis();
    let started = Instant::now();
    let (mut mismatches, mut violations) = (Vec::new(), Vec::new());
    for k in 0..=steps {
        let crash = crash_after(variant, ops, &sim, k)?;
        if crash.image != crash.simulated {
            mismatches.push(k);
        }
        if let Some(violation) = crash.violation {
            violations.push((k, violation));
        }
    }
    let real_ms = started.elapsed().as_millis();
    Ok(Comparison { steps, mismatches, violations, simulated_violations, real_ms, sim_ms })
}
