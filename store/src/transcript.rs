//! Transcripts (`<id>.jsonl`) and trajectories (`<id>.trajectory.jsonl`): one JSON object per
//! line. A transcript's first line is its header, naming the session id, its canonical key and
//! its label, so that recovery can adopt a transcript the registry lost.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::object::Object;

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
        let complete_len = complete_len(bytes);
        let mut lines = complete_lines(bytes);
        let header = lines.next().and_then(header_line);
        let messages = lines.filter_map(message_text).collect();
        let header_len = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        let before_last_len = match complete_len {
            0 => 0,
            n => bytes[..n - 1].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1).max(header_len),
        };
        Self { header, messages, complete_len, before_last_len }
    }
}

/// The header of a transcript's bytes: [`Parsed::of`]'s, its messages left unread.
pub fn header_of(bytes: &[u8]) -> Option<Header> {
    complete_lines(bytes).next().and_then(header_line)
}

/// Length of `bytes` up to its last `\n`.
fn complete_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

/// The non-empty `\n`-terminated lines of `bytes`.
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes[..complete_len(bytes)].split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

fn header_line(line: &[u8]) -> Option<Header> {
    serde_json::from_slice::<Header>(line).ok().filter(|h| h.kind == "session")
}

/// A line of exactly a `type` and a `text`, both strings: what a message line is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    text: String,
}

/// The text of a line that is a message: an object whose `type` is `"message"` and whose
/// `text` is a string. Lines of just those two strings take a typed fast path; any other
/// line is read as a JSON value, as it always was.
fn message_text(line: &[u8]) -> Option<String> {
    if let Ok(Object(plain)) = serde_json::from_slice::<Object<TextLine>>(line) {
        return (plain.kind == "message").then_some(plain.text);
    }
    let value = serde_json::from_slice::<serde_json::Value>(line).ok()?;
    (value["type"] == "message").then(|| value["text"].as_str().map(str::to_string))?
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
        assert_eq!(header_of(&bytes), Parsed::of(&bytes).header);
    }

    /// Every message line reads as a JSON value would: the typed fast path only takes lines
    /// that read the same both ways.
    #[test]
    fn message_lines_read_as_json_values() {
        let by_value = |line: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .filter(|v| v["type"] == "message")
                .and_then(|v| v["text"].as_str().map(str::to_string))
        };
        let lines: [&[u8]; 12] = [
            br#"{"type":"message","text":"hi"}"#,
            br#"{"text":"a\nb","type":"message"}"#,
            br#"{"type":"note","text":"hi"}"#,
            br#"["message","hi"]"#,
            br#"{"type":"message","text":"a","type":"note"}"#,
            br#"{"type":"note","type":"message","text":"b"}"#,
            br#"{"type":"message","text":"a","n":1e400}"#,
            br#"{"type":"message","text":"a","x":"\ud800"}"#,
            br#"{"type":"message","text":"\ud800"}"#,
            br#"{"type":"message","text":5}"#,
            br#"{"type":"message"}"#,
            br#" {"type":"message","text":"x"} "#,
        ];
        for line in lines {
            assert_eq!(message_text(line), by_value(line), "{}", String::from_utf8_lossy(line));
        }
        let mut bytes = Header::new("a1", "k", 5, None).line();
        for line in lines {
            bytes.extend(line);
            bytes.push(b'\n');
        }
        let expected: Vec<String> = lines.iter().filter_map(|l| by_value(l)).collect();
        assert_eq!(Parsed::of(&bytes).messages, expected);
        assert_eq!(expected.len(), 4);
    }
}
