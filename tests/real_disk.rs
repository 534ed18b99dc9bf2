//! The simulator against a real disk and a real kill -9 (`crashsim::session::real_disk`): the
//! store runs on a real directory in a forked child that SIGKILLs itself after exactly k
//! syscalls, for every k of the run. The directory it leaves must be the image SimFs's
//! `process` model gives for a crash after k, and a store booted on it must break an invariant
//! at exactly the crash points where the simulator says it does. (One test in a binary of its
//! own: a forked child must not share the process with other test threads.)

use crashsim::session::real_disk::compare;
use crashsim::session::workload::parse;
use crashsim_store::Variant;

#[test]
fn the_process_model_and_its_findings_hold_on_a_real_disk() {
    let long = parse("create a L; append a m; create b; reset a; rotate; prune 1; delete b", 1, "").unwrap();
    let reference = compare(Variant::Reference, &long).unwrap();
    assert!(reference.steps > 100, "a run long enough to matter: {} syscalls", reference.steps);
    assert_eq!(reference.mismatches, Vec::<usize>::new(), "real directories differ from the process images");
    assert!(reference.violations.is_empty(), "{:?}", reference.violations.first());

    // openclaw #68229: a kill between renaming the registry away and writing the new one.
    let rotate = parse("create a L; rotate", 1, "").unwrap();
    let buggy = compare(Variant::RotateRenamesAway, &rotate).unwrap();
    assert_eq!(buggy.mismatches, Vec::<usize>::new());
    assert!(!buggy.simulated_violations.is_empty(), "the simulator finds rotate-rename under process");
    let at = |found: &[(usize, crashsim_model::Violation)]| -> Vec<(usize, &'static str)> {
        found.iter().map(|(k, v)| (*k, v.invariant)).collect()
    };
    assert_eq!(at(&buggy.violations), at(&buggy.simulated_violations), "the same crash points break on the real disk");
}
