//! The abstract store: what the session store holds, and what each operation does to it.
//!
//! Every operation is a list of atomic [`Effect`]s. A crash resolves an operation in flight
//! to all of its effects or none, except `prune` and `shutdown`, which touch several sessions
//! one by one and so may stop after any subset of theirs.

use std::collections::{BTreeMap, BTreeSet};

use crate::keys::canonical;
use crate::op::{Op, Reply};

/// A registry entry: the session a key points at, and its metadata.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub id: String,
    pub label: Option<String>,
    /// When the entry was made (create or reset), on a clock that only moves forward; `prune`
    /// evicts the smallest first (ties by key).
    pub stamp: u64,
}

/// The whole store.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Store {
    /// Canonical key -> entry.
    pub registry: BTreeMap<String, Entry>,
    /// Session id -> messages of its primary transcript.
    pub transcripts: BTreeMap<String, Vec<String>>,
    /// Session id -> whether its trajectory holds `session.ended`.
    pub trajectories: BTreeMap<String, bool>,
    /// Ids whose transcript was archived (reset, delete, prune).
    pub archived: BTreeSet<String>,
    pub clock: u64,
}

/// What one client (one store instance) remembers between calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Client {
    /// Sessions whose trajectory this client wrote to: ended at shutdown.
    pub used: BTreeSet<String>,
    pub closed: bool,
}

impl Client {
    /// Names session `from` `to` (see [`Store::rename_id`]).
    pub fn rename_id(&mut self, from: &str, to: &str) {
        if self.used.remove(from) {
            self.used.insert(to.to_string());
        }
    }
}

/// One atomic change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    /// A new session `id` for `key`: transcript, trajectory and entry.
    NewSession {
        key: String,
        id: String,
        label: Option<String>,
    },
    Append {
        id: String,
        message: String,
    },
    /// `key` moves to the new session `id`; the old one is archived.
    Switch {
        key: String,
        id: String,
    },
    /// `key`'s session is archived and its entry removed.
    Remove {
        key: String,
    },
    /// `id`'s trajectory gets `session.ended`.
    End {
        id: String,
    },
    /// The client refuses further calls.
    Close,
}

impl Store {
    /// The reply `op` gets now, and its effects. `new_id` names the session a create or reset makes.
    pub fn plan(&self, client: &Client, op: &Op, new_id: &str) -> (Reply, Vec<Effect>) {
        if client.closed {
            return (Reply::Closed, Vec::new());
        }
        let current = |key: &str| self.registry.get(&canonical(key));
        match op {
            Op::Create { key, label } => match current(key) {
                Some(_) => (Reply::Exists, Vec::new()),
                None => (
                    Reply::Session(new_id.to_string()),
                    vec![Effect::NewSession { key: canonical(key), id: new_id.to_string(), label: label.clone() }],
                ),
            },
            Op::Append { key, message } => match current(key) {
                None => (Reply::NotFound, Vec::new()),
                Some(entry) => (Reply::Unit, vec![Effect::Append { id: entry.id.clone(), message: message.clone() }]),
            },
            Op::Reset { key } => match current(key) {
                None => (Reply::NotFound, Vec::new()),
                Some(_) => (
                    Reply::Session(new_id.to_string()),
                    vec![Effect::Switch { key: canonical(key), id: new_id.to_string() }],
                ),
            },
            Op::Delete { key } => match current(key) {
                None => (Reply::NotFound, Vec::new()),
                Some(_) => (Reply::Unit, vec![Effect::Remove { key: canonical(key) }]),
            },
            Op::Rotate => (Reply::Unit, Vec::new()),
            Op::Get { key } => match current(key) {
                None => (Reply::NotFound, Vec::new()),
                Some(entry) => (Reply::Session(entry.id.clone()), Vec::new()),
            },
            Op::Prune { max_entries } => {
                let mut by_age: Vec<(&String, &Entry)> = self.registry.iter().collect();
                by_age.sort_by(|a, b| (a.1.stamp, a.0).cmp(&(b.1.stamp, b.0)));
                let excess = by_age.len().saturating_sub(*max_entries);
                let victims: Vec<String> = by_age[..excess].iter().map(|(k, _)| (*k).clone()).collect();
                let effects = victims.iter().map(|key| Effect::Remove { key: key.clone() }).collect();
                (Reply::Evicted(victims), effects)
            }
            Op::Shutdown => {
                let mut effects: Vec<Effect> = self
                    .registry
                    .values()
                    .filter(|e| client.used.contains(&e.id))
                    .map(|e| Effect::End { id: e.id.clone() })
                    .collect();
                effects.push(Effect::Close);
                (Reply::Unit, effects)
            }
        }
    }

    /// Applies one effect.
    pub fn apply(&mut self, client: &mut Client, effect: &Effect) {
        match effect {
            Effect::NewSession { key, id, label } => {
                self.clock += 1;
                self.registry.insert(key.clone(), Entry { id: id.clone(), label: label.clone(), stamp: self.clock });
                self.transcripts.insert(id.clone(), Vec::new());
                self.trajectories.insert(id.clone(), false);
                client.used.insert(id.clone());
            }
            Effect::Append { id, message } => {
                if let Some(messages) = self.transcripts.get_mut(id) {
                    messages.push(message.clone());
                }
                client.used.insert(id.clone());
            }
            Effect::Switch { key, id } => {
                let Some(old) = self.registry.get(key).cloned() else {
                    return;
                };
                self.archive(&old.id);
                self.clock += 1;
                self.registry.insert(key.clone(), Entry { id: id.clone(), label: old.label, stamp: self.clock });
                self.transcripts.insert(id.clone(), Vec::new());
                self.trajectories.insert(id.clone(), false);
                client.used.insert(id.clone());
            }
            Effect::Remove { key } => {
                if let Some(old) = self.registry.remove(key) {
                    self.archive(&old.id);
                }
            }
            Effect::End { id } => {
                if let Some(ended) = self.trajectories.get_mut(id) {
                    *ended = true;
                }
            }
            Effect::Close => client.closed = true,
        }
    }

    /// Names session `from` `to` everywhere (a wildcard id bound to the id a reply revealed).
    pub fn rename_id(&mut self, from: &str, to: &str) {
        for entry in self.registry.values_mut() {
            if entry.id == from {
                entry.id = to.to_string();
            }
        }
        if let Some(messages) = self.transcripts.remove(from) {
            self.transcripts.insert(to.to_string(), messages);
        }
        if let Some(ended) = self.trajectories.remove(from) {
            self.trajectories.insert(to.to_string(), ended);
        }
        if self.archived.remove(from) {
            self.archived.insert(to.to_string());
        }
    }

    fn archive(&mut self, id: &str) {
        self.transcripts.remove(id);
        self.trajectories.remove(id);
        self.archived.insert(id.to_string());
    }

    /// Runs `op` to completion: its reply, with every effect applied.
    pub fn run(&mut self, client: &mut Client, op: &Op, new_id: &str) -> Reply {
        let (reply, effects) = self.plan(client, op, new_id);
        for effect in &effects {
            self.apply(client, effect);
        }
        reply
    }
}

/// Whether a crash may stop `op` after any subset of its effects (true) or only all-or-none.
pub fn partial_at_crash(op: &Op) -> bool {
    matches!(op, Op::Prune { .. } | Op::Shutdown)
}

/// Every way a crash may resolve an operation with these effects: each a subset to apply (all
/// or none, or for a prune or a shutdown any subset of its per-session effects, enumerated:
/// [`crate::partial`] keeps them symbolic).
pub fn crash_resolutions(op: &Op, effects: &[Effect]) -> Vec<Vec<Effect>> {
    match crate::partial::optional_effects(op, effects) {
        Some(optional) => crate::partial::every_subset(&optional),
        None => vec![Vec::new(), effects.to_vec()],
    }
}
