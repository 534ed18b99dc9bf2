//! Running a workload on a recording `SimFs`: the trace, and which syscalls each operation spans.

use std::sync::Arc;

use crashsim_faults::Plan;
use crashsim_model::{Op, Outcome, Record, Reply};
use crashsim_sim::{Image, SimFs, SimOptions};
use crashsim_store::{Store, StoreError, StoreOptions, StoreResult, Variant};

/// One operation of a run: what it returned, the syscalls `start..end` it made, and the disk
/// the running process saw right after it (V).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub op: Op,
    pub outcome: Outcome,
    pub start: usize,
    pub end: usize,
    pub after: Image,
}

/// A recorded run of a workload.
pub struct Execution {
    pub fs: Arc<SimFs>,
    /// Syscalls the opening of the store made (recovery of an empty directory).
    pub open_end: usize,
    /// Why the store did not open, if it did not (then no operation ran).
    pub open_error: Option<String>,
    pub spans: Vec<Span>,
}

/// The store options of the client that runs workloads.
pub fn client_options(variant: Variant) -> StoreOptions {
    StoreOptions { variant, owner: "client-0".to_string(), seed: 0, ..StoreOptions::default() }
}

/// Runs `workload` on an empty recording `SimFs` with the faults of `plan`, then shuts the store
/// down cleanly (a last `shutdown` span). The plan's crash point is the caller's business: the
/// run goes to the end, and crash images are taken afterwards.
pub fn execute(variant: Variant, workload: &[Op], plan: &Plan) -> Execution {
    let fs = Arc::new(SimFs::new(SimOptions::default()));
    if !plan.faults.is_empty() {
        fs.set_injector(plan.injector());
    }
    pollster::block_on(async {
        let opened = Store::open(fs.clone(), client_options(variant)).await;
        let open_end = fs.steps();
        let mut store = match opened {
            Ok(store) => store,
            Err(error) => {
                return Execution { fs: fs.clone(), open_end, open_error: Some(error.to_string()), spans: Vec::new() }
            }
        };
        let mut spans = Vec::new();
        for op in workload.iter().chain([&Op::Shutdown]) {
            let start = fs.steps();
            let outcome = call(&mut store, op).await;
            spans.push(Span { op: op.clone(), outcome, start, end: fs.steps(), after: fs.volatile_image() });
        }
        Execution { fs: fs.clone(), open_end, open_error: None, spans }
    })
}

/// Calls `op` on the store and maps the answer to the spec's terms.
pub async fn call(store: &mut Store<SimFs>, op: &Op) -> Outcome {
    match op {
        Op::Create { key, label } => reply(store.create_labeled(key, label.as_deref()).await.map(Reply::Session)),
        Op::Append { key, message } => reply(store.append(key, message).await.map(|()| Reply::Unit)),
        Op::Reset { key } => reply(store.reset(key).await.map(Reply::Session)),
        Op::Delete { key } => reply(store.delete(key).await.map(|()| Reply::Unit)),
        Op::Rotate => reply(store.rotate().await.map(|()| Reply::Unit)),
        Op::Prune { max_entries } => reply(store.prune(*max_entries).await.map(Reply::Evicted)),
        Op::Shutdown => reply(store.shutdown().await.map(|()| Reply::Unit)),
    }
}

fn reply(result: StoreResult<Reply>) -> Outcome {
    match result {
        Ok(reply) => Outcome::Replied(reply),
        Err(StoreError::Exists { .. }) => Outcome::Replied(Reply::Exists),
        Err(StoreError::NotFound { .. }) => Outcome::Replied(Reply::NotFound),
        Err(StoreError::Closed) => Outcome::Replied(Reply::Closed),
        Err(other) => Outcome::Failed(other.to_string()),
    }
}

impl Execution {
    /// The history a crash after `k` syscalls leaves: the operations that returned before it,
    /// and the one running at it (in flight). An operation whose last syscall is the k-th has
    /// returned: its acknowledgement counts.
    pub fn history_at(&self, k: usize) -> Vec<Record> {
        let mut history = Vec::new();
        for span in &self.spans {
            if span.end <= k {
                history.push(Record::Call { client: 0, op: span.op.clone(), outcome: span.outcome.clone() });
            } else if span.start < k {
                history.push(Record::Call { client: 0, op: span.op.clone(), outcome: Outcome::InFlight });
            }
        }
        history
    }

    /// The history of the whole run.
    pub fn history(&self) -> Vec<Record> {
        self.history_at(self.fs.steps())
    }

    /// Index of the operation running at crash point `k`, if any.
    pub fn in_flight_at(&self, k: usize) -> Option<usize> {
        self.spans.iter().position(|s| s.start < k && k < s.end)
    }
}
