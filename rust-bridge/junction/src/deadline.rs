//! Deadlines: absolute times on junction's monotonic clock.

use std::time::Duration;

use crate::sys;

/// When a call must be finished by: an absolute time in nanoseconds on the
/// monotonic clock that `jn_now_ns()` reads, or no deadline at all.
///
/// ```
/// use std::time::Duration;
/// use junction::Deadline;
///
/// let soon = Deadline::after(Duration::from_secs(5));
/// assert!(!soon.has_passed());
/// assert!(soon.remaining().unwrap() <= Duration::from_secs(5));
/// assert!(Deadline::none().is_none());
/// assert_eq!(Deadline::none().remaining(), None);
/// assert!(soon < Deadline::none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Deadline {
    ns: i64,
}

impl Deadline {
    /// No deadline (`JN_NO_DEADLINE`): the call may take as long as it needs.
    pub const fn none() -> Deadline {
        Deadline {
            ns: sys::JN_NO_DEADLINE,
        }
    }

    /// The deadline `timeout` from now. A timeout too long to represent
    /// means no deadline.
    pub fn after(timeout: Duration) -> Deadline {
        let now = now_ns();
        match i64::try_from(timeout.as_nanos()) {
            Ok(timeout) if timeout < sys::JN_NO_DEADLINE - now => Deadline { ns: now + timeout },
            _ => Deadline::none(),
        }
    }

    /// The deadline at `ns` nanoseconds on the `jn_now_ns()` clock.
    pub const fn from_ns(ns: i64) -> Deadline {
        Deadline { ns }
    }

    /// This deadline in nanoseconds on the `jn_now_ns()` clock
    /// (`JN_NO_DEADLINE` for none).
    pub const fn as_ns(self) -> i64 {
        self.ns
    }

    /// Whether this is no deadline.
    pub const fn is_none(self) -> bool {
        self.ns == sys::JN_NO_DEADLINE
    }

    /// Whether the deadline has passed.
    pub fn has_passed(self) -> bool {
        !self.is_none() && now_ns() >= self.ns
    }

    /// The time left: `None` without a deadline, zero once it has passed.
    pub fn remaining(self) -> Option<Duration> {
        if self.is_none() {
            return None;
        }
        let left = self.ns.saturating_sub(now_ns()).max(0);
        Some(Duration::from_nanos(left as u64))
    }
}

impl Default for Deadline {
    /// No deadline.
    fn default() -> Deadline {
        Deadline::none()
    }
}

/// Now, in nanoseconds on the monotonic clock deadlines are measured on
/// (`jn_now_ns()`).
fn now_ns() -> i64 {
    // SAFETY: no arguments, no preconditions.
    unsafe { sys::jn_now_ns() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_saturates_to_none() {
        assert!(Deadline::after(Duration::MAX).is_none());
        assert!(Deadline::after(Duration::from_secs(u64::MAX / 2)).is_none());
    }

    #[test]
    fn past_deadlines() {
        let past = Deadline::from_ns(now_ns() - 1);
        assert!(past.has_passed());
        assert_eq!(past.remaining(), Some(Duration::ZERO));
        assert!(!Deadline::none().has_passed());
        assert_eq!(Deadline::default(), Deadline::none());
    }
}
