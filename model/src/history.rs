//! Histories of any store: calls with their outcome and real-time interval, and the search
//! over the orders they may have taken effect in (linearizability, as Knossos and porcupine
//! check it).
//!
//! Each call has an invocation and an answer time. A spec is replayed over every order of the
//! calls in which a call comes after each call that answered before it was invoked: a
//! breadth-first search over the sets of calls already placed (porcupine's memo, Wing & Gong's
//! search), each set with the branches (spec states) it can leave. A sequential history has one
//! order, so it costs what a plain replay costs. What placing one call does to one branch is the
//! caller's (`extend`): the session spec and [`judge`](fn@crate::judge) each supply theirs.

use std::collections::BTreeMap;
use std::fmt;

/// What became of one call in a recorded run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome<R> {
    /// Returned this reply: acknowledged (or refused with no effect).
    Replied(R),
    /// Failed with a filesystem error: its effect is uncertain, like one in flight at a crash.
    Failed(String),
    /// Still running when the process crashed.
    InFlight,
}

impl<R: fmt::Display> fmt::Display for Outcome<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Replied(reply) => write!(f, "{reply}"),
            Outcome::Failed(error) => write!(f, "FAILED: {error}"),
            Outcome::InFlight => write!(f, "in flight at the crash"),
        }
    }
}

/// One step of a recorded run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record<O, R> {
    /// Process `process` (one store instance) was called with `op` at time `invoked` and
    /// answered `outcome` at time `returned` (any counter of the run's events; [`NEVER`] for a
    /// call in flight at the crash).
    Call { process: usize, op: O, outcome: Outcome<R>, invoked: u64, returned: u64 },
    /// Every process restarted (after a crash or a clean shutdown): each forgets what it used.
    /// Every call before it is over.
    Restart,
}

/// The answer time of a call that never answered.
pub const NEVER: u64 = u64::MAX;

/// Most calls that overlap in real time (between two restarts) the search handles: the width
/// of its set of calls.
pub const CALLS_MAX: usize = 128;

impl<O, R> Record<O, R> {
    /// The calls of one process, one after the other, at times 0, 1, 2, ... (in flight: never
    /// answered): a sequential history.
    pub fn sequential(calls: impl IntoIterator<Item = (O, Outcome<R>)>) -> Vec<Self> {
        calls
            .into_iter()
            .enumerate()
            .map(|(i, (op, outcome))| {
                let returned = if matches!(outcome, Outcome::InFlight) { NEVER } else { 2 * i as u64 + 1 };
                Record::Call { process: 0, op, outcome, invoked: 2 * i as u64, returned }
            })
            .collect()
    }
}

/// A broken invariant, with expected against found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name, as its spec declares it.
    pub invariant: &'static str,
    /// One line: what is wrong.
    pub summary: String,
    /// The spec's state (one of the allowed outcomes), or empty when the replies disagreed.
    pub expected: String,
    pub found: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} violated: {}", self.invariant, self.summary)?;
        if !self.expected.is_empty() {
            write!(f, "expected:\n{}", self.expected)?;
        }
        write!(f, "found:\n{}", self.found)
    }
}

/// The real-time interval of a call: when it was invoked and answered ([`NEVER`] if it was not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub invoked: u64,
    pub returned: u64,
}

/// Every branch the calls of one segment (between restarts) can leave, over every real-time
/// order of them. `extend(branch, i, out)` places call `i` next on `branch`, pushing the
/// branches it leads to into `out`, or returns why it cannot (a reply the spec does not give).
/// `Err` holds the first such reason when no order works.
///
/// Real time cuts the calls into chunks searched one after the other: a call invoked after
/// every earlier-invoked call answered starts a new chunk (a sequential client's calls are
/// chunks of one). A chunk holds at most [`CALLS_MAX`] calls.
pub fn linearize<B: Clone + Ord, M>(
    start: Vec<B>,
    calls: &[Interval],
    mut extend: impl FnMut(B, usize, &mut Vec<B>) -> Option<M>,
) -> Result<Vec<B>, M> {
    for (i, call) in calls.iter().enumerate() {
        assert!(call.invoked <= call.returned, "call {} answered before it was invoked", i + 1);
    }
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| (calls[i].invoked, i));
    let mut branches = start;
    let mut chunk: Vec<usize> = Vec::new();
    let mut answered_by = 0;
    for i in order {
        if !chunk.is_empty() && answered_by < calls[i].invoked {
            branches = linearize_chunk(branches, calls, &chunk, &mut extend)?;
            chunk.clear();
        }
        chunk.push(i);
        answered_by = answered_by.max(calls[i].returned);
    }
    if chunk.is_empty() {
        return Ok(branches);
    }
    linearize_chunk(branches, calls, &chunk, &mut extend)
}

/// [`linearize`] over the calls `chunk` (indices into `calls`), which real time does not order
/// against one another.
fn linearize_chunk<B: Clone + Ord, M>(
    start: Vec<B>,
    all: &[Interval],
    chunk: &[usize],
    extend: &mut impl FnMut(B, usize, &mut Vec<B>) -> Option<M>,
) -> Result<Vec<B>, M> {
    assert!(chunk.len() <= CALLS_MAX, "{} overlapping calls; the check handles {CALLS_MAX}", chunk.len());
    let calls: Vec<Interval> = chunk.iter().map(|&i| all[i]).collect();
    let calls = calls.as_slice();
    let mut level: BTreeMap<u128, Vec<B>> = BTreeMap::from([(0, start)]);
    for _ in 0..calls.len() {
        let mut next: BTreeMap<u128, Vec<B>> = BTreeMap::new();
        let mut mismatch = None;
        for (placed, branches) in level {
            let candidates = candidates(calls, placed);
            let mut owned = Some(branches);
            for (n, &i) in candidates.iter().enumerate() {
                let slot = next.entry(placed | (1 << i)).or_default();
                // The last candidate takes the branches; the others work on copies.
                let branches: Vec<B> = if n + 1 == candidates.len() {
                    owned.take().expect("taken once, by the last candidate")
                } else {
                    owned.as_ref().expect("not taken yet").clone()
                };
                for branch in branches {
                    if let Some(why) = extend(branch, chunk[i], slot) {
                        mismatch.get_or_insert(why);
                    }
                }
            }
        }
        next.retain(|_, branches| !branches.is_empty());
        if next.is_empty() {
            return Err(mismatch.expect("every branch was rejected by a reply"));
        }
        for branches in next.values_mut() {
            dedup_in_order(branches);
        }
        level = next;
    }
    let (_, branches) = level.pop_first().expect("one set holds every call");
    Ok(branches)
}

/// Drops repeated branches, keeping the first of each in place.
fn dedup_in_order<B: Ord>(branches: &mut Vec<B>) {
    if branches.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..branches.len()).collect();
    order.sort_by(|&a, &b| branches[a].cmp(&branches[b]).then(a.cmp(&b)));
    let mut keep = vec![true; branches.len()];
    for pair in order.windows(2) {
        if branches[pair[0]] == branches[pair[1]] {
            keep[pair[1]] = false;
        }
    }
    let mut index = 0;
    branches.retain(|_| {
        index += 1;
        keep[index - 1]
    });
}

/// The calls that may be placed after the calls in `placed`: those invoked before every other
/// unplaced call answered.
fn candidates(calls: &[Interval], placed: u128) -> Vec<usize> {
    // The earliest and second earliest answer among the unplaced calls.
    let (mut first, mut second) = ((NEVER, usize::MAX), NEVER);
    for (j, call) in calls.iter().enumerate().filter(|(j, _)| placed & (1 << j) == 0) {
        if call.returned < first.0 {
            second = first.0;
            first = (call.returned, j);
        } else if call.returned < second {
            second = call.returned;
        }
    }
    let unplaced = (0..calls.len()).filter(|j| placed & (1 << j) == 0);
    unplaced.filter(|&i| calls[i].invoked <= if first.1 == i { second } else { first.0 }).collect()
}
