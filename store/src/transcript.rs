//! Transcripts (`<id>.jsonl`) and trajectories (`<id>.trajectory.jsonl`): one JSON object per
//! line. A transcript's first line is its header, naming the session id, its canonical key and
//! its label, so that recovery can adopt a transcript the registry lost.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// The first line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub key: String,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The session a reset made this one to replace; `None` for a create. Recovery adopts an
    /// orphan only if a create made it: a reset's orphan never switched (another client may
    /// have deleted the key meanwhile), so it is archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_from: Option<String>,
}

impl Header {
    pub fn new(id: &str, key: &str, created_at: u64, label: Option<String>) -> Self {
        Self {
            kind: "session".to_string(),
            id: id.to_string(),
            key: key.to_string(),
            created_at,
            label,
            reset_from: None,
        }
    }

    /// The header of a session a reset makes to replace `old`.
    pub fn replacing(mut self, old: &str) -> Self {
        self.reset_from = Some(old.to_string());
        self
    }

    pub fn line(&self) -> Vec<u8> {
        line(serde_json::to_value(self).expect("a header serializes"))
    }
}

fn line(value: serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(&value).expect("a JSON value serializes");
    bytes.push(b'\n');
    bytes
}

pub fn message_line(text: &str) -> Vec<u8> {
    line(json!({"type": "message", "text": text}))
}

/// Trajectory events.
pub fn trajectory_started(id: &str) -> Vec<u8> {
    line(json!({"type": "session.started", "id": id}))
}

pub fn trajectory_appended(seq: usize) -> Vec<u8> {
    line(json!({"type": "message.appended", "n": seq}))
}

pub fn trajectory_ended() -> Vec<u8> {
    line(json!({"type": "session.ended"}))
}

/// A transcript as read from disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The header, if line 1 is a complete, well-formed header.
    pub header: Option<Header>,
    /// The text of every complete message line, in order.
    pub messages: Vec<String>,
    /// Length of the file up to its last complete line (`\n`-terminated).
    pub complete_len: usize,
    /// Length of the file up to the complete line before the last one, never less than the end
    /// of line 1 (its header): where a repair that drops one line too many cuts.
    pub before_last_len: usize,
}

impl Parsed {
    pub fn of(bytes: &[u8]) -> Self {
        let complete_len = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut lines = bytes[..complete_len].split(|b| *b == b'\n').filter(|l| !l.is_empty());
        let header =
            lines.next().and_then(|l| serde_json::from_slice::<Header>(l).ok()).filter(|h| h.kind == "session");
        let messages = lines
            .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "message")
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .collect();
        let header_len = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        let before_last_len = match complete_len {
            0 => 0,
            n => bytes[..n - 1].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1).max(header_len),
        };
        Self { header, messages, complete_len, before_last_len }
    }
}

/// Events of a trajectory: the `type` of every complete line.
pub fn trajectory_events(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter_map(|v| v["type"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_messages_and_torn_tail() {
        let mut bytes = Header::new("a1", "agent:main:x", 5, None).line();
        bytes.extend(message_line("hi\nthere"));
        bytes.extend(b"{\"type\":\"mess");
        let parsed = Parsed::of(&bytes);
        assert_eq!(parsed.header.unwrap().key, "agent:main:x");
        assert_eq!(parsed.messages, vec!["hi\nthere".to_string()]);
        assert_eq!(parsed.complete_len, bytes.len() - 13);
        assert_eq!(Parsed::of(b"{\"type\":\"sess").header, None);
    }
}
