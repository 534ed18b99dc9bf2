//! What the replay does not simulate, and why: the reasons, their counts, and the syscalls
//! each reason covers by name.

/// Why a syscall was not simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// It touched DIR and cannot be mapped onto the simulated disk: the result may miss states.
    Unsupported,
    /// A syscall or a line the replay does not know, touching DIR.
    NotUnderstood,
    /// Modes, owners, times or extended attributes: outside the disk model.
    Metadata,
    /// `sync_file_range`: starts writeback, flushes neither the disk cache nor metadata.
    NoDurability,
    /// It touched DIR and changed nothing there (a read, a stat, a lock).
    ReadOnly,
    /// It failed for real, so it had no effect.
    Failed,
    /// It did not touch DIR.
    Outside,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Unsupported => "touches DIR, cannot be simulated: crash states may be missing",
            Reason::NotUnderstood => "touches DIR, not understood: crash states may be missing",
            Reason::Metadata => "metadata only (modes, owners, times, xattrs): outside the disk model",
            Reason::NoDurability => "no durability promised (sync_file_range): replayed as nothing",
            Reason::ReadOnly => "read-only inside DIR",
            Reason::Failed => "failed for real: no effect",
            Reason::Outside => "outside DIR: recorded, not simulated",
        }
    }

    /// Whether the result may be incomplete because of it.
    pub fn is_concern(self) -> bool {
        matches!(self, Reason::Unsupported | Reason::NotUnderstood)
    }
}

/// The calls skipped for one reason and syscall name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub count: usize,
    /// The first one: its log line and text (readable).
    pub line: usize,
    pub example: String,
    /// Why, when more can be said than the reason.
    pub detail: String,
}

/// Calls that change nothing a crash can keep.
pub const READ_ONLY: &[&str] = &[
    "access",
    "faccessat",
    "faccessat2",
    "stat",
    "lstat",
    "fstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "getdents",
    "getdents64",
    "readlink",
    "readlinkat",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "flock",
    "fadvise64",
    "ioctl",
    "pread64",
    "preadv",
    "preadv2",
    "getcwd",
    "inotify_add_watch",
    "fanotify_mark",
    "mmap",
    "munmap",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "chroot",
    "name_to_handle_at",
    "statmount",
    "utime_noop",
];

/// Calls that change metadata only (modes, owners, times, xattrs).
pub const METADATA: &[&str] = &[
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
];

/// Calls that change DIR in ways the simulated disk does not model.
pub const UNSUPPORTED: &[&str] =
    &["symlink", "symlinkat", "mknod", "mknodat", "msync", "io_uring_enter", "splice", "tee", "vmsplice"];
