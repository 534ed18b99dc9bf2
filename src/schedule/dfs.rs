//! Every schedule with at most `bound` preemptions, depth first (CHESS's iterative context
//! bounding; loom and shuttle bound preemptions the same way).
//!
//! A run with a schedule prefix makes the default choice after the prefix. Each choice point
//! of that default part, with each other ready task that keeps the preemptions within the bound,
//! gives a new prefix; every schedule is produced once, by the run it branches from. A branch
//! shares its parent's first syscalls up to the choice it changes, so whatever depends only on
//! that common part (crash points before it) needs no second look: [`Branch::from_step`].

use super::{Interleaving, Schedule};

/// A schedule to run, and the first syscall at which it may differ from the run it branched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    pub schedule: Schedule,
    /// Syscalls `0..from_step` (and every state after them) are the same as its parent's.
    pub from_step: usize,
}

/// The schedules left to run.
pub struct Dfs {
    bound: usize,
    pending: Vec<Branch>,
}

impl Dfs {
    /// Starts with the default schedule (no preemption).
    pub fn new(bound: usize) -> Self {
        Self { bound, pending: vec![Branch { schedule: Schedule::default(), from_step: 0 }] }
    }

    /// The next schedule to run.
    pub fn next_branch(&mut self) -> Option<Branch> {
        self.pending.pop()
    }

    /// Adds the branches of a run of `branch`: its interleaving `run`. With `cut`, only those
    /// at choices made before that step or at it: the run reached there a state whose
    /// continuations another run's branches explore.
    pub fn explored(&mut self, branch: &Branch, run: &Interleaving, cut: Option<usize>) {
        let prefix = branch.schedule.0.len();
        let mut preemptions: usize =
            run.choices[..prefix.min(run.choices.len())].iter().filter(|c| c.preempts(c.chosen)).count();
        let mut children = Vec::new();
        for (i, choice) in run.choices.iter().enumerate().skip(prefix) {
            if cut.is_some_and(|step| choice.step > step) {
                break;
            }
            for &other in choice.ready.iter().filter(|&&t| t != choice.chosen) {
                if preemptions + usize::from(choice.preempts(other)) <= self.bound {
                    let mut schedule: Vec<usize> = run.choices[..i].iter().map(|c| c.chosen).collect();
                    schedule.push(other);
                    children.push(Branch { schedule: Schedule(schedule), from_step: choice.step + 1 });
                }
            }
            preemptions += usize::from(choice.preempts(choice.chosen));
        }
        // Popped in order: the earliest branch point first.
        self.pending.extend(children.into_iter().rev());
    }
}

#[cfg(test)]
mod tests {
    use super::super::{gate, run, Replay, Task};
    use super::*;
    use crashsim_sim::SimClock;
    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::rc::Rc;

    fn orders(tasks: usize, steps: usize, bound: usize) -> BTreeSet<Vec<usize>> {
        let mut dfs = Dfs::new(bound);
        let mut seen = BTreeSet::new();
        while let Some(branch) = dfs.next_branch() {
            let log = Rc::new(RefCell::new(Vec::new()));
            let all: Vec<Task<'_>> = (0..tasks)
                .map(|t| {
                    let log = log.clone();
                    Box::pin(async move {
                        for _ in 0..steps {
                            gate::yield_now().await;
                            log.borrow_mut().push(t);
                        }
                    }) as Task<'_>
                })
                .collect();
            let counter = log.clone();
            let interleaving =
                run(all, &SimClock::driven(0), &mut Replay::new(branch.schedule.clone()), &|| counter.borrow().len());
            assert!(interleaving.preemptions() <= bound);
            let order = log.borrow().clone();
            assert!(seen.insert(order), "each schedule runs once");
            dfs.explored(&branch, &interleaving, None);
        }
        seen
    }

    /// Two tasks of three steps: 20 interleavings in all (6 choose 3); the bound cuts them down
    /// to those with at most that many preemptions.
    #[test]
    fn every_interleaving_within_the_bound_once() {
        assert_eq!(orders(2, 3, 0).len(), 2);
        assert_eq!(orders(2, 3, 10).len(), 20);
        let bounded = orders(2, 3, 1);
        assert!(bounded.contains(&vec![0, 1, 1, 1, 0, 0]));
        assert!(!bounded.contains(&vec![0, 1, 0, 1, 0, 1]));
        assert_eq!(bounded.len(), 6, "{bounded:?}");
    }
}
