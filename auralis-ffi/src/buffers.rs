//! Output buffers handed to C: [`AuralisBytes`] and [`AuralisPcm`], owned by the library until
//! their `*_free`, which clears the struct (so a second free, or freeing a zeroed struct, is a
//! no-op). Every export that fills one clears it first, so a failed call leaves it empty.

use crate::status::{null, Failure};

/// Bytes owned by the library; free with [`auralis_bytes_free`].
#[repr(C)]
#[derive(Debug)]
pub struct AuralisBytes {
    /// The bytes (NULL when empty or freed).
    pub data: *const u8,
    /// Their number.
    pub len: usize,
}

/// Interleaved float samples at 48 kHz owned by the library; free with [`auralis_pcm_free`].
#[repr(C)]
#[derive(Debug)]
pub struct AuralisPcm {
    /// frames × channels samples (NULL when empty or freed).
    pub data: *const f32,
    /// Frames.
    pub frames: usize,
    /// Channels (1 or 2).
    pub channels: u32,
}

/// The struct behind an output pointer, cleared (NULL data, zero sizes) before any work.
///
/// # Safety
/// `out` must be NULL or valid for a write.
pub(crate) unsafe fn bytes_out<'a>(
    out: *mut AuralisBytes,
) -> Result<&'a mut AuralisBytes, Failure> {
    if out.is_null() {
        return Err(null("out"));
    }
    // SAFETY: not NULL, valid for a write (caller's promise); written before it is referenced.
    unsafe {
        out.write(AuralisBytes {
            data: std::ptr::null(),
            len: 0,
        });
        Ok(&mut *out)
    }
}

/// Like [`bytes_out`] for samples.
///
/// # Safety
/// `out` must be NULL or valid for a write.
pub(crate) unsafe fn pcm_out<'a>(out: *mut AuralisPcm) -> Result<&'a mut AuralisPcm, Failure> {
    if out.is_null() {
        return Err(null("out"));
    }
    // SAFETY: as in `bytes_out`.
    unsafe {
        out.write(AuralisPcm {
            data: std::ptr::null(),
            frames: 0,
            channels: 0,
        });
        Ok(&mut *out)
    }
}

impl AuralisBytes {
    /// Hands `bytes` over: the caller frees them with [`auralis_bytes_free`]. Empty bytes
    /// give a NULL `data` (nothing to free), as the header says.
    pub(crate) fn give(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            self.data = std::ptr::null();
            self.len = 0;
            return;
        }
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        self.len = boxed.len();
        self.data = Box::into_raw(boxed).cast::<u8>();
    }
}

impl AuralisPcm {
    /// Hands `samples` (interleaved, `channels` per frame) over: the caller frees them with
    /// [`auralis_pcm_free`]. No samples give a NULL `data`.
    pub(crate) fn give(&mut self, samples: Vec<f32>, channels: u32) {
        self.channels = channels;
        if samples.is_empty() {
            self.data = std::ptr::null();
            self.frames = 0;
            return;
        }
        self.frames = samples.len() / channels.max(1) as usize;
        self.data = Box::into_raw(samples.into_boxed_slice()).cast::<f32>();
    }
}

/// Frees bytes from this library and clears the struct. NULL, an already freed or a zeroed
/// struct is a no-op.
///
/// # Safety
/// `bytes` must be NULL or point to an `AuralisBytes` filled by this library (or zeroed).
#[no_mangle]
pub unsafe extern "C" fn auralis_bytes_free(bytes: *mut AuralisBytes) {
    // SAFETY: NULL or valid (caller's promise).
    let Some(b) = (unsafe { bytes.as_mut() }) else {
        return;
    };
    if !b.data.is_null() {
        let slice = std::ptr::slice_from_raw_parts_mut(b.data.cast_mut(), b.len);
        // SAFETY: `data`/`len` came from a boxed slice in `give` and are freed once: the
        // struct is cleared right after.
        drop(unsafe { Box::from_raw(slice) });
    }
    b.data = std::ptr::null();
    b.len = 0;
}

/// Frees samples from this library and clears the struct. NULL, an already freed or a zeroed
/// struct is a no-op.
///
/// # Safety
/// `pcm` must be NULL or point to an `AuralisPcm` filled by this library (or zeroed).
#[no_mangle]
pub unsafe extern "C" fn auralis_pcm_free(pcm: *mut AuralisPcm) {
    // SAFETY: NULL or valid (caller's promise).
    let Some(p) = (unsafe { pcm.as_mut() }) else {
        return;
    };
    if !p.data.is_null() {
        let len = p.frames * p.channels as usize;
        let slice = std::ptr::slice_from_raw_parts_mut(p.data.cast_mut(), len);
        // SAFETY: came from a boxed slice of frames × channels samples; freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
    p.data = std::ptr::null();
    p.frames = 0;
    p.channels = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bytes_are_null_as_the_header_says_and_free_is_a_no_op() {
        let mut b = AuralisBytes {
            data: std::ptr::NonNull::dangling().as_ptr(),
            len: 7,
        };
        // SAFETY: a valid struct on the stack.
        let out = unsafe { bytes_out(&mut b) }.ok().unwrap();
        out.give(Vec::new());
        assert!(b.data.is_null() && b.len == 0);
        // SAFETY: filled by this library.
        unsafe { auralis_bytes_free(&mut b) };
        let mut b = AuralisBytes {
            data: std::ptr::null(),
            len: 0,
        };
        b.give(vec![1, 2, 3]);
        assert!(!b.data.is_null() && b.len == 3);
        // SAFETY: filled by this library; freed twice (the second is a no-op).
        unsafe {
            auralis_bytes_free(&mut b);
            auralis_bytes_free(&mut b);
        }
        assert!(b.data.is_null() && b.len == 0);
    }

    #[test]
    fn empty_samples_are_null_too() {
        let mut p = AuralisPcm {
            data: std::ptr::null(),
            frames: 0,
            channels: 0,
        };
        p.give(Vec::new(), 2);
        assert!(p.data.is_null() && p.frames == 0);
        p.give(vec![0.5; 8], 2);
        assert_eq!(p.frames, 4);
        // SAFETY: filled by this library.
        unsafe { auralis_pcm_free(&mut p) };
        assert!(p.data.is_null());
    }
}
