//! The linked libjunction implements the ABI these declarations describe.

use junction_sys::*;

#[test]
fn the_library_implements_this_major() {
    // SAFETY: no arguments, no preconditions.
    let library = unsafe { jn_abi_version() };
    assert_eq!(jn_abi_version_major_of(library), JN_ABI_VERSION_MAJOR);
    assert_eq!(
        JN_ABI_VERSION,
        (JN_ABI_VERSION_MAJOR << 16) | JN_ABI_VERSION_MINOR
    );
}

#[test]
fn a_status_round_trip() {
    let mut status = jn_status::default();
    // SAFETY: a valid empty status and a NUL-terminated message.
    let code = unsafe { jn_status_set(&mut status, JN_NOT_FOUND as i32, c"gone".as_ptr()) };
    assert_eq!(code, JN_OK as i32);
    assert_eq!(status.code, JN_NOT_FOUND as i32);
    // SAFETY: the message is a host buffer of len bytes until released.
    let message = unsafe { std::slice::from_raw_parts(status.message.data, 4) };
    assert_eq!(message, b"gone");
    // SAFETY: status owns its message.
    unsafe { jn_status_release(&mut status) };
    assert!(status.message.release.is_none());
}
