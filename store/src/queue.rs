//! The in-process writer queue: registry updates of the tasks of one process run one at a time,
//! in arrival order, as OpenClaw's promise-chain mutex (`withSessionStoreLock`) runs them.
//!
//! It serializes tasks of one process only; across processes only the lock file does. Written
//! here rather than taken from `async-lock`, whose mutex changes strategy after 500 µs of wall
//! time: a schedule must depend on nothing but the scheduler's choices.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A FIFO async mutex without data.
#[derive(Default)]
pub struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    held: bool,
    /// Waiting tickets in arrival order, each with the waker of its task.
    waiting: VecDeque<(u64, Waker)>,
    /// Tickets the queue was handed to on release, not yet polled.
    granted: BTreeSet<u64>,
    tickets: u64,
}

/// Holding the queue; dropping it hands the queue to the next waiter.
pub struct Turn<'a> {
    queue: &'a Queue,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().expect("queue poisoned by a panic in another task")
    }

    /// Waits for this task's turn.
    pub fn acquire(&self) -> impl Future<Output = Turn<'_>> + Send + '_ {
        Acquire { queue: self, ticket: None }
    }

    /// A copy of this queue, idle, for a copy of its store ([`Store::fork`](crate::Store::fork)).
    /// Panics if a task holds it or waits on it.
    pub fn fork(&self) -> Queue {
        let state = self.lock();
        assert!(!state.held && state.waiting.is_empty() && state.granted.is_empty(), "forking a queue in use");
        Queue { state: Mutex::new(QueueState { tickets: state.tickets, ..QueueState::default() }) }
    }

    /// Whether a task of this process holds the queue (a registry write may be under way).
    pub fn is_held(&self) -> bool {
        self.lock().held
    }

    fn release(&self) {
        let mut state = self.lock();
        match state.waiting.pop_front() {
            Some((ticket, waker)) => {
                state.granted.insert(ticket);
                waker.wake();
            }
            None => state.held = false,
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.queue.release();
    }
}

struct Acquire<'a> {
    queue: &'a Queue,
    ticket: Option<u64>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Turn<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Turn<'a>> {
        let queue = self.queue;
        let mut state = queue.lock();
        match self.ticket {
            None if !state.held => {
                state.held = true;
                Poll::Ready(Turn { queue })
            }
            None => {
                state.tickets += 1;
                let ticket = state.tickets;
                state.waiting.push_back((ticket, cx.waker().clone()));
                drop(state);
                self.ticket = Some(ticket);
                Poll::Pending
            }
            Some(ticket) if state.granted.remove(&ticket) => {
                drop(state);
                self.ticket = None;
                Poll::Ready(Turn { queue })
            }
            Some(ticket) => {
                if let Some(slot) = state.waiting.iter_mut().find(|(t, _)| *t == ticket) {
                    slot.1 = cx.waker().clone();
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let mut state = self.queue.lock();
        if state.granted.remove(&ticket) {
            drop(state);
            self.queue.release();
        } else {
            state.waiting.retain(|(t, _)| *t != ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_get_their_turn_in_arrival_order() {
        let queue = Queue::default();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let first = pollster::block_on(queue.acquire());
        let mut second = Box::pin(queue.acquire());
        let mut third = Box::pin(queue.acquire());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert!(third.as_mut().poll(&mut cx).is_pending());
        drop(first);
        assert!(third.as_mut().poll(&mut cx).is_pending(), "the second came first");
        let Poll::Ready(turn) = second.as_mut().poll(&mut cx) else { panic!("the second's turn") };
        drop(turn);
        assert!(third.as_mut().poll(&mut cx).is_ready());
    }
}
