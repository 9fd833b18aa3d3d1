//! Helpers for the functions libjunction calls into Rust: panic reporting,
//! borrowed views and the callback-thread marker.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

use crate::sys;

/// The message of a caught panic: its `&str` or `String` payload, or a
/// placeholder for any other payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "a panic with a non-string payload"
    }
}

/// Drops a caught panic's payload without letting a panicking `Drop` of the
/// payload escape: such a second payload is leaked rather than unwound into
/// C.
pub(crate) fn drop_panic(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Runs `body` and swallows a panic from it. For callbacks that have no way
/// to report one (release, destroy, done); the panic hook has already
/// printed it.
pub(crate) fn absorb_panic(body: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(body)) {
        drop_panic(payload);
    }
}

/// The bytes of a borrowed view.
///
/// # Safety
///
/// `view` must be valid for reads of `len` bytes for `'a` (`data` may be
/// NULL only when `len` is 0).
pub(crate) unsafe fn bytes<'a>(view: sys::jn_bytes) -> &'a [u8] {
    if view.data.is_null() || view.len == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(view.data, view.len as usize) }
    }
}

thread_local! {
    static IN_HOST_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running a service destroy or a call's done
/// callback, both of which may run on a thread of the host itself, for the
/// duration of `body` (also when it panics).
pub(crate) fn in_host_callback(body: impl FnOnce()) {
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0 {
                let _ = IN_HOST_CALLBACK.try_with(|flag| flag.set(outer));
            }
        }
    }
    let _restore = Restore(IN_HOST_CALLBACK.try_with(|flag| flag.replace(true)).ok());
    body();
}

/// Whether this thread is inside [`in_host_callback`]: freeing a host here
/// could mean joining the very thread that is running.
pub(crate) fn inside_host_callback() -> bool {
    IN_HOST_CALLBACK.try_with(Cell::get).unwrap_or(false)
}
