//! The yield points: an `Fs` wrapper that stops its client before each syscall it may be
//! preempted at, and notes which client made each syscall.
//!
//! Preemption points are the syscalls that name a path (open, rename, unlink, mkdir, rmdir,
//! readdir, stat) unless every syscall is asked for. The descriptor calls between them (read,
//! write, fsync, close, ...) act on an inode the task reached through a path call, so every
//! order of two tasks' conflicting accesses is still some choice at a path call; leaving them
//! out divides the choice points by about three. `--preempt every` puts one before each call.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use crashsim_sim::{Fd, Fs, FsResult, OpenOptions, SimFs, Stat};

/// Where a client may be preempted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preempt {
    /// Before each syscall that names a path: blind to a race between two calls on one open
    /// descriptor (a lock file created, then written).
    Paths,
    /// Before every syscall. The default: the reference's own lock race (an empty lock broken
    /// while its owner was between creating and writing it) showed only here.
    #[default]
    Every,
}

impl std::str::FromStr for Preempt {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "paths" => Ok(Preempt::Paths),
            "every" => Ok(Preempt::Every),
            _ => Err(format!("unknown preemption points {s:?}: expected paths or every")),
        }
    }
}

impl std::fmt::Display for Preempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preempt::Paths => "paths",
            Preempt::Every => "every",
        })
    }
}

/// Returns `Pending` once, waking its own task first: the task stays ready, and the executor
/// gets to choose who runs next.
pub fn yield_now() -> impl Future<Output = ()> {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false)
}

/// Which client made each syscall of a run, by syscall index (`None`: the harness itself,
/// opening or shutting down stores). Tasks are tagged with their client ([`Attribution::tag`]),
/// so that clients sharing one store instance are still told apart.
#[derive(Clone, Default)]
pub struct Attribution(Arc<Mutex<Owners>>);

#[derive(Default)]
struct Owners {
    /// The client of the task being polled now.
    current: Option<usize>,
    by_step: Vec<Option<usize>>,
}

impl Attribution {
    fn lock(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.0.lock().expect("attribution")
    }

    fn note(&self, step: usize) {
        let mut owners = self.lock();
        let client = owners.current;
        if owners.by_step.len() <= step {
            owners.by_step.resize(step + 1, None);
        }
        owners.by_step[step] = client;
    }

    /// An attribution that goes on from `owners` (a fork of a run whose syscalls so far had them).
    pub fn continued(owners: Vec<Option<usize>>) -> Self {
        Self(Arc::new(Mutex::new(Owners { current: None, by_step: owners })))
    }

    /// The client of each syscall so far.
    pub fn owners(&self) -> Vec<Option<usize>> {
        self.lock().by_step.clone()
    }

    /// `task`, whose syscalls are noted as `client`'s.
    pub fn tag<'a, T: Future + 'a>(&self, client: usize, task: T) -> impl Future<Output = T::Output> + 'a {
        Tagged { attribution: self.clone(), client, task: Box::pin(task) }
    }
}

struct Tagged<T: Future> {
    attribution: Attribution,
    client: usize,
    task: Pin<Box<T>>,
}

impl<T: Future> Future for Tagged<T> {
    type Output = T::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        self.attribution.lock().current = Some(self.client);
        let result = self.task.as_mut().poll(cx);
        self.attribution.lock().current = None;
        result
    }
}

/// How a client stops at a yield point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pace {
    /// Yield to crashsim's executor, which chooses who goes on. The default.
    #[default]
    Yield,
    /// Sleep a random latency on madsim's clock (1 to 100 µs, from madsim's seeded RNG), so
    /// that madsim's scheduler and timer interleave the clients.
    #[cfg(madsim)]
    Latency,
}

/// The shared `SimFs` as the store instances see it.
pub struct Gated {
    fs: Arc<SimFs>,
    preempt: Preempt,
    pace: Pace,
    attribution: Attribution,
}

impl Gated {
    pub fn new(fs: Arc<SimFs>, preempt: Preempt, attribution: Attribution) -> Self {
        Self { fs, preempt, pace: Pace::Yield, attribution }
    }

    /// The same, pacing clients by `pace`.
    pub fn paced(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// Before a syscall: a yield point if it names a path (or always, with `Preempt::Every`),
    /// then the syscall is noted as the current client's.
    async fn enter(&self, names_path: bool) {
        if names_path || self.preempt == Preempt::Every {
            match self.pace {
                Pace::Yield => yield_now().await,
                // A blocking call (the std shim, a dropped descriptor) holds its thread: only
                // madsim's runtime could wake a sleep on its clock, so none is taken.
                #[cfg(madsim)]
                Pace::Latency if crate::fs::blocking() => {}
                #[cfg(madsim)]
                Pace::Latency => {
                    let micros = 1 + madsim::rand::random::<u64>() % 100;
                    madsim::time::sleep(std::time::Duration::from_micros(micros)).await;
                }
            }
        }
        self.attribution.note(self.fs.steps());
    }
}

impl Fs for Gated {
    fn site_library(&self) -> Option<Vec<String>> {
        self.fs.site_library()
    }

    async fn open(&self, path: &str, opts: OpenOptions) -> FsResult<Fd> {
        self.enter(true).await;
        self.fs.open(path, opts).await
    }
    async fn write(&self, fd: Fd, data: &[u8]) -> FsResult<usize> {
        self.enter(false).await;
        self.fs.write(fd, data).await
    }
    async fn pwrite(&self, fd: Fd, offset: u64, data: &[u8]) -> FsResult<usize> {
        self.enter(false).await;
        self.fs.pwrite(fd, offset, data).await
    }
    async fn read(&self, fd: Fd, len: usize) -> FsResult<Vec<u8>> {
        self.enter(false).await;
        self.fs.read(fd, len).await
    }
    async fn pread(&self, fd: Fd, offset: u64, len: usize) -> FsResult<Vec<u8>> {
        self.enter(false).await;
        self.fs.pread(fd, offset, len).await
    }
    async fn truncate(&self, fd: Fd, len: u64) -> FsResult<()> {
        self.enter(false).await;
        self.fs.truncate(fd, len).await
    }
    async fn fsync(&self, fd: Fd) -> FsResult<()> {
        self.enter(false).await;
        self.fs.fsync(fd).await
    }
    async fn fdatasync(&self, fd: Fd) -> FsResult<()> {
        self.enter(false).await;
        self.fs.fdatasync(fd).await
    }
    async fn close(&self, fd: Fd) -> FsResult<()> {
        self.enter(false).await;
        self.fs.close(fd).await
    }
    async fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        self.enter(true).await;
        self.fs.rename(from, to).await
    }
    async fn link(&self, from: &str, to: &str) -> FsResult<()> {
        self.enter(true).await;
        self.fs.link(from, to).await
    }
    async fn unlink(&self, path: &str) -> FsResult<()> {
        self.enter(true).await;
        self.fs.unlink(path).await
    }
    async fn mkdir(&self, path: &str) -> FsResult<()> {
        self.enter(true).await;
        self.fs.mkdir(path).await
    }
    async fn rmdir(&self, path: &str) -> FsResult<()> {
        self.enter(true).await;
        self.fs.rmdir(path).await
    }
    async fn readdir(&self, path: &str) -> FsResult<Vec<String>> {
        self.enter(true).await;
        self.fs.readdir(path).await
    }
    async fn stat(&self, path: &str) -> FsResult<Stat> {
        self.enter(true).await;
        self.fs.stat(path).await
    }
}
