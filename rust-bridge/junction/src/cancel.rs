//! Cancels (ABI 1.10): ending a call's wait from another thread.

use std::fmt;
use std::ptr::NonNull;

use crate::{sys, Code, Result, Status};

/// Ends the waits of the calls made with it
/// ([`Method::call_cancellable`](crate::Method::call_cancellable)) when
/// [`signal`](Cancel::signal)led, from any thread: a client that went away,
/// a shutdown. Freed on drop.
///
/// A call waits when it goes to another host (a routed method: for its
/// connection, then its answer) or to an asynchronous handler (for its
/// [`Completion`](crate::Completion)); [`Method::waits`](crate::Method::waits)
/// tells which. Signalled while such a call waits, the cancel answers it
/// [`Code::Cancelled`] at once. What it waited for is not stopped: the
/// other host's handler, or the asynchronous handler, runs to its end and
/// its late answer is dropped (the other host is told, and ends the waits
/// of the call there, such as a relay's own routed call). A synchronous
/// handler in this process runs
/// on the caller's thread and is never interrupted. Signalled before a
/// call, the cancel refuses it ([`Code::Cancelled`], "call cancelled by
/// its caller before it started"). A cancel stays signalled and serves any
/// number of calls, at once or one after another.
///
/// `Cancel` is `Send + Sync`: share it (by reference, or in an `Arc`) with
/// the thread that signals it.
///
/// ```
/// use std::sync::{mpsc, Mutex};
/// use std::thread;
/// use std::time::Duration;
/// use junction::{Cancel, Code, Deadline, Host, Service};
///
/// let host = Host::new()?;
/// let (parked, calls) = mpsc::channel();
/// let parked = Mutex::new(parked);
/// host.register(Service::new("slow").async_method("answer", move |call| {
///     let _ = parked.lock().unwrap().send(call); // answered later
/// }))?;
/// let answer = host.resolve("slow", "answer")?;
/// assert!(answer.waits());
///
/// let cancel = Cancel::new()?;
/// let deadline = Deadline::after(Duration::from_secs(30));
/// thread::scope(|scope| {
///     let waiting = scope.spawn(|| answer.call_cancellable(b"", deadline, &cancel));
///     // The handler holds the call.
///     let call = calls.recv_timeout(Duration::from_secs(30)).unwrap();
///     cancel.signal();
///     let error = waiting.join().unwrap().unwrap_err();
///     assert_eq!(error.code(), Code::Cancelled);
///     // The handler was not stopped; its late answer is dropped.
///     assert_eq!(call.succeed(b"late".to_vec()), Code::Cancelled);
/// });
/// # Ok::<(), junction::Status>(())
/// ```
pub struct Cancel {
    raw: NonNull<sys::jn_cancel>,
}

// SAFETY: jn_cancel_signal may be called from any thread, any number of
// times, also while calls made with the cancel run on other threads, which
// borrow it; jn_cancel_free needs the owned Cancel, so no call or signal
// (each borrows &Cancel) is still running when it runs.
unsafe impl Send for Cancel {}
// SAFETY: as above.
unsafe impl Sync for Cancel {}

impl Cancel {
    /// A cancel, not yet signalled. [`Code::ResourceExhausted`] when it
    /// cannot be allocated.
    pub fn new() -> Result<Cancel> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: raw is an out parameter owned here.
        let code = unsafe { sys::jn_cancel_new(&mut raw) };
        if code != sys::JN_OK as i32 {
            // The only failure open to a non-NULL out parameter.
            return Err(Status::new(
                Code::ResourceExhausted,
                "jn_cancel_new could not allocate a cancel",
            ));
        }
        NonNull::new(raw)
            .map(|raw| Cancel { raw })
            .ok_or_else(|| Status::new(Code::Internal, "jn_cancel_new returned no cancel"))
    }

    /// Signals the cancel, from any thread, any number of times; it stays
    /// signalled. The calls waiting with it are answered
    /// [`Code::Cancelled`] at once, and later calls made with it before
    /// they start.
    pub fn signal(&self) {
        // SAFETY: the cancel is live; signalling is thread-safe.
        unsafe { sys::jn_cancel_signal(self.raw.as_ptr()) };
    }

    /// The raw cancel, for calling the C ABI directly. It stays owned by
    /// this `Cancel`.
    pub fn as_raw(&self) -> *mut sys::jn_cancel {
        self.raw.as_ptr()
    }
}

/// Whether the caller of the call this synchronous handler serves has given
/// up: its cancel was signalled (`jn_call_cancel`), by a caller in this
/// process that passed one, or by a caller in another process whose cancel
/// reached the listener. A handler is never interrupted; a long one may
/// look now and then and answer [`Code::Cancelled`]. False outside a
/// handler, and for a call without a cancel.
///
/// ```
/// use junction::{call_cancelled, Code, Deadline, Host, Service, Status};
///
/// let host = Host::new()?;
/// host.register(Service::new("report").method("build", |_: &[u8], _| {
///     for _step in 0..3 {
///         if call_cancelled() {
///             return Err(Status::new(Code::Cancelled, "its caller gave up"));
///         }
///     }
///     Ok(b"built".to_vec())
/// }))?;
/// assert_eq!(host.resolve("report", "build")?.call(b"", Deadline::none())?, b"built");
/// # Ok::<(), junction::Status>(())
/// ```
pub fn call_cancelled() -> bool {
    // SAFETY: both functions take no pointer of ours; the cancel returned is
    // borrowed for this handler's call, which is still running, or NULL.
    unsafe { sys::jn_cancel_signalled(sys::jn_call_cancel()) == 1 }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        // SAFETY: owned; no call made with it and no signal of it is
        // running, since both borrow self.
        unsafe { sys::jn_cancel_free(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cancel").field(&self.raw).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_safety() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Cancel>();
    }

    #[test]
    fn signals_any_number_of_times() {
        let cancel = Cancel::new().unwrap();
        // SAFETY: the cancel is live for these reads.
        let signalled = || unsafe { sys::jn_cancel_signalled(cancel.as_raw()) };
        assert_eq!(signalled(), 0);
        cancel.signal();
        cancel.signal();
        assert_eq!(signalled(), 1);
        assert!(format!("{cancel:?}").starts_with("Cancel("));
    }
}
