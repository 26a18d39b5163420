//! `Queue`: tracks on one timeline.

use std::path::PathBuf;

use auralis_core::opus::OpusSettings;
use auralis_core::stream::{
    GainMode, Join as CoreJoin, Queue as CoreQueue, QueueItem as CoreQueueItem, QueueLayout,
    StreamSettings,
};
use auralis_core::{Container, Error, MasteringSettings, Preset};
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::{clusters::*, convert::*, engine::*, errors::*};

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
pub(crate) struct Queue {
    pub(crate) inner: CoreQueue,
    pub(crate) paths: Vec<PathBuf>,
}

#[pymethods]
impl Queue {
    #[new]
    #[pyo3(
        signature = (paths, joins=None, presets=None, intensity=MasteringSettings::DEFAULT.intensity, chunk_seconds=auralis_core::DEFAULT_CHUNK_SECONDS, bitrate=OpusSettings::DEFAULT.bitrate_bps, complexity=OpusSettings::DEFAULT.complexity, cache_dir=None, render_threads=0, album_gain=false, albums=None, container="webm", layout=None),
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
        media_segment_of(py, &self.inner, index, transition_from.map(|q| &q.inner))
    }

    /// Chunk `index`'s media segment unit by unit (WebM Clusters or MP4 fragments of 1 s),
    /// each given as soon as it is made (see `Stream.iter_chunk`); `origin` says whether it
    /// is being rendered ("MISS"). The units joined are `media_segment(index,
    /// transition_from)`'s bytes.
    #[pyo3(signature = (index, transition_from=None))]
    fn iter_chunk(
        &self,
        py: Python<'_>,
        index: u64,
        transition_from: Option<&Queue>,
    ) -> PyResult<Clusters> {
        units_of(py, &self.inner, index, transition_from.map(|q| &q.inner))
    }

    /// A switch at the playhead on the queue's timeline (A/B or a preset change while it
    /// plays): from queue frame `at_frame` (on the playing chunk's 20 ms packet grid) to the
    /// end of that chunk, this queue's audio crossfaded from `transition_from`'s (the same
    /// queue under other masterings; None: the rest of the chunk as this queue masters it),
    /// and where it came from.
    #[pyo3(signature = (at_frame, transition_from=None))]
    fn media_segment_at<'py>(
        &self,
        py: Python<'py>,
        at_frame: u64,
        transition_from: Option<&Queue>,
    ) -> PyResult<(Bound<'py, PyBytes>, &'static str)> {
        media_segment_at_of(py, &self.inner, at_frame, transition_from.map(|q| &q.inner))
    }

    /// `media_segment_at` unit by unit (1 s each), made as iterated.
    #[pyo3(signature = (at_frame, transition_from=None))]
    fn iter_chunk_at(
        &self,
        py: Python<'_>,
        at_frame: u64,
        transition_from: Option<&Queue>,
    ) -> PyResult<Clusters> {
        units_at_of(py, &self.inner, at_frame, transition_from.map(|q| &q.inner))
    }

    /// Chunk `index` as a standalone file in the queue's container (init + media segment).
    fn chunk_file<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyBytes>> {
        file_of(py, &self.inner, index, None)
    }

    /// Deprecated name of [`Self::chunk_file`] (warns).
    fn chunk_webm<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyBytes>> {
        deprecated(py, "Queue.chunk_webm", "Queue.chunk_file")?;
        self.chunk_file(py, index)
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
