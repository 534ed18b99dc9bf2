//! What a diagnosis asks of a run: its simulated disk, its crash points, and whether an image
//! of a crash at one of them fails. A harness subject ([`super::Judge`]) and a traced program
//! (`strace::diagnose`) answer the same questions, so one classification serves both.

use crashsim_sim::{Image, ImageOptions, Model, SimFs};

/// A run whose crash images can be judged.
pub trait Oracle {
    /// The run's simulated disk (recorded, with sites).
    fn fs(&self) -> &SimFs;
    /// How images are enumerated at a crash point.
    fn image_options(&self) -> &ImageOptions;
    /// The crash points, in order, each as the number of simulated syscalls it follows.
    fn points(&self) -> Vec<usize>;
    /// Whether `image` of a crash at crash point `point` (an index into [`Oracle::points`]) fails.
    fn fails(&self, point: usize, image: &Image) -> bool;
    /// How a person finds simulated syscall `step` in what the run reports. Default:
    /// `syscall <step>`.
    fn name_step(&self, step: usize) -> String {
        format!("syscall {step}")
    }
    /// The program's own name for the call simulated syscall `step` replays, when it differs
    /// from the simulated call's (a traced `write` replays as a `pwrite`). Default: none.
    fn call_name(&self, _step: usize) -> Option<String> {
        None
    }
}

/// Every crash point with a failing image under `model`, each with its first failing image.
pub fn failing_points(oracle: &dyn Oracle, model: Model) -> Vec<(usize, usize)> {
    let points = oracle.points();
    let last = points.last().copied().unwrap_or(0);
    let trackers = oracle.fs().trackers(model, 0..=last);
    let mut out = Vec::new();
    for (point, &steps) in points.iter().enumerate() {
        let set = trackers[steps].images(oracle.image_options());
        if let Some(i) = (0..set.len()).find(|&i| oracle.fails(point, &set.image(i))) {
            out.push((point, i));
        }
    }
    out
}
