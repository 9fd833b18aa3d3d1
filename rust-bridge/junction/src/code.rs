//! Status codes: gRPC's numbers, as in `abi/junction.h`.

use std::fmt;

use crate::sys;

/// A status code. The numbers are gRPC's (and the ABI's `JN_*` codes), so
/// mapping to gRPC is the identity.
///
/// ```
/// use junction::Code;
///
/// assert_eq!(Code::NotFound as i32, 5);
/// assert_eq!(Code::NotFound.name(), "NOT_FOUND");
/// assert_eq!(Code::try_from(5), Ok(Code::NotFound));
/// assert!(Code::try_from(17).is_err());
/// assert_eq!(Code::from_raw(17), Code::Unknown);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Code {
    /// Success; the only code that carries a response.
    Ok = sys::JN_OK as i32,
    /// The call was cancelled (for example by its host shutting down).
    Cancelled = sys::JN_CANCELLED as i32,
    /// An error of unknown kind.
    Unknown = sys::JN_UNKNOWN as i32,
    /// The request or an argument is invalid.
    InvalidArgument = sys::JN_INVALID_ARGUMENT as i32,
    /// The deadline passed before the call finished.
    DeadlineExceeded = sys::JN_DEADLINE_EXCEEDED as i32,
    /// No such service or method, or a module that cannot be loaded.
    NotFound = sys::JN_NOT_FOUND as i32,
    /// A service of that name is already registered.
    AlreadyExists = sys::JN_ALREADY_EXISTS as i32,
    /// The caller may not do this.
    PermissionDenied = sys::JN_PERMISSION_DENIED as i32,
    /// A resource (memory, quota) ran out.
    ResourceExhausted = sys::JN_RESOURCE_EXHAUSTED as i32,
    /// The system is not in a state for this operation (for example an ABI
    /// version mismatch).
    FailedPrecondition = sys::JN_FAILED_PRECONDITION as i32,
    /// The operation was aborted.
    Aborted = sys::JN_ABORTED as i32,
    /// A value past a valid range.
    OutOfRange = sys::JN_OUT_OF_RANGE as i32,
    /// The operation is not implemented.
    Unimplemented = sys::JN_UNIMPLEMENTED as i32,
    /// A broken invariant, such as a panic caught at the ABI boundary.
    Internal = sys::JN_INTERNAL as i32,
    /// The service is temporarily unable to serve; retrying may succeed.
    Unavailable = sys::JN_UNAVAILABLE as i32,
    /// Unrecoverable data loss or corruption.
    DataLoss = sys::JN_DATA_LOSS as i32,
    /// The caller has no valid credentials.
    Unauthenticated = sys::JN_UNAUTHENTICATED as i32,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code for a number, with a number outside `0..=16` read as
    /// [`Code::Unknown`] (what gRPC does with codes it does not know).
    pub fn from_raw(code: i32) -> Code {
        Code::try_from(code).unwrap_or(Code::Unknown)
    }

    /// The number of this code.
    pub const fn as_raw(self) -> i32 {
        self as i32
    }

    /// Whether this is [`Code::Ok`].
    pub const fn is_ok(self) -> bool {
        matches!(self, Code::Ok)
    }

    /// The canonical name, as `jn_status_name` gives it (`"NOT_FOUND"`).
    pub const fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Code> for i32 {
    fn from(code: Code) -> i32 {
        code.as_raw()
    }
}

impl TryFrom<i32> for Code {
    type Error = InvalidCode;

    fn try_from(code: i32) -> Result<Code, InvalidCode> {
        usize::try_from(code)
            .ok()
            .and_then(|index| Code::ALL.get(index).copied())
            .ok_or(InvalidCode(code))
    }
}

/// A number that is not a status code (outside `0..=16`).
///
/// ```
/// use junction::{Code, InvalidCode};
///
/// assert_eq!(Code::try_from(-1), Err(InvalidCode(-1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidCode(pub i32);

impl fmt::Display for InvalidCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a junction status code (0..=16)", self.0)
    }
}

impl std::error::Error for InvalidCode {}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn numbers_and_names_match_the_library() {
        for (index, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_raw(), index as i32);
            // SAFETY: jn_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(sys::jn_status_name(code.as_raw())) };
            assert_eq!(name.to_str().unwrap(), code.name());
        }
        assert_eq!(Code::ALL.len() as i32, sys::JN_STATUS_CODE_MAX + 1);
    }

    #[test]
    fn unknown_numbers() {
        for number in [-1, 17, i32::MIN, i32::MAX] {
            assert_eq!(Code::try_from(number), Err(InvalidCode(number)));
            assert_eq!(Code::from_raw(number), Code::Unknown);
        }
        assert_eq!(
            InvalidCode(42).to_string(),
            "42 is not a junction status code (0..=16)"
        );
    }
}
