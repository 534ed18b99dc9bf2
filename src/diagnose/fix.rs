//! Proposing a fix (fsyncs inserted at call sites) and verifying it by running the case again.

use std::fmt;

use crashsim_sim::{Model, SyncRule};

use super::oracle::failing_points;
use super::{classify, Oracle, VulnerabilityKey};

/// Most fsync sites a fix grows to before it is reported as not verified.
pub const MOST_RULES: usize = 3;

/// A proposed fix and its verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// The fsyncs inserted, each after every call made at its site.
    pub rules: Vec<SyncRule>,
    /// The program's name of each rule's call, as its diagnosis told it (`write`, where a
    /// replay made the call a `pwrite`).
    pub named: Vec<String>,
    /// Whether the run with them has no failing crash point left under the model.
    pub verified: bool,
    /// Crash points with a failing image under the model, without the fix and with it.
    pub failing_before: usize,
    pub failing_after: usize,
    /// Calls the fix added to the run (an fsync, or open, fsync and close of a directory).
    pub added_calls: usize,
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self.rules.iter().zip(&self.named).map(|(rule, call)| rule.describe(call)).collect();
        write!(f, "at the call site: {}", rules.join(" and "))?;
        let verdict = if self.verified { "verified" } else { "NOT verified" };
        write!(
            f,
            " ({verdict}: failing crash points {} -> {}, {} call(s) added to the run)",
            self.failing_before, self.failing_after, self.added_calls
        )
    }
}

/// Which failing crash points a fix must remove to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every one under the model: a shrunk case has one bug.
    Everything,
    /// Those of one vulnerability (their diagnosis has this key): a traced program may have
    /// several, each with its own fix.
    Only(VulnerabilityKey),
}

/// Starts from `rule` (after the call the program names `named`) and runs the case again with
/// it (`rerun`) under `model`; while crash
/// points of `scope` still fail, adds the fix of the first one left (an ordering or durability
/// one whose call has a site), up to [`MOST_RULES`].
pub fn propose<O: Oracle>(
    model: Model,
    failing_before: usize,
    rule: SyncRule,
    named: String,
    scope: &Scope,
    rerun: &dyn Fn(Vec<SyncRule>) -> Result<O, String>,
) -> Result<Fix, String> {
    let mut rules = vec![rule];
    let mut named = vec![named];
    loop {
        let fixed = rerun(rules.clone())?;
        let mut left = failing_points(&fixed, model);
        let mut first = None;
        if let Scope::Only(key) = scope {
            left.retain(|&(point, image)| {
                let diagnosis = classify(&fixed, model, point, image).ok();
                let ours = diagnosis.as_ref().is_some_and(|d| d.key() == *key);
                if ours && first.is_none() {
                    first = diagnosis;
                }
                ours
            });
        } else if let Some(&(point, image)) = left.first() {
            first = classify(&fixed, model, point, image).ok();
        }
        let added_calls = fixed.fs().trace().steps.iter().filter(|s| s.inserted).count();
        let next = first
            .filter(|d| rules.len() < MOST_RULES && d.property.fixed_by_fsync())
            .and_then(|d| Some((d.rule?, d.calls[0].name.clone())))
            .filter(|(r, _)| !rules.contains(r));
        match next {
            Some((rule, name)) => {
                rules.push(rule);
                named.push(name);
            }
            None => {
                return Ok(Fix {
                    rules,
                    named,
                    verified: left.is_empty(),
                    failing_before,
                    failing_after: left.len(),
                    added_calls,
                })
            }
        }
    }
}
