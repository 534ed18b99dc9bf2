//! The recorded syscall trace: every call with its arguments, its result, and the pending log
//! (under the `posix` model) right after it, printable as a numbered timeline.

use std::fmt;

use crate::disk::{Bytes, Event, EventKind};
use crate::image::preview;
use crate::{Errno, Fd, OpenOptions, Site, Stat};

/// One call of the `Fs` trait with its arguments. A write's bytes are shared with its effect in
/// the log: a run that rewrites a large file keeps each version once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Open { path: String, opts: OpenOptions },
    Write { fd: Fd, data: Bytes },
    Pwrite { fd: Fd, offset: u64, data: Bytes },
    Read { fd: Fd, len: usize },
    Pread { fd: Fd, offset: u64, len: usize },
    Truncate { fd: Fd, len: u64 },
    Fsync { fd: Fd },
    Fdatasync { fd: Fd },
    Close { fd: Fd },
    Rename { from: String, to: String },
    Link { from: String, to: String },
    Unlink { path: String },
    Mkdir { path: String },
    Rmdir { path: String },
    Readdir { path: String },
    Stat { path: String },
}

impl Call {
    /// The syscall's name (`rename`, `write`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Call::Open { .. } => "open",
            Call::Write { .. } => "write",
            Call::Pwrite { .. } => "pwrite",
            Call::Read { .. } => "read",
            Call::Pread { .. } => "pread",
            Call::Truncate { .. } => "ftruncate",
            Call::Fsync { .. } => "fsync",
            Call::Fdatasync { .. } => "fdatasync",
            Call::Close { .. } => "close",
            Call::Rename { .. } => "rename",
            Call::Link { .. } => "link",
            Call::Unlink { .. } => "unlink",
            Call::Mkdir { .. } => "mkdir",
            Call::Rmdir { .. } => "rmdir",
            Call::Readdir { .. } => "readdir",
            Call::Stat { .. } => "stat",
        }
    }

    /// Whether the call can change the disk (a crash point worth a fault).
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Call::Read { .. } | Call::Pread { .. } | Call::Readdir { .. } | Call::Stat { .. })
    }
}

/// What a call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Unit,
    Fd(Fd),
    Count(usize),
    Bytes(Vec<u8>),
    Names(Vec<String>),
    Stat(Stat),
    Err(Errno),
}

/// One step of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// 0-based index of the syscall; a crash "after step k" keeps steps 0..k.
    pub step: usize,
    pub call: Call,
    pub outcome: Outcome,
    /// Whether the outcome was injected by a fault plan.
    pub injected: bool,
    /// The log events this call produced (effects and syncs).
    pub events: Vec<Event>,
    /// Sequence numbers of the log events still pending (not durable under `posix`) after it.
    pub pending: Vec<usize>,
    /// Where the program made the call (only when the filesystem records sites).
    pub site: Option<Site>,
    /// Whether a proposed fix inserted this call after the one at its site ([`crate::SyncRule`]).
    pub inserted: bool,
    /// Whether the run forgot this step ([`crate::SimFs::forget_past`]): its written and read
    /// bytes, events and pending set are gone (empty), its call and outcome kinds remain.
    pub forgotten: bool,
}

impl TraceStep {
    /// Drops what only a crash at or before this step needs (see [`TraceStep::forgotten`]).
    pub(crate) fn forget(&mut self) {
        if let Call::Write { data, .. } | Call::Pwrite { data, .. } = &mut self.call {
            *data = Bytes::default();
        }
        if let Outcome::Bytes(bytes) = &mut self.outcome {
            *bytes = Vec::new();
        }
        self.events = Vec::new();
        self.pending = Vec::new();
        self.forgotten = true;
    }
}

/// A whole trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub steps: Vec<TraceStep>,
}

impl fmt::Display for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match (self.readable(), self.write) {
            (true, true) => "O_RDWR",
            (false, true) => "O_WRONLY",
            _ => "O_RDONLY",
        };
        write!(f, "{access}")?;
        for (set, name) in [
            (self.create, "O_CREAT"),
            (self.excl, "O_EXCL"),
            (self.trunc, "O_TRUNC"),
            (self.append, "O_APPEND"),
            (self.directory, "O_DIRECTORY"),
        ] {
            if set {
                write!(f, "|{name}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Open { path, opts } => write!(f, "open({path:?}, {opts})"),
            Call::Write { fd, data } => write!(f, "write({fd}, {}, {})", preview(data), data.len()),
            Call::Pwrite { fd, offset, data } => {
                write!(f, "pwrite({fd}, {}, {}, {offset})", preview(data), data.len())
            }
            Call::Read { fd, len } => write!(f, "read({fd}, {len})"),
            Call::Pread { fd, offset, len } => write!(f, "pread({fd}, {len}, {offset})"),
            Call::Truncate { fd, len } => write!(f, "ftruncate({fd}, {len})"),
            Call::Fsync { fd } => write!(f, "fsync({fd})"),
            Call::Fdatasync { fd } => write!(f, "fdatasync({fd})"),
            Call::Close { fd } => write!(f, "close({fd})"),
            Call::Rename { from, to } => write!(f, "rename({from:?}, {to:?})"),
            Call::Link { from, to } => write!(f, "link({from:?}, {to:?})"),
            Call::Unlink { path } => write!(f, "unlink({path:?})"),
            Call::Mkdir { path } => write!(f, "mkdir({path:?})"),
            Call::Rmdir { path } => write!(f, "rmdir({path:?})"),
            Call::Readdir { path } => write!(f, "readdir({path:?})"),
            Call::Stat { path } => write!(f, "stat({path:?})"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Unit => write!(f, "0"),
            Outcome::Fd(fd) => write!(f, "{fd}"),
            Outcome::Count(n) => write!(f, "{n}"),
            Outcome::Bytes(bytes) => write!(f, "{} {}", bytes.len(), preview(bytes)),
            Outcome::Names(names) => write!(f, "{names:?}"),
            Outcome::Stat(stat) => write!(f, "{:?} {} B", stat.kind, stat.size),
            Outcome::Err(errno) => write!(f, "-1 {errno:?}"),
        }
    }
}

impl fmt::Display for TraceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.forgotten {
            return write!(
                f,
                "{:>4}  {}(...) (forgotten: the run keeps only what follows)",
                self.step,
                self.call.name()
            );
        }
        write!(f, "{:>4}  {} = {}", self.step, self.call, self.outcome)?;
        if self.injected {
            write!(f, " (injected)")?;
        }
        if self.inserted {
            write!(f, " (inserted by the fix)")?;
        }
        if !self.pending.is_empty() {
            let ids: Vec<String> = self.pending.iter().map(|seq| format!("#{seq}")).collect();
            write!(f, "    pending: {}", ids.join(" "))?;
        }
        for event in &self.events {
            write!(f, "\n        #{} {}", event.seq, event.kind)?;
        }
        Ok(())
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Effect(effect) => write!(f, "{effect}"),
            EventKind::Sync { ino, kind, ok } => {
                let what = if *kind == crate::Kind::Dir { "dir" } else { "file" };
                let result = if *ok { "durable" } else { "FAILED: pending data dropped" };
                write!(f, "sync {what} ino {ino}: {result}")
            }
        }
    }
}
