//! A store written on `tokio::fs`, tested by changing one import: `use tokio::fs;` becomes
//! `use crashsim::fs::tokio as fs;`. Inside a harness run every call awaits the simulated disk,
//! so concurrent clients are preempted at the store's own syscalls, as tokio tasks would be.
//!
//! A counter: each `incr` appends one `+` to `journal` and syncs it; `get` counts them. The bug
//! variant keeps the count in a file it reads, adds one to and writes back: two clients that
//! read the same count both write the next one, and an acknowledged increment is lost, under
//! every model (a race, not a crash).

#[path = "shared/counter.rs"]
mod counter;

use std::path::Path;

use crashsim::fs::tokio as fs;
use tokio::io::AsyncWriteExt;

/// The counter, as its users call it: nothing here knows about crashsim.
pub struct Counter {
    read_modify_write: bool,
}

impl Counter {
    /// Opens the counter in the current directory, creating its journal (and syncing the
    /// directory, so that the journal's name is durable before any increment is).
    pub async fn open(read_modify_write: bool) -> std::io::Result<Counter> {
        let name = if read_modify_write { "count" } else { "journal" };
        if fs::metadata(name).await.is_err() {
            fs::File::create(name).await?.sync_all().await?;
            fs::File::open(Path::new(".")).await?.sync_all().await?;
        }
        Ok(Counter { read_modify_write })
    }

    pub async fn incr(&self) -> std::io::Result<()> {
        if self.read_modify_write {
            let next = self.get().await? + 1;
            let mut file = fs::OpenOptions::new().write(true).open("count").await?;
            file.write_all(next.to_string().as_bytes()).await?;
            return file.sync_all().await;
        }
        let mut journal = fs::OpenOptions::new().append(true).open("journal").await?;
        journal.write_all(b"+").await?;
        journal.sync_data().await
    }

    pub async fn get(&self) -> std::io::Result<u64> {
        if self.read_modify_write {
            let text = fs::read_to_string("count").await?;
            return Ok(text.trim().parse().unwrap_or(0));
        }
        Ok(fs::read("journal").await?.iter().filter(|&&b| b == b'+').count() as u64)
    }
}

/// The harness glue: the spec (the count is the number of increments) and a `Subject`.
pub mod harness {
    use std::sync::Arc;

    use crashsim::subject::{Gated, Process, Recovered, Subject};
    use crashsim_model::history::{Outcome, Record};
    use crashsim_model::{Allowed, Violation};
    use crashsim_sim::SimFs;

    use super::counter::CounterSpec;
    pub use super::counter::Op;
    use super::Counter;

    /// The counter; `read_modify_write: true` is the bug variant.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct TokioCounter {
        pub read_modify_write: bool,
    }

    impl Subject for TokioCounter {
        type Op = Op;
        type Reply = u64;
        type Store = Counter;
        type Observed = Result<u64, String>;
        type Expected = Allowed<u64>;

        fn name(&self) -> String {
            if self.read_modify_write { "tokio-counter-read-modify-write" } else { "tokio-counter" }.to_string()
        }

        fn alphabet(&self) -> Vec<Op> {
            vec![Op::Incr, Op::Get]
        }

        /// Two clients at once may both increment.
        fn concurrent_alphabet(&self) -> Vec<Op> {
            vec![Op::Incr]
        }

        async fn open(&self, _fs: Arc<Gated>, _process: &Process) -> Result<Counter, String> {
            Counter::open(self.read_modify_write).await.map_err(|e| e.to_string())
        }

        async fn call(&self, counter: &Counter, op: &Op) -> Outcome<u64> {
            let answer = match op {
                Op::Incr => counter.incr().await.map(|()| 0),
                Op::Get => counter.get().await,
            };
            answer.map_or_else(|e| Outcome::Failed(e.to_string()), Outcome::Replied)
        }

        async fn recover(&self, _fs: Arc<SimFs>) -> Recovered<Result<u64, String>> {
            let count = async { Counter::open(self.read_modify_write).await?.get().await };
            Recovered { observed: count.await.map_err(|e| e.to_string()), report: String::new() }
        }

        fn expect(&self, history: &[Record<Op, u64>]) -> Allowed<u64> {
            Allowed::of(&CounterSpec, history)
        }

        fn check(&self, allowed: &Allowed<u64>, count: &Result<u64, String>) -> Result<(), Violation> {
            allowed.judge(&CounterSpec, count)
        }
    }
}

fn main() {
    use harness::TokioCounter;
    crashsim::testing::demo(&[TokioCounter { read_modify_write: false }, TokioCounter { read_modify_write: true }]);
}
