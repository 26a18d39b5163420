//! The C ABI of Auralis Core: `libauralis.so` / `libauralis.a`.
//!
//! This crate only converts types, checks arguments and maps errors; the engine lives in
//! `auralis-core`. So far it exports the library version; the stream handles, status codes and
//! buffers of the full ABI, and the cbindgen header in `include/`, come with the C ABI work
//! (issue 6).

/// The library version as a static NUL-terminated string, e.g. `"0.1.0"`.
///
/// Never NULL; the caller must not free it.
#[no_mangle]
pub extern "C" fn auralis_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version_nul_terminated() {
        // SAFETY: auralis_version returns a pointer to a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(super::auralis_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
