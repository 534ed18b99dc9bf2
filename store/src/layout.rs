//! File names in the sessions directory, and which names the store may touch.
//!
//! ```text
//! sessions/sessions.json                 the registry
//! sessions/sessions.json.<n>.tmp         a registry being replaced
//! sessions/sessions.json.bak.<n>         backups written by rotate (the newest 3 are kept)
//! sessions/sessions.json.corrupt.<n>     a registry that did not parse, set aside by recovery
//! sessions/sessions.json.lock            the writer lock (O_CREAT|O_EXCL), holding its owner
//! sessions/<id>.jsonl                    a transcript; line 1 is its header
//! sessions/<id>.trajectory.jsonl         its trajectory sidecar
//! sessions/<file>.deleted.<ts>           archives (also .reset.<ts>, .torn.<ts>, .abandoned.<ts>)
//! ```

pub const REGISTRY: &str = "sessions.json";
pub const LOCK: &str = "sessions.json.lock";
pub const TRANSCRIPT_EXT: &str = ".jsonl";
pub const TRAJECTORY_EXT: &str = ".trajectory.jsonl";

/// Why a file was archived; the suffix of its archive name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchiveReason {
    Deleted,
    Reset,
    Torn,
    /// The files of a create or reset that failed before it took effect.
    Abandoned,
}

impl ArchiveReason {
    pub fn suffix(self) -> &'static str {
        match self {
            ArchiveReason::Deleted => "deleted",
            ArchiveReason::Reset => "reset",
            ArchiveReason::Torn => "torn",
            ArchiveReason::Abandoned => "abandoned",
        }
    }

    /// `.<suffix>.`: what stands between an archived file's name and its timestamp.
    fn marker(self) -> &'static str {
        match self {
            ArchiveReason::Deleted => ".deleted.",
            ArchiveReason::Reset => ".reset.",
            ArchiveReason::Torn => ".torn.",
            ArchiveReason::Abandoned => ".abandoned.",
        }
    }

    pub const ALL: [ArchiveReason; 4] =
        [ArchiveReason::Deleted, ArchiveReason::Reset, ArchiveReason::Torn, ArchiveReason::Abandoned];
}

/// Joins the sessions directory and a file name.
pub fn path_in(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

pub fn transcript_name(id: &str) -> String {
    format!("{id}{TRANSCRIPT_EXT}")
}

pub fn trajectory_name(id: &str) -> String {
    format!("{id}{TRAJECTORY_EXT}")
}

pub fn temp_name(n: u64) -> String {
    format!("{REGISTRY}.{n}.tmp")
}

pub fn backup_name(n: u64) -> String {
    format!("{REGISTRY}.bak.{n}")
}

pub fn corrupt_name(n: u64) -> String {
    format!("{REGISTRY}.corrupt.{n}")
}

pub fn archive_name(file: &str, reason: ArchiveReason, ts: u64) -> String {
    format!("{file}.{}.{ts}", reason.suffix())
}

/// What a name in the sessions directory is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    Registry,
    Lock,
    Temp,
    Backup(u64),
    Corrupt(u64),
    /// A primary transcript of this session id.
    Transcript(String),
    /// A trajectory sidecar of this session id.
    Trajectory(String),
    /// An archive: the archived file's name, why, and when.
    Archive {
        file: String,
        reason: ArchiveReason,
        ts: u64,
    },
    Other,
}

/// Classifies a name found in the sessions directory.
pub fn classify(name: &str) -> FileKind {
    if name == REGISTRY {
        return FileKind::Registry;
    }
    if name == LOCK {
        return FileKind::Lock;
    }
    if let Some(rest) = name.strip_prefix("sessions.json.") {
        if let Some(n) = rest.strip_suffix(".tmp") {
            if n.parse::<u64>().is_ok() {
                return FileKind::Temp;
            }
        }
        if let Some(n) = rest.strip_prefix("bak.").and_then(|n| n.parse().ok()) {
            return FileKind::Backup(n);
        }
        if let Some(n) = rest.strip_prefix("corrupt.").and_then(|n| n.parse().ok()) {
            return FileKind::Corrupt(n);
        }
        return FileKind::Other;
    }
    // `<file><marker><ts>`: a timestamp that parses has no dot, so the marker's last dot is the
    // name's last one (one split instead of a substring search per reason).
    if let Some((head, ts)) = name.rsplit_once('.') {
        for reason in ArchiveReason::ALL {
            let Some(file) = head.strip_suffix(reason.marker().trim_end_matches('.')) else { continue };
            if let Ok(ts) = ts.parse() {
                if file.ends_with(TRANSCRIPT_EXT) {
                    return FileKind::Archive { file: file.to_string(), reason, ts };
                }
            }
        }
    }
    if let Some(id) = name.strip_suffix(TRAJECTORY_EXT) {
        if is_session_id(id) {
            return FileKind::Trajectory(id.to_string());
        }
    }
    if let Some(id) = name.strip_suffix(TRANSCRIPT_EXT) {
        if is_session_id(id) {
            return FileKind::Transcript(id.to_string());
        }
    }
    FileKind::Other
}

/// A session id is a non-empty run of ASCII letters, digits, `-` and `_` (no dots, no slashes),
/// so `<id>.jsonl` is always a plain name inside the sessions directory.
pub fn is_session_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a registry's `sessionFile` names a file directly inside the sessions directory: not
/// absolute, no `/`, not `.` or `..`. Anything else is never followed or touched.
pub fn is_plain_name(file: &str) -> bool {
    !file.is_empty()
        && file != "."
        && file != ".."
        && !file.contains('/')
        && !file.contains('\\')
        && !file.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_kind() {
        assert_eq!(classify("sessions.json"), FileKind::Registry);
        assert_eq!(classify("sessions.json.lock"), FileKind::Lock);
        assert_eq!(classify("sessions.json.7.tmp"), FileKind::Temp);
        assert_eq!(classify("sessions.json.bak.3"), FileKind::Backup(3));
        assert_eq!(classify("sessions.json.corrupt.1"), FileKind::Corrupt(1));
        assert_eq!(classify("ab12.jsonl"), FileKind::Transcript("ab12".into()));
        assert_eq!(classify("ab12.trajectory.jsonl"), FileKind::Trajectory("ab12".into()));
        assert_eq!(
            classify("ab12.jsonl.deleted.17"),
            FileKind::Archive { file: "ab12.jsonl".into(), reason: ArchiveReason::Deleted, ts: 17 }
        );
        assert_eq!(
            classify("ab12.trajectory.jsonl.reset.5"),
            FileKind::Archive { file: "ab12.trajectory.jsonl".into(), reason: ArchiveReason::Reset, ts: 5 }
        );
        for reason in ArchiveReason::ALL {
            let name = archive_name("ab12.jsonl", reason, 9);
            assert_eq!(classify(&name), FileKind::Archive { file: "ab12.jsonl".into(), reason, ts: 9 }, "{name}");
        }
        assert_eq!(classify("notes.txt"), FileKind::Other);
        assert_eq!(classify("a.b.jsonl"), FileKind::Other);
        assert!(!is_plain_name("../x.jsonl"));
        assert!(!is_plain_name("/etc/passwd"));
        assert!(is_plain_name("x.jsonl"));
    }

    /// The archive test as a substring search per reason, the way it reads in words.
    fn archive_by_search(name: &str) -> Option<FileKind> {
        ArchiveReason::ALL.into_iter().find_map(|reason| {
            let at = name.rfind(reason.marker())?;
            let (file, ts) = (&name[..at], &name[at + reason.marker().len()..]);
            let ts = ts.parse().ok()?;
            file.ends_with(TRANSCRIPT_EXT).then(|| FileKind::Archive { file: file.to_string(), reason, ts })
        })
    }

    proptest::proptest! {
        /// One split at the last dot finds exactly the archives a search for each marker finds.
        #[test]
        fn archives_are_found_by_their_last_dot(parts in proptest::collection::vec(0usize..12, 0..7)) {
            const PIECES: [&str; 12] =
                ["ab", ".jsonl", ".deleted.", ".reset.", ".torn.", ".abandoned.", "7", "+3", ".", "x.", ".trajectory", "1.2"];
            let name: String = parts.iter().map(|&p| PIECES[p]).collect();
            let kind = classify(&name);
            let expected = archive_by_search(&name);
            match kind {
                FileKind::Archive { .. } => proptest::prop_assert_eq!(Some(kind), expected, "{}", name),
                _ => proptest::prop_assert_eq!(None, expected, "{}", name),
            }
        }
    }
}
