//! `Stream`: one track with one set of settings.

use std::path::PathBuf;
use std::sync::Mutex;

use auralis_core::opus::OpusSettings;
use auralis_core::stream::{Stream as CoreStream, StreamSettings};
use auralis_core::{Container, DecodeError, Error, MasteringSettings};
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::{clusters::*, convert::*, engine::*, errors::*};

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
pub(crate) struct Stream {
    pub(crate) inner: CoreStream,
}

#[pymethods]
impl Stream {
    #[new]
    #[pyo3(
        signature = (path, preset=Some(MasteringSettings::DEFAULT.preset.name().to_owned()), intensity=MasteringSettings::DEFAULT.intensity, chunk_seconds=auralis_core::DEFAULT_CHUNK_SECONDS, bitrate=OpusSettings::DEFAULT.bitrate_bps, complexity=OpusSettings::DEFAULT.complexity, cache_dir=None, render_threads=0, container="webm"),
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
            mastering: MasteringSettings::new(self::preset(preset.as_deref())?, intensity),
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
        d.set_item("preset", s.mastering.preset.name())?;
        d.set_item("intensity", s.mastering.intensity)?;
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

    /// What the mastering does to this track, measured: the analysis (JSON, the fields of
    /// `analysis_json`) of its mastered audio over the excerpts `analysis_json` measured, the
    /// "after" beside that "before". Costs about an analysis (releases the GIL); not cached.
    fn output_analysis_json(&self, py: Python<'_>) -> PyResult<String> {
        let a = heavy(py, || self.inner.output_analysis())?;
        Ok(serde_json::to_string(&a).expect("analysis serializes"))
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

    /// `chunk_etag` of a switch at the playhead (`media_segment_at(at_frame,
    /// transition_from)`): checks the frame and the settings, renders nothing.
    #[pyo3(signature = (at_frame, transition_from=None))]
    fn chunk_etag_at(
        &self,
        py: Python<'_>,
        at_frame: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<String> {
        let from = transition(transition_from)?.unwrap_or(self.inner.settings().mastering);
        heavy(py, || self.inner.transition_etag_at(at_frame, from))
    }

    /// A switch at the playhead: from frame `at_frame` (48 kHz frames on the 20 ms packet
    /// grid, inside the track) to the end of its chunk, this stream's audio crossfaded from
    /// `transition_from`'s (`(preset, intensity)`; None: the rest of the chunk as this stream
    /// masters it) over the fade starting there, and where it came from. A player removes
    /// what it buffered from `at_frame / 48000` s on and appends this, then this stream's
    /// next chunks. Raises ValueError for a frame off the grid, IndexOutOfRangeError past the
    /// end.
    #[pyo3(signature = (at_frame, transition_from=None))]
    fn media_segment_at<'py>(
        &self,
        py: Python<'py>,
        at_frame: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<(Bound<'py, PyBytes>, &'static str)> {
        let from = transition(transition_from)?;
        media_segment_at_of(py, &self.inner, at_frame, from.as_ref())
    }

    /// `media_segment_at` unit by unit (1 s each), encoded as iterated.
    #[pyo3(signature = (at_frame, transition_from=None))]
    fn iter_chunk_at(
        &self,
        py: Python<'_>,
        at_frame: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Clusters> {
        let from = transition(transition_from)?;
        units_at_of(py, &self.inner, at_frame, from.as_ref())
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

    /// Chunk `index` as a standalone file in the stream's container (init + media segment).
    /// `transition_from`: `(preset, intensity)` of the previous chunk for a crossfaded switch.
    #[pyo3(signature = (index, transition_from=None))]
    fn chunk_file<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let from = transition(transition_from)?;
        file_of(py, &self.inner, index, from.as_ref())
    }

    /// Deprecated name of [`Self::chunk_file`] (warns).
    #[pyo3(signature = (index, transition_from=None))]
    fn chunk_webm<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        deprecated(py, "Stream.chunk_webm", "Stream.chunk_file")?;
        self.chunk_file(py, index, transition_from)
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
        media_segment_of(py, &self.inner, index, from.as_ref())
    }

    /// Chunk `index`'s media segment cluster by cluster (or MP4 fragment by fragment, 1 s
    /// each), encoded as iterated.
    #[pyo3(signature = (index, transition_from=None))]
    fn iter_chunk(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Clusters> {
        let from = transition(transition_from)?;
        units_of(py, &self.inner, index, from.as_ref())
    }

    /// Deprecated name of [`Self::iter_chunk`] (warns).
    #[pyo3(signature = (index, transition_from=None))]
    fn iter_chunk_webm(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<(Option<String>, f64)>,
    ) -> PyResult<Clusters> {
        deprecated(py, "Stream.iter_chunk_webm", "Stream.iter_chunk")?;
        self.iter_chunk(py, index, transition_from)
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
            s.mastering.preset.name(),
            s.mastering.intensity,
            i.duration_s,
            i.total_chunks
        )
    }
}
