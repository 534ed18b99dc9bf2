//! The spec as a transition system, TLA-style: `Init`, and `Next` as the disjunction of
//!
//! - `Begin(c, op)`: client `c`, idle and not shut down, starts `op`;
//! - `Complete(c)`: `c`'s operation takes effect atomically and is acknowledged;
//! - `Crash(r)`: the process dies; each operation in flight is resolved by `r`: fully applied or
//!   fully absent (prune and shutdown: any subset of their per-session effects);
//! - `Recover`: the store restarts; every client is idle and open again.
//!
//! Alongside the store the state keeps `acked`: the store as the acknowledged operations (and
//! the resolved in-flight ones) made it. Invariants compare the two.

use std::fmt;

use crate::invariant::Recovery;
use crate::invariant::{Invariant, Judged, Uncertain};
use crate::keys::canonical;
use crate::op::Op;
use crate::store::{crash_resolutions, Client, Effect, Store};

/// A deliberate bug in the spec, to show the checker catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// A crash also drops the first acknowledged registry entry.
    CrashDropsAckedCreate,
}

/// The bounds and shape of the spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecConfig {
    /// Number of clients (store instances sharing the directory). Default: 2.
    pub clients: usize,
    /// Number of session keys (`k0`, `k1`, ...). Default: 3.
    pub keys: usize,
    /// A deliberate bug, or none. Default: none.
    pub mutation: Option<Mutation>,
}

impl Default for SpecConfig {
    fn default() -> Self {
        Self { clients: 2, keys: 3, mutation: None }
    }
}

impl SpecConfig {
    /// Every operation a client may begin: each kind over each key.
    pub fn alphabet(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        for k in 0..self.keys {
            let key = format!("k{k}");
            ops.push(Op::Create { key: key.clone(), label: Some(format!("label-{key}")) });
            ops.push(Op::Append { key: key.clone(), message: "m".to_string() });
            ops.push(Op::Reset { key: key.clone() });
            ops.push(Op::Delete { key });
        }
        ops.extend([Op::Rotate, Op::Prune { max_entries: 1 }, Op::Shutdown]);
        ops
    }
}

/// One client of the spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientSlot {
    pub client: Client,
    /// The operation in flight and the id it will give a new session.
    pub in_flight: Option<(Op, String)>,
}

/// A state of the spec.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecState {
    pub store: Store,
    pub acked: Store,
    pub clients: Vec<ClientSlot>,
    pub crashed: bool,
    pub next_id: u32,
}

/// How a crash resolved the operations in flight: per client, in linearization order, the
/// effects that survived.
pub type Resolution = Vec<(usize, Vec<Effect>)>;

/// One step of `Next`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Begin {
        client: usize,
        op: Op,
    },
    Complete {
        client: usize,
    },
    /// A crash; each in-flight operation, in the order they linearized, with the effects that
    /// survive.
    Crash {
        resolution: Resolution,
    },
    Recover,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Begin { client, op } => write!(f, "client {client} begins {op}"),
            Action::Complete { client } => write!(f, "client {client} completes (acknowledged)"),
            Action::Crash { resolution } => {
                let kept: Vec<String> = resolution
                    .iter()
                    .map(|(c, effects)| format!("client {c} keeps {} effect(s)", effects.len()))
                    .collect();
                write!(f, "crash ({})", if kept.is_empty() { "nothing in flight".to_string() } else { kept.join(", ") })
            }
            Action::Recover => write!(f, "recover"),
        }
    }
}

impl SpecState {
    /// `Init`: an empty store, every client idle.
    pub fn init(config: &SpecConfig) -> Self {
        assert!(config.clients > 0 && config.keys > 0, "the spec needs a client and a key");
        Self {
            store: Store::default(),
            acked: Store::default(),
            clients: vec![ClientSlot::default(); config.clients],
            crashed: false,
            next_id: 1,
        }
    }

    /// `Next`: every enabled action and the state it leads to.
    pub fn next(&self, config: &SpecConfig) -> Vec<(Action, SpecState)> {
        let mut out = Vec::new();
        if self.crashed {
            let mut s = self.clone();
            s.crashed = false;
            out.push((Action::Recover, s));
            return out;
        }
        for (c, slot) in self.clients.iter().enumerate() {
            match &slot.in_flight {
                None if !slot.client.closed => {
                    for op in config.alphabet() {
                        let mut s = self.clone();
                        s.clients[c].in_flight = Some((op.clone(), format!("s{}", s.next_id)));
                        s.next_id += 1;
                        out.push((Action::Begin { client: c, op }, s));
                    }
                }
                None => {}
                Some(_) => {
                    let mut s = self.clone();
                    s.complete(c);
                    out.push((Action::Complete { client: c }, s));
                }
            }
        }
        let mut dying = self.clone();
        if config.mutation == Some(Mutation::CrashDropsAckedCreate) {
            dying.drop_first_entry();
        }
        for (resolution, mut s) in dying.crash_outcomes() {
            s.crash();
            out.push((Action::Crash { resolution }, s));
        }
        out
    }

    fn complete(&mut self, c: usize) {
        let (op, new_id) = self.clients[c].in_flight.take().expect("complete needs an operation in flight");
        let (_, effects) = self.store.plan(&self.clients[c].client, &op, &new_id);
        let mut acked_client = self.clients[c].client.clone();
        for effect in &effects {
            self.store.apply(&mut self.clients[c].client, effect);
            self.acked.apply(&mut acked_client, effect);
        }
    }

    /// Every way a crash may resolve the operations in flight: they linearize in some order,
    /// each planned against the store the earlier ones left, and each survives whole or not at
    /// all (prune, shutdown: any subset). Returns the resolution and the state after it.
    fn crash_outcomes(&self) -> Vec<(Resolution, SpecState)> {
        let pending: Vec<usize> = (0..self.clients.len()).filter(|c| self.clients[*c].in_flight.is_some()).collect();
        let mut out = Vec::new();
        self.resolve(&pending, Vec::new(), &mut out);
        out
    }

    fn resolve(&self, pending: &[usize], done: Resolution, out: &mut Vec<(Resolution, SpecState)>) {
        if pending.is_empty() {
            out.push((done, self.clone()));
            return;
        }
        for (i, &c) in pending.iter().enumerate() {
            let rest: Vec<usize> = pending.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, c)| *c).collect();
            let (op, new_id) = self.clients[c].in_flight.clone().expect("pending clients have an operation");
            let effects = self.store.plan(&self.clients[c].client, &op, &new_id).1;
            for kept in crash_resolutions(&op, &effects) {
                let mut s = self.clone();
                let mut scratch = s.clients[c].client.clone();
                for effect in &kept {
                    s.store.apply(&mut s.clients[c].client, effect);
                    s.acked.apply(&mut scratch, effect);
                }
                s.clients[c].in_flight = None;
                let mut path = done.clone();
                path.push((c, kept));
                s.resolve(&rest, path, out);
            }
        }
    }

    /// The mutation: before the in-flight operations resolve, every entry in the store is an
    /// acknowledged one; the first disappears from the store (not from what was acknowledged).
    fn drop_first_entry(&mut self) {
        if let Some(key) = self.store.registry.keys().next().cloned() {
            let entry = self.store.registry.remove(&key).expect("key listed");
            self.store.transcripts.remove(&entry.id);
            self.store.trajectories.remove(&entry.id);
        }
    }

    /// The process dies after the in-flight operations were resolved: every client restarts idle.
    fn crash(&mut self) {
        for slot in &mut self.clients {
            *slot = ClientSlot::default();
        }
        self.crashed = true;
    }

    /// What the operations in flight may touch.
    fn uncertain(&self) -> Uncertain {
        let mut uncertain = Uncertain::default();
        for slot in &self.clients {
            let Some((op, new_id)) = &slot.in_flight else { continue };
            match op {
                Op::Create { key, .. } | Op::Append { key, .. } | Op::Reset { key } | Op::Delete { key } => {
                    let key = canonical(key);
                    if let Some(entry) = self.store.registry.get(&key) {
                        uncertain.ids.insert(entry.id.clone());
                    }
                    uncertain.keys.insert(key);
                    uncertain.ids.insert(new_id.clone());
                }
                Op::Prune { .. } | Op::Shutdown => uncertain.everything = true,
                Op::Rotate | Op::Get { .. } => {}
            }
        }
        uncertain
    }

    /// The first invariant this state breaks, with why.
    pub fn violation(&self) -> Option<(Invariant, String)> {
        let view = self.store.view();
        let acked = self.acked.view();
        let uncertain = self.uncertain();
        let judged = Judged { view: &view, acked: &acked, uncertain: &uncertain, recovery: &Recovery::NotRun };
        if let Some(found) = judged.first_broken() {
            return Some(found);
        }
        let idle = self.clients.iter().all(|s| s.in_flight.is_none());
        if idle && view != acked {
            return Some((
                Invariant::Atomic,
                "with nothing in flight, the store differs from what was acknowledged".into(),
            ));
        }
        None
    }
}
