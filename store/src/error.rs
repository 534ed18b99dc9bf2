//! Store errors: each says what failed, on which file, and what to do where there is a choice.

use std::fmt;

use crashsim_sim::Errno;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// A filesystem call failed.
    Fs { op: &'static str, path: String, errno: Errno },
    /// No session for this (canonical) key.
    NotFound { key: String },
    /// The key already has a session (use `reset` for a new one).
    Exists { key: String },
    /// Another live process holds the lock; it was not released within the retry budget.
    LockBusy { owner: String },
    /// Recovery cannot bring the store to a consistent state (the message says why).
    Recovery(String),
    /// A message or label that cannot be stored.
    InvalidInput(String),
    /// The store was shut down.
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn fs(op: &'static str, path: &str, errno: Errno) -> Self {
        StoreError::Fs { op, path: path.to_string(), errno }
    }

    /// The errno, if this error came from the filesystem.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            StoreError::Fs { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Fs { op, path, errno } => write!(f, "{op} {path:?} failed: {errno:?} ({})", errno.desc()),
            StoreError::NotFound { key } => write!(f, "no session for key {key:?}"),
            StoreError::Exists { key } => write!(f, "key {key:?} already has a session; reset it for a new one"),
            StoreError::LockBusy { owner } => write!(
                f,
                "the registry lock is held by {owner:?}, which is alive; retry later, or remove sessions.json.lock if that process is gone"
            ),
            StoreError::Recovery(why) => write!(f, "recovery failed: {why}"),
            StoreError::InvalidInput(why) => write!(f, "invalid input: {why}"),
            StoreError::Closed => write!(f, "the store was shut down"),
        }
    }
}

impl std::error::Error for StoreError {}
