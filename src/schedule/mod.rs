//! Deterministic interleaving of client tasks at syscall boundaries.
//!
//! Model: each client is a task (a future) that stops at a yield point before each syscall it
//! may be preempted at (see [`gate`]). The executor polls one task at a time; a poll runs the
//! task from one yield point to the next, so exactly one task acts at a time and every order of
//! syscalls is some sequence of the executor's choices. Where more than one task is ready, a
//! [`Strategy`] chooses; the choices made form a [`Schedule`], plain data that replays the
//! interleaving exactly. A task blocked on the in-process queue is not ready until the queue is
//! handed to it; a sleeping task is not ready until no task is ready and the driven clock
//! jumps to its wake time (madsim's rule: time passes only when nothing can run). Nothing here
//! reads a wall clock or depends on thread timing: the same schedule gives the same run.
//!
//! Strategies: [`Replay`] (a schedule, then the default choice), [`Seeded`] (uniformly random
//! among the ready tasks, from a ChaCha stream), and [`dfs`], every schedule with at most a
//! bound of preemptions (CHESS: switching away from a task that could go on).

pub mod dfs;
pub mod gate;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crashsim_sim::SimClock;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A client task.
pub type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// One decision of the executor: which of the ready tasks runs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The tasks that could run, in increasing order (at least two).
    pub ready: Vec<usize>,
    /// The task that ran last, if any.
    pub previous: Option<usize>,
    /// The task chosen.
    pub chosen: usize,
    /// Syscalls made before this choice (the chosen task makes the next one).
    pub step: usize,
}

impl Choice {
    /// Whether choosing `task` here switches away from a task that could have gone on.
    pub fn preempts(&self, task: usize) -> bool {
        self.previous.is_some_and(|p| p != task && self.ready.contains(&p))
    }

    /// The choice a scheduler makes when told nothing: the previous task if it can go on, else
    /// the lowest ready one. Never a preemption.
    pub fn default_of(ready: &[usize], previous: Option<usize>) -> usize {
        previous.filter(|p| ready.contains(p)).unwrap_or(ready[0])
    }
}

/// Chooses among ready tasks.
pub trait Strategy {
    /// The task to run, one of `ready` (sorted, at least two).
    fn choose(&mut self, ready: &[usize], previous: Option<usize>) -> usize;
}

/// The tasks chosen at each choice point, in order: an interleaving, replayable. Written as
/// the task numbers joined by `.` (empty: the default choice everywhere).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Schedule(pub Vec<usize>);

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|c| c.to_string()).collect();
        f.write_str(&parts.join("."))
    }
}

impl FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Ok(Schedule::default());
        }
        s.split('.')
            .map(|part| {
                part.trim().parse::<usize>().map_err(|_| {
                    format!("cannot read schedule {s:?}: expected client numbers joined by '.', like 0.0.1.0")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Schedule)
    }
}

/// Follows a schedule, then makes the default choice. A recorded choice that is not ready
/// (the schedule came from another workload) falls back to the default too.
pub struct Replay {
    schedule: Schedule,
    next: usize,
}

impl Replay {
    pub fn new(schedule: Schedule) -> Self {
        Self { schedule, next: 0 }
    }
}

impl Strategy for Replay {
    fn choose(&mut self, ready: &[usize], previous: Option<usize>) -> usize {
        let wanted = self.schedule.0.get(self.next).copied();
        self.next += 1;
        wanted.filter(|w| ready.contains(w)).unwrap_or_else(|| Choice::default_of(ready, previous))
    }
}

/// Uniformly random among the ready tasks, from a ChaCha stream seeded by `seed`.
pub struct Seeded(ChaCha8Rng);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }
}

impl Strategy for Seeded {
    fn choose(&mut self, ready: &[usize], _previous: Option<usize>) -> usize {
        ready[self.0.random_range(0..ready.len())]
    }
}

/// How a run of tasks ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interleaving {
    /// Every choice point, in order.
    pub choices: Vec<Choice>,
    /// Tasks that never finished: every one left was blocked, and no sleeper could be woken.
    pub deadlocked: Vec<usize>,
}

impl Interleaving {
    /// The schedule that replays this interleaving.
    pub fn schedule(&self) -> Schedule {
        Schedule(self.choices.iter().map(|c| c.chosen).collect())
    }

    /// Preemptions made.
    pub fn preemptions(&self) -> usize {
        self.choices.iter().filter(|c| c.preempts(c.chosen)).count()
    }
}

/// Which tasks were woken since they were last polled.
struct Woken {
    flags: Mutex<Vec<bool>>,
}

struct TaskWaker {
    task: usize,
    woken: Arc<Woken>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.flags.lock().expect("woken flags")[self.task] = true;
    }
}

/// Runs `tasks` to completion, one poll at a time, `strategy` choosing where several are ready.
/// `steps` tells how many syscalls were made so far (recorded with each choice). When no task
/// is ready, `clock` jumps to the earliest sleeper; if none sleeps, the run ends deadlocked.
pub fn run(
    mut tasks: Vec<Task<'_>>,
    clock: &SimClock,
    strategy: &mut dyn Strategy,
    steps: &dyn Fn() -> usize,
) -> Interleaving {
    let woken = Arc::new(Woken { flags: Mutex::new(vec![true; tasks.len()]) });
    let wakers: Vec<Waker> =
        (0..tasks.len()).map(|task| Waker::from(Arc::new(TaskWaker { task, woken: woken.clone() }))).collect();
    let mut done = vec![false; tasks.len()];
    let mut poll = |task: usize, done: &mut Vec<bool>| {
        woken.flags.lock().expect("woken flags")[task] = false;
        let mut cx = Context::from_waker(&wakers[task]);
        if let Poll::Ready(()) = tasks[task].as_mut().poll(&mut cx) {
            done[task] = true;
        }
    };
    // Every task first runs up to its first yield point, in order: what it does before its
    // first syscall touches nothing another task sees, so no choice is needed there.
    for task in 0..done.len() {
        poll(task, &mut done);
    }
    let mut previous = None;
    let mut out = Interleaving::default();
    loop {
        let ready: Vec<usize> = {
            let flags = woken.flags.lock().expect("woken flags");
            (0..done.len()).filter(|&t| !done[t] && flags[t]).collect()
        };
        if ready.is_empty() {
            if done.iter().all(|d| *d) {
                break;
            }
            if clock.advance() {
                continue;
            }
            out.deadlocked = (0..done.len()).filter(|&t| !done[t]).collect();
            break;
        }
        let chosen = if ready.len() == 1 {
            ready[0]
        } else {
            let chosen = strategy.choose(&ready, previous);
            assert!(ready.contains(&chosen), "the strategy chose task {chosen}, which is not ready");
            out.choices.push(Choice { ready, previous, chosen, step: steps() });
            chosen
        };
        poll(chosen, &mut done);
        previous = Some(chosen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A task that logs its name at each of `n` yield points.
    fn logger<'a>(name: usize, n: usize, log: Rc<RefCell<Vec<usize>>>) -> Task<'a> {
        Box::pin(async move {
            for _ in 0..n {
                gate::yield_now().await;
                log.borrow_mut().push(name);
            }
        })
    }

    fn interleave(schedule: &str) -> (Vec<usize>, Interleaving) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks = vec![logger(0, 2, log.clone()), logger(1, 2, log.clone())];
        let clock = SimClock::driven(0);
        let counter = log.clone();
        let run = run(tasks, &clock, &mut Replay::new(schedule.parse().unwrap()), &|| counter.borrow().len());
        let order = log.borrow().clone();
        (order, run)
    }

    #[test]
    fn the_default_runs_each_task_to_its_end_and_a_schedule_replays_exactly() {
        let (order, run) = interleave("");
        assert_eq!(order, vec![0, 0, 1, 1]);
        assert_eq!(run.preemptions(), 0);
        let (order, run) = interleave("0.1.0.1");
        assert_eq!(order, vec![0, 1, 0, 1]);
        assert_eq!(run.schedule().to_string(), "0.1.0", "the last step has no choice");
        assert_eq!(run.preemptions(), 2);
        assert_eq!(interleave(&run.schedule().to_string()).0, order);
    }

    #[test]
    fn schedules_parse_and_refuse_garbage() {
        assert_eq!("0.1.1".parse::<Schedule>().unwrap(), Schedule(vec![0, 1, 1]));
        assert_eq!("".parse::<Schedule>().unwrap(), Schedule::default());
        assert!("0.x".parse::<Schedule>().unwrap_err().contains("client numbers"));
    }
}
