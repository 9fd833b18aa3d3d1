//! The error type: a code and a message.

use std::fmt;

use crate::{sys, Buffer, Code};

/// A failed call or operation: a [`Code`] and a message. It is the error of
/// every fallible function in this crate and what handlers return to fail a
/// call, so `?` works on both sides.
///
/// ```
/// use junction::{Code, Status};
///
/// fn parse(request: &[u8]) -> junction::Result<u32> {
///     let bytes: [u8; 4] = request
///         .try_into()
///         .map_err(|_| Status::new(Code::InvalidArgument, "want 4 bytes"))?;
///     Ok(u32::from_le_bytes(bytes))
/// }
///
/// let error = parse(b"abc").unwrap_err();
/// assert_eq!(error.code(), Code::InvalidArgument);
/// assert_eq!(error.to_string(), "INVALID_ARGUMENT: want 4 bytes");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    code: Code,
    message: String,
}

impl Status {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
        }
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message (may be empty).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Takes the code and a copy of the message out of a `jn_status`, then
    /// releases the message.
    ///
    /// # Safety
    ///
    /// `raw` must be a valid `jn_status` whose message, if not released, is
    /// owned by the caller.
    pub(crate) unsafe fn take_raw(raw: &mut sys::jn_status) -> Status {
        let message = if raw.message.release.is_some() && raw.message.len > 0 {
            // SAFETY: an unreleased message holds len readable bytes.
            let bytes =
                unsafe { std::slice::from_raw_parts(raw.message.data, raw.message.len as usize) };
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            String::new()
        };
        // SAFETY: raw is valid; releasing a released message is a no-op.
        unsafe { sys::jn_status_release(raw) };
        Status::new(Code::from_raw(raw.code), message)
    }

    /// A `jn_status` owning this status's message as a Rust-allocated
    /// buffer (no copy). A status with [`Code::Ok`] used as an error is a
    /// broken invariant and becomes [`Code::Internal`].
    pub(crate) fn into_raw_error(self) -> sys::jn_status {
        let (code, message) = if self.code == Code::Ok {
            let message = format!("an error status had the code OK: {}", self.message);
            (Code::Internal, message)
        } else {
            (self.code, self.message)
        };
        let message = if message.is_empty() {
            sys::jn_buffer::default()
        } else {
            Buffer::from(message).into_raw()
        };
        sys::jn_status {
            code: code.as_raw(),
            reserved: 0,
            message,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Status {}

impl From<Code> for Status {
    /// A status with `code` and no message.
    fn from(code: Code) -> Status {
        Status::new(code, "")
    }
}

/// Reads the outcome of an operation that reported through a `jn_status`
/// out parameter, and releases the status.
///
/// # Safety
///
/// `status` must be the valid, caller-owned out parameter of the operation
/// that returned `code`.
pub(crate) unsafe fn check(code: i32, status: &mut sys::jn_status) -> crate::Result<()> {
    if code == sys::JN_OK as i32 {
        // SAFETY: the caller owns status; releasing is a no-op when empty.
        unsafe { sys::jn_status_release(status) };
        return Ok(());
    }
    status.code = code;
    // SAFETY: as above.
    Err(unsafe { Status::take_raw(status) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        assert_eq!(Status::from(Code::NotFound).to_string(), "NOT_FOUND");
        assert_eq!(
            Status::new(Code::Internal, "boom").to_string(),
            "INTERNAL: boom"
        );
    }

    #[test]
    fn round_trip_through_raw() {
        let mut raw = Status::new(Code::Aborted, "conflict").into_raw_error();
        assert_eq!(raw.code, Code::Aborted.as_raw());
        // SAFETY: raw was just made and is owned here.
        let back = unsafe { Status::take_raw(&mut raw) };
        assert_eq!(back, Status::new(Code::Aborted, "conflict"));
        assert!(raw.message.release.is_none());
    }

    #[test]
    fn ok_is_not_an_error() {
        let mut raw = Status::new(Code::Ok, "oops").into_raw_error();
        // SAFETY: raw was just made and is owned here.
        let back = unsafe { Status::take_raw(&mut raw) };
        assert_eq!(back.code(), Code::Internal);
        assert_eq!(back.message(), "an error status had the code OK: oops");
    }

    #[test]
    fn host_messages_are_read_and_released() {
        let mut raw = sys::jn_status::default();
        // SAFETY: raw is a valid, empty status; the message is NUL-terminated.
        let code = unsafe { sys::jn_status_set(&mut raw, 5, c"no such thing".as_ptr()) };
        assert_eq!(code, 0);
        // SAFETY: raw holds a host message owned here.
        let status = unsafe { Status::take_raw(&mut raw) };
        assert_eq!(status, Status::new(Code::NotFound, "no such thing"));
        assert!(raw.message.release.is_none());
    }
}
