//! A command line for a user's own store (`crashsim::cli::run`), as `examples/std_store.rs`
//! gives its table: explore, repro and soak by subject name, reproducers that end with the
//! command replaying them through that program, the replay showing the violation again, and
//! bad usage refused with exit 2. `assert_consistent`'s panic ends with the same command.

use std::path::PathBuf;
use std::process::{Command, Output};

use crashsim_sim::Model;

#[allow(dead_code)]
#[path = "../examples/std_store.rs"]
mod std_store;

/// How the example's reproducers start.
const PROGRAM: &str = "cargo run --release --features runner --example std_store --";

/// The example's binary: built by `cargo test` with the other examples, or here when a filter
/// kept cargo from building it.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let binary = profile.join("examples").join("std_store");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        // The features this test was built with, so that the library is not built again.
        let features = if cfg!(feature = "cli") { "cli" } else { "runner" };
        let built = Command::new(cargo)
            .args(["build", "--release", "--offline", "--features", features, "--example", "std_store"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success(), "building examples/std_store failed");
    }
    binary
}

fn run(args: &[&str]) -> Output {
    Command::new(example()).args(args).output().expect("the example runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Splits a printed command into its words (single quotes only, as `case_text` writes them).
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted, mut any) = (String::new(), false, false);
    for c in command.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            ' ' if !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            _ => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn explore_finds_the_bug_variant_and_its_replay_command_reproduces_it_through_the_example() {
    let output = run(&["explore", "--variant", "std-table-no-dir-fsync", "--max-ops", "2", "--random", "0", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let rows = value["results"].as_array().expect("results");
    let caught: Vec<&str> =
        rows.iter().filter(|r| r["violations"].as_u64() > Some(0)).map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(caught, ["ordered", "posix"], "{value:#}");
    assert!(rows.iter().all(|r| r["variant"] == "std-table-no-dir-fsync"), "{value:#}");
    let replay = rows[1]["first_violation"]["replay"].as_str().expect("a replay command");
    let expected_start = format!("{PROGRAM} repro --variant std-table-no-dir-fsync --model ordered --workload 'put(");
    assert!(replay.starts_with(&expected_start), "{replay}");
    // The command, run as printed (after the cargo words), shows the violation again.
    let args = words(replay.strip_prefix(PROGRAM).expect("starts with the program"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let replayed = run(&args);
    assert_eq!(replayed.status.code(), Some(1), "{replay}\n{}", text(&replayed));
    assert!(text(&replayed).contains("Durable"), "{}", text(&replayed));
}

#[test]
fn the_correct_table_explores_clean_and_repro_finds_nothing_to_reproduce() {
    let output = run(&["explore", "--variant", "std-table", "--max-ops", "2", "--random", "0"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("std-table"), "{}", text(&output));
    let output = run(&["repro", "--variant", "std-table", "--model", "posix", "--max-ops", "2", "--random", "0"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("no reproducer exists within these bounds"), "{}", text(&output));
}

#[test]
fn repro_searches_shrinks_and_ends_with_the_replay_command() {
    let output =
        run(&["repro", "--variant", "std-table-no-dir-fsync", "--model", "posix", "--max-ops", "2", "--random", "0"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = text(&output);
    assert!(
        printed.contains(&format!("replay: {PROGRAM} repro --variant std-table-no-dir-fsync --model posix")),
        "{printed}"
    );
}

#[test]
fn soak_of_the_bug_variant_prints_its_seed_and_replay() {
    let output = run(&["soak", "--variant", "std-table-no-dir-fsync", "--model", "posix", "--seeds", "30"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("replay: {PROGRAM} repro --variant std-table-no-dir-fsync")),
        "{}",
        text(&output)
    );
}

#[test]
fn bad_usage_is_refused_with_exit_2_and_says_why() {
    let output = run(&["repro", "--variant", "nope"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("unknown variant \"nope\": expected one of std-table, std-table-no-dir-fsync"),
        "{}",
        text(&output)
    );
    let output = run(&["repro", "--model", "posix"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("which store?"), "{}", text(&output));
    let output = run(&["repro", "--variant", "std-table", "--model", "posix", "--workload", "put(z, 9)", "--restart"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("cannot read operation \"put(z, 9)\": std-table knows put(a, 1)"),
        "{}",
        text(&output)
    );
    let help = run(&["explore", "--help"]);
    assert!(text(&help).contains("std-table-no-dir-fsync"), "the help lists the subjects:\n{}", text(&help));
}

#[test]
fn assert_consistent_panics_with_a_reproducer_that_ends_with_the_replay_command() {
    let buggy = std_store::harness::StdTable { sync_dir: false };
    let panic =
        std::panic::catch_unwind(|| crashsim::testing::assert_consistent(&buggy)).expect_err("the bug is caught");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    let last = message.lines().last().expect("a reproducer");
    assert!(
        last.starts_with(&format!("replay: {PROGRAM} repro --variant std-table-no-dir-fsync --model")),
        "{message}"
    );
    assert!(Model::ALL.iter().any(|m| last.contains(&format!("--model {m} "))), "{last}");
}
