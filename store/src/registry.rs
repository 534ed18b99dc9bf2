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
