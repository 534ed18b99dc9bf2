//! The reference store's own bugs, each kept as the exact replay that showed it: the replay
//! must pass now. Both sat past the default bounds when they were found (issue 21).

use std::process::Command;

/// Runs `crashsim repro ...` and returns its exit code and stdout.
fn replay(args: &[&str]) -> (i32, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_crashsim")).arg("repro").args(args).output().expect("the binary runs");
    (output.status.code().expect("exited"), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// An empty lock file was broken at once. Its owner, preempted between creating it and writing
/// its id, lost the lock to a second process; both updated the registry and the delete was lost
/// (NoDangling).
#[test]
fn a_lock_being_taken_is_not_broken() {
    let schedule = "1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1";
    for model in ["process", "ordered", "posix"] {
        let (code, out) = replay(&[
            "--variant",
            "reference",
            "--model",
            model,
            "--workload",
            "create b L || delete a",
            "--processes",
            "2",
            "--setup",
            "create a L",
            "--schedule",
            schedule,
            "--preempt",
            "every",
            "--clean-after",
            "3",
        ]);
        assert_eq!(code, 0, "{model}: the empty-lock race is back:\n{out}");
    }
}

/// Recovery adopted an orphan transcript without moving its clock past the transcript's
/// creation time, so the next create got the same `updatedAt` and prune evicted the newer
/// session (NoPhantom).
#[test]
fn a_session_created_after_an_adoption_is_newer_than_it() {
    let (code, out) = replay(&[
        "--variant",
        "reference",
        "--model",
        "process",
        "--workload",
        "create b L; create a L; prune 1",
        "--crash-after",
        "32",
        "--image",
        "0",
        "--continue",
    ]);
    assert_eq!(code, 0, "the adoption tie is back:\n{out}");
    assert!(out.contains("evicted [\"agent:main:b\"]"), "prune evicts the older session:\n{out}");
}
