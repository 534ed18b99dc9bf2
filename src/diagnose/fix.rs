//! Proposing a fix (fsyncs inserted at call sites) and verifying it by running the case again.

use std::fmt;

use crashsim_sim::{Model, SyncRule};

use super::{classify, Judge, Property};
use crate::case::Case;
use crate::explore::ExploreOptions;
use crate::subject::Subject;

/// Most fsync sites a fix grows to before it is reported as not verified.
pub const MOST_RULES: usize = 3;

/// A proposed fix and its verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// The fsyncs inserted, each after every call made at its site.
    pub rules: Vec<SyncRule>,
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
        let rules: Vec<String> = self.rules.iter().map(SyncRule::to_string).collect();
        write!(f, "at the call site: {}", rules.join(" and "))?;
        let verdict = if self.verified { "verified" } else { "NOT verified" };
        write!(
            f,
            " ({verdict}: failing crash points {} -> {}, {} call(s) added to the run)",
            self.failing_before, self.failing_after, self.added_calls
        )
    }
}

/// Starts from `rule` and runs `case` with it under `model`; while crash points still fail,
/// adds the fix of the first one left (an ordering or durability one whose call has a site),
/// up to [`MOST_RULES`].
pub fn propose<S: Subject>(
    subject: &S,
    case: &Case<S>,
    model: Model,
    opts: &ExploreOptions,
    failing_before: usize,
    rule: SyncRule,
) -> Fix {
    let mut rules = vec![rule];
    loop {
        let fixed = Judge::new(subject, case, opts, rules.clone()).expect("the unfixed case ran");
        let left = fixed.failing_points(model);
        let added_calls = fixed.run.fs.trace().steps.iter().filter(|s| s.inserted).count();
        let next = match left.first() {
            Some(&(k, image)) if rules.len() < MOST_RULES => classify(&fixed, model, k, image)
                .ok()
                .filter(|d| d.property != Property::Atomicity)
                .and_then(|d| d.rule)
                .filter(|r| !rules.contains(r)),
            _ => None,
        };
        match next {
            Some(rule) => rules.push(rule),
            None => {
                return Fix { rules, verified: left.is_empty(), failing_before, failing_after: left.len(), added_calls }
            }
        }
    }
}
