//! A bounded breadth-first model checker for the spec, TLC-style: every state reachable from
//! `Init` in at most `depth` steps of `Next` is generated once and checked against every
//! invariant; a violation comes with the shortest path that reaches it.
//!
//! Like TLC, it remembers visited states by a 128-bit fingerprint (two fixed-key SipHashes),
//! not whole: memory stays at one level of states plus 16 bytes per distinct state. Two states
//! collide with probability about n²/2¹²⁹, negligible at the sizes checked here.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::invariant::Invariant;
use crate::spec::{Action, SpecConfig, SpecState};

/// A path from `Init` to a state that breaks an invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    pub invariant: Invariant,
    pub why: String,
    pub path: Vec<Action>,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} violated: {}", self.invariant, self.why)?;
        writeln!(f, "counterexample ({} steps from Init):", self.path.len())?;
        for (i, action) in self.path.iter().enumerate() {
            writeln!(f, "  {:>2}. {action}", i + 1)?;
        }
        Ok(())
    }
}

/// What a bounded check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BfsReport {
    pub depth: usize,
    /// Transitions generated (states visited, counting repeats).
    pub states_explored: u64,
    /// Distinct states reached.
    pub distinct_states: usize,
    pub violation: Option<Counterexample>,
}

#[allow(deprecated)]
fn fingerprint(state: &SpecState) -> u128 {
    let mut low = std::hash::SipHasher::new_with_keys(0x6372_6173_6873_696d, 1);
    let mut high = std::hash::SipHasher::new_with_keys(0x7370_6563_2d62_6673, 2);
    state.hash(&mut low);
    state.hash(&mut high);
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}

/// Checks every state within `depth` steps of `Init`; stops at the first violation.
pub fn check_spec(config: &SpecConfig, depth: usize) -> BfsReport {
    check_spec_with_progress(config, depth, |_, _| {})
}

/// [`check_spec`], calling `progress(level, distinct states so far)` after each level.
pub fn check_spec_with_progress(
    config: &SpecConfig,
    depth: usize,
    mut progress: impl FnMut(usize, usize),
) -> BfsReport {
    // Fingerprints of visited states; membership only, never iterated.
    #[allow(deprecated)]
    let mut seen: HashSet<u128, BuildHasherDefault<std::hash::SipHasher>> = HashSet::default();
    // For each distinct state, how it was reached: its parent's index and the action.
    let mut parents: Vec<Option<(u32, Action)>> = Vec::new();
    let path_to = |parents: &Vec<Option<(u32, Action)>>, mut at: usize| {
        let mut path = Vec::new();
        while let Some((parent, action)) = &parents[at] {
            path.push(action.clone());
            at = *parent as usize;
        }
        path.reverse();
        path
    };
    let init = SpecState::init(config);
    let mut report = BfsReport { depth, states_explored: 1, distinct_states: 1, violation: None };
    if let Some((invariant, why)) = init.violation() {
        report.violation = Some(Counterexample { invariant, why, path: Vec::new() });
        return report;
    }
    seen.insert(fingerprint(&init));
    parents.push(None);
    let mut frontier = vec![(init, 0usize)];
    for level in 1..=depth {
        let last = level == depth;
        let mut next_frontier = Vec::new();
        for (state, index) in frontier {
            let successors = state.next(config);
            if successors.is_empty() && state.crashed {
                let why = "a crashed store has no way to restart".to_string();
                report.violation =
                    Some(Counterexample { invariant: Invariant::Live, why, path: path_to(&parents, index) });
                return report;
            }
            for (action, successor) in successors {
                report.states_explored += 1;
                if !seen.insert(fingerprint(&successor)) {
                    continue;
                }
                let at = parents.len();
                parents.push(Some((u32::try_from(index).expect("fewer than 4 billion states"), action)));
                if let Some((invariant, why)) = successor.violation() {
                    report.distinct_states = parents.len();
                    report.violation = Some(Counterexample { invariant, why, path: path_to(&parents, at) });
                    return report;
                }
                if !last {
                    next_frontier.push((successor, at));
                }
            }
        }
        frontier = next_frontier;
        progress(level, parents.len());
    }
    report.distinct_states = parents.len();
    report
}
