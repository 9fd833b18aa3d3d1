//! Helpers for the functions libjunction calls into Rust: panic reporting,
//! borrowed views.

use std::any::Any;
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
