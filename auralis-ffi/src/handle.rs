//! What every C handle does, written once: an opaque struct owning one Rust object, boxed and
//! given to C as a pointer; borrowed back (NULL is a named error, never a crash), freed once,
//! and the shape of every export that returns bytes from one. A handle type says only what it
//! owns and its name (as rustls-ffi's `Castable` does for its types).

use crate::buffers::{bytes_out, AuralisBytes};
use crate::status::{null, Failure};

/// A C handle owning one `Inner`.
pub(crate) trait Handle: Sized + 'static {
    /// What the handle owns.
    type Inner;
    /// The argument's name in messages ("stream is NULL").
    const NAME: &'static str;

    /// A handle owning `inner`.
    fn wrap(inner: Self::Inner) -> Self;

    /// What the handle owns.
    fn inner(&self) -> &Self::Inner;

    /// Boxes `inner` and stores the new handle in `*out`.
    ///
    /// # Safety
    /// `out` must be valid for a write.
    unsafe fn give(inner: Self::Inner, out: *mut *mut Self) {
        let handle = Box::into_raw(Box::new(Self::wrap(inner)));
        // SAFETY: valid for a write (the caller's promise).
        unsafe { *out = handle };
    }

    /// What a handle owns.
    ///
    /// # Safety
    /// `handle` must be NULL or a live handle.
    unsafe fn borrow<'a>(handle: *const Self) -> Result<&'a Self::Inner, Failure> {
        // SAFETY: a live handle (caller's promise) or NULL, which `as_ref` turns into None.
        unsafe { handle.as_ref() }
            .map(Self::inner)
            .ok_or_else(|| null(Self::NAME))
    }

    /// Frees a handle; NULL is a no-op. A panic while dropping is caught.
    ///
    /// # Safety
    /// `handle` must be NULL or a handle from [`Handle::give`] not yet freed, and no other
    /// thread may be using it.
    unsafe fn free(handle: *mut Self) {
        if !handle.is_null() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: it came from Box::into_raw and is freed once (caller's promise).
                drop(unsafe { Box::from_raw(handle) });
            }));
        }
    }

    /// The shape of every export that returns bytes: clear `out`, borrow the handle, make the
    /// bytes, hand them over.
    ///
    /// # Safety
    /// `handle` must be NULL or a live handle; `out` NULL or valid for a write.
    unsafe fn give_bytes(
        handle: *const Self,
        out: *mut AuralisBytes,
        make: impl FnOnce(&Self::Inner) -> Result<Vec<u8>, Failure>,
    ) -> Result<(), Failure> {
        // SAFETY: forwarded caller's promise.
        let out = unsafe { bytes_out(out) }?;
        // SAFETY: forwarded caller's promise.
        let inner = unsafe { Self::borrow(handle) }?;
        out.give(make(inner)?);
        Ok(())
    }
}
