//! A spec for any store, and the judge that holds an observed state to it.
//!
//! A user's [`Spec`] is a sequential reference implementation: an initial state, the reply and
//! next state of each operation, and [`Property`]s (invariants as data: a name, the failure a
//! user would see, a predicate). The state is also what a user sees of the store, so the
//! harness compares the state a recovered store shows with the states the spec allows: those of
//! the acknowledged operations plus any subset of the uncertain ones (in flight at the crash, or
//! failed), in any order real time allows ([`linearize`]).
//!
//! When the observed state is none of them, the verdict is the first property, in declared
//! order, whose predicate fails; if none does, the built-in `Conforms`. Two more are built in
//! and come first: `Live` (recovery failed: the store cannot start) and `Replies` (an
//! acknowledged call got a reply no order of the calls gives).

use std::fmt::{Debug, Display, Write as _};

use crate::history::{linearize, Interval, Outcome, Record, Violation};

/// An invariant as data.
pub struct Property<S> {
    /// A short name, as reports print it: `NoOrphan`, `Durable`.
    pub name: &'static str,
    /// The failure it rules out, as a user would see it.
    pub failure: &'static str,
    /// Why `observed` breaks it, given the states the spec allows (never empty); `None` if it
    /// holds.
    pub predicate: fn(observed: &S, allowed: &[S]) -> Option<String>,
}

/// A store's spec: a sequential reference implementation and its invariants.
pub trait Spec: Sync {
    /// One call a client makes.
    type Op: Debug + Display;
    /// What a call answers.
    type Reply: PartialEq + Debug + Display;
    /// The abstract state, which is also what a user sees of the store.
    type State: Clone + Ord + Debug + Display;

    /// The state of a new, empty store.
    fn init(&self) -> Self::State;
    /// The reply to `op` in `state`, and the state after it.
    fn step(&self, state: &Self::State, op: &Self::Op) -> (Self::Reply, Self::State);
    /// The invariants, in the order a verdict names them.
    fn properties(&self) -> Vec<Property<Self::State>>;
}

/// The name of the verdict when recovery failed.
pub const LIVE: &str = "Live";
/// The name of the verdict when an acknowledged reply is none the spec gives.
pub const REPLIES: &str = "Replies";
/// The name of the verdict when no property fails but the state is none the spec allows.
pub const CONFORMS: &str = "Conforms";

/// Judges `observed` (the state a recovered store shows, or why it did not start) against
/// `spec` replayed over `history`.
pub fn judge<S: Spec>(
    spec: &S,
    history: &[Record<S::Op, S::Reply>],
    observed: &Result<S::State, String>,
) -> Result<(), Violation> {
    Allowed::of(spec, history).judge(spec, observed)
}

/// The states a spec allows after a history (or the reply no order gives): replayed once, held
/// against any number of observed states.
#[derive(Clone, Debug)]
pub struct Allowed<T> {
    states: Result<Vec<T>, String>,
}

impl<T: Clone + Ord + Debug + Display> Allowed<T> {
    /// Replays `spec` over `history`.
    pub fn of<S: Spec<State = T>>(spec: &S, history: &[Record<S::Op, S::Reply>]) -> Self {
        Self { states: allowed(spec, history) }
    }

    /// Replays `spec` over `history` from `start` instead of the initial state: what may follow
    /// the state a recovered store showed. An uncertain call before the crash was resolved by
    /// that state; it cannot take effect later.
    pub fn after<S: Spec<State = T>>(spec: &S, start: &T, history: &[Record<S::Op, S::Reply>]) -> Self {
        Self { states: allowed_from(spec, vec![start.clone()], history) }
    }

    /// A fingerprint of the allowed states: all that the judgments of later histories start
    /// from ([`crate::Spec`] states are the whole spec state), for a subject's
    /// `expected_fingerprint` (state caching).
    pub fn fingerprint(&self) -> u128
    where
        T: std::hash::Hash,
    {
        use std::hash::{Hash, Hasher};
        let (mut low, mut high) = (std::hash::DefaultHasher::new(), std::hash::DefaultHasher::new());
        0u8.hash(&mut high);
        self.states.hash(&mut low);
        self.states.hash(&mut high);
        (u128::from(high.finish()) << 64) | u128::from(low.finish())
    }

    /// Judges `observed` against these states and `spec`'s properties.
    pub fn judge<S: Spec<State = T>>(&self, spec: &S, observed: &Result<T, String>) -> Result<(), Violation> {
        let found = match observed {
            Ok(state) => indent(state),
            Err(error) => format!("  (the store did not start: {error})\n"),
        };
        let violation = |invariant, summary, expected| Violation { invariant, summary, expected, found: found.clone() };
        let allowed = self.states.as_ref().map_err(|summary| violation(REPLIES, summary.clone(), String::new()))?;
        let state =
            observed.as_ref().map_err(|error| violation(LIVE, format!("recovery failed: {error}"), String::new()))?;
        if allowed.contains(state) {
            return Ok(());
        }
        let mut expected = String::new();
        if allowed.len() > 1 {
            let _ = writeln!(expected, "  (one of {} allowed states)", allowed.len());
        }
        expected.push_str(&indent(&allowed[0]));
        for property in spec.properties() {
            if let Some(summary) = (property.predicate)(state, allowed) {
                return Err(violation(property.name, format!("{summary} ({})", property.failure), expected));
            }
        }
        let summary = "the store shows a state that no order of the operations leaves".to_string();
        Err(violation(CONFORMS, summary, expected))
    }
}

/// Every state the spec allows after `history`, in a deterministic order; `Err` names a reply
/// that no order gives.
pub fn allowed<S: Spec>(spec: &S, history: &[Record<S::Op, S::Reply>]) -> Result<Vec<S::State>, String> {
    allowed_from(spec, vec![spec.init()], history)
}

fn allowed_from<S: Spec>(
    spec: &S,
    mut branches: Vec<S::State>,
    history: &[Record<S::Op, S::Reply>],
) -> Result<Vec<S::State>, String> {
    for segment in history.split(|r| matches!(r, Record::Restart)) {
        let calls: Vec<&Record<S::Op, S::Reply>> = segment.iter().collect();
        let intervals: Vec<Interval> = calls
            .iter()
            .map(|r| match r {
                Record::Call { invoked, returned, .. } => Interval { invoked: *invoked, returned: *returned },
                Record::Restart => unreachable!("segments hold no restart"),
            })
            .collect();
        branches = linearize(branches, &intervals, |state, i, out| {
            let Record::Call { op, outcome, .. } = calls[i] else { unreachable!("segments hold no restart") };
            let (reply, next) = spec.step(&state, op);
            match outcome {
                Outcome::Replied(got) if *got == reply => out.push(next),
                Outcome::Replied(got) => return Some(format!("{op} replied {got}; the spec replies {reply}")),
                Outcome::Failed(_) | Outcome::InFlight => out.extend([state, next]),
            }
            None
        })?;
    }
    Ok(branches)
}

fn indent(state: &impl Display) -> String {
    let mut out = String::new();
    for line in state.to_string().lines() {
        let _ = writeln!(out, "  {line}");
    }
    if out.is_empty() {
        out.push_str("  (empty)\n");
    }
    out
}
