//! Diagnosis of a traced program's failing crash points: each classified as in
//! [`crate::diagnose`], grouped by property and `-k` stack, and each vulnerability's fix
//! verified by replaying the same trace with the fsync inserted and checking it again.
//!
//! The checker is the judge: a what-if image is written out and checked like any other, and a
//! verdict is kept by (image fingerprint, stdout printed so far), shared by every replay.

use std::borrow::Borrow;

use crashsim_sim::{Image, ImageOptions, SimFs, SyncRule};
use rayon::prelude::*;

use super::check::{run_checker, CheckOptions, ModelResult};
use super::recording::Recording;
use super::replay::{replay_fixed, Replay, Setup};
use crate::diagnose::fix::{propose, Scope};
use crate::diagnose::{classify, group, Diagnosis, Oracle, Property, Vulnerability, VulnerabilityKey};

pub use super::check::Verdicts;

/// One replay of the recording (with a fix's fsyncs, or none) judged by the checker: the replay
/// the check already made (borrowed), or one made again with a fix (owned).
pub struct TraceOracle<'a, R: Borrow<Replay>> {
    replay: R,
    options: &'a CheckOptions,
    verdicts: &'a Verdicts,
}

impl<'a> TraceOracle<'a, Replay> {
    /// Replays `recording` with the fsyncs of `rules` inserted.
    pub fn new(
        recording: &Recording,
        rules: Vec<SyncRule>,
        options: &'a CheckOptions,
        verdicts: &'a Verdicts,
    ) -> Result<Self, String> {
        let setup = Setup { dir: &recording.dir, cwd: &recording.cwd, stdout: &recording.stdout };
        let replay = replay_fixed(&recording.log, &recording.before, &setup, rules)?;
        Ok(Self { replay, options, verdicts })
    }
}

impl<R: Borrow<Replay>> TraceOracle<'_, R> {
    pub fn replay(&self) -> &Replay {
        self.replay.borrow()
    }
}

impl<R: Borrow<Replay>> Oracle for TraceOracle<'_, R> {
    fn fs(&self) -> &SimFs {
        &self.replay().fs
    }

    fn image_options(&self) -> &ImageOptions {
        &self.options.images
    }

    fn points(&self) -> Vec<usize> {
        self.replay().points.iter().map(|p| p.steps).collect()
    }

    fn fails(&self, point: usize, image: &Image) -> bool {
        let stdout = self.replay().points[point].stdout;
        let key = (image.fingerprint(), stdout);
        if let Some(&failed) = self.verdicts.lock().expect("not poisoned").get(&key) {
            return failed;
        }
        // A checker that cannot start fails every image: the check itself reported why.
        let failed = run_checker(
            &self.options.checker,
            image,
            &self.replay().stdout[..stdout],
            &self.replay().dir,
            self.options.timeout,
        )
        .map_or(true, |verdict| !verdict.ok);
        self.verdicts.lock().expect("not poisoned").insert(key, failed);
        failed
    }

    /// The replayed call (numbered as the report numbers them) and its log line.
    fn name_step(&self, step: usize) -> String {
        match self.replay().call_of_step(step) {
            Some(call) => format!("call {} (log line {})", call + 1, self.replay().calls[call].line),
            None => format!("simulated step {step}"),
        }
    }

    /// The traced syscall's own name (`write`, `renameat2`).
    fn call_name(&self, step: usize) -> Option<String> {
        let call = &self.replay().calls[self.replay().call_of_step(step)?];
        Some(call.text.split('(').next()?.to_string())
    }
}

/// What a diagnosis of a run found.
pub struct Diagnosed {
    /// The diagnosis of each failure of each model's result (its first failing image), in the
    /// same order; none where it could not be classified.
    pub per_failure: Vec<Vec<Option<Diagnosis>>>,
    /// Every failing image of every failing crash point, grouped.
    pub vulnerabilities: Vec<Vulnerability>,
}

/// Diagnoses every failing image of every failing crash point of `results` (checked on
/// `replay`, the recording's replay without a fix). Each crash point counts once per
/// vulnerability; the first diagnosis of each vulnerability under each model carries its fix,
/// verified by replaying with it: none of that vulnerability's failing points may be left (other
/// vulnerabilities have their own fixes).
pub fn diagnose(
    recording: &Recording,
    replay: &Replay,
    results: &[ModelResult],
    options: &CheckOptions,
    verdicts: &Verdicts,
) -> Result<Diagnosed, String> {
    let original = TraceOracle { replay, options, verdicts };
    let points = original.points();
    let mut per_failure = Vec::new();
    let mut all: Vec<Diagnosis> = Vec::new();
    for r in results {
        let trackers = original.fs().trackers(r.model, 0..=points.last().copied().unwrap_or(0));
        // Each failing image is classified on its own (checker runs, one at a time): the points
        // are spread over the cores, and their diagnoses taken back in order.
        let classified: Vec<Vec<(usize, Diagnosis)>> = r
            .failures
            .par_iter()
            .map(|failure| {
                let set = trackers[points[failure.point]].images(&options.images);
                (0..set.len())
                    .filter(|&image| original.fails(failure.point, &set.image(image)))
                    .filter_map(|image| Some((image, classify(&original, r.model, failure.point, image).ok()?)))
                    .collect()
            })
            .collect();
        let mut firsts = Vec::new();
        let mut found: Vec<Diagnosis> = Vec::new();
        for (failure, diagnoses) in r.failures.iter().zip(classified) {
            let mut keys_here: Vec<VulnerabilityKey> = Vec::new();
            let mut first = None;
            for (image, diagnosis) in diagnoses {
                let counted = !keys_here.contains(&diagnosis.key());
                keys_here.push(diagnosis.key());
                let diagnosis = Diagnosis { failing_points: usize::from(counted), ..diagnosis };
                if image == failure.image {
                    first = Some(diagnosis.clone());
                }
                found.push(diagnosis);
            }
            firsts.push(first);
        }
        let mut proposed: Vec<VulnerabilityKey> = Vec::new();
        for i in 0..found.len() {
            let key = found[i].key();
            if proposed.contains(&key) {
                continue;
            }
            proposed.push(key.clone());
            let (Property::Ordering | Property::Durability, Some(rule)) = (found[i].property, found[i].rule.clone())
            else {
                continue;
            };
            let before = found.iter().filter(|d| d.key() == key).map(|d| d.failing_points).sum();
            let rerun = |rules| TraceOracle::new(recording, rules, options, verdicts);
            let named = found[i].calls[0].name.clone();
            let fix = propose(r.model, before, rule, named, &Scope::Only(key.clone()), &rerun)?;
            for first in firsts.iter_mut().flatten().filter(|d| d.key() == key) {
                first.fix = Some(fix.clone());
            }
            found[i].fix = Some(fix);
        }
        per_failure.push(firsts);
        all.extend(found);
    }
    Ok(Diagnosed { per_failure, vulnerabilities: group(&all) })
}
