//! Hosts: the registry and dispatcher of libjunction.

use std::ffi::{c_char, c_void, CStr, CString};
use std::marker::{PhantomData, PhantomPinned};
use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use crate::status::check;
use crate::{ffi, sys, Code, Method, Result, Service, Status};

/// Options for [`Host::with_options`].
///
/// ```
/// use std::time::Duration;
/// use junction::{HostOptions, ThreadSlice};
///
/// let host = junction::Host::with_options(
///     HostOptions::new()
///         .worker_threads(4)
///         .thread_slice(ThreadSlice::Chosen(Duration::from_millis(3))),
/// )?;
/// # Ok::<(), junction::Status>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostOptions {
    worker_threads: u32,
    thread_slice: ThreadSlice,
}

impl HostOptions {
    /// The defaults.
    pub const fn new() -> HostOptions {
        HostOptions {
            worker_threads: 0,
            thread_slice: ThreadSlice::Default,
        }
    }

    /// Threads that run asynchronous calls (0, the default, lets the host
    /// choose: 2).
    pub const fn worker_threads(mut self, threads: u32) -> HostOptions {
        self.worker_threads = threads;
        self
    }

    /// The scheduler slice the host's threads, and the threads of its
    /// listeners, ask the kernel for.
    pub const fn thread_slice(mut self, slice: ThreadSlice) -> HostOptions {
        self.thread_slice = slice;
        self
    }
}

/// The scheduler slice junction's own threads ask the kernel for (Linux
/// 6.12 and later honour it; older kernels ignore it): a host's workers
/// and timer thread, and its listeners' threads. Each is woken for a call
/// or a deadline; a short slice lets it run at once rather than once the
/// thread that woke it sleeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThreadSlice {
    /// 0.5 ms.
    #[default]
    Default,
    /// None asked for: the threads keep the slice of the thread that
    /// creates the host or listener.
    Inherited,
    /// This slice, from 0.1 ms to 100 ms (the kernel's bounds); any other
    /// makes [`Host::with_options`] fail with [`Code::InvalidArgument`].
    Chosen(Duration),
}

impl ThreadSlice {
    /// The value of `jn_host_options.thread_slice_ns`.
    fn raw(self) -> Result<u64> {
        match self {
            ThreadSlice::Default => Ok(0),
            ThreadSlice::Inherited => Ok(sys::JN_THREAD_SLICE_INHERITED),
            ThreadSlice::Chosen(slice) => u64::try_from(slice.as_nanos())
                .ok()
                .filter(|&ns| ns != 0 && ns != sys::JN_THREAD_SLICE_INHERITED)
                .ok_or_else(|| {
                    Status::new(
                        Code::InvalidArgument,
                        format!("thread slice {slice:?} is outside 0.1 ms to 100 ms"),
                    )
                }),
        }
    }
}

/// An owned junction host, freed (`jn_host_free`) when dropped.
///
/// All its operations live on [`HostRef`], which it dereferences to:
/// registering services, resolving methods and loading modules. A `Host` is
/// `Send + Sync`: every host function of the ABI is thread-safe.
///
/// Freeing a host unregisters its services, answers pending asynchronous
/// calls with [`Code::Cancelled`], waits for handlers in flight and drops the
/// services' handlers (a service whose asynchronous handlers have not all
/// answered keeps its handlers until the last [`crate::Completion`] does).
/// [`Method`]s resolved from it stay valid and answer [`Code::NotFound`]
/// afterwards.
///
/// ```
/// use junction::{Code, Deadline, Host, Service};
///
/// let host = Host::new()?;
/// host.register(Service::new("math").method("double", |request: &[u8], _| {
///     Ok(request.iter().map(|b| b.wrapping_mul(2)).collect::<Vec<u8>>())
/// }))?;
/// let double = host.resolve("math", "double")?;
/// assert_eq!(double.call(&[1, 2, 3], Deadline::none())?, [2, 4, 6]);
///
/// drop(host);
/// assert_eq!(double.call(&[1], Deadline::none()).unwrap_err().code(), Code::NotFound);
/// # Ok::<(), junction::Status>(())
/// ```
#[derive(Debug)]
pub struct Host {
    raw: NonNull<sys::jn_host>,
}

// SAFETY: the ABI's host functions may be called from any thread, and
// concurrently; freeing needs the owned Host, so no call overlaps it.
unsafe impl Send for Host {}
// SAFETY: as above.
unsafe impl Sync for Host {}

impl Host {
    /// A host with the default options.
    pub fn new() -> Result<Host> {
        Host::with_options(HostOptions::new())
    }

    /// A host with `options`. Fails with [`Code::FailedPrecondition`] when
    /// the linked libjunction implements another ABI major, or an older
    /// minor, than this crate was built against.
    pub fn with_options(options: HostOptions) -> Result<Host> {
        check_library_version()?;
        let raw_options = sys::jn_host_options {
            struct_size: std::mem::size_of::<sys::jn_host_options>() as u32,
            worker_threads: options.worker_threads,
            thread_slice_ns: options.thread_slice.raw()?,
        };
        let mut raw = std::ptr::null_mut();
        let mut status = sys::jn_status::default();
        // SAFETY: the options are borrowed for the call; raw and status are
        // out parameters owned here.
        let code = unsafe { sys::jn_host_new(&raw_options, &mut raw, &mut status) };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }?;
        NonNull::new(raw)
            .map(|raw| Host { raw })
            .ok_or_else(|| Status::new(Code::Internal, "jn_host_new returned no host"))
    }

    /// Frees the host now, reporting what `Drop` cannot: a host freed from
    /// inside a handler (any host's), or from a callback on one of its own
    /// threads, is refused ([`Code::FailedPrecondition`]) and leaked.
    pub fn close(self) -> Result<()> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: owned and not yet freed; `this` is never used again.
        let code = unsafe { sys::jn_host_free(this.raw.as_ptr()) };
        if code == sys::JN_OK as i32 {
            return Ok(());
        }
        // SAFETY: the host was not freed.
        let message = if unsafe { sys::jn_host_free_check(this.raw.as_ptr()) } != sys::JN_OK as i32
        {
            "a host cannot be freed from inside a handler or from a callback on one of its own threads"
        } else {
            "a host cannot be freed while one of its listeners is open"
        };
        Err(Status::new(Code::from_raw(code), message))
    }
}

impl Drop for Host {
    /// Frees the host. Freed from inside a handler (any host's), or from a
    /// callback on one of its own threads (a service's destroy or a call's
    /// completion, where the last handle may be dropped with the handler
    /// that captured it), the host is leaked instead: it would wait for the
    /// call, or join the thread, that is running (`jn_host_free` refuses).
    fn drop(&mut self) {
        // SAFETY: owned and not yet freed. Where the ABI refuses, it frees
        // nothing.
        unsafe { sys::jn_host_free(self.raw.as_ptr()) };
    }
}

impl Deref for Host {
    type Target = HostRef;

    fn deref(&self) -> &HostRef {
        // SAFETY: the host lives as long as the borrow of self.
        unsafe { HostRef::from_raw(self.raw.as_ptr()) }
    }
}

/// A borrowed junction host: what [`Host`] dereferences to, and what a
/// module's initialisation function receives (see [`crate::module!`]).
///
/// `&HostRef` is valid for its lifetime only; it cannot be kept past the call
/// that lent it.
pub struct HostRef {
    _opaque: [u8; 0],
    // Opaque C object: not Send (never owned by value), not Unpin.
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// SAFETY: every host function of the ABI is thread-safe, and a `&HostRef`
// cannot outlive the host it borrows.
unsafe impl Sync for HostRef {}

impl std::fmt::Debug for HostRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HostRef").field(&self.as_raw()).finish()
    }
}

impl HostRef {
    /// Borrows a raw host.
    ///
    /// # Safety
    ///
    /// `raw` must be a live host, not freed during `'a`.
    pub unsafe fn from_raw<'a>(raw: *mut sys::jn_host) -> &'a HostRef {
        // SAFETY: HostRef is a zero-sized stand-in for the opaque host.
        unsafe { &*raw.cast::<HostRef>() }
    }

    /// The raw host, for calling the C ABI directly. It stays owned by its
    /// [`Host`].
    pub fn as_raw(&self) -> *mut sys::jn_host {
        (self as *const HostRef).cast_mut().cast()
    }

    /// Registers `service`. Its handlers then belong to the host, which drops
    /// them (on some thread) once the service is unregistered or the host
    /// freed and every call on it has returned.
    ///
    /// Fails with [`Code::AlreadyExists`] for a registered name, and
    /// [`Code::InvalidArgument`] for a malformed service: a name that is
    /// empty, longer than 255 bytes or holds a NUL byte; no methods; two
    /// methods with one name.
    ///
    /// ```
    /// use junction::{Code, Host, Service};
    ///
    /// let host = Host::new()?;
    /// let ping = || Service::new("ping").method("ping", |_: &[u8], _| Ok(Vec::new()));
    /// host.register(ping())?;
    /// assert_eq!(host.register(ping()).unwrap_err().code(), Code::AlreadyExists);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn register(&self, service: Service) -> Result<()> {
        service.register_on(self.as_raw())
    }

    /// Unregisters the service `name`: no call starts on it afterwards; calls
    /// in flight finish, then its handlers are dropped. It does not wait, so
    /// a handler may call it (even on its own service). Fails with
    /// [`Code::NotFound`] if no such service is registered.
    pub fn unregister(&self, name: &str) -> Result<()> {
        let name = c_string(name, "service name")?;
        let mut status = sys::jn_status::default();
        // SAFETY: the host is live; name is borrowed for the call.
        let code = unsafe { sys::jn_host_unregister(self.as_raw(), name.as_ptr(), &mut status) };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }
    }

    /// Resolves `service`/`method` once into a handle for many calls. Fails
    /// with [`Code::NotFound`] if there is no such service or method.
    ///
    /// ```
    /// use junction::{Code, Host};
    ///
    /// let host = Host::new()?;
    /// let missing = host.resolve("nothing", "here").unwrap_err();
    /// assert_eq!(missing.code(), Code::NotFound);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn resolve(&self, service: &str, method: &str) -> Result<Method> {
        let service = c_string(service, "service name")?;
        let method = c_string(method, "method name")?;
        let mut raw = std::ptr::null_mut();
        let mut status = sys::jn_status::default();
        // SAFETY: the host is live; the names are borrowed for the call; raw
        // and status are out parameters owned here.
        let code = unsafe {
            sys::jn_host_resolve(
                self.as_raw(),
                service.as_ptr(),
                method.as_ptr(),
                &mut raw,
                &mut status,
            )
        };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }?;
        NonNull::new(raw)
            .map(Method::from_handle)
            .ok_or_else(|| Status::new(Code::Internal, "jn_host_resolve returned no handle"))
    }

    /// The services this host has now, registered and routed, in byte order
    /// of their names (`jn_host_list_services`). Names that are not UTF-8
    /// (registered through the C ABI) are given lossily.
    ///
    /// ```
    /// use junction::{Host, Service};
    ///
    /// let host = Host::new()?;
    /// host.register(
    ///     Service::new("ping")
    ///         .method("pong", |_: &[u8], _| Ok(Vec::new()))
    ///         .method("echo", |request: &[u8], _| Ok(request.to_vec())),
    /// )?;
    /// let services = host.services()?;
    /// assert_eq!(services[0].name, "ping");
    /// assert_eq!(services[0].methods, ["echo", "pong"]);
    /// assert_eq!(services[0].route_url, None);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn services(&self) -> Result<Vec<ServiceInfo>> {
        let mut listing = Listing {
            services: Vec::new(),
            complete: true,
        };
        // SAFETY: the host is live; listing outlives the call, which visits
        // from this thread only.
        let code = unsafe {
            sys::jn_host_list_services(
                self.as_raw(),
                Some(collect_service),
                (&mut listing as *mut Listing).cast(),
            )
        };
        if code != sys::JN_OK as i32 {
            return Err(Status::new(
                Code::from_raw(code),
                "cannot list the host's services",
            ));
        }
        if !listing.complete {
            return Err(Status::new(
                Code::Internal,
                "a panic while collecting the host's services",
            ));
        }
        Ok(listing.services)
    }

    /// Loads the module (a shared library exporting `jn_module_abi_version`
    /// and `jn_module_init`, see [`crate::module!`]) at `path` and runs its
    /// initialisation on this host. Modules are never unloaded.
    ///
    /// Fails with [`Code::NotFound`] if the library cannot be loaded,
    /// [`Code::FailedPrecondition`] if it is not a junction module or was
    /// built against another ABI major or a newer minor (the message names
    /// both versions), or with the module initialisation's own status.
    pub fn load_module(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path_c_string(path.as_ref())?;
        let mut status = sys::jn_status::default();
        // SAFETY: the host is live; path is borrowed for the call.
        let code = unsafe { sys::jn_host_load_module(self.as_raw(), path.as_ptr(), &mut status) };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }
    }
}

/// One of a host's services, as [`HostRef::services`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The service's name.
    pub name: String,
    /// A registered service's methods, in byte order; empty for a routed
    /// service, whose far host judges which names exist.
    pub methods: Vec<String>,
    /// The URL a routed service's calls go to, as it was routed; `None` for
    /// a registered service.
    pub route_url: Option<String>,
}

struct Listing {
    services: Vec<ServiceInfo>,
    complete: bool,
}

/// A C string the ABI lends, as a `String`.
///
/// # Safety
///
/// `text` must be a live NUL-terminated string.
pub(crate) unsafe fn lent_string(text: *const c_char) -> String {
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// `jn_service_visit_fn` for [`HostRef::services`]. No panic crosses back
/// into C: one is caught and fails the listing. Running out of memory is not
/// among them: a failed allocation aborts the process (`handle_alloc_error`)
/// and is never caught here.
unsafe extern "C" fn collect_service(user_data: *mut c_void, info: *const sys::jn_service_info) {
    // SAFETY: user_data is the Listing services lent, alive and not otherwise
    // borrowed during the call that visits.
    let listing = unsafe { &mut *user_data.cast::<Listing>() };
    let collected = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host lends info, its strings and its methods array
        // (method_count entries) for the visit.
        let service = unsafe {
            let info = &*info;
            let methods = (0..info.method_count as usize)
                .map(|i| lent_string(*info.methods.add(i)))
                .collect();
            ServiceInfo {
                name: lent_string(info.name),
                methods,
                route_url: (!info.route_url.is_null()).then(|| lent_string(info.route_url)),
            }
        };
        listing.services.push(service);
    }));
    if let Err(payload) = collected {
        listing.complete = false;
        ffi::drop_panic(payload);
    }
}

/// Refuses a libjunction whose ABI major differs from this crate's, or whose
/// minor is older (it may lack functions this crate declares).
fn check_library_version() -> Result<()> {
    let library = crate::library_abi_version();
    let ours = crate::ABI_VERSION;
    let major = sys::jn_abi_version_major_of;
    let minor = sys::jn_abi_version_minor_of;
    if major(library) == major(ours) && minor(library) >= minor(ours) {
        return Ok(());
    }
    Err(Status::new(
        Code::FailedPrecondition,
        format!(
            "ABI version mismatch: the junction crate was built against junction ABI {}.{}, \
             the linked libjunction implements ABI {}.{}",
            major(ours),
            minor(ours),
            major(library),
            minor(library)
        ),
    ))
}

/// A C string for a name passed to the ABI; a NUL byte inside is an
/// invalid argument.
pub(crate) fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| {
        Status::new(
            Code::InvalidArgument,
            format!("{what} {text:?} contains a NUL byte"),
        )
    })
}

fn path_c_string(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| Status::new(Code::InvalidArgument, "module path is not UTF-8"))?
        .as_bytes()
        .to_vec();
    CString::new(bytes).map_err(|_| {
        Status::new(
            Code::InvalidArgument,
            format!("module path {} contains a NUL byte", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_matches() {
        check_library_version().unwrap();
    }

    #[test]
    fn names_with_nul_are_refused() {
        let host = Host::new().unwrap();
        let error = host.resolve("a\0b", "m").unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(
            host.unregister("x\0").unwrap_err().code(),
            Code::InvalidArgument
        );
        assert_eq!(
            host.load_module("lib\0.so").unwrap_err().code(),
            Code::InvalidArgument
        );
    }

    #[test]
    fn close_frees() {
        let captured = std::sync::Arc::new(());
        let held = std::sync::Arc::clone(&captured);
        let host = Host::new().unwrap();
        host.register(
            crate::Service::new("holds").method("m", move |_: &[u8], _| {
                let _ = &held;
                Ok(Vec::new())
            }),
        )
        .unwrap();
        assert_eq!(std::sync::Arc::strong_count(&captured), 2);
        host.close().unwrap();
        // The service went with the host, and the handler's captures with it.
        assert_eq!(std::sync::Arc::strong_count(&captured), 1);
    }

    #[test]
    fn thread_safety() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Host>();
        assert_send_sync::<&HostRef>();
    }
}
