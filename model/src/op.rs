//! The operations of the store, as the spec sees them, and their results.

use std::fmt;

/// One store call. Keys are given raw, as a user would; the spec canonicalizes them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Create {
        key: String,
        label: Option<String>,
    },
    Append {
        key: String,
        message: String,
    },
    Reset {
        key: String,
    },
    Delete {
        key: String,
    },
    Rotate,
    Prune {
        max_entries: usize,
    },
    Shutdown,
    /// A lookup without the lock, as OpenClaw's loader reads: the session of `key`, if any.
    Get {
        key: String,
    },
}

/// What a call returned, with ids where it made a session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reply {
    Unit,
    /// A session: `create` and `reset` return the new one's id, `get` the one found.
    Session(String),
    /// The keys `prune` evicted, oldest first.
    Evicted(Vec<String>),
    /// Refused with no effect: the key has a session (`create`).
    Exists,
    /// Refused with no effect: the key has no session.
    NotFound,
    /// Refused with no effect: the client was shut down.
    Closed,
}

impl Reply {
    /// Whether the reply is a refusal (the call had no effect).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Reply::Exists | Reply::NotFound | Reply::Closed)
    }
}

/// What became of one call of the session store in a recorded run.
pub type Outcome = crate::history::Outcome<Reply>;

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create { key, label: None } => write!(f, "create({key:?})"),
            Op::Create { key, label: Some(label) } => write!(f, "create({key:?}, label {label:?})"),
            Op::Append { key, message } => write!(f, "append({key:?}, {message:?})"),
            Op::Reset { key } => write!(f, "reset({key:?})"),
            Op::Delete { key } => write!(f, "delete({key:?})"),
            Op::Rotate => write!(f, "rotate()"),
            Op::Prune { max_entries } => write!(f, "prune({max_entries})"),
            Op::Shutdown => write!(f, "shutdown()"),
            Op::Get { key } => write!(f, "get({key:?})"),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Unit => write!(f, "ok"),
            Reply::Session(id) => write!(f, "ok {id}"),
            Reply::Evicted(keys) => write!(f, "ok evicted {keys:?}"),
            Reply::Exists => write!(f, "refused: exists"),
            Reply::NotFound => write!(f, "refused: not found"),
            Reply::Closed => write!(f, "refused: closed"),
        }
    }
}
