//! A case: one replayable check (a workload, its faults, its interleaving, what is looked at),
//! and a finding (a case with the violation it shows). The explorer, the soak, `repro` and the
//! reporter all speak of cases; findings are ordered by how small they are.

use crashsim_faults::Plan;
use crashsim_model::Violation;

use crate::execute::{execute, Execution, MadsimRun, Run};
use crate::schedule::gate::Preempt;
use crate::schedule::Schedule;
use crate::subject::Subject;
use crate::workload::Workload;

/// What is checked in a case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// A store booted on image `image` of a crash after `after` syscalls.
    Crash { after: usize, image: usize },
    /// The running store's files right after operation `op` (0-based), no crash.
    Clean { op: usize },
    /// A restart after the run's clean shutdown.
    Restart,
    /// Work after recovery: a store booted on image `image` of a crash after `after` syscalls
    /// runs the calls not yet invoked, shuts down, and is restarted.
    Continue { after: usize, image: usize },
    /// Work after a restart on a damaged disk: the store booted after the run's clean shutdown
    /// (on the file the plan's `corrupt@` damages) runs the workload's calls again, shuts down,
    /// and is restarted.
    WorkAfterRestart,
}

/// One replayable check: the workload, the injected faults, the interleaving, what is looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case<S: Subject> {
    pub workload: Workload<S::Op>,
    /// Injected errnos (no crash point: that is in `check`).
    pub faults: Plan,
    /// The interleaving of the clients on crashsim's executor (empty: the default, which is all
    /// a lone client has).
    pub schedule: Schedule,
    /// A run under madsim instead (then `schedule` is unused).
    pub madsim: Option<MadsimRun>,
    pub check: Check,
}

impl<S: Subject> Case<S> {
    /// The restart after `workload`'s clean shutdown, run under `faults` on crashsim's executor
    /// with the default schedule: the case every other check of a run is made from.
    pub fn restart(workload: Workload<S::Op>, faults: Plan) -> Self {
        Self { workload, faults, schedule: Schedule::default(), madsim: None, check: Check::Restart }
    }

    /// How the case's run is made.
    pub fn run(&self, preempt: Preempt) -> Run {
        Run { schedule: self.schedule.clone(), preempt, ..Run::default() }
    }

    /// Runs the workload the way the case says: under madsim when it names a madsim run (an
    /// error in a build without `--cfg madsim`), else on crashsim's executor with its schedule.
    pub fn execute(&self, subject: &S, preempt: Preempt) -> Result<Execution<S>, String> {
        match &self.madsim {
            None => Ok(execute(subject, &self.workload, &self.faults, &self.run(preempt))),
            #[cfg(madsim)]
            Some(run) => {
                assert!(self.faults.is_clean(), "madsim runs inject no fault");
                Ok(crate::on_madsim::execute(subject, &self.workload, run))
            }
            #[cfg(not(madsim))]
            Some(run) => Err(format!(
                "this case is a madsim run ({run}): build crashsim with --cfg madsim (the repository's .cargo/config.toml does; a RUSTFLAGS variable overrides it)"
            )),
        }
    }
}

/// A violation and the case that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding<S: Subject> {
    pub case: Case<S>,
    pub violation: Violation,
    /// How many pending events survived in the crash image (0 for clean checks).
    pub survivors: usize,
}

impl<S: Subject> Finding<S> {
    /// The order in which findings are preferred: no fault first, fewest operations, fewest
    /// clients, shortest schedule, earliest crash point, fewest surviving pending events,
    /// first image.
    pub(crate) fn rank(&self) -> (bool, usize, usize, usize, usize, usize, usize) {
        let (point, image) = match self.case.check {
            Check::Crash { after, image } | Check::Continue { after, image } => (after, image),
            Check::Clean { op } => (op, 0),
            Check::Restart | Check::WorkAfterRestart => (usize::MAX, 0),
        };
        let case = &self.case;
        let clients = case.workload.clients.len();
        (!case.faults.is_clean(), case.workload.len(), clients, case.schedule.0.len(), point, self.survivors, image)
    }
}

/// Keeps in `best` the smaller of it and `candidate` by [`Finding::rank`] (on a tie, `best`,
/// which came first); true if `candidate` was kept.
pub(crate) fn keep_smallest<S: Subject>(best: &mut Option<Finding<S>>, candidate: Option<Finding<S>>) -> bool {
    let Some(candidate) = candidate else { return false };
    if best.as_ref().is_some_and(|b| candidate.rank() >= b.rank()) {
        return false;
    }
    *best = Some(candidate);
    true
}
