//! Python bindings of Auralis Core: the native module `auralis_core._native` (PyO3, abi3).
//!
//! Thin wrappers over `auralis_core::stream`: argument conversion, the exception hierarchy and
//! numpy arrays. Every call that decodes, masters, encodes or touches the disk runs through
//! [`errors::heavy`], which releases the GIL, so Python threads (and an asyncio loop using
//! `asyncio.to_thread`) keep running while Rust works, and several threads may share one
//! `Stream`. The pure-Python package (`python/auralis_core/`) adds the drop-in
//! `ChunkedAudioProcessor` on top.

mod clusters;
mod convert;
mod engine;
mod errors;
mod functions;
mod queue;
mod stream;

use pyo3::prelude::*;

use clusters::Clusters;
use errors::*;
use functions::*;
use queue::Queue;
use stream::Stream;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MIME", auralis_core::format::webm::MIME)?;
    m.add("MIME_MP4", auralis_core::format::mp4::MIME)?;
    m.add("MIME_MP4_SAFARI", auralis_core::format::mp4::MIME_SAFARI)?;
    m.add("AuralisError", py.get_type::<AuralisError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("DecodeError", py.get_type::<DecodeFailedError>())?;
    m.add(
        "UnsupportedFormatError",
        py.get_type::<UnsupportedFormatError>(),
    )?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add(
        "IndexOutOfRangeError",
        py.get_type::<IndexOutOfRangeError>(),
    )?;
    m.add("SourceChangedError", py.get_type::<SourceChangedError>())?;
    m.add("EncodeError", py.get_type::<EncodeError>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    m.add_class::<Stream>()?;
    m.add_class::<Queue>()?;
    m.add_class::<Clusters>()?;
    m.add_function(wrap_pyfunction!(crossfade_between_chunks, m)?)?;
    m.add_function(wrap_pyfunction!(demo_wav, m)?)?;
    m.add_function(wrap_pyfunction!(probe, m)?)?;
    m.add_function(wrap_pyfunction!(file_signature, m)?)?;
    m.add_function(wrap_pyfunction!(read_tags, m)?)?;
    m.add_function(wrap_pyfunction!(shared_engine_count, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    Ok(())
}
