//! An append-only log with a checkpoint file, tested with crashsim's harness API.
//!
//! `log/data` holds one entry per line; `log/checkpoint` holds how many bytes of it are
//! committed. An append writes its line at the end of the data, fsyncs it, then replaces the
//! checkpoint (a temp file, fsync, rename, directory fsync). Opening the log truncates the data
//! to the checkpoint, dropping any uncommitted or torn tail.
//!
//! Two bug variants ([`LogBug`]):
//! - `CheckpointInPlace` rewrites the checkpoint in place (truncate, write, fsync): a crash
//!   between the truncate and the write leaves it empty, and recovery, reading "no checkpoint",
//!   truncates every committed entry away. A killed process can do that: every model catches it.
//! - `TailKept` reads the committed entries at open but leaves the uncommitted tail in the data
//!   file. Recovery shows the right entries; the next append writes after the tail, and its
//!   checkpoint commits both, so an entry recovery showed gone comes back. Only work after
//!   recovery sees it, with the spec started from what recovery showed; every model catches it.
//!
//! `cargo run --release --example append_log` explores both under every model.

use std::fmt;
use std::sync::Arc;

use crashsim::subject::{Gated, Process, Recovered, Subject};
use crashsim_model::history::{Outcome, Record};
use crashsim_model::{Allowed, Property, Spec, Violation};
use crashsim_sim::{files, Errno, Fs, FsResult, OpenOptions, SimFs};

/// A bug variant of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogBug {
    /// The checkpoint rewritten in place instead of replaced.
    CheckpointInPlace,
    /// The uncommitted tail left in the data file at open.
    TailKept,
}

/// The log: where it is, and which bug it has.
pub struct Log<F> {
    fs: Arc<F>,
    bug: Option<LogBug>,
}

impl<F: Fs> Log<F> {
    /// Opens the log in `log/` (created if missing) and returns it with its committed entries.
    pub async fn open(fs: Arc<F>, bug: Option<LogBug>) -> FsResult<(Self, Vec<String>)> {
        match fs.mkdir("log").await {
            Ok(()) => files::sync_dir(&*fs, "").await?,
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        let checkpoint = files::read(&*fs, "log/checkpoint").await?.unwrap_or_default();
        let committed: u64 = String::from_utf8_lossy(&checkpoint).trim().parse().unwrap_or(0);
        let fd = fs.open("log/data", OpenOptions { read: true, ..OpenOptions::append() }).await?;
        if bug != Some(LogBug::TailKept) {
            fs.truncate(fd, committed).await?;
            fs.fsync(fd).await?;
        }
        fs.close(fd).await?;
        files::sync_dir(&*fs, "log").await?;
        let data = files::read(&*fs, "log/data").await?.unwrap_or_default();
        let data = &data[..data.len().min(committed as usize)];
        let entries = String::from_utf8_lossy(data).lines().map(str::to_string).collect();
        Ok((Self { fs, bug }, entries))
    }

    /// Appends `entry`, durably.
    pub async fn append(&self, entry: &str) -> FsResult<()> {
        let fd = self.fs.open("log/data", OpenOptions::append()).await?;
        let synced = match files::write_all(&*self.fs, fd, format!("{entry}\n").as_bytes()).await {
            Ok(()) => self.fs.fsync(fd).await,
            failed => failed,
        };
        let closed = self.fs.close(fd).await;
        synced.and(closed)?;
        let checkpoint = self.fs.stat("log/data").await?.size.to_string();
        let opts = OpenOptions::create_trunc();
        if self.bug == Some(LogBug::CheckpointInPlace) {
            files::write(&*self.fs, "log/checkpoint", opts, checkpoint.as_bytes(), true).await?;
        } else {
            files::write(&*self.fs, "log/checkpoint.tmp", opts, checkpoint.as_bytes(), true).await?;
            self.fs.rename("log/checkpoint.tmp", "log/checkpoint").await?;
        }
        files::sync_dir(&*self.fs, "log").await
    }
}

/// What a user sees: the committed entries, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entries(pub Vec<String>);

impl fmt::Display for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?}", self.0)
    }
}

/// The spec: a list that only grows.
pub struct LogSpec;

impl Spec for LogSpec {
    type Op = Append;
    type Reply = &'static str;
    type State = Entries;

    fn init(&self) -> Entries {
        Entries::default()
    }

    fn step(&self, state: &Entries, op: &Append) -> (&'static str, Entries) {
        let mut next = state.clone();
        next.0.push(op.0.to_string());
        ("ok", next)
    }

    fn properties(&self) -> Vec<Property<Entries>> {
        vec![
            Property {
                name: "NoResurrection",
                failure: "an entry recovery showed gone (or never written) is back",
                predicate: |observed, allowed| {
                    let count = |entries: &Entries, e: &String| entries.0.iter().filter(|x| *x == e).count();
                    let most = |e: &String| allowed.iter().map(|s| count(s, e)).max().unwrap_or(0);
                    let extra: Vec<&String> = observed.0.iter().filter(|e| count(observed, e) > most(e)).collect();
                    (!extra.is_empty())
                        .then(|| format!("entries {extra:?} appear more often than any allowed state has them"))
                },
            },
            Property {
                name: "Durable",
                failure: "an acknowledged entry is gone after a crash",
                predicate: |observed, allowed| {
                    let acked = allowed.iter().min_by_key(|s| s.0.len()).expect("a state");
                    (!observed.0.starts_with(&acked.0))
                        .then(|| format!("the log lost acknowledged entries {:?}", acked.0))
                },
            },
        ]
    }
}

/// One append, of a one-word entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Append(pub &'static str);

impl fmt::Display for Append {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "append({})", self.0)
    }
}

/// The log as crashsim tests it, with a bug or none.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppendLog {
    pub bug: Option<LogBug>,
}

impl Subject for AppendLog {
    type Op = Append;
    type Reply = &'static str;
    type Store = Log<Gated>;
    type Observed = Result<Entries, String>;
    type Expected = Allowed<Entries>;

    fn name(&self) -> String {
        match self.bug {
            None => "append-log",
            Some(LogBug::CheckpointInPlace) => "append-log (checkpoint in place)",
            Some(LogBug::TailKept) => "append-log (uncommitted tail kept)",
        }
        .to_string()
    }

    fn alphabet(&self) -> Vec<Append> {
        vec![Append("x"), Append("y")]
    }

    async fn open(&self, fs: Arc<Gated>, _process: &Process) -> Result<Log<Gated>, String> {
        Log::open(fs, self.bug).await.map(|(log, _)| log).map_err(|e| e.to_string())
    }

    async fn call(&self, log: &Log<Gated>, op: &Append) -> Outcome<&'static str> {
        log.append(op.0).await.map_or_else(|e| Outcome::Failed(e.to_string()), |()| Outcome::Replied("ok"))
    }

    async fn recover(&self, fs: Arc<SimFs>) -> Recovered<Result<Entries, String>> {
        let observed = Log::open(fs, self.bug).await.map(|(_, entries)| Entries(entries)).map_err(|e| e.to_string());
        Recovered { observed, report: String::new() }
    }

    fn expect(&self, history: &[Record<Append, &'static str>]) -> Allowed<Entries> {
        Allowed::of(&LogSpec, history)
    }

    fn check(&self, allowed: &Allowed<Entries>, observed: &Result<Entries, String>) -> Result<(), Violation> {
        allowed.judge(&LogSpec, observed)
    }

    /// What recovery showed is what happened: an append in flight at the crash that recovery
    /// showed gone may not take effect later.
    fn expect_after_recovery(
        &self,
        before: &[Record<Append, &'static str>],
        recovered: &Result<Entries, String>,
        after: &[Record<Append, &'static str>],
    ) -> Allowed<Entries> {
        match recovered {
            Ok(entries) => Allowed::after(&LogSpec, entries, after),
            Err(_) => self.expect(before),
        }
    }
}

fn main() {
    let bugs = [None, Some(LogBug::CheckpointInPlace), Some(LogBug::TailKept)];
    crashsim::testing::demo(&bugs.map(|bug| AppendLog { bug }));
}
