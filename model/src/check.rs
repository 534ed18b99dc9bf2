//! Conformance: an observed store must equal the spec's state after all acknowledged operations
//! plus some subset of the uncertain ones (in flight at the crash, or failed with an error).
//!
//! The spec is replayed over the recorded history. Acknowledged calls must get the reply the
//! spec gives; an uncertain call branches into every way a crash may resolve it. Session ids
//! that the history never saw returned (a create in flight) are wildcards, bound to whichever
//! unknown id the observed store shows. When no branch matches, the violation names the first
//! invariant that fails, in the order Live, Canonical, NoOrphan, NoDangling, Durable, NoPhantom,
//! and Atomic when only the all-or-nothing rule is broken.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::invariant::{durable, no_phantom, structural, Invariant, Uncertain, View, ViewEntry};
use crate::keys::canonical;
use crate::op::{Op, Outcome, Reply};
use crate::store::{crash_resolutions, Client, Store};

/// One step of a recorded run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// Client `client` called `op`, with this outcome.
    Call { client: usize, op: Op, outcome: Outcome },
    /// Every client restarted (after a crash or a clean shutdown): clients forget what they used.
    Restart,
}

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

/// What the harness found on a disk image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Observed {
    pub view: View,
    pub recovery: Recovery,
}

/// A broken invariant, with expected against found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
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

/// One branch of the replay.
#[derive(Clone, Debug)]
struct Branch {
    store: Store,
    clients: BTreeMap<usize, Client>,
}

/// Checks `observed` against the spec replayed over `history`.
pub fn check(history: &[Record], observed: &Observed) -> Result<(), Violation> {
    let violation = |invariant, summary: String, expected: String| Violation {
        invariant,
        summary,
        expected,
        found: observed.view.to_string(),
    };
    if let Recovery::Failed(error) = &observed.recovery {
        return Err(violation(Invariant::Live, format!("recovery failed: {error}"), String::new()));
    }
    let replay = replay(history);
    let uncertain = replay.uncertain;
    let branches = match replay.branches {
        Ok(branches) => branches,
        Err((invariant, summary)) => return Err(violation(invariant, summary, String::new())),
    };
    let known: BTreeSet<String> = history.iter().flat_map(known_ids).collect();
    if branches.iter().any(|b| matches(&b.store.view(), &observed.view, &known)) {
        return adoption(observed, &branches[0].store.view(), &uncertain)
            .map_or(Ok(()), |summary| Err(violation(Invariant::Durable, summary, String::new())));
    }
    let expected = branches[0].store.view();
    let shown = if branches.len() > 1 {
        format!("  (one of {} allowed outcomes)\n{expected}", branches.len())
    } else {
        expected.to_string()
    };
    if let Some((invariant, summary)) = structural(&observed.view) {
        return Err(violation(invariant, summary, shown));
    }
    // Durable and NoPhantom compare against what every branch agrees on: the acknowledged part.
    if let Some(summary) = durable(&observed.view, &expected, &uncertain) {
        return Err(violation(Invariant::Durable, summary, shown));
    }
    if let Some(summary) = adoption(observed, &expected, &uncertain) {
        return Err(violation(Invariant::Durable, summary, shown));
    }
    if let Some(summary) = no_phantom(&observed.view, &expected, &uncertain) {
        return Err(violation(Invariant::NoPhantom, summary, shown));
    }
    Err(violation(
        Invariant::Atomic,
        "an uncertain operation is neither fully applied nor fully absent".to_string(),
        shown,
    ))
}

/// An acknowledged session that recovery had to re-adopt: the registry lost its entry, and
/// with it the metadata the transcript does not carry.
fn adoption(observed: &Observed, acked: &View, uncertain: &Uncertain) -> Option<String> {
    let Recovery::Ok { adopted } = &observed.recovery else {
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

/// Ids a record names as returned.
fn known_ids(record: &Record) -> Option<String> {
    match record {
        Record::Call { outcome: Outcome::Replied(Reply::Session(id)), .. } => Some(id.clone()),
        _ => None,
    }
}

struct Replay {
    branches: Result<Vec<Branch>, (Invariant, String)>,
    uncertain: Uncertain,
}

fn replay(history: &[Record]) -> Replay {
    let mut branches = vec![Branch { store: Store::default(), clients: BTreeMap::new() }];
    let mut uncertain = Uncertain::default();
    let mut wildcards = 0;
    for (index, record) in history.iter().enumerate() {
        let (client, op, outcome) = match record {
            Record::Restart => {
                for branch in &mut branches {
                    branch.clients.clear();
                }
                continue;
            }
            Record::Call { client, op, outcome } => (*client, op, outcome),
        };
        let new_id = match outcome {
            Outcome::Replied(Reply::Session(id)) => id.clone(),
            _ => {
                wildcards += 1;
                format!("?{wildcards}")
            }
        };
        let mut next = Vec::new();
        let mut mismatch = None;
        for mut branch in branches {
            let state = branch.clients.entry(client).or_default().clone();
            let (reply, effects) = branch.store.plan(&state, op, &new_id);
            match outcome {
                Outcome::Replied(got) if *got != reply => {
                    mismatch.get_or_insert((reply, got.clone()));
                }
                Outcome::Replied(_) => {
                    let client_state = branch.clients.get_mut(&client).expect("inserted above");
                    for effect in &effects {
                        branch.store.apply(client_state, effect);
                    }
                    next.push(branch);
                }
                Outcome::Failed(_) | Outcome::InFlight => {
                    note_uncertain(&mut uncertain, &branch.store, op, &new_id);
                    for resolution in crash_resolutions(op, &effects) {
                        let mut b = branch.clone();
                        // The client never learned the outcome, so it did not "use" a session
                        // through it (a shutdown later ends only what it knows it used); a
                        // failed shutdown still closes it.
                        let mut scratch = state.clone();
                        for effect in &resolution {
                            b.store.apply(&mut scratch, effect);
                        }
                        b.clients.get_mut(&client).expect("inserted above").closed |= scratch.closed;
                        next.push(b);
                    }
                }
            }
        }
        if next.is_empty() {
            let (expected, got) = mismatch.expect("every branch was rejected by a reply");
            let invariant =
                if got.is_refusal() && !expected.is_refusal() { Invariant::Durable } else { Invariant::NoPhantom };
            let summary = format!("call {} ({op}) replied {got}; the spec replies {expected}", index + 1);
            return Replay { branches: Err((invariant, summary)), uncertain };
        }
        next.dedup_by(|a, b| a.store == b.store && a.clients == b.clients);
        branches = next;
    }
    Replay { branches: Ok(branches), uncertain }
}

fn note_uncertain(uncertain: &mut Uncertain, store: &Store, op: &Op, new_id: &str) {
    match op {
        Op::Create { key, .. } | Op::Append { key, .. } | Op::Reset { key } | Op::Delete { key } => {
            let key = canonical(key);
            if let Some(entry) = store.registry.get(&key) {
                uncertain.ids.insert(entry.id.clone());
            }
            uncertain.keys.insert(key);
            uncertain.ids.insert(new_id.to_string());
        }
        Op::Prune { .. } | Op::Shutdown => uncertain.everything = true,
        Op::Rotate => {}
    }
}

/// Whether the observed view equals the spec's, binding wildcard ids (`?n`) to observed ids the
/// history never returned. Archives may hold more than the spec's: recovery archives the
/// orphans of operations that never took effect, whose ids no acknowledged call returned.
fn matches(spec: &View, observed: &View, known: &BTreeSet<String>) -> bool {
    let wild: Vec<String> = spec.ids().into_iter().filter(|id| id.starts_with('?')).collect();
    let spec_ids = spec.ids();
    let unknown: Vec<String> =
        observed.ids().into_iter().filter(|id| !known.contains(id) && !spec_ids.contains(id)).collect();
    bindings(&wild, &unknown).into_iter().any(|names| {
        let spec = spec.renamed(&names);
        let extra_archives_unknown = observed.archived.difference(&spec.archived).all(|id| !known.contains(id));
        spec.registry == observed.registry
            && spec.transcripts == observed.transcripts
            && spec.trajectories == observed.trajectories
            && spec.archived.is_subset(&observed.archived)
            && extra_archives_unknown
    })
}

/// Every injective assignment of `wild` ids to `candidates` (a wildcard may also stay unbound,
/// when its session left no trace).
fn bindings(wild: &[String], candidates: &[String]) -> Vec<BTreeMap<String, String>> {
    let Some((first, rest)) = wild.split_first() else {
        return vec![BTreeMap::new()];
    };
    let mut out = Vec::new();
    for tail in bindings(rest, candidates) {
        out.push(tail.clone());
        for candidate in candidates {
            if !tail.values().any(|v| v == candidate) {
                let mut with = tail.clone();
                with.insert(first.clone(), candidate.clone());
                out.push(with);
            }
        }
    }
    out
}

impl Store {
    /// What a user sees of this abstract store.
    pub fn view(&self) -> View {
        View {
            registry: self
                .registry
                .iter()
                .map(|(k, e)| (k.clone(), ViewEntry { id: e.id.clone(), label: e.label.clone() }))
                .collect(),
            transcripts: self.transcripts.clone(),
            trajectories: self.trajectories.clone(),
            archived: self.archived.clone(),
        }
    }
}
