//! What synchronous handlers answer with.

use crate::{ffi, sys, Buffer, Code, Status};

/// A synchronous handler's response: anything that converts into a
/// [`Buffer`] (a `Vec<u8>`, `String` or `Box<[u8]>` is handed over without a
/// copy), or a byte array, which is copied with `jn_respond`: into the room
/// the caller lent (`jn_call_into`, [`crate::Method::call_into`]) when it
/// fits, so a small fixed-size answer costs no allocation on either side.
///
/// ```
/// use junction::{Deadline, Host, Service};
///
/// let host = Host::new()?;
/// host.register(Service::new("len").method("len", |request: &[u8], _| {
///     Ok((request.len() as u64).to_le_bytes()) // [u8; 8]: no allocation
/// }))?;
/// let len = host.resolve("len", "len")?;
/// let mut out = Vec::with_capacity(16);
/// len.call_into(b"four", Deadline::none(), &mut out)?;
/// assert_eq!(out, 4u64.to_le_bytes());
/// # Ok::<(), junction::Status>(())
/// ```
///
/// The trait is sealed: what a response writes into the host's result must
/// be a buffer the host can trust, so only the implementations here exist
/// (a type of your own becomes a response through `Into<Buffer>`). Writing
/// the result is the crate's alone: the method doing it lives in the private
/// supertrait, is `unsafe`, and takes a token only this crate makes, so
/// safe code outside cannot call it, even through an `IntoResponse` bound,
/// and hand the host a result whose buffer it would release twice.
pub trait IntoResponse: sealed::Sealed {}

impl<T: sealed::Sealed> IntoResponse for T {}

pub(crate) mod sealed {
    use crate::sys;

    /// Proof that the caller is this crate: its field is private here, and
    /// no public function returns one.
    #[derive(Debug)]
    pub struct Token(());

    impl Token {
        pub(crate) fn new() -> Self {
            Self(())
        }
    }

    pub trait Sealed {
        /// Writes this response into the handler's result.
        ///
        /// # Safety
        ///
        /// `result` must be the result the host passed to the handler being
        /// answered, not answered yet: `jn_respond` releases the response it
        /// holds (abi/junction.h).
        unsafe fn into_result(self, result: &mut sys::jn_result, token: Token);
    }
}

impl<T: Into<Buffer>> sealed::Sealed for T {
    unsafe fn into_result(self, result: &mut sys::jn_result, _: sealed::Token) {
        // SAFETY: the response is a field of the live result.
        unsafe { ffi::store_whole(&mut result.response, self.into().into_raw()) };
    }
}

impl<const N: usize> sealed::Sealed for [u8; N] {
    unsafe fn into_result(self, result: &mut sys::jn_result, _: sealed::Token) {
        // SAFETY: result is the handler's own result (this function's
        // contract); the bytes are borrowed for the call, which copies them.
        let code = unsafe { sys::jn_respond(result, self.as_ptr(), N as u64) };
        if code != sys::JN_OK as i32 {
            result.status =
                Status::new(Code::from_raw(code), "cannot allocate the response").into_raw_error();
        }
    }
}
