//! A scale workload's run forgets its setup ([`Run::judged_from`]): the trace keeps none of the
//! setup's bytes, and every crash point judged after it leaves the images of a run that kept
//! everything, under every model; the calls judged keep their disks.

use crashsim::execute::{execute, Run};
use crashsim::session::Session;
use crashsim::subject::Subject;
use crashsim_faults::Plan;
use crashsim_sim::{Call, ImageOptions, Model};
use crashsim_store::Variant;

#[test]
fn a_run_judged_after_its_setup_forgets_it_and_leaves_the_same_crash_images() {
    let subject = Session(Variant::Reference);
    // Setup calls for several batches of forgetting (32 calls each): the floor moves often.
    let workload = (0..)
        .map(|seed| subject.scale(seed, 250).expect("the session store has scale workloads"))
        .find(|workload| workload.setup.len() > 150)
        .expect("a seed with enough sessions");
    let judged_from = workload.setup.len() - 1;
    let whole = execute(&subject, &workload, &Plan::none(), &Run::default());
    let forgetful = execute(&subject, &workload, &Plan::none(), &Run { judged_from, ..Run::default() });
    assert_eq!(whole.fs.steps(), forgetful.fs.steps());

    let floor = forgetful.spans[judged_from].start;
    let trace = forgetful.fs.trace();
    let (before, after) = trace.steps.split_at(floor);
    assert!(before.iter().all(|step| step.forgotten), "the setup before its last call is forgotten");
    assert!(after.iter().all(|step| !step.forgotten), "the calls judged are whole");
    let kept: usize = before
        .iter()
        .map(|step| match &step.call {
            Call::Write { data, .. } | Call::Pwrite { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(kept, 0, "bytes the forgotten steps kept");

    for (i, (a, b)) in whole.spans.iter().zip(&forgetful.spans).enumerate() {
        assert_eq!((&a.op, &a.outcome, a.start, a.end), (&b.op, &b.outcome, b.start, b.end), "call {i}");
        assert_eq!(b.after.is_some(), i >= judged_from, "call {i} keeps its disk only when judged");
    }

    // The crash points a scale workload judges: from the end of its setup. Every 11th, and the
    // last, with a small posix cap (sampled sets are seeded by the events seen).
    let setup_end = forgetful.spans[judged_from].end;
    let points: Vec<usize> =
        (setup_end..=whole.fs.steps()).filter(|k| (k - setup_end) % 11 == 0 || *k == whole.fs.steps()).collect();
    let opts = ImageOptions { max_images: 8, ..ImageOptions::default() };
    for model in Model::ALL {
        // One replay per run and model: the same crash points, the same sets.
        let sets = |run: &crashsim::execute::Execution<Session>| {
            let mut sets = Vec::new();
            run.fs.visit_trackers(model, &points, |_, tracker| {
                let set = tracker.images(&opts);
                sets.push((set.fingerprints, set.survivors));
            });
            sets
        };
        let (expected, got) = (sets(&whole), sets(&forgetful));
        for ((k, expected), got) in points.iter().zip(&expected).zip(&got) {
            assert_eq!(expected, got, "{model} after {k}");
        }
    }
}
