//! What a program said it had done, and which problems a crash image may show without having
//! lost anything: one checker for `check-dir`, for trace checks of OpenClaw and for the tests.
//!
//! A program under `crashsim trace` prints what it acknowledged; `$CRASHSIM_STDOUT` holds what
//! it printed before the crash. The language, one statement per line (other lines ignored):
//!
//! | line | meaning | a crash image must show |
//! |---|---|---|
//! | `begin <op> <key>` | an operation on `<key>` starts | (it may be half done) |
//! | `ack <key> [<sessionId>]` | `<key>` is registered (to `<sessionId>`) | the key, with that session |
//! | `ack-delete <key>` | `<key>` is gone (deleted, evicted) | no such key |
//! | `ack-line <sessionId> <text>` | `<text>` is in that session's history | `<text>` in a transcript or its archive |
//!
//! A key whose last statement is a `begin` of anything but `append` is in flight: either its
//! state before or after is fine, and so are the half-done states of its sessions (an entry
//! written before its transcript, an old transcript not yet archived). An append in flight
//! changes no key. Beyond that a crash image may hold what the store's own next start, or a
//! `--fix`, cleans up: temp files, the writer's lock, and the transcripts of sessions never
//! acknowledged (a create in flight). Anything else fails.

use std::collections::{BTreeMap, BTreeSet};

use crashsim_store::keys::canonical_key;

use super::problem::{Kind, Problem};
use super::scan::{classify, Class, Registry, Scan};

/// What a program acknowledged, as its last statements left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acknowledged {
    /// Each key's acknowledged state, by key as printed.
    pub keys: BTreeMap<String, KeyState>,
    /// Acknowledged messages: `(sessionId, text)`, in order.
    pub lines: Vec<(String, String)>,
}

/// One key's acknowledged state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The last acknowledgement; none when only begun.
    pub last: Option<Acked>,
    /// The operation begun after it and not acknowledged yet.
    pub in_flight: Option<String>,
    /// Every session ever acknowledged for the key.
    pub sessions: BTreeSet<String>,
}

/// An acknowledged state of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acked {
    /// Registered, to this session when given.
    Registered(Option<String>),
    Deleted,
}

/// The one operation that leaves its key as it was.
const APPEND: &str = "append";

impl Acknowledged {
    /// Reads the statements of `text`, in order.
    pub fn parse(text: &str) -> Self {
        let mut acknowledged = Acknowledged::default();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["begin", op, key, ..] => acknowledged.key(key).in_flight = Some(op.to_string()),
                ["ack", key, rest @ ..] => {
                    let session = rest.first().map(|s| s.to_string());
                    let state = acknowledged.key(key);
                    state.sessions.extend(session.clone());
                    state.last = Some(Acked::Registered(session));
                    state.in_flight = None;
                }
                ["ack-delete", key, ..] => {
                    let state = acknowledged.key(key);
                    state.last = Some(Acked::Deleted);
                    state.in_flight = None;
                }
                ["ack-line", session, text, ..] => acknowledged.lines.push((session.to_string(), text.to_string())),
                _ => {}
            }
        }
        acknowledged
    }

    fn key(&mut self, key: &str) -> &mut KeyState {
        self.keys.entry(key.to_string()).or_default()
    }

    /// Whether the key's last statement begins an operation that may change it.
    fn in_flight(&self, key: &str) -> bool {
        self.keys.iter().any(|(k, state)| {
            canonical_key(k) == canonical_key(key) && state.in_flight.as_deref().is_some_and(|op| op != APPEND)
        })
    }

    fn acknowledged_session(&self, session: &str) -> bool {
        self.keys.values().any(|state| state.sessions.contains(session))
    }

    /// Whether `session` belongs to a key in flight (a reset's old session, a deleted one).
    fn session_in_flight(&self, session: &str) -> bool {
        self.keys.iter().any(|(key, state)| state.sessions.contains(session) && self.in_flight(key))
    }
}

/// The acknowledged things a scanned directory lost, as [`Kind::LostAcknowledged`] problems.
pub fn lost(scan: &Scan, acknowledged: &Acknowledged) -> Vec<Problem> {
    let registered: BTreeMap<String, Option<&str>> = match &scan.registry {
        Registry::Parsed { entries, .. } => {
            entries.iter().map(|e| (canonical_key(&e.key), e.session_id.as_deref().ok())).collect()
        }
        _ => BTreeMap::new(),
    };
    let leave = || Err("gone from the registry: a backup or its transcript may still hold it".to_string());
    let mut problems = Vec::new();
    for (key, state) in &acknowledged.keys {
        if acknowledged.in_flight(key) {
            continue;
        }
        let detail = match (&state.last, registered.get(&canonical_key(key))) {
            (Some(Acked::Registered(_)), None) => "acknowledged, and not in sessions.json".to_string(),
            (Some(Acked::Registered(Some(want))), Some(&Some(held))) if held != want => {
                format!("acknowledged as session {want}, and sessions.json holds session {held}")
            }
            (Some(Acked::Deleted), Some(_)) => "acknowledged deleted, and back in sessions.json".to_string(),
            _ => continue,
        };
        problems.push(Problem::new(Kind::LostAcknowledged, key, detail, leave()));
    }
    let histories = if acknowledged.lines.is_empty() { Vec::new() } else { histories(scan) };
    for (session, text) in &acknowledged.lines {
        if !histories.iter().any(|history| history.windows(text.len()).any(|w| w == text.as_bytes())) {
            let detail = format!("message {text:?} acknowledged, and in no transcript or archive");
            problems.push(Problem::new(Kind::LostAcknowledged, session, detail, leave()));
        }
    }
    problems
}

/// The bytes of every transcript and every archive of one, each read once.
fn histories(scan: &Scan) -> Vec<Vec<u8>> {
    let names = scan.files.iter().filter(|(name, file)| !file.symlink && name.contains(".jsonl"));
    names.filter_map(|(name, _)| std::fs::read(scan.path.join(name)).ok()).collect()
}

/// Whether `problem` is what a crash may leave without losing anything acknowledged.
pub fn expected_after_crash(problem: &Problem, acknowledged: &Acknowledged) -> bool {
    match problem.kind {
        Kind::TempDebris | Kind::LockDebris | Kind::StaleLock => true,
        Kind::DanglingEntry | Kind::SessionMismatch => acknowledged.in_flight(&problem.subject),
        Kind::OrphanTranscript | Kind::OrphanTrajectory => match classify(&problem.subject) {
            Class::Transcript { session, .. } | Class::Trajectory { session } => {
                !acknowledged.acknowledged_session(&session) || acknowledged.session_in_flight(&session)
            }
            _ => false,
        },
        _ => false,
    }
}
