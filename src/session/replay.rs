//! The command line that replays a case of the session store: `crashsim repro` with the
//! variant, model, workload and everything the case fixed (schedule, faults, check). The generic
//! reporter knows no store; this is the session subject's [`Subject::replay`].
//!
//! [`Subject::replay`]: crate::subject::Subject::replay

use std::fmt::Write as _;

use crashsim_sim::Model;

use crate::case::{Case, Check};
use crate::explore::ExploreOptions;
use crate::report::program;
use crate::schedule::gate::Preempt;
use crate::session::workload;
use crate::session::Session;

/// The one-line command that replays a case of the session store.
pub fn replay_command(subject: &Session, model: Model, case: &Case<Session>, opts: &ExploreOptions) -> String {
    let mut command = format!(
        "{} repro --variant {} --model {model} --workload '{}'",
        program(),
        subject.0,
        workload::format(&case.workload)
    );
    if case.workload.processes > 1 {
        let _ = write!(command, " --processes {}", case.workload.processes);
    }
    if !case.workload.setup.is_empty() {
        let _ = write!(command, " --setup '{}'", workload::format_ops(&case.workload.setup));
    }
    if let Some(run) = &case.madsim {
        let _ = write!(command, " --madsim-seed {}", run.seed);
        if let Some(kill) = &run.kill {
            let _ = write!(command, " --kill {}@{}", kill.process, kill.at_us);
        }
    } else if !case.schedule.0.is_empty() {
        let _ = write!(command, " --schedule {}", case.schedule);
    }
    if opts.preempt != Preempt::default() {
        let _ = write!(command, " --preempt {}", opts.preempt);
    }
    if !case.faults.is_clean() {
        let _ = write!(command, " --plan '{}'", case.faults);
    }
    match case.check {
        Check::Crash { after, image } => {
            let _ = write!(command, " --crash-after {after} --image {image}");
        }
        Check::Clean { op } => {
            let _ = write!(command, " --clean-after {}", op + 1);
        }
        Check::Restart => command.push_str(" --restart"),
        Check::WorkAfterRestart => command.push_str(" --restart --continue"),
        Check::Continue { after, image } => {
            let _ = write!(command, " --crash-after {after} --image {image} --continue");
        }
    }
    command
}
