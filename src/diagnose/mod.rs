//! Diagnosis: which persistence assumption a failing crash image breaks, where in the program,
//! and the fsync that removes it, verified by running the program again with it.
//!
//! A crash image is the durable state plus the pending events that survived (after ALICE,
//! OSDI 2014). For one failing image, what-if images that keep one more or one fewer pending
//! event tell which events matter ([`classify`]):
//! - **atomicity**: the image in which every pending event survived (what kill -9 leaves) fails
//!   too: the program's own intermediate state is unrecoverable. The window is the run of crash
//!   points around it that fail under `process`; no fsync closes it, the protocol must change.
//! - **ordering**: an event that did not persist is needed (adding it passes), and a later one
//!   that did is needed too (dropping it passes): the later persisted before the earlier.
//! - **durability**: an event that did not persist is needed, and nothing later is: it was
//!   never made durable.
//! - **split-write**: an ordering whose two events are parts of one write of the program: the
//!   first syscall returned short and the program wrote the rest (`write_all`, a retry loop).
//!   An fsync after the call comes after both parts, so none is proposed: recovery must tell a
//!   torn record, or the data go to a temp file renamed into place.
//! - **error-dropped**: no crash: a clean point where a call answered although an injected errno
//!   failed one of its syscalls; that syscall's site is where the error was dropped.
//!
//! The fix of ordering and durability is an fsync of what the needed lost event changed (its
//! file's data, or its directory's entries) after the call that made it, at that call's site.
//! [`fix`] inserts it at that site in a new run of the same case and counts the failing crash
//! points before and after under the same model; a fix is "verified" only when none is left.
//! When some are left it adds the fix of the first one left (at most [`fix::MOST_RULES`]).
//!
//! Sites come from backtraces ([`crashsim_sim::Site`]): a subject needs line tables (the
//! default `dev` profile, or `debug = "line-tables-only"` in release) for a fix to be keyed.

mod classify;
pub mod fix;
mod judge;
pub mod oracle;
mod vulnerability;

use std::fmt;

use crashsim_sim::{Call, Model, Outcome, Site, SyncRule, SyncTarget, Trace};

pub use classify::classify;
pub use fix::Fix;
pub use judge::Judge;
pub use oracle::Oracle;
pub use vulnerability::{group, summary, Vulnerability};

use crate::bounds::ExploreOptions;
use crate::case::{Case, Check};
use crate::explore::acknowledged_failure;
use crate::subject::Subject;

/// The persistence property a failure needs and the disk did not give (ALICE's terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    Atomicity,
    Ordering,
    Durability,
    /// One write of the program, made of several syscalls after a short write (`write_all`, a
    /// retry loop), persisted a later part without an earlier one. An fsync after the call comes
    /// after both parts: the format must tell a torn record, or the write go elsewhere first.
    SplitWrite,
    /// Not a crash's doing either: a syscall failed (an injected errno) and the call it was part
    /// of answered as if it had not. The code there drops the error (an unchecked result, or a
    /// `BufWriter` dropped unflushed: its drop ignores errors); no fsync fixes it.
    ErrorDropped,
    /// Not a crash's doing: the run itself, completed, fails from some call on (a logic error,
    /// or two processes' updates lost to each other).
    EndState,
}

impl Property {
    pub fn name(self) -> &'static str {
        match self {
            Property::Atomicity => "atomicity",
            Property::Ordering => "ordering",
            Property::Durability => "durability",
            Property::SplitWrite => "split-write",
            Property::ErrorDropped => "error-dropped",
            Property::EndState => "end-state",
        }
    }

    /// Whether an fsync can fix it (a lost event's, not the protocol's or the program's logic).
    pub fn fixed_by_fsync(self) -> bool {
        matches!(self, Property::Ordering | Property::Durability)
    }
}

/// One call of the trace a diagnosis names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRef {
    /// Its syscall number in the run.
    pub step: usize,
    /// Where a person finds it in the report (`syscall 80`, `call 12 (log line 345)`).
    pub at: String,
    /// The program's name for it (`write`, though a replay may make it a `pwrite`).
    pub name: String,
    pub call: Call,
    /// The path it acts on (for a call on a descriptor, the path that descriptor was opened at).
    pub object: Option<String>,
    /// Where the program made it (`None`: no line tables, or sites not recorded).
    pub site: Option<Site>,
}

impl CallRef {
    /// Syscall `step` of `trace`, named by `oracle`.
    pub(crate) fn of(oracle: &dyn Oracle, trace: &Trace, step: usize) -> Self {
        let made = &trace.steps[step];
        Self {
            step: made.step,
            at: oracle.name_step(step),
            name: oracle.call_name(step).unwrap_or_else(|| made.call.name().to_string()),
            call: made.call.clone(),
            object: object_of(trace, step),
            site: made.site.clone(),
        }
    }
}

/// The path syscall `step` acts on: its own path argument (the target of a rename or link), or
/// the path its descriptor was last opened at.
fn object_of(trace: &Trace, step: usize) -> Option<String> {
    let fd = match &trace.steps[step].call {
        Call::Open { path, .. }
        | Call::Unlink { path }
        | Call::Mkdir { path }
        | Call::Rmdir { path }
        | Call::Readdir { path }
        | Call::Stat { path } => return Some(path.clone()),
        Call::Rename { to, .. } | Call::Link { to, .. } => return Some(to.clone()),
        Call::Write { fd, .. }
        | Call::Pwrite { fd, .. }
        | Call::Read { fd, .. }
        | Call::Pread { fd, .. }
        | Call::Truncate { fd, .. }
        | Call::Fsync { fd }
        | Call::Fdatasync { fd }
        | Call::Close { fd } => *fd,
    };
    trace.steps[..step].iter().rev().find_map(|s| match (&s.call, &s.outcome) {
        (Call::Open { path, .. }, Outcome::Fd(opened)) if *opened == fd => Some(path.clone()),
        _ => None,
    })
}

/// `the rename at syscall 80 (store/src/registry.rs:117)`.
impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} at {}", self.name, self.at)?;
        // A traced call without a stack is its own site (its log line): already told by `at`.
        if let Some(site) = self.site.as_ref().filter(|s| !s.line().file.starts_with("strace log line")) {
            write!(f, " ({})", site.line())?;
        }
        Ok(())
    }
}

/// What makes two diagnoses one vulnerability: the property and the sites of the calls.
pub type VulnerabilityKey = (Property, Vec<String>);

/// Why one failing crash image fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub property: Property,
    pub model: Model,
    /// Atomicity: the call that opens the window and the one that closes it (none: the run
    /// ends inside it). Ordering: the earlier call whose event was lost, then the later one
    /// whose event persisted. Durability: the call whose event was lost.
    pub calls: Vec<CallRef>,
    /// Crash points of the case's run with a failing image under the model.
    pub failing_points: usize,
    /// The proposed fix (atomicity has none) and how its verification went.
    pub fix: Option<Fix>,
    /// The sync a fix starts from: what the lost event changed, after its call (none for
    /// atomicity, or when the call has no site).
    pub rule: Option<SyncRule>,
}

impl Diagnosis {
    /// The vulnerability this failure belongs to: its property and the sites that decide its
    /// fix (a syscall's place in the run where a call has no site). An ordering is keyed by the
    /// lost call alone, as a durability is: its fix is an fsync there, whichever later call
    /// overtook it. An atomicity window is keyed by both its ends, a split write by both its
    /// parts, a dropped error by the call that failed.
    pub fn key(&self) -> VulnerabilityKey {
        let deciding = match self.property {
            Property::Atomicity | Property::SplitWrite | Property::ErrorDropped | Property::EndState => &self.calls[..],
            Property::Ordering | Property::Durability => &self.calls[..1],
        };
        let sites = deciding.iter().map(|c| c.site.as_ref().map_or(c.at.clone(), |s| s.to_string())).collect();
        (self.property, sites)
    }
}

/// One line: `ordering: the rename at syscall 80 (..) persisted before the write at 77 (..);
/// fix: fsync sessions.json.tmp after syscall 77 (verified: ..)`.
impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.property.name())?;
        match (self.property, self.calls.as_slice()) {
            (Property::Ordering, [earlier, later]) => write!(f, "{later} persisted before {earlier}")?,
            (Property::Durability, [lost]) => write!(f, "{lost} had not persisted")?,
            (Property::EndState, [opens]) => write!(
                f,
                "the run fails with no crash at all: every state from {opens} to its end, its last included \
                 (a logic error, or two processes' updates lost to each other; no fsync fixes it)"
            )?,
            (Property::SplitWrite, [earlier, later]) => write!(
                f,
                "{later} persisted without {earlier}: both wrote parts of one write of the program \
                 (the first returned short, the program wrote the rest)"
            )?,
            (Property::ErrorDropped, [failed]) => {
                write!(f, "{failed} failed, and the call it was part of answered as if it had not")?
            }
            (Property::Atomicity, [opens, closes]) => {
                write!(f, "every crash after {opens} and before {closes} fails, even under process (kill -9)")?
            }
            (_, calls) => {
                let calls: Vec<String> = calls.iter().map(CallRef::to_string).collect();
                write!(f, "{}", calls.join(", "))?
            }
        }
        match (&self.fix, self.property) {
            (_, Property::Atomicity) => write!(
                f,
                "; no fsync fixes it: the protocol must change (copy then replace, a temp file and a rename, a journal)"
            ),
            (_, Property::SplitWrite) => write!(
                f,
                "; no fsync fixes it (one after the call comes after both parts): recovery must tell a torn \
                 record (a checksum or a length per record), or the data go to a temp file renamed into place"
            ),
            (_, Property::ErrorDropped) => write!(
                f,
                "; no fsync fixes it: the code there drops the error (check the result; flush a BufWriter, or \
                 take it apart with into_inner, before its sync: its drop ignores errors)"
            ),
            (_, Property::EndState) => Ok(()),
            (Some(fix), _) => {
                // The fsync named after the object of the lost call, as a person would write it.
                let object = self.calls[0].object.as_deref().unwrap_or("?");
                let dir = match object.rsplit_once('/') {
                    Some((dir, _)) => dir,
                    None => "/",
                };
                let what = match self.rule.as_ref().map(|r| r.target) {
                    Some(SyncTarget::Dir) if dir == "/" => format!("the directory holding {object}"),
                    Some(SyncTarget::Dir) => format!("the directory {dir}"),
                    _ => object.to_string(),
                };
                write!(f, "; fix: fsync {what} after {}; {fix}", self.calls[0].at)
            }
            (None, _) if self.rule.is_some() => write!(f, "; fix: as for the vulnerability's first failing point"),
            (None, _) => write!(
                f,
                "; no fix proposed: the call has no site (build with line tables: `debug = \"line-tables-only\"` \
                 under `[profile.release]`, or CARGO_PROFILE_RELEASE_DEBUG=line-tables-only)"
            ),
        }
    }
}

/// Diagnoses the failing image of a crash case under `model`, and proposes and verifies its fix.
pub fn diagnose<S: Subject>(
    subject: &S,
    model: Model,
    case: &Case<S>,
    opts: &ExploreOptions,
) -> Result<Diagnosis, String> {
    let (after, image) = match case.check {
        Check::Crash { after, image } | Check::Continue { after, image } => (after, image),
        Check::Clean { op } => return error_dropped(subject, model, case, op, opts),
        _ => return Err("only a crash point has a diagnosis: a restart names no lost event".into()),
    };
    let judge = Judge::new(subject, case, opts, Vec::new())?;
    let mut diagnosis = classify(&judge, model, after, image)?;
    diagnosis.failing_points = oracle::failing_points(&judge, model).len();
    if let (Property::Ordering | Property::Durability, Some(rule)) = (diagnosis.property, diagnosis.rule.clone()) {
        let rerun = |rules| Judge::new(subject, case, opts, rules);
        let named = diagnosis.calls[0].name.clone();
        let scope = fix::Scope::Everything;
        diagnosis.fix = Some(fix::propose(model, diagnosis.failing_points, rule, named, &scope, &rerun)?);
    }
    Ok(diagnosis)
}

/// The diagnosis of a clean point where call `op` answered although an injected errno failed
/// one of its syscalls: that syscall, at its site.
fn error_dropped<S: Subject>(
    subject: &S,
    model: Model,
    case: &Case<S>,
    op: usize,
    opts: &ExploreOptions,
) -> Result<Diagnosis, String> {
    let judge = Judge::new(subject, case, opts, Vec::new())?;
    if acknowledged_failure(subject, &judge.run, &case.faults).is_none_or(|(span, _)| span != op) {
        return Err("a clean point names no lost event: no crash, the running store's own files are wrong".into());
    }
    let step = *case.faults.faults.keys().next().expect("a fault hit the call");
    let failed = CallRef::of(&judge, &judge.run.fs.trace(), step);
    let calls = vec![failed];
    Ok(Diagnosis { property: Property::ErrorDropped, model, calls, failing_points: 1, fix: None, rule: None })
}
