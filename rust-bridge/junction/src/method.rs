//! Resolved methods: synchronous and asynchronous calls.

use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::{ffi, sys, Buffer, Cancel, Code, Deadline, Result, Status};

/// A method resolved once by [`crate::HostRef::resolve`]: the handle every
/// call goes through, with no name lookup on the way. Freed on drop.
///
/// A `Method` does not borrow its host: after the service is unregistered or
/// the host freed, calls answer [`Code::NotFound`]. It is `Send + Sync`;
/// calls may run on many threads at once.
pub struct Method {
    raw: NonNull<sys::jn_method>,
}

// SAFETY: calls through a handle are thread-safe in the ABI; jn_method_free
// needs the owned Method, so it never overlaps a call.
unsafe impl Send for Method {}
// SAFETY: as above.
unsafe impl Sync for Method {}

impl Method {
    pub(crate) fn from_handle(raw: NonNull<sys::jn_method>) -> Method {
        Method { raw }
    }

    /// The raw handle, for calling the C ABI directly. It stays owned by
    /// this `Method`.
    pub fn as_raw(&self) -> *const sys::jn_method {
        self.raw.as_ptr()
    }

    /// Calls the method on this thread: `request` is lent to the handler for
    /// the call, without a copy. Returns the response, or the status of a
    /// failed call: the handler's own, [`Code::DeadlineExceeded`] when the
    /// deadline passed before the handler ran, [`Code::NotFound`] when the
    /// service is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use junction::{Code, Deadline, Host, Service};
    ///
    /// let host = Host::new()?;
    /// host.register(Service::new("echo").method("echo", |r: &[u8], _| Ok(r.to_vec())))?;
    /// let echo = host.resolve("echo", "echo")?;
    /// assert_eq!(echo.call(b"hi", Deadline::after(Duration::from_secs(1)))?, b"hi");
    ///
    /// let late = echo.call(b"hi", Deadline::from_ns(0)).unwrap_err();
    /// assert_eq!(late.code(), Code::DeadlineExceeded);
    /// # Ok::<(), junction::Status>(())
    /// ```
    #[inline]
    pub fn call(&self, request: &[u8], deadline: Deadline) -> Result<Buffer> {
        let view = sys::jn_bytes {
            data: request.as_ptr(),
            len: request.len() as u64,
        };
        let mut result = MaybeUninit::<sys::jn_result>::uninit();
        // SAFETY: the handle is live; the request is borrowed for the call;
        // jn_call always writes the whole result.
        unsafe {
            sys::jn_call(
                self.raw.as_ptr(),
                view,
                deadline.as_ns(),
                result.as_mut_ptr(),
            );
        }
        // SAFETY: written by jn_call and owned here.
        unsafe { take_result(result.assume_init_mut()) }
    }

    /// Calls the method like [`call`](Method::call), ending its wait with
    /// [`Code::Cancelled`] when `cancel` is signalled
    /// (`jn_call_cancellable`): a routed call's wait for its connection and
    /// answer, or an asynchronous handler's for its answer, whose late
    /// answer is then dropped. A synchronous handler in this process is not
    /// interrupted, and the calls it makes on this thread end their waits
    /// with `cancel` too. A cancel signalled before the call refuses it
    /// ([`Code::Cancelled`], "call cancelled by its caller before it
    /// started"); one never signalled changes nothing. See [`Cancel`] for a
    /// cancel signalled while the call waits.
    ///
    /// ```
    /// use junction::{Cancel, Code, Deadline, Host, Service};
    ///
    /// let host = Host::new()?;
    /// host.register(Service::new("echo").method("echo", |r: &[u8], _| Ok(r.to_vec())))?;
    /// let echo = host.resolve("echo", "echo")?;
    /// let cancel = Cancel::new()?;
    /// assert_eq!(echo.call_cancellable(b"hi", Deadline::none(), &cancel)?, b"hi");
    ///
    /// cancel.signal();
    /// let refused = echo.call_cancellable(b"hi", Deadline::none(), &cancel).unwrap_err();
    /// assert_eq!(refused.code(), Code::Cancelled);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn call_cancellable(
        &self,
        request: &[u8],
        deadline: Deadline,
        cancel: &Cancel,
    ) -> Result<Buffer> {
        let view = sys::jn_bytes {
            data: request.as_ptr(),
            len: request.len() as u64,
        };
        let mut result = MaybeUninit::<sys::jn_result>::uninit();
        // SAFETY: the handle and the cancel are live and borrowed for the
        // call, as is the request; no room is lent (NULL, 0);
        // jn_call_cancellable always writes the whole result.
        unsafe {
            sys::jn_call_cancellable(
                self.raw.as_ptr(),
                view,
                deadline.as_ns(),
                cancel.as_raw(),
                std::ptr::null_mut(),
                0,
                result.as_mut_ptr(),
            );
        }
        // SAFETY: written by jn_call_cancellable and owned here.
        unsafe { take_result(result.assume_init_mut()) }
    }

    /// Whether calls on the method can wait, and so be ended by a
    /// [`Cancel`] while they run (`jn_method_waits`): true for a routed
    /// method and an asynchronous handler, false for a synchronous handler
    /// in this process. A caller makes a cancel only for the calls that can
    /// use it.
    pub fn waits(&self) -> bool {
        // SAFETY: the handle is live.
        unsafe { sys::jn_method_waits(self.raw.as_ptr()) != 0 }
    }

    /// Calls the method like [`call`](Method::call), appending the response
    /// to `out`: the call lends the handler `out`'s spare capacity
    /// (`jn_call_into`), so a handler that answers with `jn_respond` (a
    /// Rust handler returning a byte array, an appending Go handler) writes
    /// its response there and, with enough capacity, nothing is allocated on
    /// either side. Any other response is copied onto the end of `out` and
    /// released. On failure `out` is left as it was.
    ///
    /// ```
    /// use junction::{Deadline, Host, Service};
    ///
    /// let host = Host::new()?;
    /// host.register(Service::new("sum").method("sum", |request: &[u8], _| {
    ///     Ok(request.iter().map(|&b| u64::from(b)).sum::<u64>().to_le_bytes())
    /// }))?;
    /// let sum = host.resolve("sum", "sum")?;
    /// let mut out = Vec::with_capacity(64); // reused from call to call
    /// for _ in 0..3 {
    ///     out.clear();
    ///     sum.call_into(&[1, 2, 3], Deadline::none(), &mut out)?;
    ///     assert_eq!(out, 6u64.to_le_bytes());
    /// }
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn call_into(&self, request: &[u8], deadline: Deadline, out: &mut Vec<u8>) -> Result<()> {
        let view = sys::jn_bytes {
            data: request.as_ptr(),
            len: request.len() as u64,
        };
        let room = out.spare_capacity_mut();
        let (room_ptr, room_len) = (room.as_mut_ptr().cast::<u8>(), room.len());
        let mut result = MaybeUninit::<sys::jn_result>::uninit();
        // SAFETY: the handle is live; the request is borrowed for the call;
        // the room is writable for room_len bytes for the call; jn_call_into
        // always writes the whole result.
        unsafe {
            sys::jn_call_into(
                self.raw.as_ptr(),
                view,
                deadline.as_ns(),
                room_ptr,
                room_len as u64,
                result.as_mut_ptr(),
            );
        }
        // SAFETY: written by jn_call_into and owned here.
        let result = unsafe { result.assume_init_mut() };
        // A response answered into the room needs no release (jn_call_into's
        // contract). Its fields are read one at a time rather than moved as
        // a struct: a wide load over the handler's narrower stores cannot be
        // forwarded from them and stalls the call.
        // Without room the pointer proves nothing: an empty Vec's response
        // has the same dangling pointer as an empty Vec's spare capacity.
        if result.status.code == sys::JN_OK as i32
            && room_len != 0
            && result.response.data == room_ptr.cast_const()
        {
            let len = result.response.len as usize;
            debug_assert!(len <= room_len);
            if result.status.message.release.is_some() {
                // SAFETY: the message is owned here.
                unsafe { sys::jn_status_release(&mut result.status) };
            }
            // SAFETY: the handler wrote len <= room_len initialised bytes at
            // the start of the spare capacity.
            unsafe { out.set_len(out.len() + len) };
            return Ok(());
        }
        // SAFETY: owned here.
        let response = unsafe { take_result(result) }?;
        out.extend_from_slice(&response);
        Ok(())
    }

    /// Calls the method asynchronously on a host worker thread. The call
    /// starts now; the returned future resolves to its outcome and needs no
    /// particular runtime (a waker is woken from the thread that answers).
    /// `request` is handed to the host without a copy (a `Vec<u8>` is
    /// released by Rust once the handler is done with it, on whichever
    /// thread that is). A routed (remote) method's call is sent on this
    /// thread when its connection is up (otherwise by a worker), its request
    /// released once sent, and the route's own thread receives the answer,
    /// so any number of them are in flight at once.
    ///
    /// Dropping the future before it resolves cancels the call
    /// (`jn_call_async_cancellable`): a synchronous handler sees it
    /// ([`call_cancelled`](crate::call_cancelled)), as does an asynchronous
    /// one while it runs on the thread it started on (not once its
    /// [`Completion`](crate::Completion) has gone to another thread), and a
    /// routed call stops waiting and tells the other host. A handler that runs on is not
    /// stopped; its outcome is released when it arrives.
    /// The deadline also bounds the wait: when it passes first the future
    /// resolves to [`Code::DeadlineExceeded`].
    ///
    /// ```
    /// use junction::{Deadline, Host, Service};
    ///
    /// let host = Host::new()?;
    /// host.register(Service::new("echo").method("echo", |r: &[u8], _| Ok(r.to_vec())))?;
    /// let echo = host.resolve("echo", "echo")?;
    /// let call = echo.call_async(b"later".to_vec(), Deadline::none());
    /// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let response = runtime.block_on(call)?;
    /// assert_eq!(response, b"later");
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn call_async(&self, request: impl Into<Buffer>, deadline: Deadline) -> CallFuture {
        let cancel = match Cancel::new() {
            Ok(cancel) => cancel,
            Err(error) => {
                return CallFuture {
                    state: State::Refused(Some(error)),
                }
            }
        };
        let mut request = request.into().into_raw();
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::Waiting(None)),
        });
        let user_data = Arc::into_raw(Arc::clone(&shared));
        let mut status = sys::jn_status::default();
        // SAFETY: the handle and the cancel are live (the call holds the
        // cancel itself); the request is transferred on JN_OK; user_data
        // holds one reference that call_done takes back.
        let code = unsafe {
            sys::jn_call_async_cancellable(
                self.raw.as_ptr(),
                &mut request,
                deadline.as_ns(),
                cancel.as_raw(),
                Some(call_done),
                user_data.cast_mut().cast(),
                &mut status,
            )
        };
        // SAFETY: status is the call's out parameter.
        match unsafe { crate::status::check(code, &mut status) } {
            Ok(()) => CallFuture {
                state: State::Started(shared, cancel),
            },
            Err(error) => {
                // Nothing was started: done never runs, the request is ours.
                // SAFETY: the reference leaked for call_done, and the request
                // the host did not take.
                drop(unsafe { Arc::from_raw(user_data) });
                drop(unsafe { Buffer::from_raw(request) });
                CallFuture {
                    state: State::Refused(Some(error)),
                }
            }
        }
    }

    /// The method's statistics (shared by every handle on the same method of
    /// the same registration).
    pub fn stats(&self) -> MethodStats {
        let mut raw = sys::jn_method_stats::default();
        // SAFETY: the handle is live; raw is an out parameter owned here.
        unsafe { sys::jn_method_stats_get(self.raw.as_ptr(), &mut raw) };
        MethodStats {
            calls: raw.calls,
            errors: raw.errors,
            latency_samples: raw.latency_samples,
            latency_mean_ns: raw.latency_mean_ns,
            latency_p50_ns: raw.latency_p50_ns,
            latency_p99_ns: raw.latency_p99_ns,
            latency_max_ns: raw.latency_max_ns,
        }
    }
}

impl Drop for Method {
    fn drop(&mut self) {
        // SAFETY: owned; no call is in flight since calls borrow self.
        unsafe { sys::jn_method_free(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Method").field(&self.raw).finish()
    }
}

/// Per-method statistics (`jn_method_stats`): `calls` and `errors` are
/// exact; latency is sampled (one synchronous call in 128 per thread, every
/// asynchronous call); the percentiles are upper bounds of log2 buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MethodStats {
    /// Calls made.
    pub calls: u64,
    /// Calls that did not answer OK.
    pub errors: u64,
    /// Calls whose latency was measured.
    pub latency_samples: u64,
    /// Mean measured latency.
    pub latency_mean_ns: u64,
    /// Upper bound of the bucket holding the median latency.
    pub latency_p50_ns: u64,
    /// Upper bound of the bucket holding the 99th percentile latency.
    pub latency_p99_ns: u64,
    /// Largest measured latency.
    pub latency_max_ns: u64,
}

/// Turns a call's result into the Rust outcome, releasing what is not
/// handed on.
///
/// # Safety
///
/// `result` must be a valid `jn_result` owned by the caller; its contents are
/// taken (it is left released).
#[inline]
unsafe fn take_result(result: &mut sys::jn_result) -> Result<Buffer> {
    if result.status.code == sys::JN_OK as i32 {
        if result.status.message.release.is_some() {
            // SAFETY: the message is owned here.
            unsafe { sys::jn_status_release(&mut result.status) };
        }
        // SAFETY: the response is owned here and moved out.
        let response = unsafe { Buffer::from_raw(result.response) };
        result.response.release = None;
        return Ok(response);
    }
    // SAFETY: the response (empty for a failed call) and the status are owned
    // here.
    unsafe { sys::jn_buffer_release(&mut result.response) };
    Err(unsafe { Status::take_raw(&mut result.status) })
}

/// The future of [`Method::call_async`]: resolves to the response or the
/// failed call's status. `Send`; needs no particular runtime.
#[must_use = "the future is how its outcome is read; dropping it cancels the call"]
pub struct CallFuture {
    state: State,
}

enum State {
    /// The outcome's slot, and the cancel that dropping the future signals.
    Started(Arc<Shared>, Cancel),
    Refused(Option<Status>),
}

impl Drop for CallFuture {
    fn drop(&mut self) {
        if let State::Started(shared, cancel) = &self.state {
            let unanswered = matches!(
                *shared.slot.lock().unwrap_or_else(PoisonError::into_inner),
                Slot::Waiting(_)
            );
            if unanswered {
                cancel.signal();
            }
        }
    }
}

/// Where the done callback leaves the outcome for the future.
struct Shared {
    slot: Mutex<Slot>,
}

enum Slot {
    Waiting(Option<Waker>),
    Done(Result<Buffer>),
    Taken,
}

impl Future for CallFuture {
    type Output = Result<Buffer>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Buffer>> {
        let shared = match &mut self.state {
            State::Refused(error) => {
                return Poll::Ready(Err(error.take().unwrap_or_else(polled_again)));
            }
            State::Started(shared, _) => shared,
        };
        let mut slot = shared.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(outcome) => Poll::Ready(outcome),
            Slot::Waiting(waker) => {
                let waker = match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => waker,
                    _ => cx.waker().clone(),
                };
                *slot = Slot::Waiting(Some(waker));
                Poll::Pending
            }
            Slot::Taken => Poll::Ready(Err(polled_again())),
        }
    }
}

fn polled_again() -> Status {
    Status::new(
        Code::FailedPrecondition,
        "CallFuture polled after it completed",
    )
}

impl fmt::Debug for CallFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Refused(_) => "refused",
            State::Started(shared, _) => {
                match *shared.slot.lock().unwrap_or_else(PoisonError::into_inner) {
                    Slot::Waiting(_) => "waiting",
                    Slot::Done(_) => "done",
                    Slot::Taken => "taken",
                }
            }
        };
        f.debug_struct("CallFuture").field("state", &state).finish()
    }
}

/// The `jn_done_fn` of [`Method::call_async`]: stores the outcome and wakes
/// the future.
unsafe extern "C" fn call_done(user_data: *mut c_void, result: *mut sys::jn_result) {
    ffi::absorb_panic(|| {
        // SAFETY: user_data is the reference call_async leaked for this
        // callback, which runs exactly once.
        let shared = unsafe { Arc::from_raw(user_data.cast_const().cast::<Shared>()) };
        // SAFETY: the result's contents are transferred to this callback.
        let outcome = unsafe { take_result(&mut *result) };
        let waker = {
            let mut slot = shared.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match std::mem::replace(&mut *slot, Slot::Done(outcome)) {
                Slot::Waiting(waker) => waker,
                Slot::Done(_) | Slot::Taken => None,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_safety() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Method>();
        assert_send::<CallFuture>();
    }
}
