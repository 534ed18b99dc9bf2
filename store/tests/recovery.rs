//! Recovery, one test per kind of debris a crash or an older writer leaves.

use std::sync::Arc;

use crashsim_sim::{Call, Image, Node, SimFs, SimOptions};
use crashsim_store::transcript::{message_line, Header};
use crashsim_store::{OwnerAlive, Repair, Store, StoreError, StoreOptions};
use pollster::block_on;

fn header(id: &str, key: &str, ts: u64) -> Vec<u8> {
    Header::new(id, key, ts, None).line()
}

/// A disk holding `sessions/` with these files.
fn disk(files: &[(&str, Vec<u8>)]) -> Arc<SimFs> {
    let mut nodes = vec![("sessions".to_string(), Node::Dir)];
    for (name, bytes) in files {
        nodes.push((format!("sessions/{name}"), Node::File(Arc::new(bytes.clone()))));
    }
    Arc::new(SimFs::from_image(&Image::from_nodes(nodes), SimOptions::default()))
}

fn entry(id: &str, ts: u64) -> serde_json::Value {
    serde_json::json!({"sessionId": id, "sessionFile": format!("{id}.jsonl"), "updatedAt": ts})
}

fn registry(entries: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> =
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    serde_json::to_vec(&map).unwrap()
}

fn open(fs: &Arc<SimFs>) -> Store<SimFs> {
    block_on(Store::open(fs.clone(), StoreOptions::default())).unwrap()
}

fn file(fs: &SimFs, name: &str) -> Option<Vec<u8>> {
    fs.volatile_image().file(&format!("sessions/{name}")).map(<[u8]>::to_vec)
}

fn names(fs: &SimFs) -> Vec<String> {
    fs.volatile_image().nodes().filter_map(|(p, _)| p.strip_prefix("sessions/").map(str::to_string)).collect()
}

#[test]
fn leftover_temp_file_is_removed() {
    let fs = disk(&[("sessions.json", registry(&[])), ("sessions.json.4.tmp", b"{\"half".to_vec())]);
    let store = open(&fs);
    assert_eq!(store.recovery_report().repairs, vec![Repair::RemovedTemp { name: "sessions.json.4.tmp".into() }]);
    assert_eq!(names(&fs), vec!["sessions.json"]);
}

#[test]
fn orphan_transcript_is_adopted_through_its_header() {
    let mut transcript = Header::new("aa11", "agent:main:x", 42, Some("lbl".into())).line();
    transcript.extend(message_line("kept"));
    let fs = disk(&[
        ("sessions.json", registry(&[])),
        ("aa11.jsonl", transcript),
        ("aa11.trajectory.jsonl", b"{}\n".to_vec()),
    ]);
    let store = open(&fs);
    assert_eq!(
        store.recovery_report().repairs,
        vec![Repair::AdoptedOrphan { file: "aa11.jsonl".into(), key: "agent:main:x".into() }]
    );
    let entry = block_on(store.get("x")).unwrap().unwrap();
    assert_eq!((entry.session_id.as_str(), entry.updated_at, entry.label.as_deref()), ("aa11", 42, Some("lbl")));
    assert_eq!(entry.trajectory_file.as_deref(), Some("aa11.trajectory.jsonl"));
    assert_eq!(block_on(store.history("x")).unwrap(), vec!["kept"]);
}

#[test]
fn orphan_of_a_key_that_has_a_session_is_archived_as_reset() {
    let fs = disk(&[
        ("sessions.json", registry(&[("agent:main:x", entry("aa11", 5))])),
        ("aa11.jsonl", header("aa11", "agent:main:x", 5)),
        ("bb22.jsonl", header("bb22", "agent:main:x", 9)),
        ("bb22.trajectory.jsonl", b"{}\n".to_vec()),
    ]);
    let store = open(&fs);
    let repairs = &store.recovery_report().repairs;
    assert!(
        matches!(&repairs[..], [Repair::ArchivedTrajectory { .. }, Repair::ArchivedOrphan { file, to }]
        if file == "bb22.jsonl" && to.starts_with("bb22.jsonl.reset.")),
        "{repairs:?}"
    );
    assert_eq!(block_on(store.get("x")).unwrap().unwrap().session_id, "aa11");
    assert!(names(&fs).iter().any(|n| n.starts_with("bb22.trajectory.jsonl.reset.")));
}

#[test]
fn orphan_with_a_torn_header_is_archived_never_deleted() {
    let fs = disk(&[("sessions.json", registry(&[])), ("cc33.jsonl", b"{\"type\":\"sess".to_vec())]);
    let store = open(&fs);
    let archived: Vec<String> = names(&fs).into_iter().filter(|n| n.starts_with("cc33.jsonl.torn.")).collect();
    assert_eq!(archived.len(), 1);
    assert_eq!(file(&fs, &archived[0]).unwrap(), b"{\"type\":\"sess");
    assert!(block_on(store.list()).unwrap().is_empty());
}

#[test]
fn dangling_entry_is_dropped_with_its_trajectory_archived() {
    let mut gone = entry("dd44", 3);
    gone["trajectoryFile"] = "dd44.trajectory.jsonl".into();
    let fs = disk(&[
        ("sessions.json", registry(&[("agent:main:gone", gone)])),
        ("dd44.jsonl.deleted.1700000000007", header("dd44", "agent:main:gone", 3)),
        ("dd44.trajectory.jsonl", b"{}\n".to_vec()),
    ]);
    let store = open(&fs);
    assert_eq!(
        store.recovery_report().repairs,
        vec![
            Repair::ArchivedTrajectory {
                file: "dd44.trajectory.jsonl".into(),
                to: "dd44.trajectory.jsonl.deleted.1700000000007".into()
            },
            Repair::DroppedDanglingEntry { key: "agent:main:gone".into(), session_id: "dd44".into() },
        ]
    );
    assert!(block_on(store.list()).unwrap().is_empty());
}

#[test]
fn torn_last_line_is_cut_back_to_the_last_complete_line() {
    let mut bytes = header("ee55", "agent:main:t", 1);
    bytes.extend(message_line("whole"));
    let whole = bytes.len();
    bytes.extend(b"{\"type\":\"message\",\"te");
    let torn = bytes.len();
    let fs = disk(&[("sessions.json", registry(&[("agent:main:t", entry("ee55", 1))])), ("ee55.jsonl", bytes)]);
    let store = open(&fs);
    assert!(store.recovery_report().repairs.contains(&Repair::CutTornLine {
        file: "ee55.jsonl".into(),
        from_len: torn,
        to_len: whole
    }));
    assert_eq!(block_on(store.history("t")).unwrap(), vec!["whole"]);
    assert_eq!(file(&fs, "ee55.jsonl").unwrap().len(), whole);
}

#[test]
fn stale_lock_of_a_dead_owner_is_broken_a_live_one_is_not_waited_on_forever() {
    let fs = disk(&[("sessions.json", registry(&[])), ("sessions.json.lock", b"gateway-7".to_vec())]);
    let store = open(&fs);
    assert_eq!(store.recovery_report().repairs, vec![Repair::BrokeStaleLock { owner: "gateway-7".into() }]);
    assert!(!names(&fs).contains(&"sessions.json.lock".to_string()));

    let fs = disk(&[("sessions.json", registry(&[])), ("sessions.json.lock", b"gateway-7".to_vec())]);
    let alive = OwnerAlive(Arc::new(|owner| owner == "gateway-7"));
    let opts = StoreOptions { owner_alive: alive, lock_attempts: 3, ..StoreOptions::default() };
    let result = block_on(Store::open(fs.clone(), opts));
    assert_eq!(result.err(), Some(StoreError::LockBusy { owner: "gateway-7".into() }));
    assert_eq!(file(&fs, "sessions.json.lock").unwrap(), b"gateway-7", "a live owner's lock is left alone");
}

#[test]
fn unparseable_registry_is_moved_aside_and_rebuilt_from_headers() {
    let fs = disk(&[
        ("sessions.json", b"{\"agent:main:a\": {\"sessionId\": ".to_vec()),
        ("ff66.jsonl", header("ff66", "agent:main:a", 8)),
    ]);
    let store = open(&fs);
    let repairs = &store.recovery_report().repairs;
    assert!(matches!(&repairs[0], Repair::RegistryCorrupt { moved_to, .. } if moved_to == "sessions.json.corrupt.1"));
    assert!(store.recovery_report().to_string().contains("does not parse"));
    assert_eq!(file(&fs, "sessions.json.corrupt.1").unwrap(), b"{\"agent:main:a\": {\"sessionId\": ");
    assert_eq!(block_on(store.get("a")).unwrap().unwrap().session_id, "ff66");
}

#[test]
fn malformed_entries_are_kept_aside_and_the_rest_survives() {
    let original =
        registry(&[("agent:main:ok", entry("ab12", 2)), ("agent:main:bad", serde_json::json!({"sessionId": 7}))]);
    let fs = disk(&[("sessions.json", original.clone()), ("ab12.jsonl", header("ab12", "agent:main:ok", 2))]);
    let store = open(&fs);
    assert!(
        matches!(&store.recovery_report().repairs[..], [Repair::DroppedMalformedEntry { key, .. }] if key == "agent:main:bad")
    );
    assert_eq!(file(&fs, "sessions.json.corrupt.1").unwrap(), original);
    assert_eq!(block_on(store.list()).unwrap().len(), 1);
}

#[test]
fn entry_pointing_outside_the_dir_is_left_untouched_and_reported() {
    let outside = serde_json::json!({"sessionId": "x", "sessionFile": "../../etc/passwd", "updatedAt": 1});
    let absolute = serde_json::json!({"sessionId": "y", "sessionFile": "/etc/passwd", "updatedAt": 1});
    let original = registry(&[("agent:main:evil", outside), ("agent:main:abs", absolute)]);
    let fs = Arc::new(SimFs::from_image(
        &Image::from_nodes([
            ("etc".to_string(), Node::Dir),
            ("etc/passwd".to_string(), Node::File(Arc::new(b"root".to_vec()))),
            ("sessions".to_string(), Node::Dir),
            ("sessions/sessions.json".to_string(), Node::File(Arc::new(original.clone()))),
        ]),
        SimOptions::default(),
    ));
    let store = open(&fs);
    assert_eq!(
        store.recovery_report().repairs,
        vec![
            Repair::ForeignEntry { key: "agent:main:abs".into(), file: "/etc/passwd".into() },
            Repair::ForeignEntry { key: "agent:main:evil".into(), file: "../../etc/passwd".into() },
        ]
    );
    assert_eq!(file(&fs, "sessions.json").unwrap(), original, "the registry is not rewritten");
    assert_eq!(fs.volatile_image().file("etc/passwd"), Some(&b"root"[..]));
    assert!(fs.trace().steps.iter().all(|s| !s.call.to_string().contains("etc")), "never followed:\n{}", fs.trace());
    assert!(matches!(block_on(store.history("evil")), Err(StoreError::InvalidInput(_))));
}

#[test]
fn non_canonical_keys_are_migrated_and_duplicates_merged_by_newest() {
    let fs = disk(&[
        (
            "sessions.json",
            registry(&[
                ("Settings2", entry("a001", 10)),
                ("agent:main:settings2", entry("a002", 20)),
                ("main", entry("a003", 5)),
            ]),
        ),
        ("a001.jsonl", header("a001", "settings2", 10)),
        ("a002.jsonl", header("a002", "agent:main:settings2", 20)),
        ("a003.jsonl", header("a003", "main", 5)),
    ]);
    let store = open(&fs);
    let repairs = &store.recovery_report().repairs;
    assert!(repairs.contains(&Repair::MigratedKey { from: "Settings2".into(), to: "agent:main:settings2".into() }));
    assert!(repairs.contains(&Repair::MigratedKey { from: "main".into(), to: "agent:main:main".into() }));
    assert!(repairs.iter().any(|r| matches!(r, Repair::MergedDuplicate { kept, archived, .. }
        if kept == "a002" && archived.starts_with("a001.jsonl.reset."))));
    let keys: Vec<String> = block_on(store.list()).unwrap().into_keys().collect();
    assert_eq!(keys, vec!["agent:main:main", "agent:main:settings2"]);
    assert_eq!(block_on(store.get("Settings2")).unwrap().unwrap().session_id, "a002");
    assert_eq!(block_on(store.get("main")).unwrap().unwrap().session_id, "a003");
    // A second start has nothing left to do.
    drop(store);
    assert!(open(&fs).recovery_report().is_clean());
}

#[test]
fn missing_sessions_dir_is_created_and_a_file_in_its_place_refused() {
    let fs = Arc::new(SimFs::new(SimOptions::default()));
    let store = open(&fs);
    assert_eq!(store.recovery_report().repairs, vec![Repair::CreatedDir { dir: "sessions".into() }]);
    let fs = Arc::new(SimFs::from_image(
        &Image::from_nodes([("sessions".to_string(), Node::File(Arc::new(b"oops".to_vec())))]),
        SimOptions::default(),
    ));
    let err = block_on(Store::open(fs.clone(), StoreOptions::default())).err().unwrap();
    assert!(err.to_string().contains("is a file"), "{err}");
    assert_eq!(fs.volatile_image().file("sessions"), Some(&b"oops"[..]));
}

/// Recovery opens each transcript for reading once, and still tells a reset's replaced session
/// from an orphan to adopt by the header of the transcript that replaced it, as that header
/// stands after its torn tail is cut.
#[test]
fn each_transcript_is_read_once_and_a_named_reset_keeps_its_replaced_session_out() {
    let mut reset = Header { reset_from: Some("aa11".into()), ..Header::new("bb22", "agent:main:b", 9, None) }.line();
    reset.extend(message_line("kept"));
    reset.extend(b"{\"type\":\"mess");
    let fs = disk(&[
        ("sessions.json", registry(&[("agent:main:b", entry("bb22", 9))])),
        ("aa11.jsonl", header("aa11", "agent:main:a", 5)),
        ("bb22.jsonl", reset),
        ("cc33.jsonl", header("cc33", "agent:main:c", 7)),
    ]);
    let store = open(&fs);
    let repairs = &store.recovery_report().repairs;
    assert!(
        repairs.iter().any(|r| matches!(r, Repair::CutTornLine { file, .. } if file == "bb22.jsonl")),
        "{repairs:?}"
    );
    assert!(
        repairs.iter().any(|r| matches!(r, Repair::ArchivedOrphan { file, .. } if file == "aa11.jsonl")),
        "{repairs:?}"
    );
    assert!(
        repairs.iter().any(|r| matches!(r, Repair::AdoptedOrphan { file, .. } if file == "cc33.jsonl")),
        "{repairs:?}"
    );
    let reads = |name: &str| {
        let path = format!("sessions/{name}");
        let opens = fs
            .trace()
            .steps
            .into_iter()
            .filter(|s| matches!(&s.call, Call::Open { path: p, opts } if *p == path && !opts.write));
        opens.count()
    };
    assert_eq!(["aa11.jsonl", "bb22.jsonl", "cc33.jsonl"].map(reads), [1, 1, 1]);
}
