//! Safe Rust API for junction: serve and call services through junction's
//! stable C ABI (`abi/junction.h`), hosted by libjunction.
//!
//! One call shape covers everything: a service name and a method name,
//! resolved once into a [`Method`]; request bytes in; a [`Status`] or response
//! bytes ([`Buffer`]) out. The bytes are opaque to junction.
//!
//! ```
//! use junction::{Deadline, Host, Service};
//!
//! # fn main() -> junction::Result<()> {
//! let host = Host::new()?;
//! host.register(
//!     Service::new("greeter").method("hello", |request: &[u8], _deadline| {
//!         let mut response = b"hello, ".to_vec();
//!         response.extend_from_slice(request);
//!         Ok(response)
//!     }),
//! )?;
//! let hello = host.resolve("greeter", "hello")?;
//! let response = hello.call(b"junction", Deadline::none())?;
//! assert_eq!(response, b"hello, junction");
//! # Ok(())
//! # }
//! ```
//!
//! # Safety model
//!
//! - **Panics never unwind into C.** Every function libjunction calls
//!   (handlers, asynchronous handlers, buffer release callbacks, service
//!   destroy callbacks, completion callbacks, `jn_module_init`) runs under
//!   [`std::panic::catch_unwind`]. A panicking handler answers its caller
//!   with [`Code::Internal`] and the panic message; the host stays usable.
//!   This needs the default `panic = "unwind"`: with `panic = "abort"` a
//!   panic aborts the process, as it would anywhere else.
//! - **Ownership follows the ABI.** Request bytes reach handlers as `&[u8]`
//!   borrowed from the host, never copied: for the call (synchronous
//!   handlers) or until the call is answered (asynchronous handlers, through
//!   their [`Completion`]). Responses built in Rust are handed to the host without a copy
//!   and freed by Rust through the buffer's release callback, whichever
//!   thread releases them. A [`Buffer`] received from the host is released
//!   through its producer's callback when dropped.
//! - **`Send`/`Sync` where the ABI makes them sound.** [`Host`], [`Method`],
//!   [`Buffer`], [`Cancel`] and [`CallFuture`] are `Send + Sync` (or `Send`
//!   for the future) because every host function is thread-safe and buffers
//!   may be released on any thread. Handlers must be `Send + Sync + 'static`
//!   because they run on many threads at once. A [`Completion`] is `Send`
//!   but not `Sync`: it is a one-shot token moved to whichever thread answers.
//!
//! # Cancelling calls
//!
//! A [`Cancel`] ends a call's wait when its caller decides, from another
//! thread ([`Method::call_cancellable`], [`Cancel::signal`]; ABI 1.10). It
//! can end a routed call's wait for its connection and answer, and an
//! asynchronous handler's for its answer ([`Method::waits`] tells which
//! methods wait): the call is answered [`Code::Cancelled`] at once. It
//! cannot interrupt a synchronous handler in this process, which runs on
//! the caller's thread, nor stop the remote or asynchronous handler, which
//! runs to its end and whose late answer is dropped.
//!
//! # Modules
//!
//! A `cdylib` crate becomes a junction module, loadable with
//! [`HostRef::load_module`], through the [`module!`] macro.

#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]

mod buffer;
mod cancel;
mod code;
mod deadline;
mod ffi;
mod host;
pub mod live;
mod method;
mod module;
mod response;
mod service;
mod status;
mod transport;

pub use buffer::Buffer;
pub use cancel::{call_cancelled, Cancel};
pub use code::{Code, InvalidCode};
pub use deadline::Deadline;
pub use host::{Host, HostOptions, HostRef, ServiceInfo, ThreadSlice};
pub use method::{CallFuture, Method, MethodStats};
pub use response::IntoResponse;
pub use service::{Completion, Service};
pub use status::Status;
pub use transport::{
    curve_public_key, CurveKeyPair, ListenOptions, Listener, ListenerStats, RouteOptions,
    RouteState, RouteStats,
};

/// The raw declarations of `abi/junction.h` (the `junction-sys` crate).
pub use junction_sys as sys;

/// `Result` with [`Status`] as the error.
pub type Result<T, E = Status> = std::result::Result<T, E>;

/// The ABI version this crate was built against (`JN_ABI_VERSION`):
/// major in the high 16 bits, minor in the low 16.
pub const ABI_VERSION: u32 = sys::JN_ABI_VERSION;

/// The ABI version the linked libjunction implements (`jn_abi_version()`).
///
/// ```
/// let version = junction::library_abi_version();
/// assert_eq!(version >> 16, junction::ABI_VERSION >> 16);
/// ```
pub fn library_abi_version() -> u32 {
    // SAFETY: no arguments, no preconditions.
    unsafe { sys::jn_abi_version() }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::module::module_init;
}
