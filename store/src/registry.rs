//! The registry file `sessions.json`: a JSON object from canonical session key to entry.
//!
//! Fields of an entry that this store does not know are kept as they were (`extra`), so a newer
//! writer's metadata survives a rewrite. Keys are written sorted, so the same registry is always
//! the same bytes.

use std::collections::BTreeMap;

use crashsim_sim::{Fs, OpenOptions};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::fsutil::{rename, sync_dir, write_file};
use crate::layout::{path_in, temp_name, REGISTRY};
use crate::object::Object;
use crate::variant::Variant;

/// One session of the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub session_id: String,
    /// The transcript's file name, relative to the sessions directory.
    pub session_file: String,
    /// Milliseconds of the store's deterministic clock at the last change of this entry.
    pub updated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The trajectory sidecar's file name, while the session has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory_file: Option<String>,
    /// Fields written by other versions, kept untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Key -> entry, in key order.
pub type Registry = BTreeMap<String, Entry>;

/// What parsing a registry file found.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The entries that are well formed.
    pub entries: Registry,
    /// Keys whose value is not a well-formed entry, with why.
    pub malformed: Vec<(String, String)>,
}

/// Parses registry bytes. `Err` when the file is not a JSON object at all.
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    // A registry whose every entry is a well-formed object of known fields, each once, parses
    // straight into entries; anything else takes the entry-by-entry path (the same entries
    // then, and the reasons it tells).
    if let Ok(plain) = serde_json::from_slice::<BTreeMap<String, Object<PlainEntry>>>(bytes) {
        let entries = plain.into_iter().map(|(key, Object(entry))| (key, entry.into())).collect();
        return Ok(Parsed { entries, malformed: Vec::new() });
    }
    parse_each(bytes)
}

/// An [`Entry`] with no field this store does not know.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlainEntry {
    session_id: String,
    session_file: String,
    updated_at: u64,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    trajectory_file: Option<String>,
}

impl From<PlainEntry> for Entry {
    fn from(plain: PlainEntry) -> Self {
        let PlainEntry { session_id, session_file, updated_at, label, trajectory_file } = plain;
        Entry { session_id, session_file, updated_at, label, trajectory_file, extra: BTreeMap::new() }
    }
}

/// [`parse`], each entry on its own: a malformed one is set aside with why.
fn parse_each(bytes: &[u8]) -> Result<Parsed, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(map) = value else {
        return Err("the registry is not a JSON object".to_string());
    };
    let mut parsed = Parsed { entries: Registry::new(), malformed: Vec::new() };
    for (key, value) in map {
        match serde_json::from_value::<Entry>(value) {
            Ok(entry) => {
                parsed.entries.insert(key, entry);
            }
            Err(e) => parsed.malformed.push((key, e.to_string())),
        }
    }
    Ok(parsed)
}

pub fn serialize(registry: &Registry) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(registry).expect("a registry always serializes");
    bytes.push(b'\n');
    bytes
}

/// Replaces the registry atomically: write a temp file, fsync it, rename it over the registry,
/// fsync the directory. `no-temp-fsync` and `no-dir-fsync` leave out their step.
pub async fn replace<F: Fs>(
    fs: &F,
    dir: &str,
    temp_seq: u64,
    registry: &Registry,
    variant: Variant,
) -> StoreResult<()> {
    let temp = path_in(dir, &temp_name(temp_seq));
    write_file(fs, &temp, OpenOptions::create_trunc(), &serialize(registry), variant.fsyncs_temp_before_rename())
        .await?;
    rename(fs, &temp, &path_in(dir, REGISTRY)).await?;
    if variant.fsyncs_dir_after_replace() {
        sync_dir(fs, dir).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_bytes(entries: usize) -> Vec<u8> {
        let registry: Registry = (0..entries)
            .map(|i| {
                let entry = Entry {
                    session_id: format!("s{i}"),
                    session_file: format!("s{i}.jsonl"),
                    updated_at: i as u64,
                    label: (i % 2 == 0).then(|| format!("label \"{i}\"")),
                    trajectory_file: (i % 3 == 0).then(|| format!("s{i}.trajectory.jsonl")),
                    extra: (i % 4 == 0)
                        .then(|| ("origin".to_string(), serde_json::json!({"v": [i, null]})))
                        .into_iter()
                        .collect(),
                };
                (format!("agent:main:{i}"), entry)
            })
            .collect();
        serialize(&registry)
    }

    #[test]
    fn the_whole_registry_and_each_entry_parse_alike() {
        let cases: [&[u8]; 7] = [
            br#"{"a": {"sessionId": "1", "sessionFile": "1.jsonl", "updatedAt": 3}, "a": {"sessionId": "2", "sessionFile": "2.jsonl", "updatedAt": 4}}"#,
            br#"{"a": {"sessionId": "1", "sessionFile": "1.jsonl", "updatedAt": 3}, "b": {"sessionId": 2}}"#,
            br#"{"a": {"sessionId": "1", "sessionId": "2", "sessionFile": "1.jsonl", "updatedAt": 3}}"#,
            br#"{"a": {"sessionId": "1", "sessionFile": "1.jsonl", "updatedAt": 3.5, "x": 1}}"#,
            b"[1, 2]",
            br#"{"a": ["1", "1.jsonl", 3]}"#,
            b"{} trailing",
        ];
        for bytes in cases {
            assert_eq!(parse(bytes), parse_each(bytes), "{}", String::from_utf8_lossy(bytes));
        }
        let whole = registry_bytes(9);
        assert_eq!(parse(&whole).unwrap().entries.len(), 9);
        assert_eq!(parse(&whole), parse_each(&whole));
    }

    proptest::proptest! {
        /// A registry cut short or with a byte changed parses as entry by entry does.
        #[test]
        fn damaged_registries_parse_alike(at in 0usize..2_000, byte in proptest::sample::select(b"\"{}:,0 a\\x".to_vec()), cut: bool) {
            let mut bytes = registry_bytes(7);
            let at = at % bytes.len();
            if cut { bytes.truncate(at) } else { bytes[at] = byte }
            proptest::prop_assert_eq!(parse(&bytes), parse_each(&bytes));
        }
    }
}
