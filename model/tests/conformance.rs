//! The invariants and the conformance check against hand-made observed states.

use std::collections::BTreeSet;

use crashsim_model::{check, Expected, Invariant, Observed, Op, Outcome, Record, Recovery, Reply, View, ViewEntry};

thread_local! {
    /// The time of the next call: histories built in one test are sequential.
    static NOW: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn call(op: Op, outcome: Outcome) -> Record {
    let invoked = NOW.with(|now| now.replace(now.get() + 2));
    let returned = if outcome == Outcome::InFlight { crashsim_model::NEVER } else { invoked + 1 };
    Record::Call { process: 0, op, outcome, invoked, returned }
}

fn ok(op: Op, reply: Reply) -> Record {
    call(op, Outcome::Replied(reply))
}

fn create(key: &str, label: Option<&str>) -> Op {
    Op::Create { key: key.into(), label: label.map(Into::into) }
}

fn append(key: &str, message: &str) -> Op {
    Op::Append { key: key.into(), message: message.into() }
}

/// create a (labelled), append to it, create b, delete b, create c.
fn base_history() -> Vec<Record> {
    vec![
        ok(create("a", Some("L")), Reply::Session("id1".into())),
        ok(append("a", "hi"), Reply::Unit),
        ok(create("b", None), Reply::Session("id2".into())),
        ok(Op::Delete { key: "b".into() }, Reply::Unit),
        ok(create("c", None), Reply::Session("id3".into())),
    ]
}

fn entry(id: &str, label: Option<&str>) -> ViewEntry {
    ViewEntry { id: id.into(), label: label.map(Into::into) }
}

/// What the base history must leave.
fn base_view() -> View {
    let mut view = View::default();
    view.registry.insert("agent:main:a".into(), entry("id1", Some("L")));
    view.registry.insert("agent:main:c".into(), entry("id3", None));
    view.transcripts.insert("id1".into(), vec!["hi".into()]);
    view.transcripts.insert("id3".into(), vec![]);
    view.trajectories.insert("id1".into(), false);
    view.trajectories.insert("id3".into(), false);
    view.archived.insert("id2".into());
    view
}

fn observed(view: View) -> Observed {
    Observed { view, recovery: Recovery::Ok { adopted: BTreeSet::new() }, served: None }
}

fn violated(history: &[Record], view: View) -> Invariant {
    match check(history, &observed(view)) {
        Ok(()) => panic!("expected a violation"),
        Err(v) => {
            assert!(v.to_string().contains(v.invariant));
            Invariant::ALL.into_iter().find(|i| i.name() == v.invariant).expect("a session invariant")
        }
    }
}

#[test]
fn a_consistent_store_passes() {
    check(&base_history(), &observed(base_view())).unwrap();
}

#[test]
fn orphan_transcript_breaks_no_orphan() {
    let mut view = base_view();
    view.transcripts.insert("zz".into(), vec![]);
    assert_eq!(violated(&base_history(), view), Invariant::NoOrphan);
    let mut view = base_view();
    view.trajectories.insert("zz".into(), false);
    assert_eq!(violated(&base_history(), view), Invariant::NoOrphan);
}

#[test]
fn entry_without_transcript_breaks_no_dangling() {
    let mut history = base_history();
    history.push(call(create("d", None), Outcome::InFlight));
    let mut view = base_view();
    view.registry.insert("agent:main:d".into(), entry("id9", None));
    assert_eq!(violated(&history, view), Invariant::NoDangling);
}

#[test]
fn missing_acknowledged_append_breaks_durable() {
    let mut view = base_view();
    view.transcripts.insert("id1".into(), vec![]);
    assert_eq!(violated(&base_history(), view), Invariant::Durable);
}

#[test]
fn lost_label_breaks_durable() {
    let mut view = base_view();
    view.registry.insert("agent:main:a".into(), entry("id1", None));
    assert_eq!(violated(&base_history(), view), Invariant::Durable);
}

#[test]
fn re_adopted_acknowledged_session_breaks_durable() {
    let adopted = ["id1".to_string()].into_iter().collect();
    let result =
        check(&base_history(), &Observed { view: base_view(), recovery: Recovery::Ok { adopted }, served: None });
    assert_eq!(result.unwrap_err().invariant, Invariant::Durable.name());
}

#[test]
fn deleted_session_back_breaks_no_phantom() {
    let mut view = base_view();
    view.registry.insert("agent:main:b".into(), entry("id2", None));
    view.transcripts.insert("id2".into(), vec![]);
    view.trajectories.insert("id2".into(), false);
    view.archived.remove("id2");
    assert_eq!(violated(&base_history(), view), Invariant::NoPhantom);
}

#[test]
fn raw_key_breaks_canonical() {
    let mut view = base_view();
    let e = view.registry.remove("agent:main:c").unwrap();
    view.registry.insert("c".into(), e);
    assert_eq!(violated(&base_history(), view), Invariant::Canonical);
}

#[test]
fn failed_recovery_breaks_live() {
    let result = check(
        &base_history(),
        &Observed { view: base_view(), recovery: Recovery::Failed("stuck".into()), served: None },
    );
    let violation = result.unwrap_err();
    assert_eq!(violation.invariant, Invariant::Live.name());
    assert!(violation.summary.contains("stuck"));
}

#[test]
fn half_applied_create_breaks_atomic() {
    let mut history = base_history();
    history.push(call(create("d", Some("L")), Outcome::InFlight));
    let mut view = base_view();
    view.registry.insert("agent:main:d".into(), entry("id9", None));
    view.transcripts.insert("id9".into(), vec![]);
    view.trajectories.insert("id9".into(), false);
    assert_eq!(violated(&history, view), Invariant::Atomic);
}

#[test]
fn in_flight_create_present_or_absent_both_pass() {
    let mut history = base_history();
    history.push(call(create("d", None), Outcome::InFlight));
    check(&history, &observed(base_view())).unwrap();
    let mut present = base_view();
    present.registry.insert("agent:main:d".into(), entry("f00d", None));
    present.transcripts.insert("f00d".into(), vec![]);
    present.trajectories.insert("f00d".into(), false);
    check(&history, &observed(present)).unwrap();
}

#[test]
fn half_of_an_in_flight_reset_breaks_atomic_or_no_orphan() {
    let mut history = base_history();
    history.push(call(Op::Reset { key: "a".into() }, Outcome::InFlight));
    // New entry registered, old transcript not archived.
    let mut view = base_view();
    view.registry.insert("agent:main:a".into(), entry("beef", Some("L")));
    view.transcripts.insert("beef".into(), vec![]);
    view.trajectories.insert("beef".into(), false);
    let invariant = violated(&history, view);
    assert!(matches!(invariant, Invariant::Atomic | Invariant::NoOrphan), "{invariant}");
    // Either whole outcome passes; an unregistered new transcript archived by recovery too.
    let mut switched = base_view();
    switched.registry.insert("agent:main:a".into(), entry("beef", Some("L")));
    switched.transcripts.remove("id1");
    switched.trajectories.remove("id1");
    switched.transcripts.insert("beef".into(), vec![]);
    switched.trajectories.insert("beef".into(), false);
    switched.archived.insert("id1".into());
    check(&history, &observed(switched)).unwrap();
    let mut never = base_view();
    never.archived.insert("beef".into());
    check(&history, &observed(never)).unwrap();
}

#[test]
fn a_reply_the_spec_would_not_give_is_a_violation() {
    let mut history = base_history();
    history.push(ok(append("c", "x"), Reply::NotFound));
    let violation = check(&history, &observed(base_view())).unwrap_err();
    assert_eq!(violation.invariant, Invariant::Durable.name());
    assert!(violation.summary.contains("append"), "{violation}");
    let mut history = base_history();
    history.push(ok(create("a", None), Reply::Session("id8".into())));
    assert_eq!(check(&history, &observed(base_view())).unwrap_err().invariant, Invariant::NoPhantom.name());
}

#[test]
fn failed_call_may_or_may_not_have_taken_effect() {
    let mut history = base_history();
    history.push(call(append("a", "maybe"), Outcome::Failed("EIO".into())));
    history.push(ok(append("a", "after"), Reply::Unit));
    let mut took = base_view();
    took.transcripts.insert("id1".into(), vec!["hi".into(), "maybe".into(), "after".into()]);
    check(&history, &observed(took)).unwrap();
    let mut did_not = base_view();
    did_not.transcripts.insert("id1".into(), vec!["hi".into(), "after".into()]);
    check(&history, &observed(did_not)).unwrap();
}

#[test]
fn shutdown_ends_used_trajectories_and_restart_forgets() {
    let mut history = base_history();
    history.push(ok(Op::Shutdown, Reply::Unit));
    let mut view = base_view();
    view.trajectories.insert("id1".into(), true);
    view.trajectories.insert("id3".into(), true);
    check(&history, &observed(view.clone())).unwrap();
    // A lost session.ended is a lost acknowledged shutdown.
    let mut lost = view.clone();
    lost.trajectories.insert("id3".into(), false);
    assert_eq!(violated(&history, lost), Invariant::Durable);
    // After a restart the client is open again and has used nothing yet.
    history.push(Record::Restart);
    history.push(ok(Op::Shutdown, Reply::Unit));
    check(&history, &observed(view)).unwrap();
}

/// A call of `process` over the interval `invoked..returned` of a concurrent history.
fn timed(process: usize, op: Op, outcome: Outcome, invoked: u64, returned: u64) -> Record {
    Record::Call { process, op, outcome, invoked, returned }
}

fn get(key: &str) -> Op {
    Op::Get { key: key.into() }
}

fn one_session(id: &str) -> View {
    let mut view = View::default();
    view.registry.insert("agent:main:a".into(), entry(id, None));
    view.transcripts.insert(id.into(), vec![]);
    view.trajectories.insert(id.into(), false);
    view
}

/// Two overlapping calls: a `get` invoked after the create but answered `s1` while the create
/// still ran. Only the order create-then-get explains the reply; it is not the order of
/// invocation of every call (the get was invoked first), so a checker that replays calls in
/// invocation order rejects it, and a linearizability checker accepts it.
#[test]
fn an_order_other_than_invocation_order_explains_overlapping_calls() {
    let history = vec![
        timed(1, get("a"), Outcome::Replied(Reply::Session("s1".into())), 0, 3),
        timed(0, create("a", None), Outcome::Replied(Reply::Session("s1".into())), 1, 2),
    ];
    check(&history, &observed(one_session("s1"))).unwrap();
}

/// The same replies, but the get answered before the create was invoked: real time puts the
/// get first, where the spec answers NotFound. No order explains it.
#[test]
fn no_real_time_order_explains_a_read_before_the_write() {
    let history = vec![
        timed(1, get("a"), Outcome::Replied(Reply::Session("s1".into())), 0, 1),
        timed(0, create("a", None), Outcome::Replied(Reply::Session("s1".into())), 2, 3),
    ];
    let violation = check(&history, &observed(one_session("s1"))).unwrap_err();
    assert_eq!(violation.invariant, Invariant::NoPhantom.name(), "{violation}");
    assert!(violation.summary.contains("get(\"a\")"), "{violation}");
}

/// Two concurrent creates of one key: exactly one may win. Both acknowledged is a lost
/// session whichever order is taken (the spec refuses the second).
#[test]
fn two_creates_of_one_key_cannot_both_win() {
    let both = vec![
        timed(0, create("a", None), Outcome::Replied(Reply::Session("s1".into())), 0, 3),
        timed(1, create("a", None), Outcome::Replied(Reply::Session("s2".into())), 1, 2),
    ];
    assert!(check(&both, &observed(one_session("s2"))).is_err());
    let one_refused = vec![
        timed(0, create("a", None), Outcome::Replied(Reply::Session("s1".into())), 0, 3),
        timed(1, create("a", None), Outcome::Replied(Reply::Exists), 1, 2),
    ];
    check(&one_refused, &observed(one_session("s1"))).unwrap();
}

/// The lost update of `unlocked-update`: two creates of different keys both acknowledged, while
/// the registry holds one of them and the other's transcript is an orphan.
#[test]
fn a_lost_concurrent_update_is_an_orphan() {
    let history = vec![
        timed(0, create("a", None), Outcome::Replied(Reply::Session("s1".into())), 0, 2),
        timed(1, create("b", None), Outcome::Replied(Reply::Session("s2".into())), 1, 3),
    ];
    let mut view = one_session("s1");
    view.transcripts.insert("s2".into(), vec![]);
    view.trajectories.insert("s2".into(), false);
    assert_eq!(violated(&history, view.clone()), Invariant::NoOrphan);
    view.registry.insert("agent:main:b".into(), entry("s2", None));
    check(&history, &observed(view)).unwrap();
}

/// A call in flight at a crash may take effect at any point after its invocation: here after a
/// later acknowledged append it raced with.
#[test]
fn an_in_flight_call_linearizes_anywhere_after_its_invocation() {
    let history = vec![
        timed(0, create("a", None), Outcome::Replied(Reply::Session("s1".into())), 0, 1),
        timed(1, append("a", "x"), Outcome::InFlight, 2, crashsim_model::NEVER),
        timed(0, append("a", "y"), Outcome::Replied(Reply::Unit), 3, 4),
    ];
    let mut view = one_session("s1");
    view.transcripts.insert("s1".into(), vec!["y".into(), "x".into()]);
    check(&history, &observed(view.clone())).unwrap();
    view.transcripts.insert("s1".into(), vec!["x".into(), "y".into()]);
    check(&history, &observed(view.clone())).unwrap();
    view.transcripts.insert("s1".into(), vec!["y".into()]);
    check(&history, &observed(view)).unwrap();
}

/// On a disk with a damaged registry the store may refuse to start, or rebuild the registry from
/// the transcripts (re-adopting acknowledged sessions); it may not lose a session.
#[test]
fn a_damaged_registry_may_stop_the_store_or_be_rebuilt_but_not_lose_a_session() {
    let expected = Expected::of(&base_history());
    let refused =
        Observed { view: View::default(), recovery: Recovery::Failed("registry does not parse".into()), served: None };
    assert_eq!(expected.check(&refused).unwrap_err().invariant, Invariant::Live.name());
    expected.check_corrupted(&refused).unwrap();
    let adopted: BTreeSet<String> = base_view().registry.values().map(|e| e.id.clone()).collect();
    let rebuilt = Observed { view: base_view(), recovery: Recovery::Ok { adopted }, served: None };
    assert_eq!(expected.check(&rebuilt).unwrap_err().invariant, Invariant::Durable.name());
    expected.check_corrupted(&rebuilt).unwrap();
    let emptied = Observed { view: View::default(), recovery: Recovery::Ok { adopted: BTreeSet::new() }, served: None };
    assert_eq!(expected.check_corrupted(&emptied).unwrap_err().invariant, Invariant::Durable.name());
}

/// A created session as the view shows it: its entry, an empty transcript, a live trajectory.
fn with_session(mut view: View, key: &str, id: &str) -> View {
    view.registry.insert(format!("agent:main:{key}"), entry(id, None));
    view.transcripts.insert(id.into(), vec![]);
    view.trajectories.insert(id.into(), false);
    view
}

/// Work after recovery: a create in flight at the crash may have happened or not, but once
/// recovery showed which, the store must go on from there. The whole history (with a restart)
/// would let a create that recovery showed gone land later; `Expected::after_recovery` does not.
#[test]
fn after_recovery_the_spec_goes_on_from_what_recovery_showed() {
    let before = vec![call(create("a", None), Outcome::InFlight)];
    let after = vec![ok(create("b", None), Reply::Session("idb".into())), Record::Restart];
    let mut whole = before.clone();
    whole.push(Record::Restart);
    whole.extend(after.clone());
    let only_b = with_session(View::default(), "b", "idb");
    let both = with_session(only_b.clone(), "a", "ida");

    // Recovery showed no session a: it may not come back.
    let gone = observed(View::default());
    assert_eq!(check(&whole, &observed(both.clone())), Ok(()), "the whole history lets the create land late");
    let pinned = Expected::after_recovery(&before, &gone, &after);
    assert_eq!(pinned.check(&observed(only_b.clone())), Ok(()));
    assert!(pinned.check(&observed(both.clone())).is_err(), "a, which recovery showed gone, came back");

    // Recovery showed session a (its id unknown to the history, bound to the wildcard): it stays.
    let shown = observed(with_session(View::default(), "a", "ida"));
    let pinned = Expected::after_recovery(&before, &shown, &after);
    assert_eq!(pinned.check(&observed(both)), Ok(()));
    let lost = pinned.check(&observed(only_b)).expect_err("a, which recovery showed, is gone");
    assert_eq!(lost.invariant, Invariant::Durable.name(), "{lost}");
}

#[test]
fn an_acknowledged_message_lost_beside_an_append_in_flight_breaks_durable_not_atomic() {
    // "hi" was acknowledged; a second append to the same session is in flight at the crash.
    // Every allowed outcome begins with "hi", so a transcript without it lost what was
    // acknowledged, though an uncertain call touched the key.
    let mut history = base_history();
    history.push(call(append("a", "more"), Outcome::InFlight));
    let mut view = base_view();
    view.transcripts.insert("id1".into(), vec![]);
    assert_eq!(violated(&history, view), Invariant::Durable);
    // The in-flight message itself may be there or not.
    let mut view = base_view();
    view.transcripts.insert("id1".into(), vec!["hi".into(), "more".into()]);
    assert!(check(&history, &observed(view)).is_ok());
}

/// `n` sessions created and acknowledged: keys k0.., ids i0...
fn many_sessions(n: usize) -> (Vec<Record>, View) {
    let mut history = Vec::new();
    let mut view = View::default();
    for i in 0..n {
        history.push(ok(create(&format!("k{i}"), None), Reply::Session(format!("i{i}"))));
        view.registry.insert(format!("agent:main:k{i}"), entry(&format!("i{i}"), None));
        view.transcripts.insert(format!("i{i}"), vec![]);
        view.trajectories.insert(format!("i{i}"), false);
    }
    (history, view)
}

fn archived_away(view: &mut View, i: usize) {
    view.registry.remove(&format!("agent:main:k{i}"));
    view.transcripts.remove(&format!("i{i}"));
    view.trajectories.remove(&format!("i{i}"));
    view.archived.insert(format!("i{i}"));
}

/// A crash inside a prune of 1,000 sessions may leave any subset of them pruned (2^1000
/// outcomes, judged symbolically); pruning one the prune would not touch is a violation.
#[test]
fn an_interrupted_prune_of_a_thousand_allows_any_subset_and_nothing_else() {
    let (mut history, view) = many_sessions(2000);
    history.push(call(Op::Prune { max_entries: 1000 }, Outcome::InFlight));
    let expected = Expected::of(&history);
    expected.check(&observed(view.clone())).expect("none pruned yet");
    let mut some = view.clone();
    (0..1000).filter(|i| i % 3 == 0).for_each(|i| archived_away(&mut some, i));
    expected.check(&observed(some.clone())).expect("every third of the oldest pruned");
    let mut all = view.clone();
    (0..1000).for_each(|i| archived_away(&mut all, i));
    expected.check(&observed(all)).expect("the whole prune done");
    // The newest session was never a victim: its loss is a lost acknowledged session.
    let mut too_many = some;
    archived_away(&mut too_many, 1999);
    let violation = expected.check(&observed(too_many)).unwrap_err();
    assert_eq!(violation.invariant, Invariant::Durable.name());
    assert!(violation.expected.contains("more than 2^64 allowed outcomes"), "{}", violation.expected);
    // A victim half removed (entry gone, transcript left unarchived) is not an outcome.
    let mut half = view;
    half.registry.remove("agent:main:k5");
    assert!(expected.check(&observed(half)).is_err());
}

/// A crash inside the shutdown of a client that used 500 sessions may leave any of their
/// trajectories ended.
#[test]
fn an_interrupted_shutdown_of_five_hundred_allows_any_subset_ended() {
    let (mut history, view) = many_sessions(500);
    history.push(call(Op::Shutdown, Outcome::InFlight));
    let expected = Expected::of(&history);
    let mut some = view.clone();
    (0..500).filter(|i| i % 7 == 1).for_each(|i| {
        some.trajectories.insert(format!("i{i}"), true);
    });
    expected.check(&observed(some)).expect("some trajectories ended");
    // A session the client never used cannot be ended by its shutdown.
    let (mut history, view) = many_sessions(3);
    history.push(ok(create("other", None), Reply::Session("other-id".into())));
    history.push(Record::Restart);
    history.push(ok(append("k0", "m"), Reply::Unit));
    history.push(call(Op::Shutdown, Outcome::InFlight));
    let mut view = view;
    view.registry.insert("agent:main:other".into(), entry("other-id", None));
    view.transcripts.insert("other-id".into(), vec![]);
    view.transcripts.insert("i0".into(), vec!["m".into()]);
    view.trajectories.insert("other-id".into(), false);
    let expected = Expected::of(&history);
    let mut used_ended = view.clone();
    used_ended.trajectories.insert("i0".into(), true);
    expected.check(&observed(used_ended)).expect("the used session ended");
    let mut unused_ended = view;
    unused_ended.trajectories.insert("i1".into(), true);
    assert!(expected.check(&observed(unused_ended)).is_err());
}
