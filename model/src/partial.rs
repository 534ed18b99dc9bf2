//! Interrupted prunes and shutdowns, kept symbolic.
//!
//! A crash may stop a prune or a shutdown after any subset of its per-session effects (a prune
//! removes entries one by one, a shutdown ends trajectories one by one). Enumerated, a prune of
//! n sessions is 2^n outcomes. Here an outcome is one store plus the effects that may or may
//! not have happened; each touches one session (a `Remove` its key, an `End` its trajectory)
//! and none touches another's, so an observed view shows, effect by effect, which were taken:
//! [`shown_in`] builds the one outcome a view can match, and the view matches "some subset"
//! exactly when it matches that one.
//!
//! A later call in the same history needs concrete states: [`subsets`] enumerates them then
//! (what an interrupted prune followed by more calls costs, as before: at most 15 effects).

use crate::invariant::View;
use crate::op::Op;
use crate::store::{partial_at_crash, Client, Effect, Store};

/// Most effects [`subsets`] enumerates: 2^15 stores.
pub const ENUMERATED_MAX: usize = 15;

/// The effects of `op` a crash may have stopped after any subset of (every effect but `Close`,
/// which dies with the process); `None` for an operation a crash resolves all or nothing.
pub fn optional_effects(op: &Op, effects: &[Effect]) -> Option<Vec<Effect>> {
    partial_at_crash(op).then(|| effects.iter().filter(|e| **e != Effect::Close).cloned().collect())
}

/// `store` with every subset of `optional` applied: 2^n stores, the empty subset first.
pub fn subsets(store: &Store, optional: &[Effect]) -> Vec<Store> {
    every_subset(optional).iter().map(|taken| applied(store, taken.iter())).collect()
}

/// Every subset of `effects`, the empty one first.
pub fn every_subset(effects: &[Effect]) -> Vec<Vec<Effect>> {
    assert!(
        effects.len() <= ENUMERATED_MAX,
        "{} effects of an interrupted prune or shutdown to enumerate: too many subsets",
        effects.len()
    );
    (0u32..(1 << effects.len()))
        .map(|mask| effects.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, e)| e.clone()).collect())
        .collect()
}

/// `store` with the effects of `optional` that `view` shows taken applied: the only outcome of
/// the subsets that `view` can equal.
pub fn shown_in(store: &Store, optional: &[Effect], view: &View) -> Store {
    applied(store, optional.iter().filter(|effect| taken(effect, view)))
}

/// `store` with every effect of `optional` applied.
pub fn all_applied(store: &Store, optional: &[Effect]) -> Store {
    applied(store, optional.iter())
}

fn applied<'e>(store: &Store, effects: impl Iterator<Item = &'e Effect>) -> Store {
    let mut store = store.clone();
    // Prune's and shutdown's effects touch no client's memory.
    let mut scratch = Client::default();
    for effect in effects {
        store.apply(&mut scratch, effect);
    }
    store
}

/// Whether `view` shows `effect` taken: a removed key is gone from its registry, an ended
/// session's trajectory holds `session.ended`.
fn taken(effect: &Effect, view: &View) -> bool {
    match effect {
        Effect::Remove { key } => !view.registry.contains_key(key),
        Effect::End { id } => view.trajectories.get(id) == Some(&true),
        other => unreachable!("{other:?} is not an effect a crash can stop partway"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_of(keys: &[&str]) -> Store {
        let mut store = Store::default();
        let mut client = Client::default();
        for key in keys {
            let op = Op::Create { key: key.to_string(), label: None };
            store.run(&mut client, &op, &format!("id-{key}"));
        }
        store
    }

    fn prune_effects(store: &Store, max_entries: usize) -> Vec<Effect> {
        let (_, effects) = store.plan(&Client::default(), &Op::Prune { max_entries }, "unused");
        optional_effects(&Op::Prune { max_entries }, &effects).expect("prune is partial")
    }

    /// The symbolic outcome agrees with enumeration: a view equals some subset's exactly when
    /// it equals the one `shown_in` picks.
    #[test]
    fn the_subset_a_view_shows_is_the_only_one_it_can_match() {
        let store = store_of(&["a", "b", "c", "d"]);
        let optional = prune_effects(&store, 1);
        assert_eq!(optional.len(), 3);
        let every = subsets(&store, &optional);
        assert_eq!(every.len(), 8);
        for outcome in &every {
            let view = outcome.view();
            assert_eq!(shown_in(&store, &optional, &view).view(), view, "each subset is recognised");
        }
        // A view no subset makes (a key the prune never touches gone) matches none.
        let mut foreign = store.view();
        assert!(foreign.registry.remove("agent:main:d").is_some());
        assert!(every.iter().all(|s| s.view() != foreign));
        assert_ne!(shown_in(&store, &optional, &foreign).view(), foreign);
    }

    #[test]
    fn shutdown_ends_are_optional_and_close_is_not() {
        let store = store_of(&["a", "b"]);
        let mut client = Client::default();
        client.used.insert("id-a".to_string());
        client.used.insert("id-b".to_string());
        let (_, effects) = store.plan(&client, &Op::Shutdown, "unused");
        let optional = optional_effects(&Op::Shutdown, &effects).expect("shutdown is partial");
        assert_eq!(optional.len(), 2);
        assert!(!optional.contains(&Effect::Close));
        let one_ended = {
            let mut view = store.view();
            view.trajectories.insert("id-b".to_string(), true);
            view
        };
        assert_eq!(shown_in(&store, &optional, &one_ended).view(), one_ended);
        assert!(all_applied(&store, &optional).view().trajectories.values().all(|&ended| ended));
        assert_eq!(optional_effects(&Op::Get { key: "a".to_string() }, &[]), None);
    }

    #[test]
    #[should_panic(expected = "too many subsets")]
    fn enumerating_sixteen_effects_is_refused() {
        let keys: Vec<String> = (0..17).map(|i| format!("k{i}")).collect();
        let store = store_of(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        subsets(&store, &prune_effects(&store, 1));
    }
}
