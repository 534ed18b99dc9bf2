//! The judge of user specs: which states a history allows, and which verdict a state gets.

use std::fmt;

use crashsim_model::history::{Outcome, Record, NEVER};
use crashsim_model::judge::{allowed, CONFORMS, LIVE, REPLIES};
use crashsim_model::{judge, Property, Spec};

/// A list that appends; a reply is the length after the append.
struct ListSpec;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct List(Vec<char>);

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?}", self.0)
    }
}

impl Spec for ListSpec {
    type Op = char;
    type Reply = usize;
    type State = List;

    fn init(&self) -> List {
        List(Vec::new())
    }

    fn step(&self, state: &List, op: &char) -> (usize, List) {
        let mut next = state.clone();
        next.0.push(*op);
        (next.0.len(), next)
    }

    fn properties(&self) -> Vec<Property<List>> {
        vec![
            Property {
                name: "NoDuplicate",
                failure: "an entry shows twice",
                predicate: |observed, _| {
                    let mut seen = observed.0.clone();
                    seen.dedup();
                    (seen.len() != observed.0.len()).then(|| "a repeated entry".to_string())
                },
            },
            Property {
                name: "Durable",
                failure: "an acknowledged entry is gone",
                predicate: |observed, allowed| {
                    let acked = allowed.iter().min_by_key(|s| s.0.len()).expect("a state");
                    (!observed.0.starts_with(&acked.0)).then(|| "an entry is gone".to_string())
                },
            },
        ]
    }
}

fn call(op: char, outcome: Outcome<usize>, invoked: u64, returned: u64) -> Record<char, usize> {
    Record::Call { process: 0, op, outcome, invoked, returned }
}

fn list(items: &str) -> Result<List, String> {
    Ok(List(items.chars().collect()))
}

#[test]
fn a_sequential_history_allows_its_acknowledged_state_and_each_uncertain_subset() {
    let history = Record::sequential([('a', Outcome::Replied(1)), ('b', Outcome::InFlight)]);
    let states = allowed(&ListSpec, &history).unwrap();
    assert_eq!(states, vec![List(vec!['a']), List(vec!['a', 'b'])]);
    judge(&ListSpec, &history, &list("a")).unwrap();
    judge(&ListSpec, &history, &list("ab")).unwrap();
}

#[test]
fn overlapping_calls_take_effect_in_either_order() {
    // a and b overlap in real time; both answered, so their replies pick the order.
    let history = vec![call('a', Outcome::Replied(2), 0, 3), call('b', Outcome::Replied(1), 1, 2)];
    judge(&ListSpec, &history, &list("ba")).unwrap();
    assert_eq!(judge(&ListSpec, &history, &list("ab")).unwrap_err().invariant, "Durable");
    // Once b answered before a was invoked, only b then a is possible: a reply of 1 for a is wrong.
    let ordered = vec![call('b', Outcome::Replied(1), 0, 1), call('a', Outcome::Replied(1), 2, 3)];
    let violation = judge(&ListSpec, &ordered, &list("ba")).unwrap_err();
    assert_eq!(violation.invariant, REPLIES, "{violation}");
    assert!(violation.summary.contains("a replied 1; the spec replies 2"), "{violation}");
}

#[test]
fn verdicts_come_in_declared_order() {
    let history = Record::sequential([('a', Outcome::Replied(1)), ('b', Outcome::Replied(2))]);
    assert_eq!(judge(&ListSpec, &history, &Err("torn header".into())).unwrap_err().invariant, LIVE);
    // "aa" breaks both properties; the first declared names it.
    assert_eq!(judge(&ListSpec, &history, &list("aa")).unwrap_err().invariant, "NoDuplicate");
    let lost = judge(&ListSpec, &history, &list("a")).unwrap_err();
    assert_eq!(lost.invariant, "Durable");
    assert!(lost.summary.contains("an acknowledged entry is gone"), "the failure is told: {lost}");
    assert!(lost.expected.contains("['a', 'b']") && lost.found.contains("['a']"), "{lost}");
    assert_eq!(judge(&ListSpec, &history, &list("abc")).unwrap_err().invariant, CONFORMS);
}

#[test]
fn a_restart_ends_every_call_before_it() {
    let history = vec![call('a', Outcome::InFlight, 0, NEVER), Record::Restart, call('b', Outcome::Replied(1), 1, 2)];
    // a never happened (b's reply says the list was empty), so only "b" is allowed.
    assert_eq!(allowed(&ListSpec, &history).unwrap(), vec![List(vec!['b'])]);
}

/// Work after recovery: a call in flight at the crash may take effect or not, but once recovery
/// showed it gone, it may not take effect later. `Allowed::after` starts from what recovery
/// showed; the whole history (with the restart) would let it come back. (The call after
/// recovery failed, so no reply tells the states apart.)
#[test]
fn a_call_recovery_showed_gone_cannot_take_effect_after_it() {
    let before = vec![call('x', Outcome::InFlight, 0, NEVER)];
    let after = vec![call('y', Outcome::Failed("EIO".to_string()), 0, 1), Record::Restart];
    let resurrected = Ok(List(vec!['x', 'y']));
    let mut whole = before.clone();
    whole.push(Record::Restart);
    whole.extend(after.clone());
    assert_eq!(judge(&ListSpec, &whole, &resurrected), Ok(()), "without pinning the in-flight x may land late");
    let pinned = crashsim_model::Allowed::after(&ListSpec, &List(Vec::new()), &after);
    assert_eq!(pinned.judge(&ListSpec, &Ok(List(vec!['y']))), Ok(()));
    let verdict = pinned.judge(&ListSpec, &resurrected).expect_err("x came back after recovery showed it gone");
    assert_eq!(verdict.invariant, CONFORMS, "{verdict}");
}
