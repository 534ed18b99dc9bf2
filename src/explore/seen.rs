//! Interleaving state caching: the states a workload's runs reached between calls, and the
//! fingerprints that say two are the same.

use std::collections::HashMap;

use crate::execute::Execution;
use crate::subject::{History, Subject};

/// Interleaving state caching within one workload (TLC's and SPIN's visited set, over the
/// schedules [`Dfs`](crate::schedule::dfs::Dfs) makes): each state a run reached between calls (no call in flight), with
/// the most preemptions it had left there. A later run that reaches a state already reached
/// with at least as many preemptions left stops being checked there: the earlier run's branches
/// explore every continuation of that state within the bound.
///
/// A state is the disk under every model, every process's store memory and the clock
/// ([`Span::state`](crate::execute::Span::state)), the spec's expectation of the history so far,
/// how many calls each client made, and the client that just answered (whose switching away is
/// a preemption). Its runs are made in one thread in [`Dfs`](crate::schedule::dfs::Dfs) order, so what is cut is
/// deterministic.
#[derive(Default)]
pub(super) struct SeenStates {
    pub(super) preemptions_left: HashMap<u128, usize>,
}

impl SeenStates {
    /// The step at which `run`, branched at `from_step` from an earlier run, reached a state an
    /// earlier run reached with at least as many preemptions left; `None` if it reached none.
    /// Every state it reached before that is remembered. `expected` is the spec's fingerprint of
    /// what it expects of a history ([`Subject::expected_fingerprint`]).
    pub(super) fn cut<S: Subject>(
        &mut self,
        expected: &dyn Fn(&History<S>) -> Option<u128>,
        run: &Execution<S>,
        from_step: usize,
        bound: usize,
    ) -> Option<usize> {
        use std::hash::{Hash, Hasher};
        let mut answers: Vec<&crate::execute::Span<S>> =
            run.spans.iter().filter(|s| s.client.is_some() && s.state.is_some() && s.end >= from_step).collect();
        answers.sort_by_key(|s| s.returned);
        let clients = run.spans.iter().filter_map(|s| s.client).max().map_or(0, |c| c + 1);
        for span in answers {
            let expected = expected(&run.history_at_answer(span.returned))?;
            let made: Vec<usize> = (0..clients)
                .map(|c| run.spans.iter().filter(|s| s.client == Some(c) && s.returned <= span.returned).count())
                .collect();
            let mut hasher = std::hash::DefaultHasher::new();
            (span.state, expected, span.client, made).hash(&mut hasher);
            let key = span.state.expect("filtered") ^ u128::from(hasher.finish()).rotate_left(64);
            // A choice at the answer's own step may come before or after it: counted as used
            // when the state is remembered, as unused when it is looked up.
            let preempted = |through_answer: bool| {
                run.interleaving
                    .choices
                    .iter()
                    .filter(|c| c.step < span.end || (through_answer && c.step == span.end))
                    .filter(|c| c.preempts(c.chosen))
                    .count()
            };
            if self.preemptions_left.get(&key).is_some_and(|&left| left >= bound.saturating_sub(preempted(false))) {
                return Some(span.end);
            }
            let left = self.preemptions_left.entry(key).or_insert(0);
            *left = (*left).max(bound.saturating_sub(preempted(true)));
        }
        None
    }
}

/// What state caching knows of a lone client's run ([`state_keys`]).
pub(super) struct Keys {
    /// The state before the last call, with that call: the disk under every model and the
    /// store's memory after the call before it ([`Span::state`]), the spec's expectation there,
    /// and the last call. `None` for a one-call run.
    pub(super) before_last: Option<u128>,
    /// The state after the last call (before the clean shutdown), with the spec's expectation
    /// there: what every extension of the workload starts from.
    pub(super) after_last: u128,
    /// The disk after the run's clean shutdown, with the spec's expectation of a restart there:
    /// all that a damage on restart is judged by.
    pub(super) after: u128,
}

/// The [`Keys`] of `run`; `None` when the subject does not tell its memory and expectation.
pub(super) fn state_keys<S: Subject>(subject: &S, run: &Execution<S>) -> Option<Keys> {
    use std::hash::{Hash, Hasher};
    let calls: Vec<&crate::execute::Span<S>> = run.spans.iter().filter(|s| s.client.is_some()).collect();
    let after_call = |span: &crate::execute::Span<S>| -> Option<u128> {
        let expected = subject.expected_fingerprint(&subject.expect(&run.history_at(span.end)))?;
        Some(span.state? ^ expected.rotate_left(32))
    };
    let last = calls.last()?;
    let before_last = match calls[..] {
        [.., before, _] => {
            let mut hasher = std::hash::DefaultHasher::new();
            last.op.hash(&mut hasher);
            Some(after_call(before)? ^ u128::from(hasher.finish()).rotate_left(80))
        }
        _ => None,
    };
    let restart = subject.expected_fingerprint(&subject.expect(&run.history_then_restart()))?;
    Some(Keys {
        before_last,
        after_last: after_call(last)?,
        after: run.fs.volatile_image().fingerprint() ^ restart.rotate_left(64),
    })
}
