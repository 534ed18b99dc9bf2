//! A sync store on plain `std::fs` shared by concurrent clients: the harness runs each call on a
//! thread of its own (`crashsim::fs::std::scheduled`) and preempts it before any of its
//! syscalls, so a race inside one call is found as it is in a tokio store.
//!
//! A counter: each `incr` appends one `+` to `journal` and syncs it; `get` counts them. The bug
//! variant reads the count from a file, adds one and writes it back: two clients that read the
//! same count both write the next one, and an acknowledged increment is lost under every model.
//! Called directly from the task (`scheduled: false`), each call runs to its end before another
//! client may run, and that race cannot show.

#[path = "shared/counter.rs"]
mod counter;

use std::io::Write;
use std::path::Path;

use crashsim::fs::std as fs;

/// The counter, as its users call it: nothing here knows about crashsim.
pub struct Counter {
    read_modify_write: bool,
}

impl Counter {
    /// Opens the counter in the current directory, creating its file (and syncing the
    /// directory, so that the file's name is durable before any increment is).
    pub fn open(read_modify_write: bool) -> std::io::Result<Counter> {
        let name = if read_modify_write { "count" } else { "journal" };
        if fs::metadata(name).is_err() {
            fs::File::create(name)?.sync_all()?;
            fs::File::open(Path::new("."))?.sync_all()?;
        }
        Ok(Counter { read_modify_write })
    }

    pub fn incr(&self) -> std::io::Result<()> {
        if self.read_modify_write {
            let next = self.get()? + 1;
            let mut file = fs::OpenOptions::new().write(true).open("count")?;
            file.write_all(next.to_string().as_bytes())?;
            return file.sync_all();
        }
        let mut journal = fs::OpenOptions::new().append(true).open("journal")?;
        journal.write_all(b"+")?;
        journal.sync_data()
    }

    pub fn get(&self) -> std::io::Result<u64> {
        if self.read_modify_write {
            return Ok(fs::read_to_string("count")?.trim().parse().unwrap_or(0));
        }
        Ok(fs::read("journal")?.iter().filter(|&&b| b == b'+').count() as u64)
    }
}

/// The harness glue: the spec (the count is the number of increments) and a `Subject` whose
/// calls run on threads the harness schedules.
pub mod harness {
    use std::sync::Arc;

    use crashsim::subject::{Gated, Process, Recovered, Subject};
    use crashsim_model::history::{Outcome, Record};
    use crashsim_model::{Allowed, Violation};
    use crashsim_sim::SimFs;

    use super::counter::CounterSpec;
    pub use super::counter::Op;
    use super::Counter;

    /// The counter; `read_modify_write: true` is the bug variant, and `scheduled: false` calls
    /// the store from the task itself (no preemption inside a call).
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct StdCounter {
        pub read_modify_write: bool,
        pub scheduled: bool,
    }

    impl Subject for StdCounter {
        type Op = Op;
        type Reply = u64;
        type Store = Arc<Counter>;
        type Observed = Result<u64, String>;
        type Expected = Allowed<u64>;

        fn name(&self) -> String {
            let store = if self.read_modify_write { "std-counter-read-modify-write" } else { "std-counter" };
            let how = if self.scheduled { "" } else { "-unscheduled" };
            format!("{store}{how}")
        }

        fn alphabet(&self) -> Vec<Op> {
            vec![Op::Incr, Op::Get]
        }

        /// Two clients at once may both increment.
        fn concurrent_alphabet(&self) -> Vec<Op> {
            vec![Op::Incr]
        }

        async fn open(&self, _fs: Arc<Gated>, _process: &Process) -> Result<Arc<Counter>, String> {
            Counter::open(self.read_modify_write).map(Arc::new).map_err(|e| e.to_string())
        }

        async fn call(&self, counter: &Arc<Counter>, op: &Op) -> Outcome<u64> {
            let (counter, op) = (counter.clone(), op.clone());
            let call = move || match op {
                Op::Incr => counter.incr().map(|()| 0),
                Op::Get => counter.get(),
            };
            let answer = if self.scheduled { crashsim::fs::std::scheduled(call).await } else { call() };
            answer.map_or_else(|e| Outcome::Failed(e.to_string()), Outcome::Replied)
        }

        async fn recover(&self, _fs: Arc<SimFs>) -> Recovered<Result<u64, String>> {
            let count = Counter::open(self.read_modify_write).and_then(|counter| counter.get());
            Recovered { observed: count.map_err(|e| e.to_string()), report: String::new() }
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
    use harness::StdCounter;
    let counter = |read_modify_write, scheduled| StdCounter { read_modify_write, scheduled };
    crashsim::testing::demo(&[counter(false, true), counter(true, true), counter(true, false)]);
}
