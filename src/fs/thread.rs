//! Sync code scheduled at each of its filesystem calls: [`scheduled`] runs a closure (a `std`
//! store's call) on a thread of its own and makes each of its shim calls, on its behalf, from
//! the task that awaits it. So the harness preempts a sync store's client before any of its
//! syscalls, exactly as it does a tokio store's (on crashsim's executor and under madsim), and a
//! schedule replays the same way.
//!
//! Model: a baton. The thread runs only while the task waits for its next request (or its end);
//! the task runs each request through the run's disk (its yield points included) and hands the
//! answer back. One of the two runs at a time, so a run is as deterministic as a single thread.
//! The site of each call is captured on the thread (its stack is the store's) when the disk
//! records sites, so a diagnosis names the store's own lines.
//!
//! What this cannot schedule: a thread that waits on another client outside a filesystem call
//! (a lock held across fs calls by a preempted client) never comes back with a request; such a
//! wait is reported after [`STUCK_AFTER`] as a panic naming the cause, instead of a hang.

use ::std::future::Future;
use ::std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use ::std::pin::Pin;
use ::std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use ::std::sync::{Arc, Mutex};
use ::std::task::{Context, Poll};
use ::std::thread::JoinHandle;
use ::std::time::Duration;

use crashsim_sim::site::{made_at, Site};
use crashsim_sim::{Errno, FsResult};

use super::{current, on, Disk, Handle, Pending, Request, Response};

/// How long the task waits for its thread's next request before it reports the thread stuck
/// (waiting on another client: see the module doc). Only a hang is decided by it, never a run.
pub const STUCK_AFTER: Duration = Duration::from_secs(30);

/// Runs `call` (sync code on the `std` shim) on a thread of its own, each of its filesystem
/// calls made by the returned future: inside a harness run, the harness may preempt it before
/// any of them. Outside one, `call` simply runs when first polled. A panic in `call` is
/// resumed in the task that awaits it.
pub fn scheduled<R: Send + 'static>(call: impl FnOnce() -> R + Send + 'static) -> Scheduled<R> {
    Scheduled { call: Some(Box::new(call)), thread: None, in_flight: None }
}

/// The future of [`scheduled`].
pub struct Scheduled<R> {
    call: Option<Box<dyn FnOnce() -> R + Send>>,
    thread: Option<Thread<R>>,
    /// The request being made for the thread, with the site it was captured at.
    in_flight: Option<(Pending<Response>, Option<Site>)>,
}

/// The thread of a [`Scheduled`] call and its two channels.
struct Thread<R> {
    disk: Handle,
    requests: Receiver<Message>,
    answers: Sender<FsResult<Response>>,
    result: Arc<Mutex<Option<::std::thread::Result<R>>>>,
    join: Option<JoinHandle<()>>,
}

/// What the thread says: a call to make, or that it ended (its result is in the slot).
enum Message {
    Call(Request, Option<Site>),
    Ended,
}

/// The disk the thread's shims see: each call goes to the task, which answers it.
struct Relay {
    requests: Sender<Message>,
    answers: Mutex<Receiver<FsResult<Response>>>,
    /// Frames never a site, when the run's disk records sites.
    site_library: Option<Vec<String>>,
}

impl Disk for Relay {
    fn call(self: Arc<Self>, request: Request) -> Pending<Response> {
        let site = self.site_library.as_ref().and_then(|library| Site::capture(library));
        let sent = self.requests.send(Message::Call(request, site));
        // The task is gone only when the run is dropped; the call then fails like a dead disk.
        let answer = match sent {
            Ok(()) => self.answers.lock().expect("one call at a time").recv().unwrap_or(Err(Errno::EIO)),
            Err(_) => Err(Errno::EIO),
        };
        Box::pin(::std::future::ready(answer))
    }

    fn site_library(&self) -> Option<Vec<String>> {
        self.site_library.clone()
    }
}

impl<R: Send + 'static> Scheduled<R> {
    /// Starts the thread on `disk`.
    fn start(&mut self, disk: Handle) {
        let call = self.call.take().expect("started once");
        let (to_task, requests) = mpsc::channel();
        let (answers, from_task) = mpsc::channel();
        let relay = Arc::new(Relay {
            requests: to_task.clone(),
            answers: Mutex::new(from_task),
            site_library: disk.site_library(),
        });
        let result = Arc::new(Mutex::new(None));
        let slot = result.clone();
        let join = ::std::thread::Builder::new()
            .name("crashsim-scheduled".to_string())
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| on(relay, call)));
                *slot.lock().expect("written once") = Some(outcome);
                let _ = to_task.send(Message::Ended);
            })
            .expect("a thread for a scheduled call");
        self.thread = Some(Thread { disk, requests, answers, result, join: Some(join) });
    }
}

impl<R: Send + 'static> Future for Scheduled<R> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = &mut *self;
        if this.thread.is_none() {
            match current() {
                Some(disk) => this.start(disk),
                None => return Poll::Ready((this.call.take().expect("polled after its end"))()),
            }
        }
        let thread = this.thread.as_mut().expect("started");
        loop {
            if let Some((call, site)) = &mut this.in_flight {
                // The call's yield points return Pending here: that is where the harness may
                // run another client.
                let Poll::Ready(answer) = made_at(site.clone(), || call.as_mut().poll(cx)) else {
                    return Poll::Pending;
                };
                this.in_flight = None;
                let _ = thread.answers.send(answer);
            }
            match thread.requests.recv_timeout(STUCK_AFTER) {
                Ok(Message::Call(request, site)) => this.in_flight = Some((thread.disk.0.clone().call(request), site)),
                Ok(Message::Ended) => {
                    thread.join.take().map(JoinHandle::join);
                    let outcome = thread.result.lock().expect("written").take().expect("the thread's result");
                    return Poll::Ready(outcome.unwrap_or_else(|panic| resume_unwind(panic)));
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "a scheduled call made no filesystem call and did not end in {} s: its thread waits on \
                     something only another client can give (a lock held across filesystem calls?), and the \
                     harness runs one client at a time",
                    STUCK_AFTER.as_secs()
                ),
                Err(RecvTimeoutError::Disconnected) => unreachable!("the thread says when it ends"),
            }
        }
    }
}

impl<R> Drop for Scheduled<R> {
    /// A run dropped mid-call (a process killed under madsim): every further call of the thread
    /// fails with EIO, which no disk records, until it ends; then it is joined.
    fn drop(&mut self) {
        let Some(thread) = self.thread.as_mut() else { return };
        let Some(join) = thread.join.take() else { return };
        self.in_flight = None;
        let _ = thread.answers.send(Err(Errno::EIO));
        while let Ok(Message::Call(..)) = thread.requests.recv() {
            let _ = thread.answers.send(Err(Errno::EIO));
        }
        let _ = join.join();
    }
}
