//! Concurrent runs under madsim (a build with `--cfg madsim`, as `.cargo/config.toml` sets).
//!
//! Each process is a madsim node with its own store instance; its clients are tasks spawned on
//! it. Before each syscall that names a path a client sleeps a latency drawn from madsim's
//! seeded RNG, so madsim's scheduler and simulated clock decide the interleaving: the same seed
//! gives the same run, byte for byte. Waits for a lock sleep on madsim's clock. A seeded kill
//! stops one process at a simulated time (madsim's node kill: its tasks vanish mid-call, the
//! disk keeps what they did, as after kill -9); the other process carries on, breaking the dead
//! process's lock, and shuts down cleanly at the end.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crashsim_sim::{Clock, SimFs, SimOptions};

use crate::execute::{client_task, harness_call, setup_task, Execution, Kill, MadsimRun, Recorder};
use crate::schedule::gate::{Attribution, Gated, Pace, Preempt};
use crate::subject::{Process, Subject};
use crate::workload::Workload;

/// madsim's simulated clock, as the store sees time.
struct MadsimClock {
    start: madsim::time::Instant,
}

impl Clock for MadsimClock {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn sleep(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(madsim::time::sleep(Duration::from_millis(ms)))
    }
}

/// Runs `workload` on a fresh madsim runtime seeded by `run.seed`, killing a process if asked.
pub fn execute<S: Subject>(subject: &S, workload: &Workload<S::Op>, run: &MadsimRun) -> Execution<S> {
    let mut runtime = madsim::runtime::Runtime::with_seed_and_config(run.seed, madsim::Config::default());
    // The threads of scheduled sync calls (`crate::fs::thread`) run only while their task waits
    // for them, so they leave a run as deterministic as madsim's one thread.
    runtime.set_allow_system_thread(true);
    runtime.block_on(execute_here(subject.clone(), workload.clone(), run.kill.clone()))
}

/// The run of [`execute`], inside the current madsim runtime (whose seed decides it), for
/// madsim's own determinism check.
pub async fn execute_here<S: Subject>(subject: S, workload: Workload<S::Op>, kill: Option<Kill>) -> Execution<S> {
    workload.validate().expect("a valid workload");
    if let Some(kill) = &kill {
        assert!(kill.process < workload.processes, "kill of process {} of {}", kill.process, workload.processes);
    }
    let handle = madsim::runtime::Handle::current();
    let fs = Arc::new(SimFs::new(SimOptions::default()));
    let attribution = Attribution::default();
    let gated = Arc::new(Gated::new(fs.clone(), Preempt::Every, attribution.clone()).paced(Pace::Latency));
    let recorder = Recorder::new(fs.clone());
    // madsim polls every node's tasks on this thread: stores on the shims run on this disk.
    let _shims = crate::fs::enter(gated.clone());
    let alive: Arc<Mutex<BTreeSet<usize>>> = Arc::new(Mutex::new((0..workload.processes).collect()));
    let subject = Arc::new(subject);
    let nodes: Vec<_> =
        (0..workload.processes).map(|p| handle.create_node().name(format!("process-{p}")).build()).collect();
    let clock: Arc<dyn Clock> = Arc::new(MadsimClock { start: madsim::time::Instant::now() });
    fs.set_clock(clock.clone());
    let execution = |open_end, open_error, elapsed_us| Execution {
        fs: fs.clone(),
        open_end,
        open_error,
        spans: recorder.spans(),
        interleaving: Default::default(),
        owners: attribution.owners(),
        elapsed_us,
    };
    let mut stores = Vec::new();
    for index in 0..workload.processes {
        let live = alive.clone();
        let alive = Arc::new(move |p| live.lock().expect("alive set").contains(&p));
        let process = Process { index, count: workload.processes, clock: clock.clone(), alive };
        match subject.open(gated.clone(), &process).await {
            Ok(store) => stores.push(Arc::new(store)),
            Err(error) => return execution(fs.steps(), Some(error), 0),
        }
    }
    let open_end = fs.steps();
    setup_task(&*subject, workload.clone(), stores.clone(), recorder.clone()).await;
    let started = madsim::time::Instant::now();
    let mut joins = Vec::new();
    for (client, ops) in workload.clients.iter().enumerate() {
        let process = workload.process_of(client);
        let (subject, ops, store, recorder) = (subject.clone(), ops.clone(), stores[process].clone(), recorder.clone());
        let task = async move { client_task(&*subject, client, process, ops, store, recorder).await };
        joins.push((process, nodes[process].spawn(attribution.tag(client, task))));
    }
    let killed = match kill {
        Some(kill) => {
            madsim::time::sleep(Duration::from_micros(kill.at_us)).await;
            alive.lock().expect("alive set").remove(&kill.process);
            handle.kill(nodes[kill.process].id());
            Some(kill.process)
        }
        None => None,
    };
    for (process, join) in joins {
        if Some(process) != killed {
            let _ = join.await;
        }
    }
    let elapsed_us = started.elapsed().as_micros() as u64;
    for (process, store) in stores.iter().enumerate() {
        if let Some(closing) = subject.closing().filter(|_| Some(process) != killed) {
            harness_call(&*subject, process, closing, store.clone(), recorder.clone()).await;
        }
    }
    execution(open_end, None, elapsed_us)
}
