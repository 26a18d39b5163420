//! Python bindings of Auralis Core: the native module `auralis_core._native` (PyO3, abi3).
//!
//! Thin wrappers over `auralis_core::stream`: argument conversion, the exception hierarchy and
//! numpy arrays. Every call that decodes, masters, encodes or touches the disk runs through
//! [`heavy`], which releases the GIL, so Python threads (and an asyncio loop using
//! `asyncio.to_thread`) keep running while Rust works, and several threads may share one
//! `Stream`. The pure-Python package (`python/auralis_core/`) adds the drop-in
//! `ChunkedAudioProcessor` on top.

use std::path::PathBuf;
use std::sync::Mutex;

use auralis_core::cache::Origin;
use auralis_core::opus::OpusSettings;
use auralis_core::stream::{
    shared_engine, Engine, EngineConfig, GainMode, Join as CoreJoin, Queue as CoreQueue,
    QueueItem as CoreQueueItem, QueueLayout, Stream as CoreStream, StreamInfo, StreamSettings,
    WavFormat,
};
use auralis_core::{
    CacheConfig, Container, DecodeError, Error, ErrorKind, MasteringSettings, Preset,
};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

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
fn to_py(e: Error) -> PyErr {
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
fn heavy<T: Send>(py: Python<'_>, work: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    py.detach(work).map_err(to_py)
}

fn wav_format(name: &str) -> PyResult<WavFormat> {
    WavFormat::from_name(name).ok_or_else(|| {
        let valid: Vec<&str> = WavFormat::ALL.iter().map(|f| f.name()).collect();
        InvalidArgumentError::new_err(format!(
            "unknown WAV format {name:?} (valid: {})",
            valid.join(", ")
        ))
    })
}

fn preset(name: Option<&str>) -> PyResult<Preset> {
    // `None` serves the original audio, as the Python backend's `preset=None` did.
    Preset::from_name(name.unwrap_or("none")).map_err(|e| to_py(e.into()))
}

/// The engine of a cache directory (or of memory only) and a thread count, shared by every
/// stream opened with them while any of them is alive (released with the last one).
fn engine_for(cache_dir: Option<PathBuf>, render_threads: usize) -> Result<Engine, Error> {
    shared_engine(&EngineConfig {
        cache: CacheConfig {
            disk_dir: cache_dir,
            ..CacheConfig::default()
        },
        render_threads,
        ..EngineConfig::default()
    })
}

/// [`engine_for`], and at the cap of live engines (streams and queues Python has not collected
/// yet, in cycles, may be holding some) a garbage collection and a second try.
fn engine_collecting(
    py: Python<'_>,
    cache_dir: Option<PathBuf>,
    render_threads: usize,
) -> PyResult<Engine> {
    match engine_for(cache_dir.clone(), render_threads) {
        Ok(engine) => Ok(engine),
        Err(_) => {
            py.import("gc")?.call_method0("collect")?;
            engine_for(cache_dir, render_threads).map_err(to_py)
        }
    }
}

/// A stream's metadata as the dict `Stream.info` and `probe` return (their common keys).
fn info_dict<'py>(py: Python<'py>, i: &StreamInfo) -> PyResult<Bound<'py, PyDict>> {
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
fn to_array(py: Python<'_>, pcm: Vec<f32>, channels: u16) -> Bound<'_, PyArray2<f32>> {
    let ch = usize::from(channels);
    let frames = pcm.len() / ch;
    Array2::from_shape_vec((frames, ch), pcm)
        .expect("whole frames")
        .into_pyarray(py)
}

fn transition(from: Option<(Option<String>, f64)>) -> PyResult<Option<MasteringSettings>> {
    from.map(|(p, i)| Ok(MasteringSettings::new(preset(p.as_deref())?, i)))
        .transpose()
}

fn origin_name(origin: Origin) -> &'static str {
    // The values of the example server's `X-Cache` header.
    match origin {
        Origin::Memory => "HIT-MEMORY",
        Origin::Disk => "HIT-DISK",
        Origin::Computed => "MISS",
        Origin::Shared => "HIT-SHARED",
    }
}

impl Stream {
    /// A range of samples at the rate named `output_rate`, made by `make` off the GIL, as a
    /// (frames, channels) array.
    fn range_array<'py>(
        &self,
        py: Python<'py>,
        output_rate: &str,
        make: impl FnOnce(&CoreStream, auralis_core::OutputRate) -> Result<Vec<f32>, Error> + Send,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let rate = output_rate.parse().map_err(to_py)?;
        let pcm = heavy(py, || make(&self.inner, rate))?;
        Ok(to_array(py, pcm, self.inner.info().channels))
    }
}

/// One track with one set of settings (preset, intensity, chunk length, bitrate, complexity).
/// `render_threads`: threads rendering one chunk's segments (0: the available cores; the bytes do
/// not depend on it).
///
/// Thread-safe: any number of Python threads may use one stream; heavy calls release the GIL.
#[pyclass(frozen, module = "auralis_core._native")]
struct Stream {
    inner: CoreStream,
}

#[pymethods]
impl Stream {
    #[new]
    #[pyo3(
        signature = (path, preset=Some(MasteringSettings::DEFAULT.preset.name().to_owned()), intensity=MasteringSettings::DEFAULT.intensity, chunk_seconds=auralis_core::plan::DEFAULT_CHUNK_SECONDS, bitrate=OpusSettings::DEFAULT.bitrate_bps, complexity=OpusSettings::DEFAULT.complexity, cache_dir=None, render_threads=0, container="webm"),
        text_signature = "(path, preset='adaptive', intensity=1.0, chunk_seconds=30.0, bitrate=128000, complexity=10, cache_dir=None, render_threads=0, container='webm')"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        preset: Option<String>,
        intensity: f64,
        chunk_seconds: f64,
        bitrate: u32,
        complexity: u8,
        cache_dir: Option<PathBuf>,
        render_threads: usize,
        container: &str,
    ) -> PyResult<Self> {
        let container = container.parse::<Container>().map_err(to_py)?;
        let settings = StreamSettings {
            container,
            preset: self::preset(preset.as_deref())?,
            intensity,
            chunk_seconds,
            opus: OpusSettings {
                bitrate_bps: bitrate,
                complexity,
            },
            ..StreamSettings::default()
        };
        let engine = engine_collecting(py, cache_dir, render_threads)?;
        let inner = heavy(py, || engine.open(&path, settings))?;
        Ok(Stream { inner })
    }

    /// The same track with another preset and intensity (shares the file and the analysis).
    #[pyo3(signature = (preset, intensity=1.0))]
    fn with_mastering(
        &self,
        py: Python<'_>,
        preset: Option<String>,
        intensity: f64,
    ) -> PyResult<Self> {
        let p = self::preset(preset.as_deref())?;
        let inner = heavy(py, || self.inner.with_mastering((p, intensity)))?;
        Ok(Stream { inner })
    }

    /// The same track in another container, "webm" or "mp4" (shares the file, the analysis
    /// and the cached chunks: nothing is encoded again).
    fn with_container(&self, py: Python<'_>, container: &str) -> PyResult<Self> {
        let c = container.parse::<Container>().map_err(to_py)?;
        let inner = heavy(py, || self.inner.with_container(c))?;
        Ok(Stream { inner })
    }

    /// The same track at another Opus bitrate in bit/s (same init segment: a player may switch
    /// at any chunk boundary).
    fn with_bitrate(&self, py: Python<'_>, bitrate: u32) -> PyResult<Self> {
        let inner = heavy(py, || self.inner.with_bitrate(bitrate))?;
        Ok(Stream { inner })
    }

    /// Metadata: frames, sample_rate, channels, duration, chunk_duration, total_chunks,
    /// source_sample_rate, mime, container, bitrate, preset, intensity, signature.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.settings();
        let d = info_dict(py, &self.inner.info())?;
        d.set_item("container", s.container.name())?;
        d.set_item("bitrate", s.opus.bitrate_bps)?;
        d.set_item("preset", s.preset.name())?;
        d.set_item("intensity", s.intensity)?;
        d.set_item("signature", self.inner.signature().to_hex())?;
        Ok(d)
    }

    /// The track analysis as a JSON string (parse with `json.loads`).
    #[getter]
    fn analysis_json(&self) -> String {
        serde_json::to_string(self.inner.analysis()).expect("analysis serializes")
    }

    /// The mastering parameters in use as a JSON string.
    #[getter]
    fn mastering_json(&self) -> String {
        serde_json::to_string(self.inner.mastering()).expect("parameters serialize")
    }

    /// Chunk `index`'s (start_s, end_s) on the 48 kHz timeline.
    fn chunk_range(&self, index: u64) -> PyResult<(f64, f64)> {
        let c = self.inner.chunk(index).map_err(to_py)?;
        Ok((c.start_s(), c.start_s() + c.duration_s()))
    }

    /// The init segment in the stream's container (the same for every chunk, bitrate and
    /// preset of the track).
    fn init_segment<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.init_segment())
    }

    /// The init segment's strong HTTP entity tag (quotes included).
    fn init_etag(&self) -> String {
        self.inner.init_etag()
    }

    /// Chunk `index`'s strong HTTP entity tag (quotes included) as this stream serves it
    /// (`media_segment`, `iter_chunk_webm`), computed without rendering: equal tags mean equal
    /// bytes in any process. Raises like a chunk request for a bad index, transition or a file
    /// that changed.
    #[pyo3(signature = (index, transition_from=None))]
    fn chunk_etag(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<String> {
        let from = transition(transition_from)?;
        heavy(py, || self.inner.chunk_etag(index, from))
    }

    /// Whether chunk `index` (a transition when `transition_from` is given) is in the cache,
    /// in memory or on disk: serving it renders nothing.
    #[pyo3(signature = (index, transition_from=None))]
    fn is_cached(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<bool> {
        let from = transition(transition_from)?;
        heavy(py, || self.inner.is_cached(index, from))
    }

    /// The file's content signature (hex), as `file_signature` gives it: what the stream's
    /// cache keys are made from.
    #[getter]
    fn signature(&self) -> String {
        self.inner.signature().to_hex()
    }

    /// Chunk `index` as a standalone file in the stream's container (init + media segment; the
    /// name is the original API's, kept). `transition_from`: `(preset, intensity)` of the
    /// previous chunk for a crossfaded switch.
    #[pyo3(signature = (index, transition_from=None))]
    fn chunk_webm<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let from = transition(transition_from)?;
        let file = heavy(py, || self.inner.chunk_file(index, from))?;
        Ok(PyBytes::new(py, &file))
    }

    /// Chunk `index`'s media segment and where it came from ("HIT-MEMORY", "HIT-DISK",
    /// "HIT-SHARED" or "MISS").
    #[pyo3(signature = (index, transition_from=None))]
    fn media_segment<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<(Bound<'py, PyBytes>, &'static str)> {
        let from = transition(transition_from)?;
        let served = heavy(py, || match from {
            None => self.inner.chunk_media_segment(index),
            Some(f) => self.inner.transition_media_segment(index, f),
        })?;
        Ok((PyBytes::new(py, &served.bytes), origin_name(served.origin)))
    }

    /// Chunk `index`'s media segment cluster by cluster (or MP4 fragment by fragment, 1 s
    /// each), encoded as iterated.
    #[pyo3(signature = (index, transition_from=None))]
    fn iter_chunk_webm(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Clusters> {
        let from = transition(transition_from)?;
        let clusters = heavy(py, || self.inner.chunk_clusters(index, from))?;
        Ok(Clusters {
            origin: origin_name(clusters.origin()),
            inner: Mutex::new(clusters),
        })
    }

    /// A preset switch at chunk `index` in one call: `(stream, clusters)`, the stream of the
    /// new preset and intensity and its transition chunk from this stream's settings, cluster
    /// by cluster. The same bytes as `with_mastering(preset, intensity)` then
    /// `iter_chunk_webm(index, transition_from=(this preset, this intensity))`, sooner when the
    /// new setting was never used on this track: its gain is calibrated while the transition's
    /// first part is read.
    #[pyo3(signature = (index, preset, intensity=1.0))]
    fn switch_clusters(
        &self,
        py: Python<'_>,
        index: u64,
        preset: Option<String>,
        intensity: f64,
    ) -> PyResult<(Self, Clusters)> {
        let p = self::preset(preset.as_deref())?;
        let (inner, clusters) = heavy(py, || self.inner.switch_clusters(index, (p, intensity)))?;
        Ok((
            Stream { inner },
            Clusters {
                origin: origin_name(clusters.origin()),
                inner: Mutex::new(clusters),
            },
        ))
    }

    /// Chunk `index`'s mastered audio, float32 of shape (frames, channels) at 48 kHz.
    fn chunk_pcm<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let pcm = heavy(py, || self.inner.chunk_pcm(index))?;
        Ok(to_array(py, pcm, self.inner.info().channels))
    }

    /// The unmastered 48 kHz audio of `[start_s, end_s)` (clamped to the track), float32
    /// (frames, channels).
    fn original_pcm<'py>(
        &self,
        py: Python<'py>,
        start_s: f64,
        end_s: f64,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let pcm = heavy(py, || self.inner.original_pcm(start_s, end_s))?;
        Ok(to_array(py, pcm, self.inner.info().channels))
    }

    /// Frames of the track at `output_rate`: `"48000"` (Opus's rate) or `"source"` (the
    /// file's own rate, never resampled).
    #[pyo3(signature = (output_rate="48000"))]
    fn frames_at(&self, output_rate: &str) -> PyResult<u64> {
        Ok(self.inner.frames_at(output_rate.parse().map_err(to_py)?))
    }

    /// The rate in Hz of outputs at `output_rate` (see `frames_at`).
    #[pyo3(signature = (output_rate="48000"))]
    fn rate_hz(&self, output_rate: &str) -> PyResult<u32> {
        Ok(self.inner.rate_hz(output_rate.parse().map_err(to_py)?))
    }

    /// Frames `[start, end)` at `output_rate`, mastered with the stream's settings: float32
    /// (frames, channels) at `rate_hz(output_rate)`. A pure function of the file, the settings,
    /// the rate and the range; cached.
    #[pyo3(signature = (start, end, output_rate="source"))]
    fn pcm_range<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        end: u64,
        output_rate: &str,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.range_array(py, output_rate, |s, rate| s.pcm_range(rate, start, end))
    }

    /// Frames `[start, end)` at `output_rate`, unmastered (at `"source"`, the decoded samples).
    #[pyo3(signature = (start, end, output_rate="source"))]
    fn original_range<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        end: u64,
        output_rate: &str,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.range_array(py, output_rate, |s, rate| {
            s.original_range(rate, start, end)
        })
    }

    /// `pcm_range(start, end, output_rate)` as WAV bytes in `format` ("float32" or "pcm16").
    #[pyo3(signature = (start, end, output_rate="source", format="float32"))]
    fn wav_range<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        end: u64,
        output_rate: &str,
        format: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let rate = output_rate.parse().map_err(to_py)?;
        let format = wav_format(format)?;
        let wav = heavy(py, || self.inner.wav_range(rate, start, end, format))?;
        Ok(PyBytes::new(py, &wav))
    }

    /// Chunk `index` as WAV bytes (exactly its frames): `format="float32"` (the engine's
    /// samples) or `"pcm16"` (16-bit with TPDF dither, the same bytes on every call).
    #[pyo3(signature = (index, format="float32"))]
    fn chunk_wav<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        format: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let format = wav_format(format)?;
        let wav = heavy(py, || self.inner.chunk_wav(index, format))?;
        Ok(PyBytes::new(py, &wav))
    }

    /// Writes the whole mastered track as a WAV file (exact length) to `path`, in `format`
    /// (see `chunk_wav`): its samples are exactly the chunks' samples joined.
    #[pyo3(signature = (path, format="float32"))]
    fn write_full_wav(&self, py: Python<'_>, path: PathBuf, format: &str) -> PyResult<()> {
        let format = wav_format(format)?;
        heavy(py, || {
            let file = std::fs::File::create(&path).map_err(|e| DecodeError::Io {
                path: path.clone(),
                source: e,
            })?;
            self.inner
                .write_full_wav(std::io::BufWriter::new(file), format)
        })
    }

    /// The whole mastered track as one WebM file.
    fn full_webm<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let webm = heavy(py, || self.inner.full_webm())?;
        Ok(PyBytes::new(py, &webm))
    }

    /// The whole mastered track as one file in the stream's container (WebM, or an MP4 `.m4a`
    /// with an edit list for the exact length).
    fn full_file<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = heavy(py, || self.inner.full_file())?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// An HLS media playlist (version 7, fMP4) over the stream's chunks: `init_uri` in
    /// `#EXT-X-MAP`, and for chunk i `segment_uri` with `{index}` replaced by i, each with its
    /// exact duration. Meant for a stream in the "mp4" container.
    fn hls_playlist(&self, init_uri: &str, segment_uri: &str) -> String {
        auralis_core::format::hls::media_playlist(self.inner.plan(), init_uri, |i| {
            segment_uri.replace("{index}", &i.to_string())
        })
    }

    /// Chunk `index`'s (rms_db, gain_db).
    fn chunk_level(&self, py: Python<'_>, index: u64) -> PyResult<(f64, f64)> {
        let l = heavy(py, || self.inner.chunk_level(index))?;
        Ok((l.rms_db, l.gain_db))
    }

    /// Queues the `count` chunks after `index` for the background workers.
    fn prefetch_ahead(&self, py: Python<'_>, index: u64, count: u64) {
        // Queues at most the rest of the track, without the GIL.
        py.detach(|| self.inner.prefetch_ahead(index, count));
    }

    /// Queues chunk `index` in other (preset, intensity) settings.
    fn prefetch_alternatives(
        &self,
        index: u64,
        alternatives: Vec<(Option<String>, f64)>,
    ) -> PyResult<()> {
        let alts = alternatives
            .into_iter()
            .map(|(p, i)| Ok(MasteringSettings::new(preset(p.as_deref())?, i)))
            .collect::<PyResult<Vec<_>>>()?;
        self.inner.prefetch_alternatives(index, &alts);
        Ok(())
    }

    /// The engine's counters (cache and prefetch).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.engine().stats();
        let d = PyDict::new(py);
        d.set_item("computed", s.cache.computed)?;
        d.set_item("memory_hits", s.cache.memory_hits)?;
        d.set_item("disk_hits", s.cache.disk_hits)?;
        d.set_item("shared", s.cache.shared)?;
        d.set_item("memory_evictions", s.cache.memory_evictions)?;
        d.set_item("disk_evictions", s.cache.disk_evictions)?;
        d.set_item("corrupt", s.cache.corrupt)?;
        d.set_item("disk_write_errors", s.cache.disk_write_errors)?;
        d.set_item("memory_bytes", s.cache.memory_bytes)?;
        d.set_item("prefetch_queued", s.prefetch.queued)?;
        d.set_item("prefetch_completed", s.prefetch.completed)?;
        d.set_item("prefetch_cancelled", s.prefetch.cancelled)?;
        d.set_item("prefetch_failed", s.prefetch.failed)?;
        d.set_item("prefetch_pending", s.prefetch.pending)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let i = self.inner.info();
        let s = self.inner.settings();
        format!(
            "Stream({:?}, preset={:?}, intensity={}, {:.3} s, {} chunks)",
            self.inner
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            s.preset.name(),
            s.intensity,
            i.duration_s,
            i.total_chunks
        )
    }
}

/// Iterator over one chunk's WebM clusters (bytes), made as it is iterated.
/// A join in Python: "gapless", or a crossfade's length in seconds (a number).
fn join_from(value: &Bound<'_, pyo3::PyAny>) -> PyResult<CoreJoin> {
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

/// Tracks on one timeline: one init segment, then chunks appended in order to one
/// SourceBuffer play the tracks back to back (gapless) or crossfaded. `paths`: the files;
/// `joins`: one per boundary (len(paths) - 1), or one for all: "gapless" or a crossfade in
/// seconds (0 to 12); `presets`: one name for all or one per item; `albums`: for
/// `album_gain=True`, the album name of each item (items with equal names share one loudness
/// gain; None: track gain); `container`: "webm" or "mp4" (Safari, iOS); `layout`: "shared"
/// (WebM's default, Chromium: chunks inside a track are the track's own cached chunks, the same
/// cache entries as a `Stream` of it; chunks at a join are rendered from both tracks) or
/// "continuous" (MP4's only layout, and WebM's for Firefox: one chunk grid over the whole
/// queue, every chunk rendered from the queue's audio).
///
/// Thread-safe and async-friendly: heavy calls release the GIL (run them with
/// `asyncio.to_thread` or in a thread pool).
#[pyclass(frozen, module = "auralis_core._native")]
struct Queue {
    inner: CoreQueue,
    paths: Vec<PathBuf>,
}

#[pymethods]
impl Queue {
    #[new]
    #[pyo3(
        signature = (paths, joins=None, presets=None, intensity=MasteringSettings::DEFAULT.intensity, chunk_seconds=auralis_core::plan::DEFAULT_CHUNK_SECONDS, bitrate=OpusSettings::DEFAULT.bitrate_bps, complexity=OpusSettings::DEFAULT.complexity, cache_dir=None, render_threads=0, album_gain=false, albums=None, container="webm", layout=None),
        text_signature = "(paths, joins=None, presets=None, intensity=1.0, chunk_seconds=30.0, bitrate=128000, complexity=10, cache_dir=None, render_threads=0, album_gain=False, albums=None, container='webm', layout=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        paths: Vec<PathBuf>,
        joins: Option<Bound<'_, pyo3::PyAny>>,
        presets: Option<Bound<'_, pyo3::PyAny>>,
        intensity: f64,
        chunk_seconds: f64,
        bitrate: u32,
        complexity: u8,
        cache_dir: Option<PathBuf>,
        render_threads: usize,
        album_gain: bool,
        albums: Option<Vec<Option<String>>>,
        container: &str,
        layout: Option<&str>,
    ) -> PyResult<Self> {
        let container = container.parse::<Container>().map_err(to_py)?;
        let layout = match layout {
            Some(name) => name.parse::<QueueLayout>().map_err(to_py)?,
            None => QueueLayout::for_container(container),
        };
        let n = paths.len();
        let boundaries = n.saturating_sub(1);
        let joins: Vec<CoreJoin> = match joins {
            None => vec![CoreJoin::Gapless; boundaries],
            Some(j)
                if j.is_instance_of::<pyo3::types::PyList>()
                    || j.is_instance_of::<pyo3::types::PyTuple>() =>
            {
                j.try_iter()?
                    .map(|v| join_from(&v?))
                    .collect::<PyResult<_>>()?
            }
            Some(j) => vec![join_from(&j)?; boundaries],
        };
        let presets: Vec<Preset> = match presets {
            None => vec![MasteringSettings::DEFAULT.preset; n],
            Some(p) => match p.extract::<String>() {
                Ok(name) => vec![preset(Some(&name))?; n],
                Err(_) => {
                    let names: Vec<Option<String>> = p.extract()?;
                    if names.len() != n {
                        return Err(to_py(Error::InvalidArgument {
                            name: "presets",
                            value: format!("{} for {n} items", names.len()),
                            valid: "one preset name, or one per item",
                        }));
                    }
                    names
                        .iter()
                        .map(|p| preset(p.as_deref()))
                        .collect::<PyResult<_>>()?
                }
            },
        };
        let albums = albums.unwrap_or_else(|| vec![None; n]);
        if albums.len() != n {
            return Err(to_py(Error::InvalidArgument {
                name: "albums",
                value: format!("{} for {n} items", albums.len()),
                valid: "one album name (or None) per item",
            }));
        }
        let items: Vec<CoreQueueItem> = paths
            .iter()
            .zip(presets)
            .zip(albums)
            .map(|((path, preset), album)| CoreQueueItem {
                path: path.clone(),
                mastering: MasteringSettings::new(preset, intensity),
                album,
            })
            .collect();
        let settings = StreamSettings {
            chunk_seconds,
            opus: OpusSettings {
                bitrate_bps: bitrate,
                complexity,
            },
            container,
            ..StreamSettings::default()
        };
        let engine = engine_collecting(py, cache_dir, render_threads)?;
        let gain = if album_gain {
            GainMode::Album
        } else {
            GainMode::Track
        };
        let inner = heavy(py, || {
            CoreQueue::open_with_layout(&engine, &items, &joins, settings, gain, layout)
        })?;
        Ok(Queue { inner, paths })
    }

    /// frames, sample_rate, channels, duration, chunk_duration, total_chunks, mime, container,
    /// layout, items.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let q = &self.inner;
        let d = PyDict::new(py);
        d.set_item("frames", q.frames())?;
        d.set_item("sample_rate", auralis_core::OUTPUT_RATE_HZ)?;
        d.set_item("channels", q.channels())?;
        d.set_item("duration", q.duration_s())?;
        d.set_item("chunk_duration", q.settings().chunk_seconds)?;
        d.set_item("total_chunks", q.total_chunks())?;
        d.set_item("mime", q.mime())?;
        d.set_item("container", q.settings().container.name())?;
        d.set_item("layout", q.layout().name())?;
        d.set_item("items", q.places().len())?;
        Ok(d)
    }

    /// Each item: path, start (s), duration (s), start_frame, frames, played_frames,
    /// fade_in_frames, first_chunk, gain_db, signature, analysis_json, mastering_json.
    #[getter]
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let rate = f64::from(auralis_core::OUTPUT_RATE_HZ);
        self.inner
            .places()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let stream = self.inner.item_stream(i).expect("an item per place");
                let d = PyDict::new(py);
                d.set_item("path", self.paths[i].clone())?;
                d.set_item("start", p.start_frame as f64 / rate)?;
                d.set_item("duration", p.frames as f64 / rate)?;
                d.set_item("start_frame", p.start_frame)?;
                d.set_item("frames", p.frames)?;
                d.set_item("played_frames", p.played_frames)?;
                d.set_item("fade_in_frames", p.fade_in_frames)?;
                d.set_item("first_chunk", p.first_chunk)?;
                d.set_item("gain_db", p.gain_db)?;
                d.set_item("signature", stream.signature().to_hex())?;
                d.set_item(
                    "analysis_json",
                    serde_json::to_string(stream.analysis()).expect("analysis serializes"),
                )?;
                d.set_item(
                    "mastering_json",
                    serde_json::to_string(stream.mastering()).expect("parameters serialize"),
                )?;
                Ok(d)
            })
            .collect()
    }

    /// What the mastering does to item `i`, measured: the analysis (JSON, the fields of
    /// `analysis_json`) of its mastered audio, with the gain it gets in this queue, over the
    /// excerpts its source analysis measured. Costs about an analysis (releases the GIL).
    fn item_output_analysis_json(&self, py: Python<'_>, i: usize) -> PyResult<String> {
        let a = heavy(py, || self.inner.item_output_analysis(i))?;
        Ok(serde_json::to_string(&a).expect("analysis serializes"))
    }

    /// Chunk `index`: item, item_chunk, boundary, start_frame, frames, start (s), end (s).
    fn chunk<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.chunk(index).map_err(to_py)?;
        let rate = f64::from(auralis_core::OUTPUT_RATE_HZ);
        let d = PyDict::new(py);
        d.set_item("index", c.index)?;
        d.set_item("item", c.item)?;
        d.set_item("item_chunk", c.item_chunk)?;
        d.set_item("boundary", c.boundary)?;
        d.set_item("start_frame", c.start_frame)?;
        d.set_item("frames", c.frames)?;
        d.set_item("start", c.start_frame as f64 / rate)?;
        d.set_item("end", (c.start_frame + c.frames) as f64 / rate)?;
        Ok(d)
    }

    /// How many leading chunks this queue and `other` (an edit of it) share byte for byte: a
    /// player keeps those it appended and fetches the rest from `other`.
    fn unchanged_chunks(&self, other: &Queue) -> u64 {
        self.inner.unchanged_chunks(&other.inner)
    }

    /// The chunk playing at `seconds` on the queue's timeline.
    fn chunk_at(&self, seconds: f64) -> PyResult<u64> {
        self.inner.chunk_at_time(seconds).map_err(to_py)
    }

    /// The init segment in the queue's container (WebM's is the same as each track's own).
    fn init_segment<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.init_segment())
    }

    /// An HLS media playlist (version 7, fMP4) over the queue's chunks: `init_uri` in
    /// `#EXT-X-MAP`, and for chunk i `segment_uri` with `{index}` replaced by i. Only for an
    /// MP4 queue (InvalidArgumentError otherwise).
    fn hls_playlist(&self, init_uri: &str, segment_uri: &str) -> PyResult<String> {
        self.inner
            .hls_playlist(init_uri, |i| segment_uri.replace("{index}", &i.to_string()))
            .map_err(to_py)
    }

    /// Chunk `index`'s media segment on the queue's timeline and where it came from
    /// ("HIT-MEMORY", "HIT-DISK", "HIT-SHARED" or "MISS"). With `transition_from` (the same
    /// queue under other presets: an A/B switch), the chunk starts as that queue's audio and
    /// crossfades into this one's, as a track's preset switch does.
    #[pyo3(signature = (index, transition_from=None))]
    fn media_segment<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        transition_from: Option<&Queue>,
    ) -> PyResult<(Bound<'py, PyBytes>, &'static str)> {
        let served = heavy(py, || match transition_from {
            Some(from) => self.inner.transition_media_segment(index, &from.inner),
            None => self.inner.chunk_media_segment(index),
        })?;
        Ok((PyBytes::new(py, &served.bytes), origin_name(served.origin)))
    }

    /// Chunk `index`'s media segment unit by unit (WebM Clusters or MP4 fragments of 1 s),
    /// each given as soon as it is made (see `Stream.iter_chunk_webm`); `origin` says whether it
    /// is being rendered ("MISS"). The units joined are `media_segment(index,
    /// transition_from)`'s bytes.
    #[pyo3(signature = (index, transition_from=None))]
    fn iter_chunk(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<&Queue>,
    ) -> PyResult<Clusters> {
        let clusters = heavy(py, || {
            self.inner
                .chunk_clusters(index, transition_from.map(|q| &q.inner))
        })?;
        Ok(Clusters {
            origin: origin_name(clusters.origin()),
            inner: Mutex::new(clusters),
        })
    }

    /// Chunk `index` as a standalone file in the queue's container (init + media segment; the
    /// name is the backend's).
    fn chunk_webm<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyBytes>> {
        let file = heavy(py, || self.inner.chunk_file(index))?;
        Ok(PyBytes::new(py, &file))
    }

    /// The queue's mastered audio over `[start_s, end_s)` (crossfades mixed), float32
    /// (frames, channels) at 48 kHz.
    fn pcm<'py>(
        &self,
        py: Python<'py>,
        start_s: f64,
        end_s: f64,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let frame = |s: f64| (s * f64::from(auralis_core::OUTPUT_RATE_HZ)).round() as i64;
        let pcm = heavy(py, || self.inner.pcm(frame(start_s), frame(end_s)))?;
        Ok(to_array(py, pcm, self.inner.channels()))
    }

    fn __repr__(&self) -> String {
        format!(
            "Queue({} items, {:.2} s, {} chunks)",
            self.paths.len(),
            self.inner.duration_s(),
            self.inner.total_chunks()
        )
    }
}

#[pyclass(module = "auralis_core._native")]
struct Clusters {
    inner: Mutex<auralis_core::stream::ChunkClusters>,
    origin: &'static str,
}

#[pymethods]
impl Clusters {
    /// Where the chunk comes from ("MISS" when it is being encoded as iterated).
    #[getter]
    fn origin(&self) -> &'static str {
        self.origin
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let next = py.detach(|| {
            self.inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next()
        });
        match next {
            None => Ok(None),
            Some(Ok(cluster)) => Ok(Some(PyBytes::new(py, &cluster))),
            Some(Err(e)) => Err(to_py(e)),
        }
    }
}

/// Joins two chunks (float32 arrays of shape (frames, channels)) with a linear crossfade over
/// `overlap_samples` frames, as the Python backend's function of the same name.
#[pyfunction]
#[pyo3(signature = (chunk1, chunk2, overlap_samples, curve="linear"))]
fn crossfade_between_chunks<'py>(
    py: Python<'py>,
    chunk1: PyReadonlyArray2<'py, f32>,
    chunk2: PyReadonlyArray2<'py, f32>,
    overlap_samples: i64,
    curve: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    use auralis_core::crossfade::{crossfade_between_chunks as join, Curve};
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
fn demo_wav<'py>(py: Python<'py>) -> Bound<'py, PyBytes> {
    let wav = py.detach(auralis_core::demo::demo_wav);
    PyBytes::new(py, &wav)
}

/// The preset names.
#[pyfunction]
fn presets() -> Vec<&'static str> {
    Preset::ALL.iter().map(|p| p.name()).collect()
}

/// What a file is as a stream of `chunk_seconds` chunks, from a probe alone (no analysis,
/// nothing mastered): frames, sample_rate (48000, the rate of every output), channels,
/// duration, chunk_duration, total_chunks, source_sample_rate, mime, signature.
#[pyfunction]
#[pyo3(
    signature = (path, chunk_seconds=auralis_core::plan::DEFAULT_CHUNK_SECONDS),
    text_signature = "(path, chunk_seconds=30.0)"
)]
fn probe<'py>(py: Python<'py>, path: PathBuf, chunk_seconds: f64) -> PyResult<Bound<'py, PyDict>> {
    let (i, signature) = heavy(py, || auralis_core::stream::probe(&path, chunk_seconds))?;
    let d = info_dict(py, &i)?;
    d.set_item("signature", signature.to_hex())?;
    Ok(d)
}

/// The library's defaults (the same in Rust, C, Python and the CLI): preset, intensity,
/// chunk_seconds, bitrate, complexity, container.
#[pyfunction]
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = StreamSettings::default();
    let d = PyDict::new(py);
    d.set_item("preset", s.preset.name())?;
    d.set_item("intensity", s.intensity)?;
    d.set_item("chunk_seconds", s.chunk_seconds)?;
    d.set_item("bitrate", s.opus.bitrate_bps)?;
    d.set_item("complexity", s.opus.complexity)?;
    d.set_item("container", s.container.name())?;
    Ok(d)
}

/// Shared engines alive now: one per (cache directory, render threads) in use, released with
/// the last stream using it; at most 16 at once.
#[pyfunction]
fn shared_engine_count() -> usize {
    auralis_core::stream::shared_engine_count()
}

/// The content signature of the file at `path` (size, modification time and a hash of its
/// first and last 64 KiB), as hex: the identity the engine's cache keys use. Two reads, no
/// decoding.
#[pyfunction]
fn file_signature(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    heavy(py, || {
        Ok(auralis_core::signature::FileSignature::of_path(&path)?.to_hex())
    })
}

/// What the tags of the file at `path` say: a dict of title, artist, album, album_artist
/// (str or None), track and disc (int or None). Probes the file, decodes nothing of its audio.
#[pyfunction]
fn read_tags<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let t = heavy(py, || Ok(auralis_core::Source::open(&path)?.tags().clone()))?;
    let d = PyDict::new(py);
    d.set_item("title", t.title)?;
    d.set_item("artist", t.artist)?;
    d.set_item("album", t.album)?;
    d.set_item("album_artist", t.album_artist)?;
    d.set_item("track", t.track)?;
    d.set_item("disc", t.disc)?;
    Ok(d)
}

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
