//! Bad input never loses data: recovery on generated registries (random bytes, wrong types, huge
//! strings, deep nesting, near-valid entries) beside generated directory contents never panics,
//! never deletes or empties a transcript, never touches anything outside the sessions dir, always
//! leaves a registry that parses, and leaves nothing for a second recovery to repair.

use std::collections::BTreeMap;
use std::sync::Arc;

use crashsim_sim::{Image, Node, SimFs, SimOptions};
use crashsim_store::layout::{classify, FileKind};
use crashsim_store::registry::parse;
use crashsim_store::transcript::Header;
use crashsim_store::{Repair, Store, StoreOptions};
use pollster::block_on;
use proptest::prelude::*;
use serde_json::{json, Value};

const IDS: &[&str] = &["a1", "b2", "c3", "d4"];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z0-9./:_-]{0,12}".prop_map(Value::from),
        (1usize..200_000).prop_map(|n| Value::from("x".repeat(n))),
    ]
}

fn json_any() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn session_file() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(IDS).prop_map(|id| Value::from(format!("{id}.jsonl"))),
        1 => Just(Value::from("../outside.jsonl")),
        1 => Just(Value::from("/etc/passwd")),
        1 => Just(Value::from("sessions.json")),
        1 => json_leaf(),
    ]
}

fn near_valid_entry() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(IDS),
        session_file(),
        prop_oneof![any::<u32>().prop_map(Value::from), json_leaf()],
        any::<bool>(),
    )
        .prop_map(|(id, file, ts, traj)| {
            let mut entry = json!({"sessionId": id, "sessionFile": file, "updatedAt": ts});
            if traj {
                entry["trajectoryFile"] = Value::from(format!("{id}.trajectory.jsonl"));
            }
            entry
        })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &["main", "agent:main:main", "Main", "x", "agent:main:x", "global", "agent:ops:y", ""][..]
        )
        .prop_map(str::to_string),
        "[A-Za-z:]{0,10}",
    ]
}

fn registry_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        1 => Just(None),
        2 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Some),
        2 => json_any().prop_map(|v| Some(serde_json::to_vec(&v).unwrap())),
        1 => (1usize..2000).prop_map(|d| Some(format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes())),
        1 => (1usize..400).prop_map(|d| Some(format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d)).into_bytes())),
        6 => prop::collection::btree_map(key(), prop_oneof![4 => near_valid_entry(), 1 => json_any()], 0..5)
            .prop_map(|m| Some(serde_json::to_vec(&m).unwrap())),
    ]
}

fn transcript_bytes(id: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (key(), any::<u32>(), 0usize..3, any::<bool>()).prop_map(move |(k, ts, lines, torn)| {
            let mut bytes = Header::new(id, &k, ts as u64, None).line();
            for i in 0..lines {
                bytes.extend(format!("{{\"type\":\"message\",\"text\":\"m{i}\"}}\n").as_bytes());
            }
            if torn {
                bytes.extend(b"{\"type\":\"mes");
            }
            bytes
        }),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn dir_contents() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    let files = IDS.iter().map(|id| {
        (prop::option::of(transcript_bytes(id)), prop::option::of(prop::collection::vec(any::<u8>(), 0..16)))
    });
    let extras = prop::collection::btree_map(
        prop::sample::select(
            &[
                "sessions.json.3.tmp",
                "sessions.json.bak.1",
                "sessions.json.lock",
                "sessions.json.corrupt.1",
                "a1.jsonl.deleted.5",
                "notes.txt",
                "z9.trajectory.jsonl",
            ][..],
        )
        .prop_map(str::to_string),
        prop::collection::vec(any::<u8>(), 0..32),
        0..4,
    );
    (files.collect::<Vec<_>>(), extras).prop_map(|(files, extras)| {
        let mut out = extras;
        for (id, (transcript, trajectory)) in IDS.iter().zip(files) {
            if let Some(bytes) = transcript {
                out.insert(format!("{id}.jsonl"), bytes);
            }
            if let Some(bytes) = trajectory {
                out.insert(format!("{id}.trajectory.jsonl"), bytes);
            }
        }
        out
    })
}

fn image(registry: &Option<Vec<u8>>, files: &BTreeMap<String, Vec<u8>>) -> Image {
    let mut nodes = vec![
        ("outside.jsonl".to_string(), Node::File(Arc::new(b"not ours".to_vec()))),
        ("sessions".to_string(), Node::Dir),
        ("sessions/q5.jsonl".to_string(), Node::Dir),
    ];
    for (name, bytes) in files {
        nodes.push((format!("sessions/{name}"), Node::File(Arc::new(bytes.clone()))));
    }
    if let Some(bytes) = registry {
        nodes.push(("sessions/sessions.json".to_string(), Node::File(Arc::new(bytes.clone()))));
    }
    Image::from_nodes(nodes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn recovery_never_loses_data(registry in registry_bytes(), files in dir_contents()) {
        let before = image(&registry, &files);
        let fs = Arc::new(SimFs::from_image(&before, SimOptions::default()));
        let store = block_on(Store::open(fs.clone(), StoreOptions::default()));
        let store = match store {
            Ok(store) => store,
            Err(e) => return Err(TestCaseError::fail(format!("recovery failed: {e}\n{before}"))),
        };
        let after = fs.volatile_image();

        // Outside the sessions dir nothing changed.
        prop_assert_eq!(after.file("outside.jsonl"), Some(&b"not ours"[..]));
        prop_assert_eq!(after.nodes().filter(|(p, _)| !p.starts_with("sessions")).count(), 1);

        // The registry parses, every entry well formed.
        let bytes = after.file("sessions/sessions.json").expect("a registry exists after recovery");
        let parsed = parse(bytes).map_err(|e| TestCaseError::fail(format!("registry does not parse: {e}")))?;
        prop_assert!(parsed.malformed.is_empty());

        // Every transcript still exists, under its name or an archive name, not emptied, and its
        // contents are a prefix of what they were (a torn last line may be cut).
        for (name, original) in &files {
            if !matches!(classify(name), FileKind::Transcript(_)) {
                continue;
            }
            let survivors: Vec<&[u8]> = after
                .nodes()
                .filter_map(|(p, n)| match n {
                    Node::File(b) => p.strip_prefix("sessions/").filter(|rest| {
                        *rest == name.as_str() || rest.strip_prefix(name.as_str()).is_some_and(|s| s.starts_with('.'))
                    }).map(|_| &b[..]),
                    Node::Dir => None,
                })
                .collect();
            prop_assert!(!survivors.is_empty(), "transcript {} vanished\nbefore:\n{}after:\n{}", name, before, after);
            prop_assert!(
                survivors.iter().any(|s| original.starts_with(s) && (s.len() == original.len() || !s.is_empty())),
                "transcript {} lost data", name
            );
        }

        // A second recovery has nothing left to repair (foreign entries are reported each time).
        drop(store);
        let again = block_on(Store::open(fs.clone(), StoreOptions { seed: 1, ..StoreOptions::default() })).unwrap();
        let repairs: Vec<&Repair> = again.recovery_report().repairs.iter().filter(|r| !matches!(r, Repair::ForeignEntry { .. })).collect();
        prop_assert!(repairs.is_empty(), "second recovery repaired {:?}\nbefore:\n{}after:\n{}", repairs, before, after);
    }
}
