//! The `process` persistence model against a real kill -9: the store runs on a real directory
//! in a forked child that SIGKILLs itself after exactly k syscalls; the directory it leaves must
//! be the image SimFs's `process` model gives for a crash after k, for every k of the run.
//! (One test in its own binary: the child of a fork must not share the process with other
//! test threads.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crashsim::execute::execute;
use crashsim::session::workload;
use crashsim::session::Session;
use crashsim_faults::Plan;
use crashsim_sim::{Fd, Fs, FsResult, Image, ImageOptions, Model, OpenOptions, RealFs, Stat};
use crashsim_store::{Store, StoreOptions, Variant};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, ForkResult};

/// A real filesystem that kills its own process before the (k+1)-th call.
struct KillAfter {
    inner: RealFs,
    calls: AtomicUsize,
    limit: usize,
}

impl KillAfter {
    fn gate(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.limit {
            kill(getpid(), Signal::SIGKILL).expect("SIGKILL to self");
        }
    }
}

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

/// Runs the workload (and the clean shutdown the explorer adds) on `fs`.
async fn run_store(fs: Arc<KillAfter>, workload: &[crashsim_model::Op]) {
    let opts =
        StoreOptions { variant: Variant::Reference, owner: "client-0".into(), seed: 0, ..StoreOptions::default() };
    let Ok(store) = Store::open(fs, opts).await else { return };
    for op in workload.iter().chain([&crashsim_model::Op::Shutdown]) {
        let _ = match op {
            crashsim_model::Op::Create { key, label } => store.create_labeled(key, label.as_deref()).await.map(drop),
            crashsim_model::Op::Append { key, message } => store.append(key, message).await,
            crashsim_model::Op::Reset { key } => store.reset(key).await.map(drop),
            crashsim_model::Op::Delete { key } => store.delete(key).await,
            crashsim_model::Op::Rotate => store.rotate().await,
            crashsim_model::Op::Prune { max_entries } => store.prune(*max_entries).await.map(drop),
            crashsim_model::Op::Shutdown => store.shutdown().await,
            crashsim_model::Op::Get { key } => store.get(key).await.map(drop),
        };
    }
}

/// The tree under a real directory, as an image.
fn image_of(root: &std::path::Path) -> Image {
    pollster::block_on(crashsim_sim::image_of(&RealFs::new(root).unwrap())).unwrap()
}

#[test]
fn process_model_matches_a_real_kill_9_at_every_syscall() {
    let workload =
        workload::parse("create a L; append a m; create b; reset a; rotate; prune 1; delete b", 1, "").unwrap();
    let sim = execute(&Session(Variant::Reference), &workload, &Plan::none(), &Default::default());
    let steps = sim.fs.steps();
    assert!(steps > 100, "a run long enough to matter: {steps} syscalls");
    for k in 0..=steps {
        let dir = tempfile::tempdir().unwrap();
        let fs = Arc::new(KillAfter { inner: RealFs::new(dir.path()).unwrap(), calls: AtomicUsize::new(0), limit: k });
        // SAFETY: this test binary runs one test, so the child is the only thread that runs.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                pollster::block_on(run_store(fs, &workload.clients[0]));
                // Past the end: exit without running the parent's destructors or test harness.
                unsafe { nix::libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                let status = waitpid(child, None).expect("waitpid");
                if k < steps {
                    assert_eq!(status, WaitStatus::Signaled(child, Signal::SIGKILL, false), "k = {k}");
                } else {
                    assert_eq!(status, WaitStatus::Exited(child, 0));
                }
            }
        }
        let real = image_of(dir.path());
        let simulated = sim.fs.crash_images(k, Model::Process, &ImageOptions::default());
        assert_eq!(simulated.images(), vec![real.clone()], "crash after {k} syscalls:\nreal:\n{real}");
    }
}
