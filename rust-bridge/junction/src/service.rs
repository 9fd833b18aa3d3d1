//! Services written in Rust: handlers behind the ABI's trampolines.

use std::cell::Cell;
use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use crate::host::c_string;
use crate::response::sealed::Token;
use crate::status::check;
use crate::{ffi, sys, Buffer, Code, Deadline, IntoResponse, Result, Status};

/// A service under construction: a name and its methods, each a Rust
/// closure. Register it with [`crate::HostRef::register`].
///
/// Handlers run on the caller's thread (synchronous calls) or on a host
/// worker thread (asynchronous calls), possibly many at once, hence
/// `Send + Sync + 'static`. A synchronous handler receives the request as
/// `&[u8]` borrowed from the caller for the duration of the call (never
/// copied) and the caller's [`Deadline`], which it may honour by giving up
/// early with [`Code::DeadlineExceeded`]; an asynchronous one receives both
/// through its [`Completion`].
///
/// A handler that panics answers its caller with [`Code::Internal`] and the
/// panic message; the service stays registered and usable.
///
/// ```
/// use junction::{Code, Deadline, Host, Service, Status};
///
/// let host = Host::new()?;
/// host.register(
///     Service::new("kv")
///         .method("len", |request: &[u8], _| Ok((request.len() as u64).to_le_bytes().to_vec()))
///         .method("fail", |_: &[u8], _| -> junction::Result<Vec<u8>> {
///             Err(Status::new(Code::Unavailable, "try later"))
///         })
///         .method("boom", |_: &[u8], _| -> junction::Result<Vec<u8>> { panic!("boom") }),
/// )?;
///
/// let len = host.resolve("kv", "len")?;
/// assert_eq!(len.call(b"four", Deadline::none())?, 4u64.to_le_bytes());
///
/// let fail = host.resolve("kv", "fail")?.call(b"", Deadline::none()).unwrap_err();
/// assert_eq!(fail, Status::new(Code::Unavailable, "try later"));
///
/// let boom = host.resolve("kv", "boom")?.call(b"", Deadline::none()).unwrap_err();
/// assert_eq!(boom.code(), Code::Internal);
/// assert_eq!(boom.message(), "handler panicked: boom");
/// # Ok::<(), junction::Status>(())
/// ```
pub struct Service {
    name: String,
    methods: Vec<MethodEntry>,
}

struct MethodEntry {
    name: String,
    handler: sys::jn_handler_fn,
    async_handler: sys::jn_async_handler_fn,
    /// The closure; `handler`/`async_handler` is instantiated for its type.
    state: Box<dyn Erased>,
}

/// Any handler closure, for owning it without naming its type.
trait Erased: Send + Sync {}
impl<T: Send + Sync> Erased for T {}

/// What the host owns once a service is registered: its closures, dropped
/// by the destroy callback.
struct Registered {
    _handlers: Vec<Box<dyn Erased>>,
}

impl Service {
    /// A service named `name` (1 to 255 bytes, no NUL) with no methods yet.
    pub fn new(name: impl Into<String>) -> Service {
        Service {
            name: name.into(),
            methods: Vec::new(),
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a synchronous method: `handler` returns the response (see
    /// [`IntoResponse`]: anything that converts into a [`Buffer`], a
    /// `Vec<u8>` handed over without a copy, or a byte array answered into
    /// the caller's lent room) or a [`Status`] to fail the call.
    pub fn method<F, R>(mut self, name: impl Into<String>, handler: F) -> Service
    where
        F: Fn(&[u8], Deadline) -> Result<R> + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.methods.push(MethodEntry {
            name: name.into(),
            handler: Some(call_handler::<F, R>),
            async_handler: None,
            state: Box::new(handler),
        });
        self
    }

    /// Adds an asynchronous method: `handler` receives the call's
    /// [`Completion`], starts the work and returns at once; the call is
    /// answered through the completion, from any thread, exactly once. The
    /// completion lends the request ([`Completion::request`], no copy) and
    /// the caller's deadline until it answers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use junction::{Deadline, Host, Service};
    ///
    /// let host = Host::new()?;
    /// host.register(Service::new("slow").async_method("upper", |call| {
    ///     std::thread::spawn(move || {
    ///         std::thread::sleep(Duration::from_millis(10));
    ///         let upper = call.request().to_ascii_uppercase();
    ///         call.succeed(upper);
    ///     });
    /// }))?;
    /// let upper = host.resolve("slow", "upper")?;
    /// assert_eq!(upper.call(b"abc", Deadline::after(Duration::from_secs(10)))?, b"ABC");
    /// # Ok::<(), junction::Status>(())
    /// ```
    ///
    /// # Completions the handler keeps
    ///
    /// The host drops a service's handlers only once every call started on
    /// it has been answered (abi/ABI.md, `destroy`), also when the host is
    /// freed. So a [`Completion`] held by the handler's own captures (say an
    /// `Arc<Mutex<Vec<Completion>>>` the closure parks calls in, for later
    /// calls to answer) closes a cycle: the completion goes only with the
    /// handler, and the handler only after the completion. Freeing the host
    /// then answers those callers [`Code::Cancelled`] but releases neither:
    /// the handler, its captures, the requests and the host's record of the
    /// service and its calls leak ([`live`](crate::live) counts stay up).
    /// Answer or drop the parked completions before the host is freed or the
    /// service unregistered, or keep them where the handler does not own
    /// them (a thread that answers each by itself, as above).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use junction::{live, Completion, Deadline, Host, Service};
    ///
    /// let baseline = live::host_objects();
    /// let host = Host::new()?;
    /// let parked: Arc<Mutex<Vec<Completion>>> = Arc::default();
    /// let queue = Arc::clone(&parked);
    /// host.register(Service::new("queue").async_method("wait", move |call| {
    ///     queue.lock().unwrap().push(call);
    /// }))?;
    /// let wait = host.resolve("queue", "wait")?;
    /// let caller = std::thread::spawn(move || wait.call(b"job", Deadline::none()));
    /// while parked.lock().unwrap().is_empty() {
    ///     std::thread::yield_now();
    /// }
    /// // Before the host goes: the handler's queue no longer holds a call.
    /// for call in parked.lock().unwrap().drain(..) {
    ///     call.succeed(b"done".to_vec());
    /// }
    /// assert_eq!(caller.join().unwrap()?, b"done");
    /// drop(host);
    /// assert_eq!(live::host_objects(), baseline);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn async_method<F>(mut self, name: impl Into<String>, handler: F) -> Service
    where
        F: Fn(Completion) + Send + Sync + 'static,
    {
        self.methods.push(MethodEntry {
            name: name.into(),
            handler: None,
            async_handler: Some(call_async_handler::<F>),
            state: Box::new(handler),
        });
        self
    }

    /// Registers on `host` (see [`crate::HostRef::register`]).
    pub(crate) fn register_on(self, host: *mut sys::jn_host) -> Result<()> {
        let service_name = c_string(&self.name, "service name")?;
        let mut names = Vec::with_capacity(self.methods.len());
        let mut descs = Vec::with_capacity(self.methods.len());
        let mut handlers = Vec::with_capacity(self.methods.len());
        for method in self.methods {
            let name = c_string(&method.name, "method name")?;
            // The closure's heap address, stable while its Box lives.
            let ctx = (&*method.state as *const dyn Erased).cast::<c_void>();
            descs.push(sys::jn_method_desc {
                name: name.as_ptr(),
                handler: method.handler,
                async_handler: method.async_handler,
                ctx: ctx.cast_mut(),
            });
            names.push(name);
            handlers.push(method.state);
        }
        let method_count = u32::try_from(descs.len())
            .map_err(|_| Status::new(Code::InvalidArgument, "too many methods"))?;
        let ctx = Box::into_raw(Box::new(Registered {
            _handlers: handlers,
        }));
        let desc = sys::jn_service_desc {
            abi_version: sys::JN_ABI_VERSION,
            method_count,
            name: service_name.as_ptr(),
            methods: descs.as_ptr(),
            ctx: ctx.cast(),
            destroy: Some(destroy_service),
        };
        let mut status = sys::jn_status::default();
        // SAFETY: the descriptor and the names it points to are borrowed for
        // the call; ctx is transferred on success.
        let code = unsafe { sys::jn_host_register(host, &desc, &mut status) };
        // SAFETY: status is the call's out parameter.
        let outcome = unsafe { check(code, &mut status) };
        if outcome.is_err() {
            // SAFETY: registration failed, so ctx is still ours.
            drop(unsafe { Box::from_raw(ctx) });
        }
        outcome
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field(
                "methods",
                &self.methods.iter().map(|m| &m.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// `jn_handler_fn` for a closure of type `F`.
unsafe extern "C" fn call_handler<F, R>(
    ctx: *mut c_void,
    request: sys::jn_bytes,
    deadline_ns: i64,
    result: *mut sys::jn_result,
) where
    F: Fn(&[u8], Deadline) -> Result<R> + Send + Sync + 'static,
    R: IntoResponse,
{
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the F registered with this trampoline, alive until
        // destroy; the request is borrowed for this call.
        let handler = unsafe { &*ctx.cast_const().cast::<F>() };
        let request = unsafe { ffi::bytes(request) };
        handler(request, Deadline::from_ns(deadline_ns))
    }));
    // SAFETY: the host passes a zero-initialised result for the handler to
    // fill.
    let result = unsafe { &mut *result };
    let reported = panic::catch_unwind(AssertUnwindSafe(|| match outcome {
        // SAFETY: result is this handler's result, which the host passed
        // empty.
        Ok(Ok(response)) => unsafe { response.into_result(result, Token::new()) },
        Ok(Err(status)) => result.status = status.into_raw_error(),
        Err(payload) => {
            let message = format!("handler panicked: {}", ffi::panic_message(&*payload));
            ffi::drop_panic(payload);
            result.status = Status::new(Code::Internal, message).into_raw_error();
        }
    }));
    if let Err(payload) = reported {
        // Reporting itself failed: answer without a message.
        std::mem::forget(payload);
        result.status.code = sys::JN_INTERNAL as i32;
    }
}

thread_local! {
    /// The asynchronous call whose handler runs on this thread (0: none),
    /// and whether its Completion was dropped while a panic unwound (out of
    /// the handler, or caught inside it), which leaves the answer, with the
    /// panic message, to the trampoline.
    static RUNNING_ASYNC: Cell<(u64, bool)> = const { Cell::new((0, false)) };
}

/// `jn_async_handler_fn` for a closure of type `F`.
unsafe extern "C" fn call_async_handler<F>(
    ctx: *mut c_void,
    request: sys::jn_bytes,
    deadline_ns: i64,
    completion: sys::jn_completion,
) where
    F: Fn(Completion) + Send + Sync + 'static,
{
    let outer = RUNNING_ASYNC.try_with(|running| running.replace((completion.call_id, false)));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in call_handler.
        let handler = unsafe { &*ctx.cast_const().cast::<F>() };
        // The request is lent through the Completion only: it stays valid
        // until jn_complete, which consumes the Completion.
        handler(Completion {
            raw: completion,
            request,
            deadline: Deadline::from_ns(deadline_ns),
            _not_sync: PhantomData,
        });
    }));
    let dropped_by_panic = RUNNING_ASYNC
        .try_with(|running| running.replace(outer.unwrap_or_default()).1)
        .unwrap_or(false);
    // Answer only for a Completion that a panic destroyed: one the handler
    // consumed has answered, and one it moved elsewhere still lends its
    // request there and answers when it is consumed or dropped.
    let message = match outcome {
        Ok(()) if !dropped_by_panic => return,
        Ok(()) => "the handler's completion was dropped by a caught panic".to_owned(),
        Err(payload) => {
            let message = format!("handler panicked: {}", ffi::panic_message(&*payload));
            ffi::drop_panic(payload);
            message
        }
    };
    if dropped_by_panic {
        ffi::absorb_panic(|| {
            let _ = finish(completion, Err(Status::new(Code::Internal, message)));
        });
    }
}

/// The service's destroy callback: drops its closures.
unsafe extern "C" fn destroy_service(ctx: *mut c_void) {
    ffi::absorb_panic(|| {
        // SAFETY: ctx is the Registered box transferred at registration;
        // the host calls destroy exactly once.
        drop(unsafe { Box::from_raw(ctx.cast::<Registered>()) });
    });
}

/// Answers an asynchronous call with `outcome` (`jn_complete`).
fn finish(completion: sys::jn_completion, outcome: Result<Buffer>) -> Code {
    let mut result = sys::jn_result::default();
    match outcome {
        Ok(response) => result.response = response.into_raw(),
        Err(status) => result.status = status.into_raw_error(),
    }
    // SAFETY: the result's contents are transferred to the host, which marks
    // them released whatever it returns.
    Code::from_raw(unsafe { sys::jn_complete(completion, &mut result) })
}

/// The answer to one asynchronous call: completes it exactly once, by
/// [`complete`](Completion::complete), [`succeed`](Completion::succeed) or
/// [`fail`](Completion::fail), from any thread. Dropping it unanswered
/// answers [`Code::Internal`], so a call is never left hanging. Until then it
/// also lends the call's request ([`request`](Completion::request)), which
/// the host keeps until the call is answered.
///
/// A handler that panics while its Completion is still on its own stack
/// answers [`Code::Internal`] with the panic message.
///
/// Do not leave a Completion in its own handler's captures when the host is
/// freed: the handler is dropped only after the call is answered, so
/// neither is ever released ([`Service::async_method`], "Completions the
/// handler keeps").
///
/// `Send` (it moves to the thread that finishes the work) but not `Sync`:
/// it is a one-shot token consumed by value by whichever thread answers;
/// sharing references to it between threads has no use, so it is not
/// offered.
///
/// The returned [`Code`] is `jn_complete`'s: [`Code::Ok`] when the answer
/// reached the caller; [`Code::DeadlineExceeded`] or [`Code::Cancelled`] when
/// the caller had already been answered at its deadline or by host shutdown
/// (the answer is dropped); [`Code::FailedPrecondition`] if the host does not
/// know the call.
pub struct Completion {
    raw: sys::jn_completion,
    request: sys::jn_bytes,
    deadline: Deadline,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: the request bytes are immutable and owned by the host until
// jn_complete, which needs the Completion by value; jn_complete may be
// called from any thread.
unsafe impl Send for Completion {}

impl Completion {
    /// The request, without a copy: the host keeps it until the call is
    /// answered, also past the caller's deadline and its host's shutdown.
    pub fn request(&self) -> &[u8] {
        // SAFETY: valid until jn_complete, which consumes self.
        unsafe { ffi::bytes(self.request) }
    }

    /// The caller's deadline.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Answers with `outcome`: a response or a status.
    pub fn complete<R: Into<Buffer>>(self, outcome: Result<R>) -> Code {
        let outcome = outcome.map(Into::into);
        finish(self.take(), outcome)
    }

    /// Answers with a response.
    pub fn succeed(self, response: impl Into<Buffer>) -> Code {
        let response = response.into();
        finish(self.take(), Ok(response))
    }

    /// Answers with an error status.
    pub fn fail(self, status: Status) -> Code {
        finish(self.take(), Err(status))
    }

    fn take(self) -> sys::jn_completion {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        let call = self.raw.call_id;
        if std::thread::panicking() {
            // Dropped by a panic in its own handler: the trampoline answers
            // with the panic message.
            let own = RUNNING_ASYNC.try_with(|running| {
                let (running_call, _) = running.get();
                (running_call == call).then(|| running.set((call, true)))
            });
            if matches!(own, Ok(Some(()))) {
                return;
            }
        }
        let _ = finish(
            self.raw,
            Err(Status::new(
                Code::Internal,
                "the handler dropped its completion without answering",
            )),
        );
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("call_id", &self.raw.call_id)
            .field("deadline", &self.deadline)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_safety() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send::<Completion>();
        assert_send_sync::<Service>();
    }

    #[test]
    fn malformed_services_are_refused() {
        let host = crate::Host::new().unwrap();
        let no_methods = host.register(Service::new("empty")).unwrap_err();
        assert_eq!(no_methods.code(), Code::InvalidArgument);
        let twice = Service::new("twice")
            .method("m", |_: &[u8], _| Ok(Vec::new()))
            .method("m", |_: &[u8], _| Ok(Vec::new()));
        assert_eq!(
            host.register(twice).unwrap_err().code(),
            Code::InvalidArgument
        );
        let nul = Service::new("nul").method("a\0", |_: &[u8], _| Ok(Vec::new()));
        assert_eq!(
            host.register(nul).unwrap_err().code(),
            Code::InvalidArgument
        );
        assert_eq!(
            host.register(Service::new("").method("m", |_: &[u8], _| Ok(Vec::new())))
                .unwrap_err()
                .code(),
            Code::InvalidArgument
        );
    }
}
