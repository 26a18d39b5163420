//! The exception hierarchy and the one mapping of core errors to it; [`heavy`], the GIL-free
//! runner every decoding, encoding or disk call goes through.

use auralis_core::{Error, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError};
use pyo3::prelude::*;

create_exception!(
    _native,
    AuralisError,
    PyException,
    "Base of every Auralis Core error."
);
create_exception!(
    _native,
    DecodeFailedError,
    AuralisError,
    "The audio is malformed, empty or ended early."
);
create_exception!(
    _native,
    UnsupportedFormatError,
    AuralisError,
    "Not audio in a supported format, or parameters out of range."
);
create_exception!(
    _native,
    InvalidArgumentError,
    AuralisError,
    "An argument outside its valid range (preset, intensity, chunk length, bitrate...)."
);
create_exception!(
    _native,
    IndexOutOfRangeError,
    AuralisError,
    "A chunk index (or time) outside the track."
);
create_exception!(
    _native,
    SourceChangedError,
    AuralisError,
    "The file changed or disappeared since the stream was opened."
);
create_exception!(
    _native,
    EncodeError,
    AuralisError,
    "The Opus encoder failed."
);
create_exception!(
    _native,
    IoError,
    AuralisError,
    "An I/O error, or a cache entry this library version cannot read."
);
create_exception!(
    _native,
    InternalError,
    AuralisError,
    "A bug in the library (a worker thread stopped): please report it."
);

/// Maps a core error to its Python exception (missing files raise `FileNotFoundError`): the
/// one place the Python face decides it, by an exhaustive match over the error's kind.
pub(crate) fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
        ErrorKind::Io | ErrorKind::CorruptCache => IoError::new_err(msg),
        ErrorKind::UnsupportedFormat => UnsupportedFormatError::new_err(msg),
        ErrorKind::Decode => DecodeFailedError::new_err(msg),
        ErrorKind::SourceChanged => SourceChangedError::new_err(msg),
        ErrorKind::IndexOutOfRange => IndexOutOfRangeError::new_err(msg),
        ErrorKind::InvalidArgument => InvalidArgumentError::new_err(msg),
        ErrorKind::Encode => EncodeError::new_err(msg),
        ErrorKind::Internal => InternalError::new_err(msg),
    }
}

/// Runs heavy work with the GIL released and maps its error: the one helper every
/// decoding/encoding/disk call goes through.
pub(crate) fn heavy<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    py.detach(work).map_err(to_py)
}

/// Warns that `old` is a deprecated name of `new` (a `DeprecationWarning` at the caller's line).
pub(crate) fn deprecated(py: Python<'_>, old: &str, new: &str) -> PyResult<()> {
    let message = std::ffi::CString::new(format!("{old} is deprecated: use {new}"))
        .expect("method names hold no NUL");
    let category = py.get_type::<pyo3::exceptions::PyDeprecationWarning>();
    PyErr::warn(py, category.as_any(), &message, 1)
}
