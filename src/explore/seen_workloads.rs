//! Workload state caching (TLC's visited set over the exhaustive plan): the states the lone
//! client's workloads reached, and what a workload that reached a seen one does not redo. Decided
//! in workload order by the explorer's loop, so that which workload goes on from a state does
//! not depend on the threads: the first to reach it.

use std::collections::HashSet;

use super::plan::{last_op_faults, prunable, Planned};
use super::seen::Keys;
use crate::bounds::ExploreOptions;

#[derive(Default)]
pub(super) struct SeenWorkloads {
    /// The states before a last operation (with it) whose fault runs ran.
    before_last: HashSet<u128>,
    /// The states after a run (with what the spec expects of a restart) whose damages were
    /// checked.
    after: HashSet<u128>,
    /// The states after a workload's last call (with the spec's expectation) that a workload
    /// was extended from.
    after_last: HashSet<u128>,
    /// Workloads not run: the extensions of a workload whose state after its last call an earlier
    /// one had reached.
    pub(super) skipped: u64,
}

impl SeenWorkloads {
    /// Whether `planned`, whose run told `keys`, runs its last operation's faults, and its damages
    /// on restart ([`last_op_faults`]): only the first workload with its state before the last
    /// operation (with that operation), and after the run, does.
    pub(super) fn last_op_checks<O: Clone>(
        &mut self,
        opts: &ExploreOptions,
        planned: &Planned<O>,
        keys: Option<&Keys>,
    ) -> (bool, bool) {
        let deep = last_op_faults(opts, planned);
        match keys.and_then(|k| k.before_last.map(|before| (before, k.after))) {
            Some((before, after)) if deep => (self.before_last.insert(before), self.after.insert(after)),
            _ => (deep, deep),
        }
    }

    /// Whether the extensions of `planned` (an extendable workload), whose run told `keys`, are
    /// explored: when its state after its last call is new, or when they are short enough to get
    /// every fault run (those are run all the same).
    pub(super) fn extends<O: Clone>(
        &mut self,
        opts: &ExploreOptions,
        planned: &Planned<O>,
        keys: Option<&Keys>,
    ) -> bool {
        let new_state = !prunable(opts, planned) || keys.is_none_or(|keys| self.after_last.insert(keys.after_last));
        new_state || planned.workload.clients[0].len() < opts.errno_max_ops.max(1)
    }
}
