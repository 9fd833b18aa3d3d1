//! The `jn_module_init` that `junction::module!` defines, called as a host
//! calls it: a panic while the init function is being made is answered
//! INTERNAL like a panic inside it, and never unwinds into the host.

use junction::{sys, Host, HostRef, Result};

fn make_init() -> fn(&HostRef) -> Result<()> {
    panic!("the init function could not be made");
}

junction::module!(make_init());

#[test]
fn a_panic_while_the_init_function_is_made_is_internal() {
    let host = Host::new().unwrap();
    let mut status = sys::jn_status::default();
    // SAFETY: the host is live for the call and status is writable.
    let code = unsafe { jn_module_init(host.as_raw(), &mut status) };
    assert_eq!(code, sys::JN_INTERNAL as i32);
    // SAFETY: the message is the status's own, read before its release.
    let message = unsafe {
        std::slice::from_raw_parts(status.message.data, status.message.len as usize).to_vec()
    };
    // SAFETY: status is owned here.
    unsafe { sys::jn_status_release(&mut status) };
    let message = String::from_utf8(message).unwrap();
    assert!(
        message.contains("the init function could not be made"),
        "{message}"
    );
}
