//! A deliberately mismatched junction module: it reports ABI major 2, so a
//! host implementing ABI 1 must refuse it with FAILED_PRECONDITION before
//! calling its `jn_module_init`. The fixture for the load-time version check.

use junction_sys as sys;

/// The ABI this fixture claims: 2.0.
pub const CLAIMED_ABI_VERSION: u32 = 2 << 16;

/// Reports ABI 2.0, a major no version-1 host accepts.
#[no_mangle]
pub extern "C" fn jn_module_abi_version() -> u32 {
    CLAIMED_ABI_VERSION
}

/// Never called by a host that checks versions; if it is, it fails loudly.
///
/// # Safety
///
/// `status` must be NULL or a writable `jn_status` holding nothing to
/// release.
#[no_mangle]
pub unsafe extern "C" fn jn_module_init(
    _host: *mut sys::jn_host,
    status: *mut sys::jn_status,
) -> i32 {
    let code = sys::JN_INTERNAL as i32;
    if !status.is_null() {
        // SAFETY: status is writable (this function's contract); the message
        // is NUL-terminated and borrowed for the call. jn_status_set cannot
        // unwind.
        unsafe {
            status.write(sys::jn_status::default());
            sys::jn_status_set(
                status,
                code,
                c"jn_module_init of a module built for ABI 2.0 ran on an ABI 1 host".as_ptr(),
            );
        }
    }
    code
}
