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

/// Stores `value` into `*dst`, a buffer of a result that libjunction and the
/// caller read next, as two 16-byte stores.
///
/// x86-64 forwards a load from a store still on its way to the cache only
/// when one store covers the whole load. A `jn_buffer` stored a field at a
/// time and then moved whole, as a caller's code moves a response, waits for
/// the stores to reach the cache instead: about 10 ns a call on the machines
/// of bench/results. After these two stores, loads of a field or of the whole
/// are forwarded. The pointers' provenance is exposed: they are read back
/// through C, on the other side of the call.
///
/// # Safety
///
/// `dst` must be valid for writes of a `jn_buffer`.
#[inline(always)]
pub(crate) unsafe fn store_whole(dst: *mut sys::jn_buffer, value: sys::jn_buffer) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_set_epi64x, _mm_storeu_si128};
        use std::mem::{offset_of, size_of};
        const _: () = assert!(
            size_of::<sys::jn_buffer>() == 32
                && offset_of!(sys::jn_buffer, len) == 8
                && offset_of!(sys::jn_buffer, private_data) == 24
        );
        let halves = dst.cast::<__m128i>();
        let data = value.data.expose_provenance() as i64;
        let release = value.release.map_or(0, |release| release as usize) as i64;
        let private_data = value.private_data.expose_provenance() as i64;
        // SAFETY: dst is valid for writes of the 32 bytes of a jn_buffer
        // (this function's contract): these two unaligned halves.
        unsafe {
            _mm_storeu_si128(halves, _mm_set_epi64x(value.len as i64, data));
            _mm_storeu_si128(halves.add(1), _mm_set_epi64x(private_data, release));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: as above.
    unsafe {
        dst.write(value);
    }
}
