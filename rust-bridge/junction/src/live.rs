//! Live-object counts, for leak tests: each returns to its baseline once
//! everything made has been released.
//!
//! ```
//! use junction::{live, Deadline, Host, Service};
//!
//! let host_baseline = live::host_objects();
//! let rust_baseline = live::rust_buffers();
//! {
//!     let host = Host::new()?;
//!     host.register(Service::new("s").method("m", |r: &[u8], _| Ok(r.to_vec())))?;
//!     let response = host.resolve("s", "m")?.call(b"x", Deadline::none())?;
//!     assert_eq!(live::rust_buffers(), rust_baseline.map(|count| count + 1));
//!     drop(response);
//! }
//! assert_eq!(live::host_objects(), host_baseline);
//! assert_eq!(live::rust_buffers(), rust_baseline);
//! # Ok::<(), junction::Status>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use crate::sys;

/// Whether Rust buffers are counted: in builds with debug assertions (tests),
/// not in optimised builds, where two atomic read-modify-writes per buffer
/// would be a measurable part of a call.
const COUNTING: bool = cfg!(debug_assertions);

static RUST_BUFFERS: AtomicU64 = AtomicU64::new(0);

/// Objects made by libjunction and not yet released (`jn_live_objects`,
/// `jn_live_cancels`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostObjects {
    /// Buffers from `jn_buffer_new`/`jn_buffer_copy` and status messages.
    pub buffers: u64,
    /// Bytes held by those buffers.
    pub buffer_bytes: u64,
    /// Hosts not yet freed.
    pub hosts: u64,
    /// Method handles not yet freed.
    pub methods: u64,
    /// Registered services whose destroy callback has not run.
    pub services: u64,
    /// Asynchronous calls not yet finished.
    pub pending_calls: u64,
    /// Cancels made and not yet freed (`jn_live_cancels`): those of
    /// [`Cancel`](crate::Cancel)s, and those asynchronous calls hold.
    pub cancels: u64,
}

/// What libjunction has made and not yet released, process-wide.
pub fn host_objects() -> HostObjects {
    let mut counts = sys::jn_live_counts::default();
    // SAFETY: counts is an out parameter owned here.
    unsafe { sys::jn_live_objects(&mut counts) };
    HostObjects {
        buffers: counts.buffers,
        buffer_bytes: counts.buffer_bytes,
        hosts: counts.hosts,
        methods: counts.methods,
        services: counts.services,
        pending_calls: counts.pending_calls,
        // SAFETY: takes and keeps nothing.
        cancels: unsafe { sys::jn_live_cancels() },
    }
}

/// Buffers made from Rust allocations (`Vec<u8>`, `String`, `Box<[u8]>`:
/// responses, requests and status messages) by this copy of the crate and
/// not yet released; `None` in builds without debug assertions, which do not
/// count them.
pub fn rust_buffers() -> Option<u64> {
    COUNTING.then(|| RUST_BUFFERS.load(Ordering::Relaxed))
}

pub(crate) fn rust_buffer_made() {
    if COUNTING {
        RUST_BUFFERS.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) fn rust_buffer_released() {
    if COUNTING {
        RUST_BUFFERS.fetch_sub(1, Ordering::Relaxed);
    }
}
