//! Statuses, the last error message of a thread, and the boundary every export runs its body
//! behind (`ffi_call!`).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use auralis_core::{Error, ErrorKind};

/// The outcome of a call. Values are stable; new ones are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuralisStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is out of its range or malformed: unknown preset, intensity outside 0..1,
    /// chunk length not a multiple of 20 ms, bitrate or complexity out of range, text that is
    /// not UTF-8, too many cache directories in use at once.
    InvalidArgument = 2,
    /// The file does not exist.
    NotFound = 3,
    /// The file is not audio in a supported format, or its parameters are out of range
    /// (sample rate, channels, duration, file size).
    UnsupportedFormat = 4,
    /// The audio is malformed, empty or ended early.
    DecodeError = 5,
    /// A chunk index (or a time) outside the track.
    IndexOutOfRange = 6,
    /// An I/O error (including a path that is a directory, and a cache entry this library
    /// version cannot read).
    Io = 7,
    /// The file changed or disappeared since the stream was opened; open it again.
    SourceChanged = 8,
    /// The Opus encoder failed.
    EncodeError = 9,
    /// A bug in the library: a panic was caught at the boundary, or a worker thread stopped.
    /// The handle involved should be freed and not used again.
    Panic = 10,
}

impl AuralisStatus {
    /// Every status, by value.
    const ALL: [AuralisStatus; 11] = [
        AuralisStatus::Ok,
        AuralisStatus::NullArgument,
        AuralisStatus::InvalidArgument,
        AuralisStatus::NotFound,
        AuralisStatus::UnsupportedFormat,
        AuralisStatus::DecodeError,
        AuralisStatus::IndexOutOfRange,
        AuralisStatus::Io,
        AuralisStatus::SourceChanged,
        AuralisStatus::EncodeError,
        AuralisStatus::Panic,
    ];

    fn name(self) -> &'static str {
        match self {
            AuralisStatus::Ok => "AURALIS_STATUS_OK\0",
            AuralisStatus::NullArgument => "AURALIS_STATUS_NULL_ARGUMENT\0",
            AuralisStatus::InvalidArgument => "AURALIS_STATUS_INVALID_ARGUMENT\0",
            AuralisStatus::NotFound => "AURALIS_STATUS_NOT_FOUND\0",
            AuralisStatus::UnsupportedFormat => "AURALIS_STATUS_UNSUPPORTED_FORMAT\0",
            AuralisStatus::DecodeError => "AURALIS_STATUS_DECODE_ERROR\0",
            AuralisStatus::IndexOutOfRange => "AURALIS_STATUS_INDEX_OUT_OF_RANGE\0",
            AuralisStatus::Io => "AURALIS_STATUS_IO\0",
            AuralisStatus::SourceChanged => "AURALIS_STATUS_SOURCE_CHANGED\0",
            AuralisStatus::EncodeError => "AURALIS_STATUS_ENCODE_ERROR\0",
            AuralisStatus::Panic => "AURALIS_STATUS_PANIC\0",
        }
    }

    /// The status of an error kind: the one place the C face decides it, exhaustively.
    pub(crate) fn of(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => AuralisStatus::NotFound,
            ErrorKind::Io | ErrorKind::CorruptCache => AuralisStatus::Io,
            ErrorKind::UnsupportedFormat => AuralisStatus::UnsupportedFormat,
            ErrorKind::Decode => AuralisStatus::DecodeError,
            ErrorKind::SourceChanged => AuralisStatus::SourceChanged,
            ErrorKind::IndexOutOfRange => AuralisStatus::IndexOutOfRange,
            ErrorKind::InvalidArgument => AuralisStatus::InvalidArgument,
            ErrorKind::Encode => AuralisStatus::EncodeError,
            ErrorKind::Internal => AuralisStatus::Panic,
        }
    }
}

/// A static name for a status value, e.g. `"AURALIS_STATUS_NOT_FOUND"`, or `"unknown status"`
/// for a value that is no status. Takes an `int` so that any value a C caller passes is
/// defined. Never NULL; not to be freed.
#[no_mangle]
pub extern "C" fn auralis_status_str(status: c_int) -> *const c_char {
    let name = AuralisStatus::ALL
        .into_iter()
        .find(|s| *s as c_int == status)
        .map_or("unknown status\0", AuralisStatus::name);
    name.as_ptr().cast()
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(message: &str) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// The message of the last failed call on this thread (empty if none failed yet). Valid until
/// the next failing call on this thread; not to be freed.
#[no_mangle]
pub extern "C" fn auralis_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A failure: its status and message.
pub(crate) struct Failure(pub(crate) AuralisStatus, pub(crate) String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(AuralisStatus::of(e.kind()), e.to_string())
    }
}

/// The failure of a NULL argument.
pub(crate) fn null(name: &str) -> Failure {
    Failure(AuralisStatus::NullArgument, format!("{name} is NULL"))
}

/// Runs an export's body: catches panics, records the message of a failure, returns the status.
macro_rules! ffi_call {
    ($body:block) => {{
        let result: Result<(), $crate::status::Failure> =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
                Ok(r) => r,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err($crate::status::Failure(
                        $crate::status::AuralisStatus::Panic,
                        format!("internal error (panic): {what}"),
                    ))
                }
            };
        match result {
            Ok(()) => $crate::status::AuralisStatus::Ok,
            Err($crate::status::Failure(status, message)) => {
                $crate::status::set_last_error(&message);
                status
            }
        }
    }};
}
pub(crate) use ffi_call;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn name(status: c_int) -> String {
        // SAFETY: auralis_status_str always returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(auralis_status_str(status)) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn every_int_has_a_name_and_values_that_are_no_status_say_so() {
        assert_eq!(name(0), "AURALIS_STATUS_OK");
        assert_eq!(name(3), "AURALIS_STATUS_NOT_FOUND");
        assert_eq!(name(10), "AURALIS_STATUS_PANIC");
        for bad in [-1, 11, 12, 1000, c_int::MIN, c_int::MAX] {
            assert_eq!(name(bad), "unknown status", "{bad}");
        }
        for s in AuralisStatus::ALL {
            assert!(name(s as c_int).starts_with("AURALIS_STATUS_"));
        }
    }

    #[test]
    fn internal_errors_are_panics_and_unreadable_cache_entries_io() {
        assert_eq!(AuralisStatus::of(ErrorKind::Internal), AuralisStatus::Panic);
        assert_eq!(
            AuralisStatus::of(ErrorKind::CorruptCache),
            AuralisStatus::Io
        );
        let e = Error::Internal {
            what: "a worker stopped".into(),
        };
        assert_eq!(Failure::from(e).0, AuralisStatus::Panic);
        // Every kind has a status other than Ok (the match above is exhaustive).
        for kind in ErrorKind::ALL {
            assert_ne!(AuralisStatus::of(kind), AuralisStatus::Ok);
        }
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = ffi_call!({
            if std::hint::black_box(true) {
                panic!("deliberate");
            }
            Ok(())
        });
        assert_eq!(status, AuralisStatus::Panic);
        // SAFETY: a valid NUL-terminated string owned by this thread.
        let msg = unsafe { CStr::from_ptr(auralis_last_error_message()) };
        assert!(msg.to_str().unwrap().contains("deliberate"));
    }
}
