//! One run of a case, recorded with call sites, and the verdict on any image of it: the same
//! check the explorer makes at that crash point (with work after recovery for a continuing case).

use std::collections::HashMap;
use std::sync::Mutex;

use crashsim_sim::{Image, ImageOptions, SimFs, SyncRule};

use super::Oracle;

use crate::bounds::ExploreOptions;
use crate::cache::RecoveryCache;
use crate::case::{Case, Check};
use crate::continuation::{continue_after, remaining};
use crate::execute::{execute, Execution, Run};
use crate::subject::Subject;

/// A case's run with sites recorded (and a fix's fsyncs inserted), and its verdicts.
pub struct Judge<'a, S: Subject> {
    pub subject: &'a S,
    pub run: Execution<S>,
    pub opts: &'a ExploreOptions,
    work_after: bool,
    cache: RecoveryCache<S>,
    expected: Mutex<HashMap<usize, std::sync::Arc<S::Expected>>>,
}

impl<'a, S: Subject> Judge<'a, S> {
    /// Runs `case` again, recording call sites and inserting the fsyncs of `rules`.
    pub fn new(subject: &'a S, case: &Case<S>, opts: &'a ExploreOptions, rules: Vec<SyncRule>) -> Result<Self, String> {
        if case.madsim.is_some() {
            return Err("a madsim run has no diagnosis yet: its fsyncs cannot be inserted".into());
        }
        let run =
            execute(subject, &case.workload, &case.faults, &Run { sync_rules: Some(rules), ..case.run(opts.preempt) });
        Ok(Self {
            subject,
            run,
            opts,
            work_after: matches!(case.check, Check::Continue { .. }),
            cache: RecoveryCache::default(),
            expected: Mutex::new(HashMap::new()),
        })
    }

    /// Whether a store booted on `image` of a crash after `k` syscalls breaks the spec (or, for
    /// a continuing case, whether the work after its recovery does).
    pub fn fails(&self, k: usize, image: &Image) -> bool {
        let expected = self
            .expected
            .lock()
            .expect("not poisoned")
            .entry(k)
            .or_insert_with(|| std::sync::Arc::new(self.subject.expect(&self.run.history_at(k))))
            .clone();
        let booted = self.cache.observe(self.subject, image.fingerprint(), || image.clone());
        let Ok(observed) = booted.as_ref() else { return true };
        if self.subject.check(&expected, observed).is_err() {
            return true;
        }
        if !self.work_after {
            return false;
        }
        let ops = remaining(&self.run, k);
        if ops.is_empty() {
            return false;
        }
        let before = self.run.history_at(k);
        continue_after(self.subject, &before, image, observed, ops, self.opts.preempt, &self.cache).verdict.is_err()
    }
}

impl<S: Subject> Oracle for Judge<'_, S> {
    fn fs(&self) -> &SimFs {
        &self.run.fs
    }

    fn image_options(&self) -> &ImageOptions {
        &self.opts.images
    }

    /// Every syscall boundary of the run.
    fn points(&self) -> Vec<usize> {
        (0..=self.run.fs.steps()).collect()
    }

    fn fails(&self, point: usize, image: &Image) -> bool {
        Judge::fails(self, point, image)
    }
}
