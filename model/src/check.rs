//! Conformance: an observed store must equal the spec's state after all acknowledged operations
//! plus some subset of the uncertain ones (in flight at the crash, or failed with an error),
//! taken in some order that respects real time (linearizability, as Knossos and porcupine
//! check it).
//!
//! The orders are searched by [`linearize`]. Acknowledged calls must get the reply the spec gives;
//! an uncertain call branches into every way a crash may resolve it. Session ids
//! that the history never saw returned (a create in flight) are wildcards, bound to whichever
//! unknown id the observed store shows. When no branch matches, the violation names the first
//! invariant that fails, in the order Live, Canonical, NoOrphan, NoDangling, Durable, NoPhantom,
//! and Atomic when only the all-or-nothing rule is broken.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{self, linearize, Interval, Violation};
use crate::invariant::{adoption, Invariant, Judged, Recovery, Uncertain, View, ViewEntry};
use crate::keys::canonical;
use crate::op::{Op, Outcome, Reply};
use crate::partial;
use crate::served::Served;
use crate::store::{crash_resolutions, Client, Effect, Store};

/// One step of a recorded run of the session store.
pub type Record = history::Record<Op, Reply>;

/// What the harness found on a disk image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Observed {
    /// What a user sees: the registry the booted store serves (the files' when it was not
    /// asked), the transcripts, trajectories and archives its files hold.
    pub view: View,
    pub recovery: Recovery,
    /// What the booted store answered a client, when one was asked (after a recovery that
    /// started the store); `None` at a clean point or when the store did not start.
    pub served: Option<Served>,
}

impl Observed {
    /// A view taken from the files alone, with no store asked.
    pub fn of_files(view: View, recovery: Recovery) -> Self {
        Self { view, recovery, served: None }
    }
}

/// One branch of the replay: a store, the clients' memories, and the effects of an interrupted
/// prune or shutdown that may or may not have happened, any subset of them ([`partial`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Branch {
    store: Store,
    clients: BTreeMap<usize, Client>,
    optional: Vec<Effect>,
}

impl Branch {
    /// One branch per subset of the optional effects, each with it applied.
    fn concrete(self) -> Vec<Branch> {
        if self.optional.is_empty() {
            return vec![self];
        }
        let clients = self.clients;
        let stores = partial::subsets(&self.store, &self.optional);
        stores.into_iter().map(|store| Branch { store, clients: clients.clone(), optional: Vec::new() }).collect()
    }

    /// Whether the store names a wildcard id (`?n`): then an observed view binds names before it
    /// can show which optional effects were taken, and the branch is enumerated instead.
    fn has_wildcards(&self) -> bool {
        self.store.registry.values().any(|e| e.id.starts_with('?'))
            || self.store.transcripts.keys().chain(self.store.trajectories.keys()).any(|id| id.starts_with('?'))
    }
}

/// An outcome the spec allows: a view, or (an interrupted prune or shutdown) a store with the
/// effects that may or may not have happened, whose view is the base's with any subset of them.
#[derive(Debug)]
struct AllowedView {
    /// The view with none of the optional effects taken.
    view: View,
    symbolic: Option<(Store, Vec<Effect>)>,
}

impl AllowedView {
    /// The outcomes `branch` allows: one (symbolic when it has optional effects and no wildcard
    /// ids), or one per subset.
    fn of(branch: &Branch) -> Vec<AllowedView> {
        let concrete = |store: &Store| AllowedView { view: store.view(), symbolic: None };
        if branch.optional.is_empty() {
            return vec![concrete(&branch.store)];
        }
        if branch.has_wildcards() {
            return partial::subsets(&branch.store, &branch.optional).iter().map(concrete).collect();
        }
        let symbolic = Some((branch.store.clone(), branch.optional.clone()));
        vec![AllowedView { view: branch.store.view(), symbolic }]
    }

    /// The one outcome of those allowed that `observed` can equal.
    fn shown(&self, observed: &View) -> std::borrow::Cow<'_, View> {
        match &self.symbolic {
            None => std::borrow::Cow::Borrowed(&self.view),
            Some((store, optional)) => std::borrow::Cow::Owned(partial::shown_in(store, optional, observed).view()),
        }
    }

    /// How many outcomes this stands for (2^n for n optional effects); `None` past `u64`.
    fn outcomes(&self) -> Option<u64> {
        match &self.symbolic {
            None => Some(1),
            Some((_, optional)) => {
                1u64.checked_shl(u32::try_from(optional.len()).ok()?).filter(|_| optional.len() < 64)
            }
        }
    }

    /// Views whose common part is what every outcome allowed holds: none and all of the
    /// optional effects taken (each removes or ends one session, so any subset lies between).
    fn extremes(&self) -> Vec<View> {
        match &self.symbolic {
            None => vec![self.view.clone()],
            Some((store, optional)) => vec![self.view.clone(), partial::all_applied(store, optional).view()],
        }
    }
}

/// What the spec expects after a history: the views of the outcomes it allows (or the reply it
/// does not give), what uncertain calls may have touched, and the session ids the history
/// returned. Replayed once per history, then held against any number of observed states
/// ([`Expected::check`]).
pub struct Expected {
    views: Result<Vec<AllowedView>, (Invariant, String)>,
    uncertain: Uncertain,
    known: BTreeSet<String>,
    /// A hash of the whole spec state of every branch (stamps, clock, each client's memory),
    /// which the views leave out and later calls depend on: what state caching compares.
    branches: u64,
}

/// [`Expected::branches`] of a replay's outcome.
fn branches_hash(branches: &Result<Vec<Branch>, (Invariant, String)>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    branches.hash(&mut hasher);
    hasher.finish()
}

impl Expected {
    /// A fingerprint of everything this expectation judges by (the views the spec allows, what
    /// is uncertain, the ids ever known) and of the whole spec state later calls start from,
    /// for state caching.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        format!("{:?} {:?} {:?}", self.views, self.uncertain, self.known).hash(&mut hasher);
        self.branches.hash(&mut hasher);
        hasher.finish()
    }

    /// Replays the spec over `history`.
    pub fn of(history: &[Record]) -> Self {
        let replay = replay_from(vec![Branch::default()], history, 0);
        let known = history.iter().flat_map(known_ids).collect();
        let branches = branches_hash(&replay.branches);
        let views = replay.branches.map(|branches| branches.iter().flat_map(AllowedView::of).collect());
        Self { views, uncertain: replay.uncertain, known, branches }
    }

    /// Work after recovery: replays `before` (the history at a crash), keeps only the branches
    /// recovery showed (their view is `recovered`'s, wildcard ids bound to the ids it shows),
    /// then replays `after` (the calls made on the recovered store, ending with a restart) from
    /// them: what recovery showed is what happened, and a call in flight at the crash that it
    /// showed gone cannot take effect later. If no branch is what recovery showed (the crash
    /// check's finding), the whole history is judged instead.
    pub fn after_recovery(before: &[Record], recovered: &Observed, after: &[Record]) -> Self {
        let mut whole = before.to_vec();
        whole.push(Record::Restart);
        whole.extend_from_slice(after);
        let known: BTreeSet<String> = whole.iter().flat_map(known_ids).collect();
        let start = replay_from(vec![Branch::default()], before, 0);
        let pinned: Vec<Branch> = match start.branches {
            Ok(branches) => branches.into_iter().flat_map(|b| bound(b, &recovered.view, &known)).collect(),
            Err(_) => Vec::new(),
        };
        if pinned.is_empty() {
            return Self::of(&whole);
        }
        let replay = replay_from(pinned, after, start.wildcards);
        let branches = branches_hash(&replay.branches);
        let views = replay.branches.map(|branches| branches.iter().flat_map(AllowedView::of).collect());
        Self { views, uncertain: replay.uncertain, known, branches }
    }

    /// Checks `observed` against what the spec allows.
    pub fn check(&self, observed: &Observed) -> Result<(), Violation> {
        let violation = |invariant: Invariant, summary: String, expected: String| Violation {
            invariant: invariant.name(),
            summary,
            expected,
            found: observed.view.to_string(),
        };
        if let Recovery::Failed(error) = &observed.recovery {
            return Err(violation(Invariant::Live, format!("recovery failed: {error}"), String::new()));
        }
        // What the store's answers and its files say of each other is judged after the spec:
        // a user's first finding is what the store serves.
        let disagreement = observed.served.as_ref().and_then(|served| served.disagreement.clone());
        let uncertain = &self.uncertain;
        let views = match &self.views {
            Ok(views) => views,
            Err((invariant, summary)) => return Err(violation(*invariant, summary.clone(), String::new())),
        };
        if views.iter().any(|allowed| matches(&allowed.shown(&observed.view), &observed.view, &self.known)) {
            if let Some(summary) = adoption(&observed.recovery, &views[0].view, uncertain) {
                return Err(violation(Invariant::Durable, summary, String::new()));
            }
            return disagreement
                .map_or(Ok(()), |(invariant, summary)| Err(violation(invariant, summary, String::new())));
        }
        // Durable and NoPhantom compare against what every branch agrees on: the acknowledged part.
        let expected = &views[0].view;
        let outcomes: Option<u64> = views.iter().try_fold(0u64, |sum, v| sum.checked_add(v.outcomes()?));
        let shown = match outcomes {
            Some(1) => expected.to_string(),
            Some(n) => format!("  (one of {n} allowed outcomes)\n{expected}"),
            None => format!("  (one of more than 2^64 allowed outcomes: an interrupted prune or shutdown)\n{expected}"),
        };
        let extremes: Vec<View> = views.iter().flat_map(AllowedView::extremes).collect();
        let judged = Judged { view: &observed.view, acked: expected, uncertain, recovery: &observed.recovery };
        let (invariant, summary) = judged
            .first_broken()
            .or_else(|| crate::invariant::durable_in_every(&observed.view, &extremes).map(|s| (Invariant::Durable, s)))
            .unwrap_or((
                Invariant::Atomic,
                "an uncertain operation is neither fully applied nor fully absent".to_string(),
            ));
        Err(violation(invariant, summary, shown))
    }

    /// Checks a store restarted on a disk with a damaged registry: refusing to start with an
    /// error is allowed; a store that starts must lose nothing acknowledged, though it may have
    /// re-adopted sessions from their transcripts (the registry was what the damage took).
    pub fn check_corrupted(&self, observed: &Observed) -> Result<(), Violation> {
        match &observed.recovery {
            Recovery::Failed(_) => Ok(()),
            _ => self.check(&Observed {
                view: observed.view.clone(),
                recovery: Recovery::Ok { adopted: BTreeSet::new() },
                served: observed.served.clone(),
            }),
        }
    }
}

/// Checks `observed` against the spec replayed over `history`.
pub fn check(history: &[Record], observed: &Observed) -> Result<(), Violation> {
    Expected::of(history).check(observed)
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
    /// Wildcard ids (`?n`) handed out, the last being `?{wildcards}`.
    wildcards: usize,
}

/// A call as the search sees it: its place in the history (for messages), the id a new session
/// gets from it (a wildcard `?n` unless the reply named one), and its real-time interval.
struct Placed<'a> {
    index: usize,
    process: usize,
    op: &'a Op,
    outcome: &'a Outcome,
    new_id: String,
    invoked: u64,
    returned: u64,
}

/// Replays `history` from `branches`; new wildcards are numbered after `wildcards`.
fn replay_from(mut branches: Vec<Branch>, history: &[Record], mut wildcards: usize) -> Replay {
    let mut uncertain = Uncertain::default();
    let mut segment = Vec::new();
    for (index, record) in history.iter().enumerate() {
        match record {
            Record::Restart => {
                branches = match linearize_segment(branches, &segment, &mut uncertain) {
                    Ok(branches) => branches,
                    Err(failure) => return Replay { branches: Err(failure), uncertain, wildcards },
                };
                segment.clear();
                for branch in &mut branches {
                    branch.clients.clear();
                }
            }
            Record::Call { process, op, outcome, invoked, returned } => {
                let new_id = match outcome {
                    Outcome::Replied(Reply::Session(id)) => id.clone(),
                    _ => {
                        wildcards += 1;
                        format!("?{wildcards}")
                    }
                };
                let (invoked, returned) = (*invoked, *returned);
                segment.push(Placed { index, process: *process, op, outcome, new_id, invoked, returned });
            }
        }
    }
    let branches = linearize_segment(branches, &segment, &mut uncertain);
    Replay { branches, uncertain, wildcards }
}

/// Every spec state the calls of one segment can leave, over every real-time order of them.
fn linearize_segment(
    start: Vec<Branch>,
    calls: &[Placed<'_>],
    uncertain: &mut Uncertain,
) -> Result<Vec<Branch>, (Invariant, String)> {
    let intervals: Vec<Interval> =
        calls.iter().map(|c| Interval { invoked: c.invoked, returned: c.returned }).collect();
    linearize(start, &intervals, |branch, i, out| extend(branch, &calls[i], uncertain, out)).map_err(
        |(call, expected, got): (&Placed<'_>, Reply, Reply)| {
            let invariant =
                if got.is_refusal() && !expected.is_refusal() { Invariant::Durable } else { Invariant::NoPhantom };
            (invariant, format!("call {} ({}) replied {got}; the spec replies {expected}", call.index + 1, call.op))
        },
    )
}

/// The branches `branch` leads to when `call` takes effect next: one if it was acknowledged
/// with the spec's reply, none if with another (noted in `mismatch`), one per crash
/// resolution if its outcome is uncertain.
fn extend<'c>(
    branch: Branch,
    call: &'c Placed<'c>,
    uncertain: &mut Uncertain,
    out: &mut Vec<Branch>,
) -> Option<(&'c Placed<'c>, Reply, Reply)> {
    if !branch.optional.is_empty() {
        // A call after an interrupted prune or shutdown: its effects apply to each subset.
        let mut mismatch = None;
        for concrete in branch.concrete() {
            mismatch = mismatch.or(extend(concrete, call, uncertain, out));
        }
        return mismatch;
    }
    let mut branch = branch;
    let state = branch.clients.get(&call.process).cloned().unwrap_or_default();
    let (mut reply, effects) = branch.store.plan(&state, call.op, &call.new_id);
    // A reply may name a session whose id the spec only knows as a wildcard (a create still in
    // flight, seen by a concurrent lookup): the reply binds it.
    if let (Reply::Session(wild), Outcome::Replied(Reply::Session(real))) = (&reply, call.outcome) {
        if wild.starts_with('?') && !branch.store.view().ids().contains(real) {
            uncertain.ids.insert(real.clone());
            let (wild, real) = (wild.clone(), real.clone());
            branch.store.rename_id(&wild, &real);
            for client in branch.clients.values_mut() {
                client.rename_id(&wild, &real);
            }
            reply = Reply::Session(real);
        }
    }
    match call.outcome {
        Outcome::Replied(got) if *got != reply => return Some((call, reply, got.clone())),
        Outcome::Replied(_) => {
            let mut b = branch;
            let client_state = b.clients.entry(call.process).or_default();
            for effect in &effects {
                b.store.apply(client_state, effect);
            }
            out.push(b);
        }
        Outcome::Failed(_) | Outcome::InFlight => {
            note_uncertain(uncertain, &branch.store, call.op, &call.new_id);
            if let Some(optional) = partial::optional_effects(call.op, &effects) {
                // Any subset, kept symbolic; the client learned nothing (and a failed shutdown
                // does not close it: `Close` is not among the optional effects).
                let mut b = branch;
                b.clients.entry(call.process).or_default();
                b.optional = optional;
                out.push(b);
                return None;
            }
            for resolution in crash_resolutions(call.op, &effects) {
                let mut b = branch.clone();
                // The client never learned the outcome, so it did not "use" a session
                // through it (a shutdown later ends only what it knows it used); a
                // failed shutdown still closes it.
                let mut scratch = state.clone();
                for effect in &resolution {
                    b.store.apply(&mut scratch, effect);
                }
                b.clients.entry(call.process).or_default().closed |= scratch.closed;
                out.push(b);
            }
        }
    }
    None
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
        Op::Rotate | Op::Get { .. } => {}
    }
}

/// Whether the observed view equals the spec's, binding wildcard ids (`?n`) to observed ids the
/// history never returned. Archives may hold more than the spec's: recovery archives the
/// orphans of operations that never took effect, whose ids no acknowledged call returned.
fn matches(spec: &View, observed: &View, known: &BTreeSet<String>) -> bool {
    binding(spec, observed, known).is_some()
}

/// The names that make `spec` equal to `observed` (wildcard ids bound to ids it shows), if any.
fn binding(spec: &View, observed: &View, known: &BTreeSet<String>) -> Option<BTreeMap<String, String>> {
    if !spec.each_id().any(|id| id.starts_with('?')) {
        // Nothing to bind (the common case): compare as they stand, without collecting ids.
        return same(spec, observed, known).then(BTreeMap::new);
    }
    let spec_ids = spec.ids();
    let wild: Vec<String> = spec_ids.iter().filter(|id| id.starts_with('?')).cloned().collect();
    let unknown: Vec<String> =
        observed.ids().into_iter().filter(|id| !known.contains(id) && !spec_ids.contains(id)).collect();
    bindings(&wild, &unknown).into_iter().find(|names| same(&spec.renamed(names), observed, known))
}

/// `branch` as recovery showed it (`view`): the subset of its optional effects the view shows
/// taken, wildcard ids renamed to the ids the view shows, its clients gone (a restart); none if
/// the view is not this branch's.
fn bound(branch: Branch, view: &View, known: &BTreeSet<String>) -> Vec<Branch> {
    let candidates = if branch.optional.is_empty() || branch.has_wildcards() {
        branch.concrete()
    } else {
        let store = partial::shown_in(&branch.store, &branch.optional, view);
        vec![Branch { store, ..Branch::default() }]
    };
    candidates
        .into_iter()
        .filter_map(|branch| {
            let names = binding(&branch.store.view(), view, known)?;
            let mut store = branch.store;
            for (wild, real) in &names {
                store.rename_id(wild, real);
            }
            Some(Branch { store, ..Branch::default() })
        })
        .collect()
}

/// Whether the views are equal but for archives of sessions the history never returned.
fn same(spec: &View, observed: &View, known: &BTreeSet<String>) -> bool {
    spec.registry == observed.registry
        && spec.transcripts == observed.transcripts
        && spec.trajectories == observed.trajectories
        && spec.archived.is_subset(&observed.archived)
        && observed.archived.difference(&spec.archived).all(|id| !known.contains(id))
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
