//! Owned bytes: `jn_buffer` with its producer's release callback.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;

use crate::{ffi, live, sys};

/// Owned bytes: a `jn_buffer` released through its producer's callback when
/// dropped, whichever allocator (C++, Rust, Go) made it.
///
/// Responses arrive as `Buffer`s. Handlers return anything that converts
/// into one; `Vec<u8>` and `String` convert without copying, their storage
/// later freed by Rust through the buffer's release callback.
///
/// ```
/// use junction::Buffer;
///
/// let buffer = Buffer::from(vec![1, 2, 3]);
/// assert_eq!(buffer.len(), 3);
/// assert_eq!(buffer, [1, 2, 3]);
/// assert_eq!(&buffer[1..], &[2, 3]);
/// assert_eq!(buffer.into_vec(), vec![1, 2, 3]);
/// ```
pub struct Buffer {
    raw: sys::jn_buffer,
}

// SAFETY: the ABI lets `release` run on any thread, and a Buffer gives
// shared access only to immutable bytes.
unsafe impl Send for Buffer {}
// SAFETY: as above; `&Buffer` only reads the bytes.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// An empty buffer (a released `jn_buffer`).
    pub const fn new() -> Buffer {
        Buffer {
            raw: sys::jn_buffer {
                data: std::ptr::null(),
                len: 0,
                release: None,
                private_data: std::ptr::null_mut(),
            },
        }
    }

    /// A buffer over static bytes: no allocation, nothing to free.
    ///
    /// ```
    /// let pong = junction::Buffer::from_static(b"pong");
    /// assert_eq!(pong, b"pong");
    /// ```
    pub fn from_static(bytes: &'static [u8]) -> Buffer {
        Buffer {
            raw: sys::jn_buffer {
                data: bytes.as_ptr(),
                len: bytes.len() as u64,
                release: Some(release_static),
                private_data: std::ptr::null_mut(),
            },
        }
    }

    /// A Rust-allocated copy of `bytes`.
    pub fn copy_from_slice(bytes: &[u8]) -> Buffer {
        Buffer::from(bytes.to_vec())
    }

    /// Takes ownership of a `jn_buffer`.
    ///
    /// # Safety
    ///
    /// `raw` must be a valid buffer (or a released one) that the caller owns
    /// and no longer uses: it is released through its own callback when the
    /// `Buffer` drops. If the caller keeps the source struct, it must mark it
    /// released (`release = None`).
    pub unsafe fn from_raw(raw: sys::jn_buffer) -> Buffer {
        Buffer { raw }
    }

    /// Hands the buffer to C: the returned `jn_buffer` is now the caller's to
    /// release (or to transfer).
    pub fn into_raw(self) -> sys::jn_buffer {
        let this = ManuallyDrop::new(self);
        this.raw
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        if self.raw.release.is_none() || self.raw.data.is_null() || self.raw.len == 0 {
            return &[];
        }
        // SAFETY: an unreleased buffer holds len readable bytes until it is
        // released, which needs `self` by value or `&mut`.
        unsafe { std::slice::from_raw_parts(self.raw.data, self.raw.len as usize) }
    }

    /// The bytes as a `Vec`: without a copy when the buffer holds a `Vec`
    /// made by this copy of the crate (so by this binary's allocator),
    /// copied otherwise.
    pub fn into_vec(mut self) -> Vec<u8> {
        match self.take_own_vec() {
            Some(bytes) => bytes,
            None => self.as_bytes().to_vec(),
        }
    }

    /// The `Vec` behind a buffer made by `From<Vec<u8>>` of this copy of the
    /// crate, leaving the buffer released; `None` (and the buffer untouched)
    /// for any other buffer.
    fn take_own_vec(&mut self) -> Option<Vec<u8>> {
        let release = self.raw.release?;
        if !std::ptr::fn_addr_eq(release, release_vec as Release) {
            return None;
        }
        self.raw.release = None;
        live::rust_buffer_released();
        // SAFETY: made by `From<Vec<u8>>`: data, the capacity in private_data
        // and len (never more than the capacity) are the parts of a Vec this
        // crate leaked, and release is now None, so nothing frees it again.
        Some(unsafe {
            Vec::from_raw_parts(
                self.raw.data.cast_mut(),
                self.raw.len as usize,
                self.raw.private_data as usize,
            )
        })
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // A Vec of our own is freed here rather than through the callback:
        // the same deallocation without an indirect call.
        if self.take_own_vec().is_some() {
            return;
        }
        if let Some(release) = self.raw.release {
            // SAFETY: the buffer is owned and unreleased; its callback
            // releases it exactly once and marks it released.
            unsafe { release(&mut self.raw) };
        }
    }
}

impl From<Vec<u8>> for Buffer {
    /// Takes the vector's storage without copying it; the buffer's release
    /// callback frees it.
    fn from(bytes: Vec<u8>) -> Buffer {
        let mut bytes = ManuallyDrop::new(bytes);
        live::rust_buffer_made();
        // The capacity travels in private_data (the producer's own field) so
        // that release can rebuild the Vec without a second allocation.
        Buffer {
            raw: sys::jn_buffer {
                data: bytes.as_mut_ptr(),
                len: bytes.len() as u64,
                release: Some(release_vec),
                private_data: bytes.capacity() as *mut std::ffi::c_void,
            },
        }
    }
}

impl From<String> for Buffer {
    /// Takes the string's storage without copying it.
    fn from(text: String) -> Buffer {
        Buffer::from(text.into_bytes())
    }
}

impl From<Box<[u8]>> for Buffer {
    /// Takes the boxed slice's storage without copying it.
    fn from(bytes: Box<[u8]>) -> Buffer {
        Buffer::from(Vec::from(bytes))
    }
}

type Release = unsafe extern "C" fn(*mut sys::jn_buffer);

/// Releases a buffer made by `From<Vec<u8>>`.
unsafe extern "C" fn release_vec(buffer: *mut sys::jn_buffer) {
    ffi::absorb_panic(|| {
        // SAFETY: the ABI passes the unreleased buffer this crate made.
        let buffer = unsafe { &mut *buffer };
        // The capacity, not len, is the allocation: a consumer may have
        // shortened len.
        // SAFETY: data and the capacity in private_data come from a leaked
        // Vec<u8>; len <= capacity.
        drop(unsafe {
            Vec::from_raw_parts(
                buffer.data.cast_mut(),
                buffer.len as usize,
                buffer.private_data as usize,
            )
        });
        buffer.release = None;
        live::rust_buffer_released();
    });
}

/// Releases a buffer made by [`Buffer::from_static`]: nothing to free.
unsafe extern "C" fn release_static(buffer: *mut sys::jn_buffer) {
    ffi::absorb_panic(|| {
        // SAFETY: the ABI passes the unreleased buffer this crate made.
        unsafe { (*buffer).release = None };
    });
}

impl Default for Buffer {
    /// An empty buffer.
    fn default() -> Buffer {
        Buffer::new()
    }
}

impl Deref for Buffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("len", &self.len()).finish()
    }
}

impl PartialEq for Buffer {
    fn eq(&self, other: &Buffer) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Buffer {}

impl PartialEq<[u8]> for Buffer {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Buffer {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Buffer {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_bytes() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Buffer {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == *other
    }
}

impl PartialEq<Vec<u8>> for Buffer {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_buffers_read_as_empty() {
        assert!(Buffer::new().is_empty());
        assert!(Buffer::default().is_empty());
        assert!(Buffer::from(Vec::new()).is_empty());
        assert!(Buffer::from_static(b"").is_empty());
    }

    #[test]
    fn vec_storage_is_not_copied() {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(b"abc");
        let data = bytes.as_ptr();
        let buffer = Buffer::from(bytes);
        assert_eq!(buffer.as_ptr(), data);
        let back = buffer.into_vec();
        assert_eq!(back.as_ptr(), data);
        assert_eq!(back.capacity(), 64);
    }

    #[test]
    fn host_buffers_release_through_their_callback() {
        let mut raw = sys::jn_buffer::default();
        // SAFETY: copies 5 bytes into a host buffer written to raw.
        let code = unsafe { sys::jn_buffer_copy(b"hello".as_ptr(), 5, &mut raw) };
        assert_eq!(code, 0);
        // SAFETY: raw is a fresh host buffer owned here.
        let buffer = unsafe { Buffer::from_raw(raw) };
        assert_eq!(buffer, b"hello");
        assert_eq!(buffer.into_vec(), b"hello".to_vec());
    }

    #[test]
    fn raw_round_trip() {
        let raw = Buffer::from(b"xyz".to_vec()).into_raw();
        assert!(raw.release.is_some());
        // SAFETY: raw came from into_raw and is owned here.
        let buffer = unsafe { Buffer::from_raw(raw) };
        assert_eq!(buffer, b"xyz");
    }

    #[test]
    fn send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Buffer>();
    }
}
