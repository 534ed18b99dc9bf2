//! The built-in session store (a registry `sessions.json` beside one transcript per session)
//! as a [`Subject`]: one variant of `crashsim-store`, judged by the spec of `crashsim-model`.

pub mod observe;
pub mod program;
pub mod reading;
pub mod real_disk;
pub mod workload;

use std::sync::Arc;

use crashsim_model::history::Outcome;
use crashsim_model::{Expected, Observed, Op, Record, Reply, Violation};
use crashsim_sim::{Fs, Image, SimFs};
use crashsim_store::{OwnerAlive, Store, StoreError, StoreOptions, StoreResult, Variant};

use self::observe::{observe_running, recover, DIR};
use crate::subject::{Gated, Process, Recovered, Subject};
use crate::workload::Workload;
use crashsim_store::layout::REGISTRY;

/// One variant of the session store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Session(pub Variant);

impl Subject for Session {
    type Op = Op;
    type Reply = Reply;
    type Store = Store<Gated>;
    type Observed = Observed;
    type Expected = Expected;

    fn name(&self) -> String {
        self.0.to_string()
    }

    fn describe(&self) -> String {
        format!("variant {} ({})", self.0, self.0.reported_as())
    }

    fn program(&self) -> Option<String> {
        Some(program::program().to_string())
    }

    fn format_op(&self, op: &Op) -> String {
        workload::format_op(op)
    }

    fn parse_op(&self, text: &str) -> Result<Op, String> {
        workload::parse_op(text)
    }

    fn alphabet(&self) -> Vec<Op> {
        workload::alphabet()
    }

    fn concurrent_alphabet(&self) -> Vec<Op> {
        workload::concurrent_alphabet()
    }

    fn concurrent_setup(&self) -> Vec<Op> {
        workload::concurrent_setup()
    }

    fn random_ops(&self, seed: u64, ops_max: usize) -> Vec<Op> {
        workload::random_ops(seed, ops_max)
    }

    /// 8 to `size_max` sessions, a count drawn from the seed's ChaCha stream (more than the
    /// prune cap below and the 3 backups rotate keeps), then five rotations (the fourth and fifth
    /// drop the oldest backups), a prune of half the sessions, a create and a delete. A crash
    /// inside the prune or the final shutdown may leave any subset of their per-session effects,
    /// which the spec keeps symbolic (`crashsim_model::partial`).
    fn scale(&self, seed: u64, size_max: usize) -> Option<Workload> {
        use rand::{RngExt, SeedableRng};
        assert!(size_max >= 8, "a scale workload creates at least 8 sessions");
        let sessions = rand_chacha::ChaCha8Rng::seed_from_u64(seed).random_range(8..=size_max);
        let create = |key: String| Op::Create { key, label: Some("L".to_string()) };
        let setup = (0..sessions).map(|i| create(format!("s{i}"))).collect();
        let mut ops = vec![Op::Rotate; 5];
        ops.extend([
            Op::Prune { max_entries: sessions - sessions / 2 },
            create("a".to_string()),
            Op::Delete { key: "s0".to_string() },
        ]);
        Some(Workload { setup, clients: vec![ops], processes: 1 })
    }

    async fn open(&self, fs: Arc<Gated>, process: &Process) -> Result<Store<Gated>, String> {
        Store::open(fs, process_options(self.0, process)).await.map_err(|e| e.to_string())
    }

    async fn call(&self, store: &Store<Gated>, op: &Op) -> Outcome<Reply> {
        call(store, op).await
    }

    /// A server reads its registry when it starts; its cache then holds what the setup made.
    async fn warm(&self, store: &Store<Gated>) {
        // A failed read leaves the cache cold, which the calls that follow tolerate.
        let _ = store.list().await;
    }

    fn closing(&self) -> Option<Op> {
        Some(Op::Shutdown)
    }

    async fn recover(&self, fs: Arc<SimFs>) -> Recovered<Observed> {
        recover(fs, self.0).await
    }

    fn inspect(&self, image: &Image) -> Option<Observed> {
        Some(observe_running(image))
    }

    fn expect(&self, history: &[Record]) -> Expected {
        Expected::of(history)
    }

    fn check(&self, expected: &Expected, observed: &Observed) -> Result<(), Violation> {
        expected.check(observed)
    }

    /// What recovery showed is what happened: the spec continues from its branches that match.
    fn expect_after_recovery(&self, before: &[Record], recovered: &Observed, after: &[Record]) -> Expected {
        Expected::after_recovery(before, recovered, after)
    }

    /// The registry: the one file whose damage could lose mappings (transcripts carry their
    /// own headers).
    fn corruptible(&self) -> Vec<String> {
        vec![format!("{DIR}/{REGISTRY}")]
    }

    fn check_corrupted(&self, expected: &Expected, observed: &Observed) -> Result<(), Violation> {
        expected.check_corrupted(observed)
    }

    fn fork(&self, store: &Store<Gated>, fs: Arc<Gated>, process: &Process) -> Option<Store<Gated>> {
        Some(store.fork(fs, process.clock.clone()))
    }

    fn memory(&self, store: &Store<Gated>) -> Option<u128> {
        Some(store.memory_fingerprint().into())
    }

    fn expected_fingerprint(&self, expected: &Expected) -> Option<u128> {
        Some(expected.fingerprint().into())
    }

    fn started(&self, observed: &Observed) -> bool {
        !matches!(observed.recovery, crashsim_model::Recovery::Failed(_))
    }

    fn is_refusal(&self, reply: &Reply) -> bool {
        reply.is_refusal()
    }
}

/// Calls `op` on `store` (on any filesystem) and maps the answer to the spec's terms.
pub async fn call<F: Fs>(store: &Store<F>, op: &Op) -> Outcome<Reply> {
    match op {
        Op::Create { key, label } => reply(store.create_labeled(key, label.as_deref()).await.map(Reply::Session)),
        Op::Append { key, message } => reply(store.append(key, message).await.map(|()| Reply::Unit)),
        Op::Reset { key } => reply(store.reset(key).await.map(Reply::Session)),
        Op::Delete { key } => reply(store.delete(key).await.map(|()| Reply::Unit)),
        Op::Rotate => reply(store.rotate().await.map(|()| Reply::Unit)),
        Op::Prune { max_entries } => reply(store.prune(*max_entries).await.map(Reply::Evicted)),
        Op::Shutdown => reply(store.shutdown().await.map(|()| Reply::Unit)),
        Op::Get { key } => reply(store.get(key).await.map(|found| match found {
            Some(entry) => Reply::Session(entry.session_id),
            None => Reply::NotFound,
        })),
    }
}

/// The options of `process`'s store: owner `client-<index>`, id seed `index`. A lock of another
/// process of the run is waited for while that process lives, and broken once it is dead.
fn process_options(variant: Variant, process: &Process) -> StoreOptions {
    let owner_alive = if process.count > 1 {
        let (alive, count) = (process.alive.clone(), process.count);
        OwnerAlive(Arc::new(move |o| (0..count).any(|p| owner(p) == o && alive(p))))
    } else {
        OwnerAlive::none()
    };
    StoreOptions {
        variant,
        owner: owner(process.index),
        seed: process.index as u64,
        owner_alive,
        clock: process.clock.clone(),
        ..StoreOptions::default()
    }
}

/// The owner id of process `process`.
pub fn owner(process: usize) -> String {
    format!("client-{process}")
}

fn reply(result: StoreResult<Reply>) -> Outcome<Reply> {
    match result {
        Ok(reply) => Outcome::Replied(reply),
        Err(StoreError::Exists { .. }) => Outcome::Replied(Reply::Exists),
        Err(StoreError::NotFound { .. }) => Outcome::Replied(Reply::NotFound),
        Err(StoreError::Closed) => Outcome::Replied(Reply::Closed),
        Err(other) => Outcome::Failed(other.to_string()),
    }
}
