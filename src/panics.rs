//! A store's code that panics: caught where the harness can judge it (a boot on a crash image),
//! and told by its message.
//!
//! While [`caught`] runs a closure on a thread, the panic hook prints nothing for that thread: a
//! store that panics on every torn image would otherwise print a backtrace per image. The hook is
//! installed once, over the one in place before, which still prints every other panic.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`caught`].
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic in it is its message.
pub fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|quiet| quiet.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(was));
    outcome.map_err(|panic| message(&*panic))
}

/// What a panic said (`panic!`'s text, `expect`'s and `unwrap`'s included).
pub fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".to_string())
}
