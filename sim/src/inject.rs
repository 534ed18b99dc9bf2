//! The hook through which a fault plan acts on a running `SimFs`.

use crate::{Call, Errno};

/// What happens to the next syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// Run it normally.
    Proceed,
    /// Fail it with this errno and no effect; a failed `fsync`/`fdatasync` still drops the
    /// inode's pending data, as a writeback error does on Linux.
    Fail(Errno),
    /// A `write`/`pwrite` writes at most this many bytes (a short write); other calls proceed.
    ShortWrite(usize),
}

/// Decides, before each syscall, whether it runs, fails or is shortened. `step` is the 0-based
/// index of the syscall in the trace. Implementations must be deterministic in their inputs.
pub trait Injector: Send {
    fn before(&mut self, step: usize, call: &Call) -> Injection;
}
