//! A run that forgets its past ([`SimFs::forget_past`]) leaves, at every crash point after, the
//! images of a run that forgot nothing, under every model (sampled posix sets included), and
//! keeps none of the bytes it forgot.

use crashsim_sim::{files, Call, Fs, ImageOptions, Model, OpenOptions, SimFs, SimOptions};
use pollster::block_on;

/// A registry rewritten by replacement twelve times, beside a transcript appended to without a
/// sync; some rewrites unsynced, some directory syncs skipped, so every model has pending
/// effects at the floors. Forgets the past before each rewrite numbered in `forget_before`.
fn rewrites(forget_before: &[u32]) -> SimFs {
    let fs = SimFs::new(SimOptions::default());
    block_on(async {
        let transcript = fs.open("transcript", OpenOptions::append()).await.unwrap();
        for i in 0..12u32 {
            if forget_before.contains(&i) {
                fs.forget_past();
            }
            // Three sectors and more: a write the ordered model may tear.
            let body = vec![b'a' + i as u8; 1100 + 200 * i as usize];
            files::write(&fs, "registry.tmp", OpenOptions::create_trunc(), &body, i % 3 != 0).await.unwrap();
            fs.rename("registry.tmp", "registry").await.unwrap();
            if i % 2 == 0 {
                files::sync_dir(&fs, "").await.unwrap();
            }
            fs.write(transcript, format!("line {i}\n").as_bytes()).await.unwrap();
        }
        fs.close(transcript).await.unwrap();
    });
    fs
}

fn floor_of(fs: &SimFs) -> usize {
    fs.trace().steps.iter().take_while(|step| step.forgotten).count()
}

#[test]
fn crash_points_past_the_floor_leave_the_images_of_a_run_that_forgot_nothing() {
    let whole = rewrites(&[]);
    let forgetful = rewrites(&[4, 5, 9]);
    let floor = floor_of(&forgetful);
    assert!(floor > 0 && floor < forgetful.steps(), "the floor is inside the run: {floor}");
    assert_eq!(whole.steps(), forgetful.steps());
    assert_eq!(whole.events(), forgetful.events(), "sequence numbers go on past the floor");
    // A small cap: larger posix sets are sampled, seeded by the events seen.
    let opts = ImageOptions { max_images: 16, ..ImageOptions::default() };
    let points: Vec<usize> = (floor..=whole.steps()).collect();
    for model in Model::ALL {
        // One replay per run and model, from the floor on.
        let sets = |fs: &SimFs| {
            let mut sets = Vec::new();
            fs.visit_trackers(model, &points, |_, tracker| {
                let set = tracker.images(&opts);
                sets.push((set.fingerprints.clone(), set.survivors.clone(), set.images()));
            });
            sets
        };
        let (expected, got) = (sets(&whole), sets(&forgetful));
        for ((k, expected), got) in points.iter().zip(&expected).zip(&got) {
            assert_eq!(expected, got, "{model} after {k}");
        }
        // Asked one point at a time, too.
        let k = whole.steps() - 3;
        assert_eq!(whole.crash_images(k, model, &opts).images(), forgetful.crash_images(k, model, &opts).images());
    }
    assert_eq!(whole.volatile_image(), forgetful.volatile_image());
}

#[test]
fn a_forgotten_step_keeps_no_bytes_and_says_so() {
    let fs = rewrites(&[6]);
    let trace = fs.trace();
    let floor = floor_of(&fs);
    let writes_before = trace.steps[..floor].iter().filter(|s| matches!(s.call, Call::Write { .. })).count();
    assert!(writes_before >= 6, "writes before the floor: {writes_before}");
    for step in &trace.steps[..floor] {
        assert!(step.events.is_empty() && step.pending.is_empty(), "step {}", step.step);
        if let Call::Write { data, .. } = &step.call {
            assert!(data.is_empty(), "step {} kept its bytes", step.step);
        }
        assert!(step.to_string().contains("(forgotten"), "{step}");
    }
    let after = &trace.steps[floor];
    assert!(!after.forgotten && !after.events.is_empty(), "the first step past the floor is whole: {after}");
}

#[test]
#[should_panic(expected = "before the floor")]
fn a_crash_point_before_the_floor_is_refused() {
    let fs = rewrites(&[6]);
    let floor = floor_of(&fs);
    fs.crash_images(floor - 1, Model::Posix, &ImageOptions::default());
}

#[test]
#[should_panic(expected = "forgot its past")]
fn the_whole_log_of_a_forgetful_run_is_refused() {
    rewrites(&[6]).log();
}
