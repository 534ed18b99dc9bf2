//! `check-dir` on real directories (tempfile), in OpenClaw's layout and crashsim's own: what it
//! reports, what `--fix` repairs, that it never deletes, never follows a symlink or a path
//! outside the directory, refuses a malformed registry or a held lock, and that a second fix
//! finds nothing to do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crashsim::check_dir::{check, fix, Acked, FixError, FixOptions, Kind};
use crashsim_sim::RealFs;
use crashsim_store::{Store, StoreOptions};

const NOW: u64 = 1_800_000_000_000;

/// Every file under `dir` (not following symlinks) with its bytes, or its link target, or that it
/// is a directory.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        let content = if meta.file_type().is_symlink() {
            format!("-> {}", std::fs::read_link(entry.path()).unwrap().display()).into_bytes()
        } else if meta.is_dir() {
            b"<directory>".to_vec()
        } else {
            std::fs::read(entry.path()).unwrap()
        };
        out.insert(name, content);
    }
    out
}

fn kinds(dir: &Path) -> Vec<(Kind, String)> {
    check(dir).unwrap().problems.into_iter().map(|p| (p.kind, p.subject)).collect()
}

fn registry(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("sessions.json")).unwrap()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn openclaw_header(id: &str) -> String {
    format!("{{\"type\":\"session\",\"version\":3,\"id\":\"{id}\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"cwd\":\"/home/u\"}}\n")
}

/// An OpenClaw agent's sessions directory with one of each problem, and a file outside it
/// that a symlink and an absolute sessionFile point at.
fn openclaw_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("agents/ops/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let outside = root.path().join("secret.jsonl");
    std::fs::write(&outside, openclaw_header("5ec12e7")).unwrap();
    for id in ["0a1b-main", "2c3d-topic-9", "4e5f-orphan"] {
        write(&dir, &format!("{id}.jsonl"), &openclaw_header(id));
    }
    write(&dir, "2c3d.jsonl", &openclaw_header("2c3d"));
    write(&dir, "4e5f-orphan.trajectory.jsonl", "{}\n");
    write(&dir, "9999-gone.trajectory.jsonl", "{}\n");
    write(&dir, "sessions.json.4242.tmp", "{\"half\":");
    write(&dir, "0a1b-main.jsonl.reset.1700000000000", &openclaw_header("0a1b-main"));
    write(&dir, "sessions.json.bak.1700000000000", "{}");
    std::os::unix::fs::symlink(&outside, dir.join("7777-link.jsonl")).unwrap();
    let abs = |id: &str| dir.join(format!("{id}.jsonl")).display().to_string();
    let registry = format!(
        r#"{{
  "agent:ops:main": {{"sessionId": "0a1b-main", "sessionFile": "{main}", "updatedAt": 10}},
  "agent:ops:telegram:group:1": {{"sessionId": "2c3d", "sessionFile": "{topic}", "updatedAt": 11}},
  "Settings": {{"sessionId": "8888-gone", "updatedAt": 12}},
  "agent:ops:cron": {{"sessionId": "5ec12e7", "sessionFile": "{outside}", "updatedAt": 13}},
  "agent:ops:mixed": {{"sessionId": "0a1b-main", "sessionFile": "2c3d.jsonl", "updatedAt": 14}},
  "MixedCase": {{"sessionId": "0a1b-main", "updatedAt": 15}}
}}
"#,
        main = abs("0a1b-main"),
        topic = abs("2c3d-topic-9"),
        outside = outside.display(),
    );
    write(&dir, "sessions.json", &registry);
    (root, dir, outside)
}

#[test]
fn openclaw_layout_problems_are_reported_in_order() {
    let (_root, dir, _) = openclaw_dir();
    let report = check(&dir).unwrap();
    assert_eq!(report.scan.layout.name(), "openclaw");
    assert_eq!(report.scan.agent.as_deref(), Some("ops"));
    let found: Vec<(Kind, &str)> = report.problems.iter().map(|p| (p.kind, p.subject.as_str())).collect();
    assert_eq!(
        found,
        [
            (Kind::NonCanonicalKey, "Settings"),
            (Kind::NonCanonicalKey, "MixedCase"),
            (Kind::OutsidePath, "agent:ops:cron"),
            (Kind::Symlink, "7777-link.jsonl"),
            (Kind::DanglingEntry, "Settings"),
            (Kind::SessionMismatch, "agent:ops:mixed"),
            (Kind::OrphanTranscript, "4e5f-orphan.jsonl"),
            (Kind::OrphanTrajectory, "9999-gone.trajectory.jsonl"),
            (Kind::TempDebris, "sessions.json.4242.tmp"),
        ]
    );
}

#[test]
fn openclaw_fix_repairs_without_deleting_and_a_second_fix_finds_nothing() {
    let (_root, dir, outside) = openclaw_dir();
    let outside_before = std::fs::read(&outside).unwrap();
    let before = tree(&dir);
    let fixed = fix(&dir, FixOptions { archive_orphans: false, now_ms: NOW }).unwrap();
    assert_eq!(fixed.backup.as_deref(), Some("sessions.json.bak.1800000000000"));
    assert_eq!(fixed.side_file.as_deref(), Some("sessions.removed.1800000000000.json"));
    let after = tree(&dir);
    // Nothing deleted: every file is still there, under its name or its archive name.
    for (name, bytes) in &before {
        let archived = format!("{name}.deleted.{NOW}");
        let kept = after.get(name).or(after.get(&archived));
        if name != "sessions.json" {
            assert_eq!(kept, Some(bytes), "{name} is kept, byte for byte");
        }
    }
    assert_eq!(after["sessions.json.bak.1800000000000"], before["sessions.json"]);
    assert_eq!(std::fs::read(&outside).unwrap(), outside_before, "the file outside is untouched");
    assert!(std::fs::symlink_metadata(dir.join("7777-link.jsonl")).unwrap().file_type().is_symlink());
    let registry = registry(&dir);
    // The orphan adopted under the agent's key, with its absolute path as OpenClaw writes it.
    let adopted = &registry["agent:ops:recovered-4e5f-orphan"];
    assert_eq!(adopted["sessionId"], "4e5f-orphan");
    let canonical = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(adopted["sessionFile"], canonical.join("4e5f-orphan.jsonl").display().to_string());
    // Non-canonical keys migrated; the dangling one moved to the side file with its reason.
    assert_eq!(registry["agent:main:mixedcase"]["sessionId"], "0a1b-main");
    assert!(registry.get("Settings").is_none() && registry.get("agent:main:settings").is_none());
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sessions.removed.1800000000000.json")).unwrap()).unwrap();
    assert_eq!(side["entries"][0]["key"], "Settings");
    assert_eq!(side["entries"][0]["problem"], "dangling-entry");
    assert_eq!(side["entries"][0]["entry"]["sessionId"], "8888-gone");
    // What is left is what only a person can decide.
    let left: Vec<Kind> = kinds(&dir).into_iter().map(|(k, _)| k).collect();
    assert_eq!(left, [Kind::OutsidePath, Kind::Symlink, Kind::SessionMismatch]);
    assert_eq!(fixed.left(), 3);
    // A second fix finds nothing to do and changes nothing.
    let settled = tree(&dir);
    let again = fix(&dir, FixOptions { archive_orphans: false, now_ms: NOW + 1 }).unwrap();
    assert!(again.outcomes.iter().all(|o| o.is_err()), "{:?}", again.outcomes);
    assert_eq!((again.backup, again.side_file), (None, None));
    assert_eq!(tree(&dir), settled);
}

#[test]
fn crashsim_layout_orphans_are_adopted_under_their_header_key_or_archived() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // A real directory written by the reference store: clean.
    pollster::block_on(async {
        let fs = Arc::new(RealFs::new(dir).unwrap());
        let store = Store::open(fs, StoreOptions { dir: String::new(), ..StoreOptions::default() }).await.unwrap();
        store.create_labeled("a", Some("first")).await.unwrap();
        let b = store.create("b").await.unwrap();
        store.append("b", "hello").await.unwrap();
        store.reset("a").await.unwrap();
        store.shutdown().await.unwrap();
        b
    });
    let report = check(dir).unwrap();
    assert_eq!(report.scan.layout.name(), "crashsim");
    assert!(report.problems.is_empty(), "the reference store leaves a clean directory: {:?}", report.problems);
    // Lose b's entry, as unregistered-create does.
    let mut value = registry(dir);
    let b = value["agent:main:b"]["sessionId"].as_str().unwrap().to_string();
    value.as_object_mut().unwrap().remove("agent:main:b");
    std::fs::write(dir.join("sessions.json"), serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    assert_eq!(kinds(dir), [(Kind::OrphanTranscript, format!("{b}.jsonl"))]);

    let copy = tempfile::tempdir().unwrap();
    for (name, bytes) in tree(dir) {
        std::fs::write(copy.path().join(name), bytes).unwrap();
    }
    let fixed = fix(dir, FixOptions { archive_orphans: false, now_ms: NOW }).unwrap();
    assert_eq!(fixed.left(), 0);
    let entry = &registry(dir)["agent:main:b"];
    assert_eq!(entry["sessionId"], b.as_str());
    assert_eq!(entry["sessionFile"], format!("{b}.jsonl"));
    assert_eq!(entry["trajectoryFile"], format!("{b}.trajectory.jsonl"));
    assert!(kinds(dir).is_empty());

    let copy = copy.path();
    let fixed = fix(copy, FixOptions { archive_orphans: true, now_ms: NOW }).unwrap();
    assert_eq!(fixed.left(), 0);
    let names = tree(copy);
    assert!(names.contains_key(&format!("{b}.jsonl.deleted.{NOW}")));
    assert!(names.contains_key(&format!("{b}.trajectory.jsonl.deleted.{NOW}")), "the trajectory goes along");
    assert!(registry(copy).get("agent:main:b").is_none());
    assert!(kinds(copy).is_empty());
}

#[test]
fn duplicate_keys_keep_what_readers_keep_and_save_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for id in ["aa", "bb", "cc"] {
        write(dir, &format!("{id}.jsonl"), &openclaw_header(id));
    }
    write(
        dir,
        "sessions.json",
        r#"{"agent:main:x": {"sessionId": "aa", "updatedAt": 1},
            "agent:main:x": {"sessionId": "bb", "updatedAt": 2},
            "main": {"sessionId": "cc", "updatedAt": 9},
            "agent:main:main": {"sessionId": "aa", "updatedAt": 3}}"#,
    );
    let found = kinds(dir);
    let expected = [
        (Kind::DuplicateKey, "agent:main:x"),
        (Kind::DuplicateKey, "agent:main:main"),
        (Kind::NonCanonicalKey, "main"),
        (Kind::OrphanTranscript, "aa.jsonl"),
    ];
    assert_eq!(found, expected.map(|(k, s)| (k, s.to_string())));
    fix(dir, FixOptions { archive_orphans: false, now_ms: NOW }).unwrap();
    let value = registry(dir);
    assert_eq!(value["agent:main:x"]["sessionId"], "bb", "the last of a key written twice, as JSON.parse keeps");
    assert_eq!(value["agent:main:main"]["sessionId"], "cc", "the newest of one canonical key");
    assert_eq!(value["agent:main:recovered-aa"]["sessionId"], "aa", "left without an entry, adopted");
    assert_eq!(value.as_object().unwrap().len(), 3);
    assert!(kinds(dir).is_empty());
}

#[test]
fn a_malformed_registry_or_a_held_lock_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(dir, "aa.jsonl", &openclaw_header("aa"));
    write(dir, "sessions.json", "{\"agent:main:a\": {\"sessionId\": \"aa\",");
    assert_eq!(kinds(dir)[0].0, Kind::MalformedRegistry);
    let before = tree(dir);
    assert!(matches!(fix(dir, FixOptions { archive_orphans: false, now_ms: NOW }), Err(FixError::Refused { .. })));
    assert_eq!(tree(dir), before, "nothing touched");

    write(dir, "sessions.json", "{}");
    write(dir, "sessions.json.lock", "client-7");
    let before = tree(dir);
    match fix(dir, FixOptions { archive_orphans: false, now_ms: NOW }) {
        Err(FixError::Refused { why, .. }) => assert!(why.contains("sessions.json.lock"), "{why}"),
        other => panic!("a held lock refuses the fix: {other:?}"),
    }
    assert_eq!(tree(dir), before, "nothing touched");
}

#[test]
fn the_command_line_exits_0_clean_1_problems_2_unreadable() {
    let exe = env!("CARGO_BIN_EXE_crashsim");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(exe).arg("check-dir").args(args).output().unwrap();
    let path = dir.path().to_str().unwrap();
    let clean = run(&[path]);
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stdout));
    write(dir.path(), "aa.jsonl", &openclaw_header("aa"));
    let out = run(&[path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((value["command"].as_str(), value["ok"].as_bool()), (Some("check-dir"), Some(false)));
    assert_eq!(value["problems"][0]["kind"], "orphan-transcript");
    let fixed = run(&[path, "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", String::from_utf8_lossy(&fixed.stdout));
    assert_eq!(run(&[path]).status.code(), Some(0));
    let missing = run(&[&format!("{path}/nope")]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"));
    assert_eq!(run(&[path, "--archive-orphans"]).status.code(), Some(2), "--archive-orphans needs --fix");
}

/// What is no file OpenClaw writes: a directory by a transcript's name is an orphan with no
/// header (it used to stop the check with a panic); a name that is not UTF-8 stops the check
/// with an error naming it, and changes nothing (it used to be read under a lossy name that
/// does not exist).
#[test]
fn a_directory_named_as_a_transcript_is_reported_and_a_name_not_utf8_is_refused_by_name() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub.jsonl")).unwrap();
    let report = check(dir.path()).unwrap();
    let orphan = report.problems.iter().find(|p| p.subject == "sub.jsonl").expect("reported");
    assert_eq!(orphan.kind, Kind::OrphanTranscript);
    assert!(orphan.detail.contains("not a regular file"), "{}", orphan.detail);
    let strange = std::ffi::OsStr::from_bytes(b"bad\xffname.jsonl");
    std::fs::write(dir.path().join(strange), "{}\n").unwrap();
    let before = tree(dir.path());
    let error = check(dir.path()).map(|_| ()).expect_err("refused");
    assert!(error.to_string().contains(r#""bad\xFFname.jsonl" is not UTF-8"#), "{error}");
    let exe = env!("CARGO_BIN_EXE_crashsim");
    let out = Command::new(exe).arg("check-dir").arg(dir.path()).arg("--fix").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
    assert_eq!(tree(dir.path()), before, "nothing changed");
}

/// A fifo in the registry's place (or a backup's, the lock's, a transcript's) is reported
/// without being read: reading one waited for a writer forever.
#[test]
fn a_fifo_is_reported_not_read() {
    for name in ["sessions.json", "sessions.json.bak.1", "sessions.json.lock", "x.jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join(name), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let path = dir.path().to_path_buf();
        // A watchdog, so that a regression fails here instead of hanging the suite.
        let (done, checked) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            done.send(check(&path).map(|r| r.problems.iter().map(|p| p.kind).collect::<Vec<_>>()))
        });
        let kinds = checked.recv_timeout(std::time::Duration::from_secs(60)).expect("the check returns");
        let kinds = kinds.unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: &[Kind] = match name {
            "sessions.json" => &[Kind::MalformedRegistry],
            "sessions.json.bak.1" => &[],
            "sessions.json.lock" => &[Kind::LockDebris],
            _ => &[Kind::OrphanTranscript],
        };
        assert_eq!(kinds, expected, "{name}");
    }
}

/// The crash image OpenClaw 2026.4.22 itself leaves (issue #68229), kept by
/// `crashsim trace --keep` from `field/openclaw/driver.mjs` after its first session was
/// acknowledged: the registry rotated away to `sessions.json.bak.<ms>` and the new one not yet
/// written, the second session's transcript written, and the dead writer's lock.
fn openclaw_68229() -> tempfile::TempDir {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check_dir/openclaw-2026.4.22-68229");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// The lock's mtime: a fix dates its staleness from it.
fn lock_mtime_ms(dir: &Path) -> u64 {
    let modified = std::fs::metadata(dir.join("sessions.json.lock")).unwrap().modified().unwrap();
    modified.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn the_68229_crash_image_of_the_real_release_is_restored_under_its_original_keys() {
    let dir = openclaw_68229();
    let dir = dir.path();
    let stale = lock_mtime_ms(dir) + 60_000;
    let report = crashsim::check_dir::check_at(dir, stale).unwrap();
    let found: Vec<(Kind, &str)> = report.problems.iter().map(|p| (p.kind, p.subject.as_str())).collect();
    assert_eq!(
        found,
        [
            (Kind::LostRegistry, "sessions.json"),
            (Kind::OrphanTranscript, "s1.jsonl"),
            (Kind::StaleLock, "sessions.json.lock")
        ],
        "the backup names s0, so only s1 is an orphan; the dead writer's lock is stale"
    );
    assert!(report.problems[0].detail.contains("sessions.json.bak.1796569809476"), "{:?}", report.problems[0]);
    // Not yet stale: the same dead owner's lock only 10 s old still stops a fix.
    let fresh = crashsim::check_dir::check_at(dir, lock_mtime_ms(dir) + 10_000).unwrap();
    assert!(fresh.problems.iter().any(|p| p.kind == Kind::LockDebris), "{:?}", fresh.problems);

    let backup_before = std::fs::read(dir.join("sessions.json.bak.1796569809476")).unwrap();
    let fixed = fix(dir, FixOptions { archive_orphans: false, now_ms: stale }).unwrap();
    assert_eq!(fixed.left(), 0, "{:?}", fixed.outcomes);
    let registry = registry(dir);
    assert_eq!(
        registry["agent:main:k0"]["sessionId"], "s0",
        "the acknowledged session under its original key: {registry}"
    );
    let adopted: Vec<&String> = registry.as_object().unwrap().keys().filter(|k| k.contains("recovered")).collect();
    assert_eq!(adopted, ["agent:main:recovered-s1"], "only what no backup names is adopted: {registry}");
    let names: Vec<String> = tree(dir).into_keys().collect();
    assert!(
        names.contains(&format!("sessions.json.lock.deleted.{stale}")),
        "the stale lock is kept, renamed: {names:?}"
    );
    assert!(!names.contains(&"sessions.json.lock".to_string()), "and the fix's own lock is gone: {names:?}");
    assert_eq!(std::fs::read(dir.join("sessions.json.bak.1796569809476")).unwrap(), backup_before, "nothing deleted");
    assert!(check(dir).unwrap().problems.is_empty(), "a second check finds nothing");
}

#[test]
fn an_empty_registry_beside_a_backup_is_restored_and_a_live_lock_still_stops_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(dir, "aa.jsonl", &openclaw_header("aa"));
    write(dir, "sessions.json", "");
    write(dir, "sessions.json.bak.100", "{\"agent:main:old\": {\"sessionId\": \"zz\"}}");
    write(dir, "sessions.json.bak.200", "{\"agent:main:a\": {\"sessionId\": \"aa\", \"updatedAt\": 5}}");
    write(dir, "sessions.json.bak.300", "{\"agent:main:a\": {\"sessio");
    // A lock held by this very process: alive, whatever its age.
    write(dir, "sessions.json.lock", &format!("{{\"pid\": {}}}", std::process::id()));
    let late = lock_mtime_ms(dir) + 3_600_000;
    let report = crashsim::check_dir::check_at(dir, late).unwrap();
    let lost = &report.problems[0];
    assert_eq!(lost.kind, Kind::LostRegistry);
    assert!(lost.detail.contains("unreadable") && lost.detail.contains("sessions.json.bak.200"), "{lost:?}");
    assert!(report.problems.iter().any(|p| p.kind == Kind::LockDebris && p.detail.contains("which runs")));
    let before = tree(dir);
    assert!(matches!(fix(dir, FixOptions { archive_orphans: false, now_ms: late }), Err(FixError::Refused { .. })));
    assert_eq!(tree(dir), before, "nothing touched while the writer runs");

    std::fs::remove_file(dir.join("sessions.json.lock")).unwrap();
    let fixed = fix(dir, FixOptions { archive_orphans: false, now_ms: NOW }).unwrap();
    assert_eq!(fixed.left(), 0, "{:?}", fixed.outcomes);
    assert_eq!(registry(dir)["agent:main:a"]["sessionId"], "aa", "the newest backup that parses");
    assert_eq!(std::fs::read(dir.join(format!("sessions.json.bak.{NOW}"))).unwrap(), b"", "the empty file kept");
    assert!(check(dir).unwrap().problems.is_empty());

    // A symlinked registry is never followed, nor replaced by a backup: left to a person.
    std::fs::remove_file(dir.join("sessions.json")).unwrap();
    std::os::unix::fs::symlink("sessions.json.bak.200", dir.join("sessions.json")).unwrap();
    assert_eq!(kinds(dir)[0].0, Kind::MalformedRegistry);
    assert!(matches!(fix(dir, FixOptions { archive_orphans: false, now_ms: NOW + 1 }), Err(FixError::Refused { .. })));
}

/// As a trace checker: an acknowledged session must be registered; the debris a crash leaves
/// (the lock, a temp file, the transcript of a session never acknowledged) does not fail the
/// image, but the transcript of an acknowledged session without its entry does.
#[test]
fn as_a_crash_image_checker_only_what_was_acknowledged_and_lost_fails() {
    let exe = env!("CARGO_BIN_EXE_crashsim");
    let run = |dir: &Path, acks: &str| {
        let file = dir.join("stdout.txt");
        std::fs::write(&file, acks).unwrap();
        let out = Command::new(exe)
            .args([
                "check-dir",
                dir.to_str().unwrap(),
                "--crash-image",
                "--acknowledged",
                file.to_str().unwrap(),
                "--json",
            ])
            .output()
            .unwrap();
        std::fs::remove_file(&file).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), value)
    };
    // The real release's #68229 image: its acknowledged session is gone from the registry.
    let image = openclaw_68229();
    let (code, value) = run(image.path(), "ack agent:main:k0 s0\nsomething else\n");
    assert_eq!(code, Some(1), "{value}");
    let lost: Vec<&serde_json::Value> =
        value["problems"].as_array().unwrap().iter().filter(|p| p["expected_after_crash"] == false).collect();
    let kinds: Vec<&str> = lost.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["lost-registry", "lost-acknowledged"], "{value}");
    // Debris only: the acknowledged session registered, a create in flight, a lock, a temp file.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "aa.jsonl", &openclaw_header("aa"));
    write(d, "bb.jsonl", &openclaw_header("bb"));
    write(d, "sessions.json", "{\"agent:main:a\": {\"sessionId\": \"aa\"}}");
    write(d, "sessions.json.lock", "{\"pid\": 1}");
    write(d, "sessions.json.7.tmp", "{");
    let (code, value) = run(d, "ack agent:main:a aa\n");
    assert_eq!(code, Some(0), "{value}");
    assert_eq!(value["ok"], true);
    assert_eq!(value["problems"].as_array().unwrap().len(), 3, "still reported: {value}");
    // The same orphan, acknowledged: lost.
    let (code, value) = run(d, "ack agent:main:a aa\nack agent:main:b bb\n");
    assert_eq!(code, Some(1), "{value}");
    let parsed = crashsim::check_dir::Acknowledged::parse("ack k1 s1\nack k2\nnot ack\nbegin reset k1\n");
    let last: Vec<_> = parsed.keys.iter().map(|(k, s)| (k.as_str(), s.last.clone(), s.in_flight.as_deref())).collect();
    assert_eq!(
        last,
        [
            ("k1", Some(Acked::Registered(Some("s1".into()))), Some("reset")),
            ("k2", Some(Acked::Registered(None)), None)
        ]
    );
}

/// The acknowledgement language over operations: a reset, a delete and an append must be
/// whole once acknowledged; while one is in flight (begun, not acknowledged) either side of it,
/// and its half-done states, pass; an append in flight excuses nothing. A crash image's
/// absolute sessionFile into the directory it was taken of names the file here.
#[test]
fn acknowledged_operations_are_whole_and_operations_in_flight_may_be_half_done() {
    use crashsim::check_dir::{check_acknowledged, expected_after_crash, Acknowledged};
    let failing = |dir: &Path, acks: &str, image_of: Option<&Path>| -> Vec<(Kind, String)> {
        let acknowledged = Acknowledged::parse(acks);
        let report = check_acknowledged(dir, NOW, &acknowledged, image_of).unwrap();
        report
            .problems
            .iter()
            .filter(|p| !expected_after_crash(p, &acknowledged))
            .map(|p| (p.kind, p.subject.clone()))
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A reset half done: the entry names the new session, whose transcript is not written yet,
    // and the old transcript is not archived yet.
    write(d, "sessions.json", "{\"agent:main:a\": {\"sessionId\": \"new\"}}");
    write(d, "old.jsonl", &openclaw_header("old"));
    let created = "begin create agent:main:a\nack agent:main:a old\n";
    assert_eq!(failing(d, &format!("{created}begin reset agent:main:a\n"), None), []);
    // Acknowledged, the same image lost the reset's new transcript and left the old one.
    let reset = format!("{created}begin reset agent:main:a\nack agent:main:a new\n");
    assert_eq!(
        failing(d, &reset, None),
        [(Kind::DanglingEntry, "agent:main:a".to_string()), (Kind::OrphanTranscript, "old.jsonl".to_string())]
    );
    // A registry still naming the old session after the reset was acknowledged: the reset is lost.
    write(d, "sessions.json", "{\"agent:main:a\": {\"sessionId\": \"old\"}}");
    assert_eq!(failing(d, &reset, None), [(Kind::LostAcknowledged, "agent:main:a".to_string())]);
    // A delete: while in flight the key may stay; acknowledged, it must be gone.
    let delete = format!("{created}begin delete agent:main:a\n");
    assert_eq!(failing(d, &delete, None), []);
    assert_eq!(
        failing(d, &format!("{delete}ack-delete agent:main:a\n"), None),
        [(Kind::LostAcknowledged, "agent:main:a".to_string())]
    );
    // An acknowledged message must be in a transcript or an archive of one.
    let line = format!("{created}begin append agent:main:a\nack-line old hello-1\n");
    assert_eq!(failing(d, &line, None), [(Kind::LostAcknowledged, "old".to_string())]);
    write(d, "old.jsonl.reset.2026-01-01T00-00-00.000Z", "{\"text\":\"hello-1\"}\n");
    assert_eq!(failing(d, &line, None), []);
    // An append in flight changes no key: losing the key still fails.
    write(d, "sessions.json", "{}");
    assert_eq!(
        failing(d, &format!("{created}begin append agent:main:a\n"), None),
        [(Kind::LostAcknowledged, "agent:main:a".to_string()), (Kind::OrphanTranscript, "old.jsonl".to_string())]
    );
    // An absolute sessionFile into the directory the image was taken of.
    write(d, "sessions.json", "{\"agent:main:a\": {\"sessionId\": \"old\", \"sessionFile\": \"/run/x/old.jsonl\"}}");
    assert_eq!(failing(d, created, Some(Path::new("/run/x"))), []);
    assert_eq!(failing(d, created, None)[0].0, Kind::OutsidePath);
}
