//! Conversions between Python values and the core's: names, dicts, numpy arrays, joins.

use auralis_core::cache::Origin;
use auralis_core::stream::{Join as CoreJoin, StreamInfo, WavFormat};
use auralis_core::{Error, MasteringSettings, Preset};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::*;

pub(crate) fn wav_format(name: &str) -> PyResult<WavFormat> {
    WavFormat::from_name(name).ok_or_else(|| {
        let valid: Vec<&str> = WavFormat::ALL.iter().map(|f| f.name()).collect();
        InvalidArgumentError::new_err(format!(
            "unknown WAV format {name:?} (valid: {})",
            valid.join(", ")
        ))
    })
}

pub(crate) fn preset(name: Option<&str>) -> PyResult<Preset> {
    // `None` serves the original audio, as the Python backend's `preset=None` did.
    Preset::from_name(name.unwrap_or("none")).map_err(|e| to_py(e.into()))
}

/// A stream's metadata as the dict `Stream.info` and `probe` return (their common keys).
pub(crate) fn info_dict<'py>(py: Python<'py>, i: &StreamInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("frames", i.frames)?;
    d.set_item("sample_rate", i.sample_rate)?;
    d.set_item("channels", i.channels)?;
    d.set_item("duration", i.duration_s)?;
    d.set_item("chunk_duration", i.chunk_seconds)?;
    d.set_item("total_chunks", i.total_chunks)?;
    d.set_item("source_sample_rate", i.source_sample_rate)?;
    d.set_item("source_frames", i.source_frames)?;
    d.set_item("mime", i.mime)?;
    Ok(d)
}

/// Float32 samples of shape (frames, channels).
pub(crate) fn to_array(py: Python<'_>, pcm: Vec<f32>, channels: u16) -> Bound<'_, PyArray2<f32>> {
    let ch = usize::from(channels);
    let frames = pcm.len() / ch;
    Array2::from_shape_vec((frames, ch), pcm)
        .expect("whole frames")
        .into_pyarray(py)
}

pub(crate) fn transition(
    from: Option<(Option<String>, f64)>,
) -> PyResult<Option<MasteringSettings>> {
    from.map(|(p, i)| Ok(MasteringSettings::new(preset(p.as_deref())?, i)))
        .transpose()
}

pub(crate) fn origin_name(origin: Origin) -> &'static str {
    // The values of the example server's `X-Cache` header.
    match origin {
        Origin::Memory => "HIT-MEMORY",
        Origin::Disk => "HIT-DISK",
        Origin::Computed => "MISS",
        Origin::Shared => "HIT-SHARED",
    }
}

/// A join in Python: "gapless", or a crossfade's length in seconds (a number).
pub(crate) fn join_from(value: &Bound<'_, pyo3::PyAny>) -> PyResult<CoreJoin> {
    if let Ok(text) = value.extract::<String>() {
        return match text.as_str() {
            "gapless" => Ok(CoreJoin::Gapless),
            other => Err(to_py(Error::InvalidArgument {
                name: "join",
                value: format!("{other:?}"),
                valid: "\"gapless\" or a crossfade in seconds (0 to 12)",
            })),
        };
    }
    let seconds: f64 = value.extract().map_err(|_| {
        to_py(Error::InvalidArgument {
            name: "join",
            value: value.to_string(),
            valid: "\"gapless\" or a crossfade in seconds (0 to 12)",
        })
    })?;
    Ok(CoreJoin::Crossfade { seconds })
}
