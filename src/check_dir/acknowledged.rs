//! What a program said it had done, and which problems a crash image may show without having
//! lost anything: one checker for `check-dir`, for trace checks of OpenClaw and for the tests.
//!
//! A program under `crashsim trace` prints `ack <key> [<sessionId>]` for each session it
//! acknowledged; `$CRASHSIM_STDOUT` holds what it printed before the crash. Every acknowledged
//! key must be in `sessions.json` ([`super::Kind::LostAcknowledged`] otherwise). A crash image
//! may also hold what the store's own next start, or a `--fix`, cleans up: temp files, the
//! writer's lock, and the transcripts (or trajectories) of sessions never acknowledged (a
//! create in flight). Those are expected after a crash; anything else fails.

use super::problem::{Kind, Problem};
use super::scan::classify;
use super::scan::Class;

/// The sessions a program acknowledged: `(key, sessionId if given)`, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acknowledged {
    pub sessions: Vec<(String, Option<String>)>,
}

impl Acknowledged {
    /// Reads `ack <key> [<sessionId>]` lines; every other line is ignored.
    pub fn parse(text: &str) -> Self {
        let sessions = text
            .lines()
            .filter_map(|line| {
                let mut words = line.strip_prefix("ack ")?.split_whitespace();
                let key = words.next()?.to_string();
                Some((key, words.next().map(str::to_string)))
            })
            .collect();
        Self { sessions }
    }

    fn has_session(&self, session: &str) -> bool {
        self.sessions.iter().any(|(_, id)| id.as_deref() == Some(session))
    }
}

/// Whether `problem` is what a crash may leave without losing anything acknowledged.
pub fn expected_after_crash(problem: &Problem, acknowledged: &Acknowledged) -> bool {
    match problem.kind {
        Kind::TempDebris | Kind::LockDebris | Kind::StaleLock => true,
        Kind::OrphanTranscript | Kind::OrphanTrajectory => match classify(&problem.subject) {
            Class::Transcript { session, .. } | Class::Trajectory { session } => !acknowledged.has_session(&session),
            _ => false,
        },
        _ => false,
    }
}
