//! Trace mode end to end: real programs run under strace, replayed on the simulated disk and
//! checked in every crash image. These tests need strace (and python3; sqlite3 for one). Where
//! a tool cannot run they say so and pass, unless CRASHSIM_TRACE_TOOLS=required: `.ci/run`
//! installs the tools, checks they run, and then requires these tests to run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crashsim::strace::check::CheckOptions;
use crashsim::strace::replay::Reason;
use crashsim::strace::{report, trace, TraceRun};
use crashsim_sim::Model;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace")
}

/// Whether `tools` can run here (strace must also be allowed to trace); where CI found they
/// do, they must.
fn have(tools: &[&str]) -> bool {
    for tool in tools {
        let probe = match *tool {
            "strace" => Command::new("strace").args(["-f", "-o", "/dev/null", "true"]).output(),
            "sqlite3" => Command::new("sqlite3").arg("-version").output(),
            other => Command::new(other).arg("--version").output(),
        };
        if !probe.map(|o| o.status.success()).unwrap_or(false) {
            let why = format!("{tool} is missing here (or cannot run); .ci/run installs it");
            let required = std::env::var("CRASHSIM_TRACE_TOOLS").is_ok_and(|v| v == "required");
            assert!(!required, "CRASHSIM_TRACE_TOOLS=required, yet {why}");
            eprintln!("skipped: {why}");
            return false;
        }
    }
    true
}

/// A data directory holding an empty registry, and a fixture run on it with the registry checker.
fn run_fixture(fixture: &str) -> TraceRun {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("registry.json"), b"{}").unwrap();
    let checker = format!("python3 {}", fixtures().join("check_registry.py").display());
    let program =
        ["python3".to_string(), fixtures().join(fixture).display().to_string(), dir.path().display().to_string()];
    let run = trace(&program, dir.path(), "strace", false, &CheckOptions::new(&checker)).unwrap();
    assert!(run.replay_matches(), "{fixture}: the replay ends where the program did: {:?}", run.replay_differences());
    assert_eq!(run.replay.concerns(), 0, "{fixture}: every call inside DIR was understood\n{}", report::text(&run));
    run
}

fn failing(run: &TraceRun, model: Model) -> usize {
    run.results.iter().find(|r| r.model == model).unwrap().failures.len()
}

#[test]
fn a_registry_renamed_away_before_its_successor_is_written_fails_even_under_kill_9() {
    if !have(&["strace", "python3"]) {
        return;
    }
    let run = run_fixture("rename_away.py");
    for model in Model::ALL {
        assert!(failing(&run, model) > 0, "{model:?}\n{}", report::text(&run));
    }
    // The first failing point under process is right after the rename away.
    let first = &run.results[0].failures[0];
    let call = run.replay.points[first.point].after.unwrap();
    assert!(run.replay.calls[call].text.starts_with("rename("), "{}", run.replay.calls[call].text);
    assert!(first.verdict.output.contains("registry.json is missing"), "{}", first.verdict.output);
}

#[test]
fn a_backup_copy_then_a_synced_temp_renamed_over_passes_every_model() {
    if !have(&["strace", "python3"]) {
        return;
    }
    let run = run_fixture("copy_then_replace.py");
    assert!(run.passed(), "{}", report::text(&run));
    assert!(run.results.iter().all(|r| r.points > 10 && r.distinct > 10), "the run checked a real number of states");
}

#[test]
fn an_unsynced_temp_renamed_over_the_registry_fails_under_posix_only() {
    if !have(&["strace", "python3"]) {
        return;
    }
    let run = run_fixture("unsynced_temp.py");
    assert_eq!(failing(&run, Model::Process), 0, "{}", report::text(&run));
    assert_eq!(failing(&run, Model::Ordered), 0, "{}", report::text(&run));
    assert!(failing(&run, Model::Posix) > 0, "{}", report::text(&run));
    let first = &run.results[2].failures[0];
    assert!(!first.survivors.is_empty(), "the failing image names the pending events that reached the disk");
    assert!(report::text(&run).contains("survived: "), "the report says what survived");
}

/// sqlite3's shell in rollback-journal mode (its default): the journal's unlink is the commit,
/// and at `synchronous=FULL` (the default) no directory fsync follows it. The database is intact
/// in every image (atomicity holds), but a crash after the shell printed the transaction's result
/// can roll the transaction back (durability) wherever unsynced directory entries may be lost.
/// `synchronous=EXTRA`, which SQLite documents as syncing the directory after that unlink, passes.
#[test]
fn sqlite3_rollback_mode_keeps_atomicity_and_loses_a_reported_commit_unless_synchronous_is_extra() {
    if !have(&["strace", "sqlite3"]) {
        return;
    }
    let checker = r#"integrity=$(sqlite3 db.sqlite 'PRAGMA integrity_check;' 2>&1); rows=$(sqlite3 db.sqlite 'SELECT count(*) FROM t;' 2>&1)
echo "integrity: $integrity, rows: $rows"
test "$integrity" = ok || exit 1
if grep -q done "$CRASHSIM_STDOUT"; then test "$rows" = 1 || exit 1; fi"#;
    let insert = |pragma: &str| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let made = Command::new("sqlite3").arg(&db).arg("CREATE TABLE t(x);").status().unwrap();
        assert!(made.success());
        let sql = format!("{pragma} INSERT INTO t VALUES(1); SELECT 'done';");
        let program: Vec<String> = vec!["sqlite3".into(), db.display().to_string(), sql];
        let run = trace(&program, dir.path(), "strace", false, &CheckOptions::new(checker)).unwrap();
        assert!(run.replay_matches(), "{:?}", run.replay_differences());
        assert_eq!(run.replay.concerns(), 0, "{}", report::text(&run));
        run
    };
    let default = insert("");
    assert_eq!(failing(&default, Model::Process), 0, "{}", report::text(&default));
    for model in [Model::Ordered, Model::Posix] {
        let result = default.results.iter().find(|r| r.model == model).unwrap();
        assert!(!result.failures.is_empty(), "{model:?}\n{}", report::text(&default));
        for failure in &result.failures {
            assert!(failure.verdict.output.contains("integrity: ok, rows: 0"), "{}", failure.verdict.output);
            assert!(failure.files.iter().any(|(path, _)| path == "db.sqlite-journal"), "the hot journal survived");
        }
    }
    let extra = insert("PRAGMA synchronous=EXTRA;");
    assert!(extra.passed(), "{}", report::text(&extra));
}

/// The differential test: a program using every replayed kind of call (descriptors shared by
/// dup and fork, offsets, appends, links, fallocate, copies, a rename out of DIR, a thread)
/// leaves on the real disk exactly the tree its replay ends with.
#[test]
fn the_replay_ends_with_the_tree_the_program_left_on_the_real_disk() {
    if !have(&["strace", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let program = [
        "python3".to_string(),
        fixtures().join("many_calls.py").display().to_string(),
        dir.path().display().to_string(),
        outside.path().display().to_string(),
    ];
    let options = CheckOptions { models: vec![Model::Process], ..CheckOptions::new("true") };
    let run = trace(&program, dir.path(), "strace", false, &options).unwrap();
    assert_eq!(run.exit, "exit 0");
    assert_eq!(run.replay_differences(), Vec::<String>::new());
    assert!(run.real_after.file("log").is_some_and(|log| log.starts_with(b"one\ntwo\n")));
    for call in [
        "writev(",
        "pwrite64(",
        "F_DUPFD",
        "link(",
        "fallocate(",
        "truncate(",
        "ftruncate(",
        "copy_file_range(",
        "sendfile(",
        "rmdir(",
        "sync(",
    ] {
        assert!(run.replay.calls.iter().any(|c| c.text.contains(call)), "{call} was replayed");
    }
    let pids: std::collections::BTreeSet<u32> = run.replay.calls.iter().map(|c| c.pid).collect();
    assert!(pids.len() >= 3, "the parent, the forked child and the thread each replayed a call: {pids:?}");
    assert_eq!(run.replay.concerns(), 0, "{}", report::text(&run));
}

#[test]
fn calls_inside_dir_that_cannot_be_simulated_are_reported_not_ignored() {
    if !have(&["strace", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = "import os, sys\nd = sys.argv[1]\nopen(os.path.join(d, 'f'), 'w').close()\n\
                  os.chmod(os.path.join(d, 'f'), 0o600)\n\
                  t = os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o600)\nos.write(t, b'unnamed')\nos.close(t)\n";
    let program = ["python3", "-c", script, dir.path().to_str().unwrap()].map(String::from).to_vec();
    let options = CheckOptions { models: vec![Model::Process], ..CheckOptions::new("true") };
    let run = trace(&program, dir.path(), "strace", false, &options).unwrap();
    let reasons: Vec<(Reason, &str)> = run.replay.skipped.keys().map(|(r, n)| (*r, n.as_str())).collect();
    assert!(reasons.contains(&(Reason::Metadata, "chmod")), "{reasons:?}");
    assert!(reasons.contains(&(Reason::Unsupported, "openat")), "O_TMPFILE: {reasons:?}");
    assert!(run.replay.concerns() >= 2, "the O_TMPFILE open and its write");
    let text = report::text(&run);
    assert!(text.contains("O_TMPFILE") && text.contains("cannot be simulated"), "{text}");
    let json = report::json(&run);
    assert!(json["not_simulated"].as_array().unwrap().iter().any(|s| s["concern"] == true));
}

#[test]
fn a_checker_that_hangs_is_killed_and_counted_as_a_failure() {
    if !have(&["strace"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = ["sh", "-c", "echo x > \"$1/f\"", "sh", dir.path().to_str().unwrap()].map(String::from).to_vec();
    let options = CheckOptions {
        models: vec![Model::Process],
        timeout: Duration::from_millis(300),
        ..CheckOptions::new("test -f f && sleep 30; true")
    };
    let run = trace(&program, dir.path(), "strace", false, &options).unwrap();
    let failures = &run.results[0].failures;
    assert!(!failures.is_empty(), "{}", report::text(&run));
    assert!(failures.iter().all(|f| f.verdict.status.starts_with("timed out")), "{failures:?}");
    // Before the program ran there was no f: the checker passed there.
    assert!(failures.iter().all(|f| run.replay.points[f.point].after.is_some()));
}

fn crashsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crashsim")).args(args).output().unwrap()
}

#[test]
fn the_command_line_exits_1_on_a_failing_image_with_json_and_2_when_it_cannot_trace() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let missing =
        crashsim(&["trace", "--dir", d, "--checker", "true", "--strace", "/nonexistent/strace", "--", "true"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("strace not found"));
    let no_dir = crashsim(&["trace", "--dir", "/nonexistent/dir", "--checker", "true", "--", "true"]);
    assert_eq!(no_dir.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_dir.stderr).contains("no such directory"));
    let no_program = crashsim(&["trace", "--dir", d, "--checker", "true"]);
    assert_eq!(no_program.status.code(), Some(2));
    let unknown = crashsim(&["trace", "--dir", d, "--checker", "true", "--", "no-such-program-here"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no-such-program-here: no such program"));
    if !have(&["strace", "python3"]) {
        return;
    }
    std::fs::write(dir.path().join("registry.json"), b"{}").unwrap();
    let checker = format!("python3 {}", fixtures().join("check_registry.py").display());
    let fixture = fixtures().join("rename_away.py");
    let out = crashsim(&[
        "trace",
        "--dir",
        d,
        "--checker",
        &checker,
        "--model",
        "process",
        "--no-stacks",
        "--json",
        "--",
        "python3",
        fixture.to_str().unwrap(),
        d,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    let failure = &json["results"][0]["failures"][0];
    assert!(failure["call"].as_str().unwrap().starts_with("rename("), "{failure}");
    assert_eq!(failure["checker_status"], "exit 1");
    // Renaming the registry away is the program's own window: atomicity, with no fsync fix.
    let vulnerability = &json["vulnerabilities"][0];
    assert_eq!(vulnerability["kind"], "atomicity", "{json}");
    assert_eq!(vulnerability["verified"], false, "{vulnerability}");
    assert!(failure["diagnosis"].as_str().unwrap().contains("no fsync fixes it"), "{failure}");
}

/// A recording saved with `--save` is re-checked exactly: the analysis of a run depends on its
/// recording alone, byte for byte, whatever ran it, and `--from` reports what the live run did.
#[test]
fn a_saved_recording_is_rechecked_exactly_without_running_the_program() {
    use crashsim::strace::analyze;
    use crashsim::strace::recording::Recording;
    if !have(&["strace", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("registry.json"), b"{}").unwrap();
    let program = [
        "python3".to_string(),
        fixtures().join("unsynced_temp.py").display().to_string(),
        dir.path().display().to_string(),
    ];
    let recording = Recording::record(&program, dir.path(), "strace", false).unwrap();
    let kept = tempfile::tempdir().unwrap();
    let to = kept.path().join("run");
    recording.save(&to).unwrap();
    assert!(recording.save(&to).unwrap_err().contains("not empty"), "a recording never overwrites another");
    let checker = format!("python3 {}", fixtures().join("check_registry.py").display());
    let options = CheckOptions::new(&checker);
    let live = serde_json::to_string(&report::json(&analyze(&recording, &options).unwrap())).unwrap();
    let loaded = Recording::load(&to).unwrap();
    let again = serde_json::to_string(&report::json(&analyze(&loaded, &options).unwrap())).unwrap();
    assert_eq!(live, again, "the same recording gives the same report");
    assert!(live.contains("\"failing_points\":0") && live.contains("\"ok\":false"), "posix fails, the others pass");

    let out = crashsim(&["trace", "--from", to.to_str().unwrap(), "--checker", &checker, "--model", "posix", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let library: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(json["results"][0]["failures"], library["results"][2]["failures"], "the command line reports the same");
    let broken = crashsim(&["trace", "--from", kept.path().to_str().unwrap(), "--checker", "true"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("written by --save"));
}

/// A shell saves a file the common unsafe way: a temp file written, `mv` over the data, no
/// fsync at all, then "saved". Under posix that is two vulnerabilities, each with its own fix:
/// the rename may persist before the data (ordering: fsync the temp file after its write) and
/// the rename may not persist at all (durability: fsync the directory after it). With `-k`
/// stacks the rename's site is inside `mv`; each fix verifies by replaying with it.
#[test]
fn an_unsynced_save_is_diagnosed_as_ordering_and_durability_at_its_stacks_with_verified_fixes() {
    if !have(&["strace"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = format!("printf '{{\"n\": 1}}' > {d}/data.tmp && mv {d}/data.tmp {d}/data && echo saved");
    let program: Vec<String> = vec!["sh".into(), "-c".into(), script];
    let checker = r#"if grep -q saved "$CRASHSIM_STDOUT"; then test "$(cat data)" = '{"n": 1}'; fi"#;
    let mut options = CheckOptions::new(checker);
    options.models = vec![Model::Process, Model::Posix];
    let run = trace(&program, dir.path(), "strace", true, &options).unwrap();
    assert!(run.replay_matches(), "{:?}", run.replay_differences());
    assert_eq!(failing(&run, Model::Process), 0, "{}", report::text(&run));
    let kinds: Vec<&str> = run.vulnerabilities.iter().map(|v| v.property.name()).collect();
    assert!(kinds.contains(&"ordering") && kinds.contains(&"durability"), "{kinds:?}\n{}", report::text(&run));
    for v in &run.vulnerabilities {
        assert!(v.verified, "{v:?}\n{}", report::text(&run));
        assert_eq!(v.models, [Model::Posix]);
        assert_eq!(v.sites.len(), 1, "keyed by the lost call's site alone: {v:?}");
    }
    let durability = run.vulnerabilities.iter().find(|v| v.property.name() == "durability").unwrap();
    assert!(durability.sites[0].starts_with("mv("), "the lost rename's site is a frame of mv: {durability:?}");
    let ordering = run.vulnerabilities.iter().find(|v| v.property.name() == "ordering").unwrap();
    assert!(ordering.calls[1].starts_with("the rename") && ordering.calls[1].contains("(mv("), "{ordering:?}");
    assert!(ordering.fix.contains("fsync data.tmp after call"), "{}", ordering.fix);
    // The shell's `write`, replayed as a `pwrite` at its offset, is named as the shell made it.
    assert!(ordering.calls[0].starts_with("the write"), "{ordering:?}");
    assert!(ordering.fix.contains("at the call site: fsync the file after the write at"), "{}", ordering.fix);
    let text = report::text(&run);
    assert!(text.contains("2 vulnerabilities explain"), "{text}");
    let json = report::json(&run);
    assert_eq!(json["vulnerabilities"].as_array().unwrap().len(), 2, "{json}");
}

/// A program that itself fails is still checked, but the report says the run checked was a
/// failed one (text and JSON), beside a verdict that would otherwise read as a clean pass.
#[test]
fn a_program_that_fails_is_checked_with_a_warning_that_its_run_failed() {
    if !have(&["strace"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let program = ["sh", "-c", "echo x > \"$0/f\" && exit 3", d];
    let run = |json: bool| {
        let mut args = vec!["trace", "--dir", d, "--checker", "true", "--model", "process", "--no-stacks"];
        if json {
            args.push("--json");
        }
        args.push("--");
        args.extend(program);
        crashsim(&args)
    };
    let text = run(false);
    assert_eq!(text.status.code(), Some(0), "every image passes: {}", String::from_utf8_lossy(&text.stderr));
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("WARNING: the program itself failed (exit 3)"), "{out}");
    assert!(
        out.contains("every crash image passed the checker (of a run in which the program failed: exit 3)"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_slice(&run(true).stdout).unwrap();
    assert_eq!((json["exit"].as_str(), json["program_failed"].as_bool()), (Some("exit 3"), Some(true)), "{json}");
}
