//! Modules: a `cdylib` that brings services to a host that loads it.

use std::panic::{self, AssertUnwindSafe};

use crate::{ffi, sys, Code, HostRef, Result, Status};

/// Makes this crate a junction module: defines the two functions a host
/// looks up when it loads the library ([`HostRef::load_module`], or any
/// junction host loading a module):
///
/// - `jn_module_abi_version()`, returning the `JN_ABI_VERSION` this crate was
///   built against, which the host checks before calling anything else;
/// - `jn_module_init(host, status)`, which calls `init` with the host to
///   register the module's services. An `Err` from `init` becomes the
///   returned code and the status message; a panic becomes
///   [`Code::Internal`] with the panic message.
///
/// `init` is a `fn(&HostRef) -> junction::Result<()>` (or a closure of that
/// shape). Use the macro once, in a crate built as a `cdylib`.
///
/// ```
/// use junction::{HostRef, Service};
///
/// fn init(host: &HostRef) -> junction::Result<()> {
///     host.register(Service::new("hello").method("hello", |_: &[u8], _| Ok(b"hi".to_vec())))
/// }
///
/// junction::module!(init);
///
/// # fn main() -> junction::Result<()> {
/// // A host would find these two by name; call them directly here.
/// assert_eq!(jn_module_abi_version(), junction::ABI_VERSION);
/// let host = junction::Host::new()?;
/// // SAFETY: a live host and no status out parameter.
/// let code = unsafe { jn_module_init(host.as_raw(), std::ptr::null_mut()) };
/// assert_eq!(code, 0);
/// let hello = host.resolve("hello", "hello")?;
/// assert_eq!(hello.call(b"", junction::Deadline::none())?, b"hi");
/// # Ok(())
/// # }
/// ```
#[macro_export]
macro_rules! module {
    ($init:expr) => {
        /// The junction ABI version this module was built against.
        #[unsafe(no_mangle)]
        pub extern "C" fn jn_module_abi_version() -> u32 {
            $crate::sys::JN_ABI_VERSION
        }

        /// Registers this module's services on `host`; on failure `status`
        /// (may be NULL) receives the reason.
        ///
        /// # Safety
        ///
        /// Called by a junction host: `host` must be live for the call and
        /// `status` NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn jn_module_init(
            host: *mut $crate::sys::jn_host,
            status: *mut $crate::sys::jn_status,
        ) -> i32 {
            // SAFETY: forwarded from this function's own contract. $init is
            // evaluated inside module_init's panic wall, so a panic while
            // it is made is answered INTERNAL too.
            unsafe {
                $crate::__private::module_init(host, status, |host: &$crate::HostRef| ($init)(host))
            }
        }
    };
}

/// The body of the `jn_module_init` that [`module!`] defines.
///
/// # Safety
///
/// `host` must be NULL or a live host for the call; `status` NULL or valid
/// for writes (it is written without being read).
pub unsafe fn module_init<F>(host: *mut sys::jn_host, status: *mut sys::jn_status, init: F) -> i32
where
    F: FnOnce(&HostRef) -> Result<()>,
{
    let reported = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut raw = match run_init(host, init) {
            Ok(()) => sys::jn_status::default(),
            Err(error) => error.into_raw_error(),
        };
        let code = raw.code;
        if status.is_null() {
            // SAFETY: raw is owned here.
            unsafe { sys::jn_status_release(&mut raw) };
        } else {
            // SAFETY: status is writable; the out parameter holds nothing to
            // release.
            unsafe { status.write(raw) };
        }
        code
    }));
    reported.unwrap_or_else(|payload| {
        // Reporting itself failed: answer without a message.
        std::mem::forget(payload);
        sys::JN_INTERNAL as i32
    })
}

/// Calls `init` with the host, turning a panic into [`Code::Internal`].
fn run_init<F>(host: *mut sys::jn_host, init: F) -> Result<()>
where
    F: FnOnce(&HostRef) -> Result<()>,
{
    if host.is_null() {
        return Err(Status::new(Code::InvalidArgument, "host is NULL"));
    }
    // SAFETY: the caller lends a live host for this call, which the borrow
    // cannot outlive.
    let host = unsafe { HostRef::from_raw(host) };
    panic::catch_unwind(AssertUnwindSafe(|| init(host))).unwrap_or_else(|payload| {
        let message = format!(
            "module initialisation panicked: {}",
            ffi::panic_message(&*payload)
        );
        ffi::drop_panic(payload);
        Err(Status::new(Code::Internal, message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Deadline, Host, Service};

    fn init_with<F: FnOnce(&HostRef) -> Result<()>>(host: &Host, init: F) -> Status {
        let mut raw = sys::jn_status::default();
        // SAFETY: a live host and a writable status.
        let code = unsafe { module_init(host.as_raw(), &mut raw, init) };
        assert_eq!(code, raw.code);
        // SAFETY: raw was written by module_init and is owned here.
        unsafe { Status::take_raw(&mut raw) }
    }

    #[test]
    fn init_registers_services() {
        let host = Host::new().unwrap();
        let status = init_with(&host, |host| {
            host.register(Service::new("m").method("m", |_: &[u8], _| Ok(b"ok".to_vec())))
        });
        assert_eq!(status.code(), Code::Ok);
        let method = host.resolve("m", "m").unwrap();
        assert_eq!(method.call(b"", Deadline::none()).unwrap(), b"ok");
    }

    #[test]
    fn init_errors_and_panics_are_reported() {
        let host = Host::new().unwrap();
        let status = init_with(&host, |_| Err(Status::new(Code::Unavailable, "not today")));
        assert_eq!(status, Status::new(Code::Unavailable, "not today"));
        let status = init_with(&host, |_| panic!("init exploded"));
        assert_eq!(
            status,
            Status::new(
                Code::Internal,
                "module initialisation panicked: init exploded"
            )
        );
        // SAFETY: a NULL host is refused before anything is read.
        let code = unsafe { module_init(std::ptr::null_mut(), std::ptr::null_mut(), |_| Ok(())) };
        assert_eq!(code, Code::InvalidArgument.as_raw());
    }
}
