//! Work after recovery: a store booted on a crash image runs the operations the crashed run had
//! not yet invoked, shuts down cleanly and is restarted; the restart is judged against the spec
//! from the state recovery showed. Several reported bugs lose data only at the first write after
//! a recovery that looked right (a torn or uncommitted tail left in place, which the next write
//! makes live); the recovered state alone cannot show them.
//!
//! `run_on` runs one continuation and `judge` judges it, for the reporter ([`continue_after`])
//! and the explorer (`continued_verdict`, through the recovery cache) alike.

use crashsim_model::Violation;
use crashsim_sim::Image;

use crate::cache::{Observed, RecoveryCache};
use crate::execute::{execute_from, Execution};
use crate::schedule::gate::Preempt;
use crate::subject::{History, Panicked, Subject};
use crate::workload::Workload;

/// A continuation and its verdict.
pub struct Continued<S: Subject> {
    /// The run on the recovered disk: the store's open (recovery), the operations, the shutdown.
    pub run: Execution<S>,
    /// What a store booted after that shutdown shows.
    pub observed: Observed<S>,
    pub verdict: Result<(), Violation>,
}

/// The calls of `run`'s clients not yet invoked at a crash after `k` syscalls, in order.
pub fn remaining<S: Subject>(run: &Execution<S>, k: usize) -> Vec<S::Op> {
    assert!(run.spans.iter().all(|s| s.client.is_none_or(|c| c == 0)), "work after recovery follows one client");
    run.spans.iter().filter(|s| s.client.is_some() && s.start >= k && s.end > k).map(|s| s.op.clone()).collect()
}

/// Boots a store on `image` (whose recovery showed `recovered`; `before` is the history of the
/// crashed run), runs `ops` on it with the default schedule, shuts it down, restarts it, and
/// judges the restart with [`Subject::expect_after_recovery`].
pub fn continue_after<S: Subject>(
    subject: &S,
    before: &History<S>,
    image: &Image,
    recovered: &S::Observed,
    ops: Vec<S::Op>,
    preempt: Preempt,
    cache: &RecoveryCache<S>,
) -> Continued<S> {
    let (run, continuation) = run_on(subject, image, ops, preempt, cache);
    let verdict = judge(subject, before, recovered, &continuation);
    Continued { run, observed: continuation.observed, verdict }
}

/// The verdict of [`continue_after`] on the image whose fingerprint is `fingerprint` (`image`
/// builds it), the continuation taken from `cache` when it holds it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn continued_verdict<S: Subject>(
    subject: &S,
    before: &History<S>,
    fingerprint: u128,
    image: &dyn Fn() -> Image,
    recovered: &S::Observed,
    ops: &[S::Op],
    preempt: Preempt,
    cache: &RecoveryCache<S>,
) -> Result<(), Violation> {
    let continuation = cache
        .continued(subject, fingerprint, ops, preempt, || run_on(subject, &image(), ops.to_vec(), preempt, cache).1);
    judge(subject, before, recovered, &continuation)
}

/// What a continuation's verdict depends on beside the crashed run's history and what recovery
/// showed: the calls made on the recovered store, then the restart, and what the restart
/// showed. A function of the image and the calls alone.
pub(crate) struct Continuation<S: Subject> {
    history: History<S>,
    observed: Observed<S>,
}

impl<S: Subject> Continuation<S> {
    /// Records of the calls and the restart.
    pub(crate) fn len(&self) -> usize {
        self.history.len()
    }
}

/// `ops` run on a store booted on `image`, then a clean shutdown and a restart.
pub(crate) fn run_on<S: Subject>(
    subject: &S,
    image: &Image,
    ops: Vec<S::Op>,
    preempt: Preempt,
    cache: &RecoveryCache<S>,
) -> (Execution<S>, Continuation<S>) {
    assert!(!ops.is_empty(), "a continuation runs at least one operation");
    let run = execute_from(subject, image, &Workload::sequential(ops), preempt);
    let after = run.fs.volatile_image();
    let observed = cache.observe(subject, after.fingerprint(), || after.clone());
    let history = run.history_then_restart();
    (run, Continuation { history, observed })
}

/// The restart after `continuation` judged from the state recovery showed.
fn judge<S: Subject>(
    subject: &S,
    before: &History<S>,
    recovered: &S::Observed,
    continuation: &Continuation<S>,
) -> Result<(), Violation> {
    let observed = continuation.observed.as_ref().as_ref().map_err(Panicked::violation)?;
    let expected = subject.expect_after_recovery(before, recovered, &continuation.history);
    subject.check(&expected, observed)
}
