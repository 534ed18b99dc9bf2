//! The command line contract other tools and CI read: exit codes, the JSON shape, and that the
//! replay command a reproducer prints reproduces it.

use std::process::{Command, Output};

fn crashsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crashsim")).args(args).output().expect("the binary runs")
}

/// How the binary under test starts a printed replay command: the checkout's `cargo run` when
/// it is a build under a `target/` directory (the usual test run), its own name otherwise (a
/// `CARGO_TARGET_DIR` elsewhere).
fn replay_prefix() -> &'static str {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_crashsim"));
    let target = exe.parent().and_then(std::path::Path::parent).and_then(std::path::Path::file_name);
    if target.is_some_and(|name| name == "target") {
        "cargo run --release --features cli -- "
    } else {
        "crashsim "
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Splits a printed replay command into its arguments (single-quoted words kept whole).
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = command.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').expect("closing quote");
            out.push(quoted[..end].to_string());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    out
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    // Faults the run would not carry out: two at one step, past the end, a short non-write.
    let replay = "repro --variant reference --model process --workload create_a_L --restart --plan";
    let plans = ["fail@3=EIO fail@3=EIO", "fail@3000=EIO", "short@0=3"]
        .map(|plan| replay.split(' ').map(|w| w.replace('_', " ")).chain([plan.to_string()]).collect::<Vec<String>>());
    // --image and --continue are never silently ignored: an image needs a crash, work after a
    // restart needs a damaged file, and a clean point is no place for either.
    let mut lines: Vec<Vec<String>> = plans.to_vec();
    for flags in ["--restart --image 2", "--clean-after 1 --continue", "--restart --continue"] {
        let line = format!("repro --variant reference --model process --workload create_a_L {flags}");
        lines.push(line.split(' ').map(|w| w.replace('_', " ")).collect());
    }
    let plans: Vec<Vec<&str>> = lines.iter().map(|args| args.iter().map(String::as_str).collect()).collect();
    for args in plans.iter().map(Vec::as_slice).chain([
        &["explore", "--bogus"][..],
        &["explore", "--variant", "nope"],
        &["explore", "--model", "ext9"],
        &["repro", "--variant", "reference", "--workload", "explode a", "--restart"],
        &["repro", "--variant", "reference", "--model", "posix", "--workload", "create a"],
        // Bounds too small for the self-check say so instead of failing it.
        &["explore", "--max-ops", "1"],
        // A soak that would run no seed.
        &["soak", "--seeds", "1", "--shard", "1/2"],
        &["soak", "--time", "0", "--seeds", "5"],
    ]) {
        let output = crashsim(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?} says why");
    }
    let output = crashsim(&["explore", "--variant", "nope"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("rotate-rename"), "lists the variants");
}

#[test]
fn explore_json_has_the_contract_fields_and_exit_codes() {
    let output = crashsim(&["explore", "--variant", "no-temp-fsync", "--max-ops", "1", "--random", "0", "--json"]);
    assert_eq!(output.status.code(), Some(1), "a violation was found");
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let results = value["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for row in results {
        for field in [
            "variant",
            "model",
            "workloads",
            "crash_points",
            "crash_states",
            "distinct_states",
            "distinct_exact",
            "violations",
            "elapsed_ms",
        ] {
            assert!(!row[field].is_null(), "{field} in {row}");
        }
    }
    let posix = results.iter().find(|r| r["model"] == "posix").unwrap();
    let first = &posix["first_violation"];
    assert_eq!(first["invariant"], "Durable");
    assert!(first["operations"].as_array().unwrap().len() <= 6);
    assert!(first["crash_point"].is_u64());
    // Run from target/, the replay command runs from the checkout.
    let replay = first["replay"].as_str().unwrap();
    assert!(replay.starts_with(&format!("{}repro --variant no-temp-fsync --model posix", replay_prefix())), "{replay}");
    assert!(posix["states_to_detection"].as_u64().unwrap() <= posix["crash_states"].as_u64().unwrap());
    assert!(posix["ms_to_detection"].is_u64());
    let process = results.iter().find(|r| r["model"] == "process").unwrap();
    assert!(process["first_violation"].is_null());
    assert!(process["states_to_detection"].is_null());
    assert_eq!((value["command"].as_str(), value["ok"].as_bool()), (Some("explore"), Some(false)));

    let clean = crashsim(&["explore", "--variant", "reference", "--max-ops", "1", "--random", "0"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
}

#[test]
fn the_printed_replay_command_reproduces_the_violation() {
    let output =
        crashsim(&["repro", "--variant", "rotate-rename", "--model", "process", "--max-ops", "2", "--random", "0"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let replay = text.lines().find_map(|l| l.strip_prefix("replay: ")).expect("a replay line");
    let args = words(replay.strip_prefix(replay_prefix()).expect("a command for the checkout"));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let again = crashsim(&arg_refs);
    assert_eq!(again.status.code(), Some(1), "the replay shows the violation again");
    let again_text = stdout(&again);
    assert!(again_text.contains("Durable violated"), "{again_text}");
    // Byte for byte the same story: determinism.
    assert!(text.contains(&again_text), "replay differs:\n{again_text}");
}

#[test]
fn soak_json_says_what_was_planned_and_run() {
    let output = crashsim(&["soak", "--seeds", "3", "--first-seed", "7", "--model", "process", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["command"], "soak");
    assert_eq!(value["ok"], true);
    assert_eq!((value["seeds_planned"].as_u64(), value["seeds_run"].as_u64()), (Some(3), Some(3)));
    assert_eq!(value["cut_short"], false);
    assert_eq!(value["results"][0]["model"], "process");
    // A huge range is generated lazily: the first seeds run at once, the budget cuts it short.
    let huge = crashsim(&["soak", "--seeds", "18446744073709551615", "--time", "1", "--model", "process", "--json"]);
    assert_eq!(huge.status.code(), Some(0), "{}", String::from_utf8_lossy(&huge.stderr));
    let value: serde_json::Value = serde_json::from_str(&stdout(&huge)).unwrap();
    assert_eq!(value["cut_short"], true);
    assert!(value["seeds_run"].as_u64().unwrap() >= 1);
}

#[test]
fn no_reproducer_for_the_reference() {
    let output =
        crashsim(&["repro", "--variant", "reference", "--model", "process", "--max-ops", "1", "--random", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("no reproducer exists"));
}

#[test]
fn spec_and_images_run() {
    let spec = crashsim(&["spec", "--depth", "4"]);
    assert_eq!(spec.status.code(), Some(0));
    assert!(stdout(&spec).contains("distinct states: 6100"), "{}", stdout(&spec));
    let images = crashsim(&["images", "--scenario", "replace", "--model", "posix"]);
    assert_eq!(images.status.code(), Some(0));
    assert!(stdout(&images).contains("posix: 5 distinct image(s), exhaustive"));
}

#[test]
fn real_disk_reproduces_rotate_rename_where_the_simulator_names_it() {
    let output = crashsim(&["real-disk", "--variant", "rotate-rename", "--workload", "create a L; rotate", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["command"], "real-disk");
    assert_eq!(value["ok"], false);
    assert_eq!(value["mismatches"], serde_json::json!([]), "every killed directory is the process image");
    let violations = value["violations"].as_array().unwrap();
    assert!(!violations.is_empty());
    assert!(violations.iter().all(|v| v["invariant"] == "Durable" && v["simulated"] == "Durable"), "{violations:?}");
    let clean = crashsim(&["real-disk", "--workload", "create a L; rotate"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    let bad = crashsim(&["real-disk", "--workload", "create a || create b"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn work_after_a_restart_on_a_damaged_registry_replays_and_says_so() {
    // The reference rebuilds an emptied registry from the transcripts' headers, so the store
    // starts; the workload's calls then run again on it and the restart after them is judged.
    let args = [
        "--workload",
        "create a L; append a m",
        "--restart",
        "--continue",
        "--plan",
        "corrupt@sessions/sessions.json=empty",
    ];
    let output = repro_reference_process(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("work after recovery: the workload's calls again run on the recovered store"), "{text}");
    assert!(text.contains("no violation"), "{text}");
    assert!(text.contains("--restart --continue"), "the replay keeps --continue: {text}");
}

#[test]
fn a_call_of_a_killed_process_is_told_as_killed() {
    let output = repro_reference_process(&[
        "--workload",
        "create a L || create b L",
        "--processes",
        "2",
        "--madsim-seed",
        "1",
        "--kill",
        "1@100",
        "--crash-after",
        "40",
    ]);
    let text = stdout(&output);
    assert!(text.contains("29..(killed) never answered: its process was killed"), "{text}");
    assert!(!text.contains(&usize::MAX.to_string()), "no sentinel printed as a syscall number: {text}");
}

/// `crashsim repro --variant reference --model process` with `args`.
fn repro_reference_process(args: &[&str]) -> std::process::Output {
    let common = ["repro", "--variant", "reference", "--model", "process"];
    crashsim(&common.iter().chain(args).copied().collect::<Vec<&str>>())
}

#[test]
fn a_clean_point_with_another_call_still_running_is_refused() {
    // Under this schedule create b is still running when get a returns (operation 2): judging
    // the files there as a clean point took a half-made session for an orphan.
    let args = ["--workload", "get a || create b L", "--schedule", "1.1.1.1.1.1.1.1.0", "--clean-after", "2"];
    let output = repro_reference_process(&args);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("still run when it returns"), "{stderr}");
    // Where no call is in flight the clean point is judged, and the reference passes.
    let args = ["--workload", "get a || create b L", "--schedule", "1.1.1.1.1.1.1.1.0", "--clean-after", "1"];
    assert_eq!(repro_reference_process(&args).status.code(), Some(0));
}

/// Every command has its own description: listed in `crashsim --help`, and the first words of
/// its own `--help` (not another command's glued before it).
#[test]
fn every_command_is_described_in_the_help_and_its_help_opens_with_its_own_description() {
    let help = stdout(&crashsim(&["--help"]));
    let listed: Vec<(String, String)> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .map(|l| {
            let mut parts = l.trim().splitn(2, ' ');
            (parts.next().unwrap().to_string(), parts.next().unwrap_or("").trim().to_string())
        })
        .filter(|(name, _)| name != "help")
        .collect();
    assert!(listed.len() >= 7, "{help}");
    for (name, description) in listed {
        assert!(!description.is_empty(), "`{name}` has no description in crashsim --help:\n{help}");
        let own = stdout(&crashsim(&[&name, "--help"]));
        let first_words: String = description.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        let opening: String = own.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        assert_eq!(opening, first_words, "`crashsim {name} --help` opens with another description:\n{own}");
    }
}

/// A soak of one client says that it ran no race, and how to run them; with clients it ran them.
#[test]
fn a_soak_without_clients_says_races_were_not_run() {
    let plain = stdout(&crashsim(&["soak", "--variant", "reference", "--model", "process", "--seeds", "2"]));
    assert!(plain.contains("races were not run: soak --clients 2 runs them"), "{plain}");
    let json = stdout(&crashsim(&["soak", "--variant", "reference", "--model", "process", "--seeds", "2", "--json"]));
    let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(value["races_run"], false, "{value:#}");
    let races = ["soak", "--variant", "reference", "--model", "process", "--seeds", "2", "--clients", "2"];
    let raced = stdout(&crashsim(&races));
    assert!(!raced.contains("races were not run") && raced.contains("races of 2 clients"), "{raced}");
}
