//! What a user's view takes from one file of the sessions directory, read once per name and
//! bytes. A scale run boots thousands of crash images of thousands of files each, and two
//! images of one workload differ in a few files: parsing every transcript and the registry
//! again for each image was a tenth of a 2,000-session run.
//!
//! A reading is kept by name together with the bytes it was made from, and reused only for
//! the very same bytes (compared, not hashed), so the view is what reading the file anew gives.
//! Readings are kept per thread (the explorer's workers each boot their own images) and
//! dropped all at once past [`KEPT_FILES`] names or [`KEPT_BYTES`] bytes, so a long soak's
//! memory stays flat.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crashsim_model::ViewEntry;
use crashsim_store::layout::{classify, FileKind, REGISTRY};
use crashsim_store::registry::parse;
use crashsim_store::transcript::{trajectory_events, Parsed};

/// Most names whose readings one thread keeps (a run of 2,000 sessions holds some 4,000).
pub const KEPT_FILES: usize = 16_384;

/// Most bytes of files whose readings one thread keeps (a registry of 2,000 sessions is some
/// 300 KB).
pub const KEPT_BYTES: usize = 32 << 20;

/// What the view takes from one file.
#[derive(Debug, PartialEq)]
pub enum Reading {
    /// The registry's entries as (key, entry), or why it does not parse.
    Registry(Result<Vec<(String, ViewEntry)>, String>),
    /// A primary transcript: its session id and the text of each complete message.
    Transcript(String, Vec<String>),
    /// A trajectory sidecar: its session id and whether it holds `session.ended`.
    Trajectory(String, bool),
    /// An archive of this session's transcript.
    Archived(String),
    /// Nothing a user sees.
    Unseen,
}

/// What the view takes from the file `name` of the sessions directory holding `file` (`None`
/// for a directory).
pub fn read(name: &str, file: Option<&[u8]>) -> Reading {
    match (classify(name), file) {
        // A directory in the registry's place reads as no bytes: it does not parse.
        (FileKind::Registry, file) => Reading::Registry(match parse(file.unwrap_or_default()) {
            Ok(parsed) => Ok(parsed
                .entries
                .into_iter()
                .map(|(key, e)| (key, ViewEntry { id: e.session_id, label: e.label }))
                .collect()),
            Err(e) => Err(format!("{REGISTRY} does not parse: {e}")),
        }),
        (FileKind::Transcript(id), Some(bytes)) => Reading::Transcript(id, Parsed::of(bytes).messages),
        (FileKind::Trajectory(id), Some(bytes)) => {
            let ended = trajectory_events(bytes).iter().any(|e| e == "session.ended");
            Reading::Trajectory(id, ended)
        }
        (FileKind::Archive { file: archived, .. }, _) => match classify(&archived) {
            FileKind::Transcript(id) => Reading::Archived(id),
            _ => Reading::Unseen,
        },
        _ => Reading::Unseen,
    }
}

/// [`read`], taken from this thread's kept readings when `name` last held the same bytes.
pub fn read_kept(name: &str, file: Option<&[u8]>) -> Rc<Reading> {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if let Some((bytes, reading)) = kept.readings.get(name) {
            if bytes.as_deref() == file {
                return reading.clone();
            }
        }
        let reading = Rc::new(read(name, file));
        let size = name.len() + file.map_or(0, <[u8]>::len);
        if kept.readings.len() >= KEPT_FILES || kept.bytes + size > KEPT_BYTES {
            kept.readings.clear();
            kept.bytes = 0;
        }
        kept.bytes += size;
        let previous = kept.readings.insert(name.to_string(), (file.map(<[u8]>::to_vec), reading.clone()));
        if let Some((bytes, _)) = previous {
            kept.bytes -= name.len() + bytes.map_or(0, |b| b.len());
        }
        reading
    })
}

/// One thread's readings by name, each with the bytes it was made from.
#[derive(Default)]
struct Kept {
    readings: HashMap<String, (Option<Vec<u8>>, Rc<Reading>)>,
    /// Bytes of names and files the readings stand for.
    bytes: usize,
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

#[cfg(test)]
mod tests {
    use crashsim_store::transcript::{message_line, Header};

    use super::{read, read_kept};

    /// A kept reading is the reading of the same bytes only: a name that changes what it holds,
    /// or becomes a directory, is read anew.
    #[test]
    fn a_kept_reading_is_that_of_the_same_bytes() {
        let registry = br#"{"agent:main:a": {"sessionId": "a1", "sessionFile": "a1.jsonl", "updatedAt": 3}}"#;
        let other = br#"{"agent:main:b": {"sessionId": "b2", "sessionFile": "b2.jsonl", "updatedAt": 3}}"#;
        let cut = &registry[..registry.len() - 1];
        let name = "sessions.json";
        for file in [Some(&registry[..]), Some(&other[..]), Some(cut), None, Some(&registry[..]), Some(&b""[..])] {
            assert_eq!(*read_kept(name, file), read(name, file), "{file:?}");
        }
        let transcript = "t1.jsonl";
        let with = |text: &str| [Header::new("t1", "agent:main:t", 3, None).line(), message_line(text)].concat();
        let (hi, ho) = (with("hi"), with("ho"));
        for file in [Some(&hi[..]), Some(&ho[..]), None, Some(&b""[..]), Some(&hi[..])] {
            assert_eq!(*read_kept(transcript, file), read(transcript, file), "{file:?}");
        }
    }
}
