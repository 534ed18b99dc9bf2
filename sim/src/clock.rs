//! Simulated time: a clock in milliseconds that moves only when told to, and sleeps on it.
//!
//! Nothing reads the wall clock. A [`SimClock`] is either *free* (no scheduler drives it: a
//! sleep moves the clock forward itself and returns at once, which is what a lone client sees)
//! or *driven* (a scheduler owns time: a sleep waits until the scheduler finds no task ready and
//! calls [`SimClock::advance`], which jumps to the earliest sleeper, as madsim's timer does).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Time as a store sees it.
pub trait Clock: Send + Sync {
    /// Milliseconds since the clock's epoch.
    fn now_ms(&self) -> u64;
    /// Waits `ms` milliseconds of this clock's time.
    fn sleep(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// A deterministic clock; see the module doc.
pub struct SimClock {
    state: Mutex<ClockState>,
}

struct ClockState {
    now_ms: u64,
    driven: bool,
    /// Sleepers by (wake time, arrival order): ties wake in the order they slept.
    timers: BTreeMap<(u64, u64), Waker>,
    arrivals: u64,
}

impl SimClock {
    /// A free clock at `start_ms`: sleeping advances it at once.
    pub fn new(start_ms: u64) -> Self {
        Self::with(start_ms, false)
    }

    /// A clock at `start_ms` that a scheduler drives with [`SimClock::advance`].
    pub fn driven(start_ms: u64) -> Self {
        Self::with(start_ms, true)
    }

    fn with(start_ms: u64, driven: bool) -> Self {
        Self { state: Mutex::new(ClockState { now_ms: start_ms, driven, timers: BTreeMap::new(), arrivals: 0 }) }
    }

    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.state.lock().expect("clock poisoned by a panic in another task")
    }

    /// Jumps to the earliest sleeper's wake time and wakes every sleeper due then. False if no
    /// task sleeps (time cannot help: the tasks that are left are blocked for good).
    pub fn advance(&self) -> bool {
        let mut state = self.lock();
        let Some(&(at, _)) = state.timers.keys().next() else { return false };
        state.now_ms = state.now_ms.max(at);
        while let Some(entry) = state.timers.first_entry() {
            if entry.key().0 > at {
                break;
            }
            entry.remove().wake();
        }
        true
    }

    /// A copy of this clock, at the same time, for a copy of a run ([`SimFs::fork`](crate::SimFs::fork)).
    /// Panics while a task sleeps on it: a sleeper's waker belongs to the run it slept in.
    pub fn fork(&self) -> SimClock {
        let state = self.lock();
        assert!(state.timers.is_empty(), "forking a clock a task sleeps on");
        let copy = ClockState {
            now_ms: state.now_ms,
            driven: state.driven,
            timers: BTreeMap::new(),
            arrivals: state.arrivals,
        };
        SimClock { state: Mutex::new(copy) }
    }

    /// Sleepers waiting for [`SimClock::advance`].
    pub fn sleepers(&self) -> usize {
        self.lock().timers.len()
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.lock().now_ms
    }

    fn sleep(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let until = self.now_ms().saturating_add(ms);
        Box::pin(Sleep { clock: self, until, key: None })
    }
}

struct Sleep<'a> {
    clock: &'a SimClock,
    until: u64,
    key: Option<(u64, u64)>,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let until = self.until;
        let mut state = self.clock.lock();
        if !state.driven {
            state.now_ms = state.now_ms.max(until);
        }
        if state.now_ms >= until {
            if let Some(key) = self.key {
                state.timers.remove(&key);
            }
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(key) => key,
            None => {
                state.arrivals += 1;
                (until, state.arrivals)
            }
        };
        state.timers.insert(key, cx.waker().clone());
        drop(state);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Sleep<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.clock.lock().timers.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_clock_moves_when_slept_on() {
        let clock = SimClock::new(100);
        pollster::block_on(clock.sleep(25));
        assert_eq!(clock.now_ms(), 125);
    }

    #[test]
    fn a_driven_clock_wakes_the_earliest_sleeper_first() {
        let clock = SimClock::driven(0);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut long = clock.sleep(50);
        let mut short = clock.sleep(10);
        assert!(long.as_mut().poll(&mut cx).is_pending());
        assert!(short.as_mut().poll(&mut cx).is_pending());
        assert_eq!(clock.sleepers(), 2);
        assert!(clock.advance());
        assert_eq!(clock.now_ms(), 10);
        assert!(short.as_mut().poll(&mut cx).is_ready());
        assert!(long.as_mut().poll(&mut cx).is_pending());
        assert!(clock.advance());
        assert!(long.as_mut().poll(&mut cx).is_ready());
        assert!(!clock.advance(), "no sleeper left");
    }
}
