//! The module's functions: probing, tags, signatures, defaults, the demo, a crossfade.

use std::path::PathBuf;

use auralis_core::stream::StreamSettings;
use auralis_core::Preset;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::{convert::*, errors::*};

/// Joins two chunks (float32 arrays of shape (frames, channels)) with a linear crossfade over
/// `overlap_samples` frames, as the Python backend's function of the same name.
#[pyfunction]
#[pyo3(signature = (chunk1, chunk2, overlap_samples, curve="linear"))]
pub(crate) fn crossfade_between_chunks<'py>(
    py: Python<'py>,
    chunk1: PyReadonlyArray2<'py, f32>,
    chunk2: PyReadonlyArray2<'py, f32>,
    overlap_samples: i64,
    curve: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    use auralis_core::dsp::crossfade::{crossfade_between_chunks as join, Curve};
    let curve = Curve::from_name(curve).map_err(to_py)?;
    let (a, b) = (chunk1.as_array(), chunk2.as_array());
    let ch = a.ncols();
    if b.ncols() != ch || ch == 0 {
        return Err(InvalidArgumentError::new_err(format!(
            "channel counts differ or are zero: {} and {}",
            ch,
            b.ncols()
        )));
    }
    let a: Vec<f32> = a.iter().copied().collect();
    let b: Vec<f32> = b.iter().copied().collect();
    let n = usize::try_from(overlap_samples.max(0)).unwrap_or(0);
    let out = py.detach(|| join(&a, &b, ch, n, curve));
    let frames = out.len() / ch;
    Ok(Array2::from_shape_vec((frames, ch), out)
        .expect("whole frames")
        .into_pyarray(py))
}

/// The built-in demo track (a synthesized two-minute piece) as WAV bytes.
#[pyfunction]
pub(crate) fn demo_wav<'py>(py: Python<'py>) -> Bound<'py, PyBytes> {
    let wav = py.detach(auralis_core::demo::demo_wav);
    PyBytes::new(py, &wav)
}

/// The preset names.
#[pyfunction]
pub(crate) fn presets() -> Vec<&'static str> {
    Preset::ALL.iter().map(|p| p.name()).collect()
}

/// What a file is as a stream of `chunk_seconds` chunks, from a probe alone (no analysis,
/// nothing mastered): frames, sample_rate (48000, the rate of every output), channels,
/// duration, chunk_duration, total_chunks, source_sample_rate, mime, signature.
#[pyfunction]
#[pyo3(
    signature = (path, chunk_seconds=auralis_core::DEFAULT_CHUNK_SECONDS),
    text_signature = "(path, chunk_seconds=30.0)"
)]
pub(crate) fn probe<'py>(
    py: Python<'py>,
    path: PathBuf,
    chunk_seconds: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let (i, signature) = heavy(py, || auralis_core::stream::probe(&path, chunk_seconds))?;
    let d = info_dict(py, &i)?;
    d.set_item("signature", signature.to_hex())?;
    Ok(d)
}

/// The library's defaults (the same in Rust, C, Python and the CLI): preset, intensity,
/// chunk_seconds, bitrate, complexity, container.
#[pyfunction]
pub(crate) fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = StreamSettings::default();
    let d = PyDict::new(py);
    d.set_item("preset", s.mastering.preset.name())?;
    d.set_item("intensity", s.mastering.intensity)?;
    d.set_item("chunk_seconds", s.chunk_seconds)?;
    d.set_item("bitrate", s.opus.bitrate_bps)?;
    d.set_item("complexity", s.opus.complexity)?;
    d.set_item("container", s.container.name())?;
    Ok(d)
}

/// Shared engines alive now: one per (cache directory, render threads) in use, released with
/// the last stream using it; at most 16 at once.
#[pyfunction]
pub(crate) fn shared_engine_count() -> usize {
    auralis_core::stream::shared_engine_count()
}

/// The content signature of the file at `path` (size, modification time and a hash of its
/// first and last 64 KiB), as hex: the identity the engine's cache keys use. Two reads, no
/// decoding.
#[pyfunction]
pub(crate) fn file_signature(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    heavy(py, || {
        Ok(auralis_core::FileSignature::of_path(&path)?.to_hex())
    })
}

/// What the tags of the file at `path` say: a dict of title, artist, album, album_artist
/// (str or None), track and disc (int or None), and the track's duration in seconds (float,
/// from the container as the decoder opens it). Probes the file, decodes nothing of its audio.
#[pyfunction]
pub(crate) fn read_tags<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let (t, duration) = heavy(py, || {
        let source = auralis_core::Source::open(&path)?;
        Ok((source.tags().clone(), source.info().duration_s()))
    })?;
    let d = PyDict::new(py);
    d.set_item("duration", duration)?;
    d.set_item("title", t.title)?;
    d.set_item("artist", t.artist)?;
    d.set_item("album", t.album)?;
    d.set_item("album_artist", t.album_artist)?;
    d.set_item("track", t.track)?;
    d.set_item("disc", t.disc)?;
    Ok(d)
}
