//! The invariants, as named predicates over a [`View`] of the store.
//!
//! A view is what a user can see: the registry, the primary transcripts and trajectories, the
//! archived sessions. The spec produces one from its abstract state; the harness builds one from
//! a disk image after recovery. The same predicates judge both.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::keys::is_canonical;

/// How recovery ended on the observed image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// Not run: the view was taken from a running store (a clean point).
    NotRun,
    /// Recovery returned Ok; these session ids were adopted from orphan transcripts.
    Ok { adopted: BTreeSet<String> },
    /// Recovery failed with this error: the store cannot start.
    Failed(String),
}

/// The invariants every run is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// Every primary transcript (`<id>.jsonl`) and every trajectory belongs to a registry entry.
    /// Rules out history that exists on disk but that no session lists, so the user never sees
    /// it again: the orphaned transcripts of openclaw #3210 (a create whose registry update was
    /// skipped or lost) and of #68229 (a registry renamed away during rotation).
    NoOrphan,
    /// Every registry entry's transcript exists. Rules out sessions that are listed but cannot be
    /// opened, which make the loader fail or hang on start, as in openclaw #75571 (a trajectory
    /// removed while the registry still referenced it).
    NoDangling,
    /// Every acknowledged operation is reflected: an acked create's session, an acked append's
    /// message, an acked shutdown's `session.ended`, and an acked entry's metadata (a session the
    /// registry lost and recovery had to re-adopt from its transcript lost its metadata). Rules
    /// out losing what the user was told is saved, as in #68229 and PR #71328's revisions (the
    /// registry replaced by an empty placeholder at a crash) and in rename-without-fsync bugs.
    Durable,
    /// Nothing appears that was never asked for, and a deleted or reset-away session never comes
    /// back. Rules out resurrected sessions and duplicate sessions for one key, as when a raw and
    /// a canonical key both get a session (openclaw #29683 family).
    NoPhantom,
    /// An operation in flight at a crash is fully applied or fully absent (prune and shutdown:
    /// each session they touch fully or not at all). Rules out half-done resets: a new session
    /// registered while the old transcript lingers as an orphan, or the reverse.
    Atomic,
    /// Every registry key is canonical, so a raw key and its canonical form find the same
    /// session. Rules out the openclaw #29683 family: an entry written under `settings2` that
    /// every lookup of `agent:main:settings2` misses.
    Canonical,
    /// Recovery terminates with Ok: a crash never blocks the next start. Rules out a gateway that
    /// cannot restart after a crash (openclaw #75571: the session loader fails on a missing
    /// trajectory the registry still references).
    Live,
}

impl Invariant {
    /// Every invariant, in the order a verdict names them: the first one broken.
    pub const ALL: [Invariant; 7] = [
        Invariant::Live,
        Invariant::Canonical,
        Invariant::NoOrphan,
        Invariant::NoDangling,
        Invariant::Durable,
        Invariant::NoPhantom,
        Invariant::Atomic,
    ];

    /// The failure it rules out, as a user would see it.
    pub fn failure(self) -> &'static str {
        match self {
            Invariant::NoOrphan => "history on disk that no session lists",
            Invariant::NoDangling => "a listed session that cannot be opened",
            Invariant::Durable => "an acknowledged change is lost",
            Invariant::NoPhantom => "a session or message nobody asked for, or one deleted that came back",
            Invariant::Atomic => "an operation interrupted by a crash is half done",
            Invariant::Canonical => "a session that lookups of its key never find",
            Invariant::Live => "the store cannot start after a crash",
        }
    }

    /// Why `judged` breaks this invariant; `None` if it holds. Atomic is the verdict of last
    /// resort: it holds here, and a check names it when the state matches no outcome the spec
    /// allows and no other invariant is broken.
    pub fn broken_by(self, judged: &Judged<'_>) -> Option<String> {
        let (view, acked, uncertain) = (judged.view, judged.acked, judged.uncertain);
        let registered = || -> BTreeSet<&str> { view.registry.values().map(|e| e.id.as_str()).collect() };
        match self {
            Invariant::Live => match judged.recovery {
                Recovery::Failed(error) => Some(format!("recovery failed: {error}")),
                _ => None,
            },
            Invariant::Canonical => view
                .registry
                .keys()
                .find(|k| !is_canonical(k))
                .map(|key| format!("registry key {key:?} is not canonical")),
            Invariant::NoOrphan => {
                let registered = registered();
                let unlisted = |id: &&String| !registered.contains(id.as_str());
                let transcript = view.transcripts.keys().find(unlisted).map(|id| ("transcript", id));
                let trajectory = || view.trajectories.keys().find(unlisted).map(|id| ("trajectory", id));
                transcript.or_else(trajectory).map(|(what, id)| format!("{what} {id} belongs to no registry entry"))
            }
            Invariant::NoDangling => view
                .registry
                .iter()
                .find(|(_, e)| !view.transcripts.contains_key(&e.id))
                .map(|(key, e)| format!("entry {key} points at session {}, which has no transcript", e.id)),
            Invariant::Durable => {
                durable(view, acked, uncertain).or_else(|| adoption(judged.recovery, acked, uncertain))
            }
            Invariant::NoPhantom => no_phantom(view, acked, uncertain),
            Invariant::Atomic => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Invariant::NoOrphan => "NoOrphan",
            Invariant::NoDangling => "NoDangling",
            Invariant::Durable => "Durable",
            Invariant::NoPhantom => "NoPhantom",
            Invariant::Atomic => "Atomic",
            Invariant::Canonical => "Canonical",
            Invariant::Live => "Live",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A registry entry as a user sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ViewEntry {
    pub id: String,
    pub label: Option<String>,
}

/// What a user can see of the store.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct View {
    /// Key (as stored) -> entry.
    pub registry: BTreeMap<String, ViewEntry>,
    /// Session id -> messages of its primary transcript.
    pub transcripts: BTreeMap<String, Vec<String>>,
    /// Session id -> whether its trajectory holds `session.ended`.
    pub trajectories: BTreeMap<String, bool>,
    /// Ids with an archived transcript.
    pub archived: BTreeSet<String>,
}

impl View {
    /// Every session id it names, without collecting them (some more than once).
    pub fn each_id(&self) -> impl Iterator<Item = &String> {
        let registry = self.registry.values().map(|e| &e.id);
        registry.chain(self.transcripts.keys()).chain(self.trajectories.keys()).chain(self.archived.iter())
    }

    /// Every session id the view mentions.
    pub fn ids(&self) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = self.registry.values().map(|e| e.id.clone()).collect();
        ids.extend(self.transcripts.keys().cloned());
        ids.extend(self.trajectories.keys().cloned());
        ids.extend(self.archived.iter().cloned());
        ids
    }

    /// The view with session ids renamed (ids not in `names` keep theirs).
    pub fn renamed(&self, names: &BTreeMap<String, String>) -> View {
        let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
        View {
            registry: self
                .registry
                .iter()
                .map(|(k, e)| (k.clone(), ViewEntry { id: name(&e.id), label: e.label.clone() }))
                .collect(),
            transcripts: self.transcripts.iter().map(|(id, m)| (name(id), m.clone())).collect(),
            trajectories: self.trajectories.iter().map(|(id, t)| (name(id), *t)).collect(),
            archived: self.archived.iter().map(name).collect(),
        }
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.registry.is_empty() {
            writeln!(f, "  registry: (empty)")?;
        }
        for (key, entry) in &self.registry {
            let label = entry.label.as_deref().map(|l| format!(" label {l:?}")).unwrap_or_default();
            writeln!(f, "  registry: {key} -> {}{label}", entry.id)?;
        }
        for (id, messages) in &self.transcripts {
            writeln!(f, "  transcript {id}: {messages:?}")?;
        }
        for (id, ended) in &self.trajectories {
            writeln!(f, "  trajectory {id}: {}", if *ended { "ended" } else { "open" })?;
        }
        if !self.archived.is_empty() {
            let ids: Vec<&str> = self.archived.iter().map(String::as_str).collect();
            writeln!(f, "  archived: {}", ids.join(", "))?;
        }
        Ok(())
    }
}

/// What the invariants judge: a view, the view all acknowledged operations leave, what the
/// uncertain ones may have touched, and how recovery ended.
pub struct Judged<'a> {
    pub view: &'a View,
    pub acked: &'a View,
    pub uncertain: &'a Uncertain,
    pub recovery: &'a Recovery,
}

impl Judged<'_> {
    /// The first invariant broken, in [`Invariant::ALL`] order, with why.
    pub fn first_broken(&self) -> Option<(Invariant, String)> {
        Invariant::ALL.into_iter().find_map(|invariant| invariant.broken_by(self).map(|why| (invariant, why)))
    }
}

/// The invariants a view breaks on its own (Canonical, NoOrphan, NoDangling): the first, with why.
pub fn structural(view: &View) -> Option<(Invariant, String)> {
    let nothing = View::default();
    let judged = Judged { view, acked: &nothing, uncertain: &Uncertain::default(), recovery: &Recovery::NotRun };
    [Invariant::Canonical, Invariant::NoOrphan, Invariant::NoDangling]
        .into_iter()
        .find_map(|invariant| invariant.broken_by(&judged).map(|why| (invariant, why)))
}

/// An acknowledged session that recovery had to re-adopt: the registry lost its entry, and
/// with it the metadata the transcript does not carry (part of Durable).
pub fn adoption(recovery: &Recovery, acked: &View, uncertain: &Uncertain) -> Option<String> {
    let Recovery::Ok { adopted } = recovery else {
        return None;
    };
    acked
        .registry
        .iter()
        .find(|(key, e)| adopted.contains(&e.id) && !uncertain.keys.contains(*key) && !uncertain.ids.contains(&e.id))
        .map(|(key, e)| {
            format!("acknowledged session {key} -> {} was missing from the registry; recovery re-adopted it from its transcript", e.id)
        })
}

/// What uncertain operations (in flight at a crash, or failed) may have touched: their keys and
/// the sessions on those keys. Durable and NoPhantom say nothing about these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uncertain {
    pub keys: BTreeSet<String>,
    pub ids: BTreeSet<String>,
    /// Whether an uncertain prune or shutdown may have touched any session.
    pub everything: bool,
}

impl Uncertain {
    fn covers(&self, key: &str, id: &str) -> bool {
        self.everything || self.keys.contains(key) || self.ids.contains(id)
    }
}

/// Durable: what `acked` (the state all acknowledged operations leave) holds is in `view`.
pub fn durable(view: &View, acked: &View, uncertain: &Uncertain) -> Option<String> {
    for (key, entry) in &acked.registry {
        if uncertain.covers(key, &entry.id) {
            continue;
        }
        match view.registry.get(key) {
            None => return Some(format!("acknowledged session {key} -> {} is gone from the registry", entry.id)),
            Some(found) if found.id != entry.id => {
                return Some(format!("key {key} should point at {}, found {}", entry.id, found.id))
            }
            Some(found) if found.label != entry.label => {
                return Some(format!("entry {key}: label {:?} was acknowledged, found {:?}", entry.label, found.label))
            }
            Some(_) => {}
        }
        let expected = &acked.transcripts[&entry.id];
        match view.transcripts.get(&entry.id) {
            Some(found) if found.starts_with(expected) => {}
            Some(found) => {
                return Some(format!(
                    "transcript {} lost acknowledged messages: {expected:?}, found {found:?}",
                    entry.id
                ))
            }
            None => return Some(format!("transcript {} of acknowledged session {key} is gone", entry.id)),
        }
        if acked.trajectories.get(&entry.id) == Some(&true) && view.trajectories.get(&entry.id) != Some(&true) {
            return Some(format!("trajectory {} lost its acknowledged session.ended", entry.id));
        }
        if acked.trajectories.contains_key(&entry.id) && !view.trajectories.contains_key(&entry.id) {
            return Some(format!("trajectory {} of acknowledged session {key} is gone", entry.id));
        }
    }
    None
}

/// Durable, judged against every allowed outcome at once: what all of `views` hold (an entry
/// each maps to one session, the messages each one's transcript of it begins with) is
/// acknowledged whatever the uncertain calls did, and must be in `view`. This names the loss
/// [`durable`] passes over when an uncertain call touched the key (an acknowledged message
/// dropped with the torn tail of one in flight).
pub fn durable_in_every(view: &View, views: &[View]) -> Option<String> {
    let (first, rest) = views.split_first()?;
    for (key, entry) in &first.registry {
        if entry.id.starts_with('?') || rest.iter().any(|v| v.registry.get(key).is_none_or(|e| e.id != entry.id)) {
            continue;
        }
        if view.registry.get(key).is_none_or(|found| found.id != entry.id) {
            return Some(format!("acknowledged session {key} -> {} is gone from the registry", entry.id));
        }
        let Some(mut common) = first.transcripts.get(&entry.id).cloned() else { continue };
        for other in rest {
            let theirs = other.transcripts.get(&entry.id).map_or(&[][..], Vec::as_slice);
            let same = common.iter().zip(theirs).take_while(|(a, b)| a == b).count();
            common.truncate(same);
        }
        match view.transcripts.get(&entry.id) {
            Some(found) if found.starts_with(&common) => {}
            found => {
                let found = found.map_or("no transcript".to_string(), |f| format!("{f:?}"));
                return Some(format!(
                    "transcript {} lost acknowledged messages: every allowed outcome begins with {common:?}, found {found}",
                    entry.id
                ));
            }
        }
    }
    None
}

/// NoPhantom: nothing in `view` beyond what `acked` and the uncertain operations explain.
pub fn no_phantom(view: &View, acked: &View, uncertain: &Uncertain) -> Option<String> {
    for (key, entry) in &view.registry {
        if acked.archived.contains(&entry.id) && !uncertain.ids.contains(&entry.id) {
            return Some(format!("session {} was archived, and is back under {key}", entry.id));
        }
        if uncertain.covers(key, &entry.id) {
            continue;
        }
        if !acked.registry.contains_key(key) {
            return Some(format!("entry {key} -> {} was never asked for", entry.id));
        }
    }
    for (id, messages) in &view.transcripts {
        let Some(expected) = acked.transcripts.get(id) else {
            continue;
        };
        if messages.len() > expected.len() && !uncertain.ids.contains(id) && !uncertain.everything {
            return Some(format!("transcript {id} holds messages never appended: {messages:?}"));
        }
    }
    None
}
