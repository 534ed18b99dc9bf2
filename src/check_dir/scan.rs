//! Reading a sessions directory: its registry (every key in file order, duplicates included),
//! every name in it classified, and the header of every transcript.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crashsim_sim::{Errno, Fs, OpenOptions, RealFs};
use crashsim_store::fsutil::read_file;
use crashsim_store::layout::{is_plain_name, is_session_id};
use serde::de::{Deserializer, MapAccess, Visitor};

use super::Unreadable;

pub const REGISTRY: &str = "sessions.json";
pub const LOCK: &str = "sessions.json.lock";
/// Bytes of a transcript read to find its header line.
const HEADER_BYTES_MAX: usize = 64 * 1024;
/// Suffixes (followed by `.<digits>`) that mark an archive.
const ARCHIVE_MARKERS: [&str; 5] = [".deleted.", ".reset.", ".bak.", ".torn.", ".abandoned."];

/// Whose layout the directory follows, as far as its contents tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Absolute `sessionFile`s or headers without a key: OpenClaw's.
    OpenClaw,
    /// Plain-name `sessionFile`s and headers naming their key: crashsim's store.
    Crashsim,
    /// Nothing tells (no entry and no header).
    Empty,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::OpenClaw => "openclaw",
            Layout::Crashsim => "crashsim",
            Layout::Empty => "empty",
        }
    }
}

/// What a name in the directory is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    Registry,
    Lock,
    Temp,
    Backup,
    Archive,
    /// A transcript `<stem>.jsonl`; `session` is the stem without a `-topic-<thread>` suffix.
    Transcript {
        stem: String,
        session: String,
    },
    Trajectory {
        session: String,
    },
    Other,
}

/// The first line of a transcript, when it is a session header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: String,
    /// The session key, in crashsim's layout.
    pub key: Option<String>,
    pub label: Option<String>,
}

/// One name in the directory.
#[derive(Clone, Debug)]
pub struct File {
    pub class: Class,
    /// A symlink: never followed, never read.
    pub symlink: bool,
    pub size: u64,
    pub mtime_ms: u64,
    /// For a transcript: its header, or why it has none.
    pub header: Option<Result<Header, String>>,
}

/// Where an entry's transcript is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A plain name inside the directory.
    Inside(String),
    /// Somewhere else: never followed.
    Outside(String),
}

/// One key of the registry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    /// The value as written.
    pub value: serde_json::Value,
    /// `Err` when the value is not an object with a string `sessionId`.
    pub session_id: Result<String, String>,
    /// Where the transcript is: `sessionFile`, or `<sessionId>.jsonl` without one.
    pub target: Option<Target>,
    pub updated_at: Option<u64>,
}

/// The registry file.
#[derive(Clone, Debug)]
pub enum Registry {
    Missing,
    /// Not a JSON object: reported, never rewritten.
    Malformed(String),
    /// Every key in file order (a key written twice appears twice), and the bytes read.
    Parsed {
        entries: Vec<Entry>,
        bytes: Vec<u8>,
    },
}

/// Everything read from a sessions directory.
#[derive(Clone, Debug)]
pub struct Scan {
    /// The directory as given.
    pub path: PathBuf,
    /// The agent of an OpenClaw `agents/<agent>/sessions` directory.
    pub agent: Option<String>,
    pub layout: Layout,
    pub registry: Registry,
    /// When the registry is missing or unreadable: the newest backup that parses, whose entries
    /// stand for the registry (what a crash between rotating it away and writing its successor
    /// leaves: OpenClaw #68229).
    pub restored: Option<Restored>,
    /// The writer lock's owner, as far as its contents tell.
    pub lock: Option<LockOwner>,
    /// Every name in the directory, sorted.
    pub files: BTreeMap<String, File>,
}

/// A backup standing for a missing or unreadable registry.
#[derive(Clone, Debug)]
pub struct Restored {
    /// Its name, `sessions.json.bak.<ts>`.
    pub from: String,
    pub entries: Vec<Entry>,
    /// The unreadable `sessions.json` it replaces (none when the registry is missing).
    pub replaced: Option<Vec<u8>>,
}

/// Who holds the writer lock, read from it: OpenClaw writes `{"pid", "createdAt", "starttime"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockOwner {
    /// The owner's pid, if the lock names one.
    pub pid: Option<u32>,
    /// Whether that process still runs, as the same process (its start time, in clock ticks
    /// since boot, matches the lock's `starttime` when it has one). False without a pid.
    pub alive: bool,
    /// The lock file's modification time, in milliseconds since the Unix epoch.
    pub mtime_ms: u64,
}

impl Scan {
    /// Reads the directory at `path`.
    pub fn read(path: &Path) -> Result<Scan, Unreadable> {
        Scan::read_as(path, None)
    }

    /// [`Scan::read`] of a copy of the directory `image_of` (a crash image taken of it): an
    /// absolute `sessionFile` in `image_of` names the file of that name here.
    pub fn read_as(path: &Path, image_of: Option<&Path>) -> Result<Scan, Unreadable> {
        let aliases = Names::of(path, image_of);
        let meta = std::fs::metadata(path).map_err(|e| {
            Unreadable(format!(
                "{}: {e} (give the sessions directory, e.g. ~/.openclaw/agents/main/sessions)",
                path.display()
            ))
        })?;
        if !meta.is_dir() {
            return Err(Unreadable(format!("{} is not a directory", path.display())));
        }
        let fs = RealFs::new(path).map_err(|e| Unreadable(format!("{}: cannot open: {e}", path.display())))?;
        let names = pollster::block_on(fs.readdir("")).map_err(|e| {
            match (e == Errno::EILSEQ).then(|| non_utf8_name(path)).flatten() {
                Some(name) => Unreadable(format!(
                    "{}: the name {name:?} is not UTF-8, and no OpenClaw file has such a name: move it out of \
                     the directory and check again",
                    path.display()
                )),
                None => Unreadable(format!("{}: cannot list: {e}", path.display())),
            }
        })?;
        let mut files = BTreeMap::new();
        for name in names {
            let meta = std::fs::symlink_metadata(path.join(&name))
                .map_err(|e| Unreadable(format!("{}: {e}", path.join(&name).display())))?;
            let symlink = meta.file_type().is_symlink();
            let class = classify(&name);
            let header = match &class {
                Class::Transcript { .. } if !symlink && meta.is_file() => Some(read_header(&fs, &name)),
                // A directory (or a fifo) by a transcript's name: nothing a store can read.
                Class::Transcript { .. } if !symlink => Some(Err("it is not a regular file".to_string())),
                _ => None,
            };
            let mtime_ms = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            let mtime_ms = mtime_ms.map_or(0, |d| d.as_millis() as u64);
            files.insert(name, File { class, symlink, size: meta.len(), mtime_ms, header });
        }
        // The bytes of a registry read but not parsed: a backup may stand in for it.
        let mut unparsed = None;
        let registry = match files.get(REGISTRY) {
            None => Registry::Missing,
            Some(file) if file.symlink => Registry::Malformed("sessions.json is a symlink (not followed)".into()),
            Some(_) => match pollster::block_on(read_file(&fs, REGISTRY)) {
                Err(e) => Registry::Malformed(format!("cannot read: {e}")),
                Ok(None) => Registry::Missing,
                Ok(Some(bytes)) => match parse_registry(&bytes, &aliases) {
                    Ok(entries) => Registry::Parsed { entries, bytes },
                    Err(e) => {
                        unparsed = Some(bytes);
                        Registry::Malformed(e)
                    }
                },
            },
        };
        // A symlink or an unreadable registry is left to a person: nothing stands in for it.
        let restored = match (&registry, unparsed) {
            (Registry::Missing, _) => newest_backup(&fs, &aliases, &files, None),
            (Registry::Malformed(_), Some(bytes)) => newest_backup(&fs, &aliases, &files, Some(bytes)),
            _ => None,
        };
        let lock = files.get(LOCK).filter(|f| !f.symlink).map(|file| lock_owner(&fs, file.mtime_ms));
        let mut scan = Scan {
            path: path.to_path_buf(),
            agent: agent_of(path),
            layout: Layout::Empty,
            registry,
            restored,
            lock,
            files,
        };
        scan.layout = layout_of(scan.entries(), &scan.files);
        Ok(scan)
    }

    /// The registry's entries: parsed, or those of the backup standing for it; none otherwise.
    pub fn entries(&self) -> &[Entry] {
        match (&self.registry, &self.restored) {
            (Registry::Parsed { entries, .. }, _) => entries,
            (_, Some(restored)) => &restored.entries,
            _ => &[],
        }
    }
}

/// The newest `sessions.json.bak.<ts>` (by its number) that parses as a registry.
fn newest_backup(
    fs: &RealFs,
    names: &Names,
    files: &BTreeMap<String, File>,
    replaced: Option<Vec<u8>>,
) -> Option<Restored> {
    let mut backups: Vec<(u64, &String)> = files
        .iter()
        .filter(|(_, f)| f.class == Class::Backup && !f.symlink)
        .filter_map(|(name, _)| Some((name.strip_prefix("sessions.json.bak.")?.parse().ok()?, name)))
        .collect();
    backups.sort();
    backups.into_iter().rev().find_map(|(_, name)| {
        let bytes = pollster::block_on(read_file(fs, name)).ok().flatten()?;
        let entries = parse_registry(&bytes, names).ok()?;
        Some(Restored { from: name.clone(), entries, replaced: replaced.clone() })
    })
}

/// Reads the lock's owner and asks the system whether it still runs.
fn lock_owner(fs: &RealFs, mtime_ms: u64) -> LockOwner {
    let bytes = pollster::block_on(read_file(fs, LOCK)).ok().flatten().unwrap_or_default();
    let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let number = |field: &str| value.as_ref().and_then(|v| v.get(field)).and_then(|v| v.as_u64());
    let pid = number("pid").and_then(|pid| u32::try_from(pid).ok()).filter(|&pid| pid > 0);
    let alive = pid.is_some_and(|pid| runs(pid, number("starttime")));
    LockOwner { pid, alive, mtime_ms }
}

/// Whether process `pid` runs and, if `starttime` is given, is the process that started then
/// (a pid is reused once its owner is gone).
fn runs(pid: u32, starttime: Option<u64>) -> bool {
    let Ok(raw) = i32::try_from(pid) else { return false };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => {}
        Err(_) => return false,
    }
    let Some(expected) = starttime else { return true };
    // /proc/<pid>/stat: the 22nd field, counted after the parenthesized command name.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let started = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(19)?.parse::<u64>().ok());
    started.is_none_or(|started| started == expected)
}

/// The first name in `dir` that is not UTF-8, if any: what a listing that failed with EILSEQ
/// could not name.
fn non_utf8_name(dir: &Path) -> Option<std::ffi::OsString> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.filter_map(Result::ok).map(|entry| entry.file_name()).find(|name| name.to_str().is_none())
}

/// Classifies a name found in the directory.
pub fn classify(name: &str) -> Class {
    if name == REGISTRY {
        return Class::Registry;
    }
    if name == LOCK {
        return Class::Lock;
    }
    if ARCHIVE_MARKERS.iter().any(|marker| {
        name.rfind(marker).is_some_and(|at| {
            let ts = &name[at + marker.len()..];
            !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit())
        })
    }) {
        return if name.starts_with("sessions.json.bak.") { Class::Backup } else { Class::Archive };
    }
    if name.ends_with(".tmp") {
        return Class::Temp;
    }
    if name.starts_with("sessions.json.") {
        return Class::Other;
    }
    if let Some(session) = name.strip_suffix(".trajectory.jsonl") {
        if is_session_id(session) {
            return Class::Trajectory { session: session.to_string() };
        }
    }
    if let Some(stem) = name.strip_suffix(".jsonl") {
        if is_session_id(stem) {
            let session = stem.split_once("-topic-").map_or(stem, |(session, _)| session);
            return Class::Transcript { stem: stem.to_string(), session: session.to_string() };
        }
    }
    Class::Other
}

fn read_header(fs: &RealFs, name: &str) -> Result<Header, String> {
    let bytes = pollster::block_on(async {
        let fd = fs.open(name, OpenOptions::read()).await?;
        let bytes = fs.read(fd, HEADER_BYTES_MAX).await;
        fs.close(fd).await?;
        bytes
    })
    .map_err(|e| format!("cannot read: {e}"))?;
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|_| "its first line is not JSON (no session header)".to_string())?;
    let text = |field: &str| value.get(field).and_then(|v| v.as_str()).map(str::to_string);
    if text("type").as_deref() != Some("session") {
        return Err("its first line is not a session header (\"type\":\"session\")".into());
    }
    let id = text("id").ok_or("its session header has no id")?;
    Ok(Header { id, key: text("key"), label: text("label") })
}

/// Parses the registry keeping every key in file order, a key written twice included (JSON
/// readers keep the last one, silently losing the other).
fn parse_registry(bytes: &[u8], names: &Names) -> Result<Vec<Entry>, String> {
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, serde_json::Value)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object from session key to entry")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let pairs = de.deserialize_map(Pairs).and_then(|pairs| de.end().map(|()| pairs));
    let pairs = pairs.map_err(|e| format!("not a JSON object of entries: {e}"))?;
    Ok(pairs.into_iter().map(|(key, value)| entry(key, value, names)).collect())
}

fn entry(key: String, value: serde_json::Value, names: &Names) -> Entry {
    let session_id = match value.get("sessionId") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        Some(_) => Err("its sessionId is not a non-empty string".to_string()),
        None if value.is_object() => Err("it has no sessionId".to_string()),
        None => Err("it is not an object".to_string()),
    };
    let target = match value.get("sessionFile").and_then(|v| v.as_str()) {
        Some(file) => Some(names.target_of(file)),
        None => session_id.as_ref().ok().map(|id| {
            let name = format!("{id}.jsonl");
            if is_plain_name(&name) {
                Target::Inside(name)
            } else {
                Target::Outside(name)
            }
        }),
    };
    let updated_at = value.get("updatedAt").and_then(|v| v.as_u64());
    Entry { key, value, session_id, target, updated_at }
}

/// The absolute paths that name the directory: as given, canonical, and the directory it is a
/// crash image of.
struct Names(Vec<PathBuf>);

impl Names {
    fn of(dir: &Path, image_of: Option<&Path>) -> Names {
        let given = [std::path::absolute(dir).ok(), std::fs::canonicalize(dir).ok(), image_of.map(Path::to_path_buf)];
        Names(given.into_iter().flatten().collect())
    }

    /// Where a `sessionFile` points: a plain name, or an absolute path whose parent names this
    /// directory, is inside; anything else is outside.
    fn target_of(&self, file: &str) -> Target {
        if is_plain_name(file) {
            return Target::Inside(file.to_string());
        }
        let path = Path::new(file);
        if path.is_absolute() {
            let (parent, name) = (path.parent(), path.file_name().and_then(|n| n.to_str()));
            if let (Some(parent), Some(name)) = (parent, name) {
                if is_plain_name(name) && self.0.iter().any(|d| d == parent) {
                    return Target::Inside(name.to_string());
                }
            }
        }
        Target::Outside(file.to_string())
    }
}

/// The layout the registry's entries (parsed, or a backup's) and the transcripts' headers tell.
fn layout_of(entries: &[Entry], files: &BTreeMap<String, File>) -> Layout {
    let absolute =
        entries.iter().any(|e| e.value.get("sessionFile").and_then(|v| v.as_str()).is_some_and(|f| f.starts_with('/')));
    let headers: Vec<&Header> = files.values().filter_map(|f| f.header.as_ref()?.as_ref().ok()).collect();
    if absolute || headers.iter().any(|h| h.key.is_none()) {
        Layout::OpenClaw
    } else if !entries.is_empty() || !headers.is_empty() {
        Layout::Crashsim
    } else {
        Layout::Empty
    }
}

/// `<agent>` of a path ending in `agents/<agent>/sessions`.
fn agent_of(path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut parts = path.iter().rev().map(|p| p.to_string_lossy().into_owned());
    let (sessions, agent, agents) = (parts.next()?, parts.next()?, parts.next()?);
    (sessions == "sessions" && agents == "agents").then_some(agent)
}
