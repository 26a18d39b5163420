//! The stream engine: one [`Stream`] per (track, settings), over a process-wide [`Engine`]
//! that holds the chunk cache and the prefetch workers.
//!
//! ```text
//! Engine ── ChunkCache (memory LRU + disk, single flight)      shared by every stream
//!        └─ prefetch workers (priority queue, cancellable)
//! Stream ── the track (Renderer, FileSignature), its analysis, its mastering, its chunk plan
//!        ├─ chunk k: WebM media segment / chunk file / clusters one by one / PCM / WAV
//!        ├─ transition chunks (from other settings, crossfaded)
//!        └─ the whole track (WAV, WebM)
//! ```
//!
//! Opening a stream probes the file, takes its signature and loads the track analysis and the
//! calibrated mastering from the cache (computing and storing them if missing). Every request
//! checks the index before any work and the file's size and modification time (a stat) before
//! and after computing, so a file that changes while a stream is open gives
//! [`crate::DecodeError::Changed`], never chunks of two versions. Requests a caller waits for
//! run on the caller's thread and pause the prefetch workers (which start no new job while one
//! is running), so prefetching never queues ahead of them: a waited-for request shares the CPU
//! at most with the jobs already running, one chunk's work each.

mod clusters;
mod engine;
mod pcm;
mod queue;
mod serve;
mod settings;
mod source;

pub use crate::format::wav::WavFormat;
pub use clusters::ChunkClusters;
pub use engine::{
    release_shared_engines, shared_engine, shared_engine_count, Engine, EngineConfig, EngineStats,
    MAX_SHARED_ENGINES,
};
pub use pcm::rms_db;
pub use queue::{
    GainMode, ItemPlace, Join, Queue, QueueChunk, QueueItem, QueueLayout, MAX_CROSSFADE_S,
};
pub use settings::{StreamSettings, MAX_FADE_MS};
pub use source::ChunkSource;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::analysis::TrackAnalysis;
use crate::cache::{CacheEntry, CacheKey, Claim, Origin};
use crate::error::Error;
use crate::format::webm;
use crate::format::{packets, Container};
use crate::mastering::{Mastering, MasteringParams, MasteringSettings};
use crate::opus::EncodedChunk;
use crate::pipeline::{ChunkRender, Transition};
use crate::plan::{ChunkPlan, ChunkRange};
use crate::prefetch::{Outcome, Priority};
use crate::signature::FileSignature;
use clusters::{ChunkGroups, Live};
use engine::{lock, Track};

/// Level reported for digital silence, in dB.
pub const SILENCE_DB: f64 = -120.0;

/// What a stream is, for a player or a `metadata` endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// Frames at 48 kHz.
    pub frames: u64,
    /// Always 48 000.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u16,
    /// `frames / 48 000`.
    pub duration_s: f64,
    /// The chunk length.
    pub chunk_seconds: f64,
    /// Number of chunks.
    pub total_chunks: u64,
    /// The source file's sample rate.
    pub source_sample_rate: u32,
    /// Frames of the source at its own rate (the length at [`crate::OutputRate::Source`]).
    pub source_frames: u64,
    /// The container's MIME type: `audio/webm; codecs="opus"` or `audio/mp4; codecs="opus"`
    /// (Safari wants `codecs="Opus"` for MP4: see [`crate::format::mp4::MIME_SAFARI`]).
    pub mime: &'static str,
}

/// What a file is as a WebM stream with `chunk_seconds` chunks, and its signature, from a probe
/// alone: no analysis, no mastering, nothing decoded past what the probe needs. For callers
/// that must answer "how long, how many chunks" before any audio work (the Python drop-in's
/// constructor).
pub fn probe(
    path: impl AsRef<Path>,
    chunk_seconds: f64,
) -> Result<(StreamInfo, FileSignature), Error> {
    let path = path.as_ref();
    let signature = FileSignature::of_path(path)?;
    let renderer = crate::Renderer::new(crate::Source::open(path)?);
    let plan = renderer.plan(chunk_seconds)?;
    if !signature.still_matches(path) {
        return Err(crate::DecodeError::Changed {
            path: path.to_path_buf(),
        }
        .into());
    }
    let info = StreamInfo {
        frames: plan.frames(),
        sample_rate: crate::OUTPUT_RATE_HZ,
        channels: renderer.channels(),
        duration_s: plan.duration_s(),
        chunk_seconds: plan.chunk_seconds(),
        total_chunks: plan.total_chunks(),
        source_sample_rate: renderer.source().info().sample_rate,
        source_frames: renderer.source().info().frames,
        mime: webm::MIME,
    };
    Ok((info, signature))
}

/// One chunk's level, for the Python layer's `chunk_rms_history` / `chunk_gain_history`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkLevel {
    /// RMS of the chunk's mastered audio over all channels, dBFS ([`SILENCE_DB`] for silence).
    pub rms_db: f64,
    /// Gain applied at the chunk's start: the track's static loudness gain (the same for every
    /// chunk; 0 dB when the design needs none or the chain is bypassed).
    pub gain_db: f64,
}

/// A served chunk: its bytes and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// The bytes.
    pub bytes: Arc<[u8]>,
    /// Cache origin (for an `X-Cache` header).
    pub origin: Origin,
}

pub(crate) struct StreamInner {
    engine: Engine,
    track: Arc<Track>,
    settings: StreamSettings,
    mastering: Arc<Mastering>,
    plan: ChunkPlan,
    levels: Mutex<HashMap<u64, f64>>,
    generation: AtomicU64,
    siblings: Mutex<Vec<(StreamSettings, Stream)>>,
}

/// One track with one set of settings. Cheap to clone (shared); `Send + Sync`: any number of
/// threads may ask one stream for chunks at once.
///
/// ```
/// use auralis_core::{Engine, Origin, OutputRate, StreamSettings};
///
/// let engine = Engine::new(&Default::default());
/// let settings = StreamSettings { chunk_seconds: 10.0, ..Default::default() };
/// let stream = engine.open_bytes(auralis_core::demo::demo_wav(), Some("wav"), settings)?;
/// // For Media Source Extensions: the init segment once, then media segments in any order.
/// let init = stream.init_segment();
/// let first = stream.chunk_media_segment(2)?; // rendered, encoded and cached
/// let again = stream.chunk_media_segment(2)?; // the same bytes, from the memory cache
/// assert_eq!((first.bytes.clone(), again.origin), (again.bytes, Origin::Memory));
/// assert_eq!(&init[..4], &[0x1A, 0x45, 0xDF, 0xA3]); // an EBML header: WebM
/// // PCM for other consumers: at 48 kHz, or at the file's own 44.1 kHz.
/// let pcm = stream.pcm_range(OutputRate::Source, 0, 4410)?;
/// assert_eq!(pcm.len(), 4410 * 2);
/// assert!(stream.chunk_media_segment(13).is_err()); // chunks 0..=12
/// # Ok::<(), auralis_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Stream {
    inner: Arc<StreamInner>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("info", &self.info())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A chunk's Opus packets (see `format::packets`), served in either container.
    Packets,
    Pcm,
}

impl Stream {
    fn new(engine: Engine, track: Arc<Track>, settings: StreamSettings) -> Result<Self, Error> {
        let plan = track.renderer.plan(settings.chunk_seconds)?;
        let mastering = track.mastering(&engine.inner, settings.mastering())?;
        track.check_unchanged()?;
        Ok(Stream {
            inner: Arc::new(StreamInner {
                engine,
                track,
                settings,
                mastering,
                plan,
                levels: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
                siblings: Mutex::new(Vec::new()),
            }),
        })
    }

    fn downgrade(&self) -> Weak<StreamInner> {
        Arc::downgrade(&self.inner)
    }

    fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Relaxed)
    }

    /// The same track with other settings, sharing the opened file and the analysis (and the
    /// cache entries of chunks whose key is the same: a stream in the other container serves
    /// this stream's chunks without encoding them again). Kept by this stream, so asking again
    /// is free. Checked like any settings.
    pub fn with_settings(&self, settings: StreamSettings) -> Result<Stream, Error> {
        settings.validate()?;
        self.sibling(settings)
    }

    /// [`Self::with_settings`] of settings already checked (by the call that took them).
    pub(crate) fn sibling(&self, settings: StreamSettings) -> Result<Stream, Error> {
        if settings == self.inner.settings {
            return Ok(self.clone());
        }
        if let Some((_, sib)) = lock(&self.inner.siblings)
            .iter()
            .find(|(s, _)| *s == settings)
        {
            return Ok(sib.clone());
        }
        let sib = Stream::new(
            self.inner.engine.clone(),
            self.inner.track.clone(),
            settings,
        )?;
        lock(&self.inner.siblings).push((settings, sib.clone()));
        Ok(sib)
    }

    /// The same track with another preset and intensity (other settings kept): see
    /// [`Stream::with_settings`].
    pub fn with_mastering(&self, mastering: impl Into<MasteringSettings>) -> Result<Stream, Error> {
        let mastering = mastering.into();
        self.with_settings(StreamSettings {
            mastering,
            ..self.inner.settings
        })
    }

    /// The same track in another container (other settings kept): see [`Stream::with_settings`].
    pub fn with_container(&self, container: Container) -> Result<Stream, Error> {
        self.with_settings(StreamSettings {
            container,
            ..self.inner.settings
        })
    }

    /// The same track at another Opus bitrate (other settings kept), for bitrate switching at a
    /// chunk boundary: the init segment is the same, so a player appends this stream's chunks
    /// after the other's. See [`Stream::with_settings`].
    pub fn with_bitrate(&self, bitrate_bps: u32) -> Result<Stream, Error> {
        let mut settings = self.inner.settings;
        settings.opus.bitrate_bps = bitrate_bps;
        self.with_settings(settings)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The settings.
    pub fn settings(&self) -> &StreamSettings {
        &self.inner.settings
    }

    /// The source file's path (`None` for in-memory sources).
    pub fn path(&self) -> Option<&Path> {
        self.inner.track.path.as_deref()
    }

    /// What the file's tags say (title, artist, album, track and disc numbers).
    pub fn tags(&self) -> &crate::Tags {
        self.inner.track.renderer.source().tags()
    }

    /// The source's signature (the identity in cache keys).
    pub fn signature(&self) -> &FileSignature {
        &self.inner.track.signature
    }

    /// Metadata.
    pub fn info(&self) -> StreamInfo {
        let plan = &self.inner.plan;
        let source = self.inner.track.renderer.source().info();
        StreamInfo {
            frames: plan.frames(),
            sample_rate: crate::OUTPUT_RATE_HZ,
            channels: self.inner.track.renderer.channels(),
            duration_s: plan.duration_s(),
            chunk_seconds: plan.chunk_seconds(),
            total_chunks: plan.total_chunks(),
            source_sample_rate: source.sample_rate,
            source_frames: source.frames,
            mime: self.inner.settings.container.mime(),
        }
    }

    /// The chunk plan.
    pub fn plan(&self) -> &ChunkPlan {
        &self.inner.plan
    }

    /// Chunk `index`'s place on the timeline (checked).
    pub fn chunk(&self, index: u64) -> Result<ChunkRange, Error> {
        Ok(self.inner.plan.chunk(index)?)
    }

    /// The track analysis the mastering was designed from.
    pub fn analysis(&self) -> &TrackAnalysis {
        &self.inner.mastering.analysis
    }

    /// The mastering parameters in use.
    pub fn mastering(&self) -> &MasteringParams {
        &self.inner.mastering.params
    }

    /// What the mastering does to this track, measured: the analysis of its mastered audio over
    /// the excerpts [`Stream::analysis`] measured (see [`crate::mastering::measure_output`]),
    /// the "after" to set beside that "before". Costs about an analysis; nothing is cached.
    pub fn output_analysis(&self) -> Result<TrackAnalysis, Error> {
        self.output_analysis_with(self.mastering())
    }

    /// [`Stream::output_analysis`] with other parameters (a queue item's, with its album gain).
    pub(crate) fn output_analysis_with(
        &self,
        params: &MasteringParams,
    ) -> Result<TrackAnalysis, Error> {
        let renderer = &self.inner.track.renderer;
        crate::mastering::measure_output(renderer.source(), params, renderer.threads())
    }

    /// The container of this stream's segments and files.
    pub fn container(&self) -> Container {
        self.inner.settings.container
    }

    /// The init segment in the stream's container: identical for every chunk, bitrate and
    /// mastering of the track (WebM's depends on the channel count only).
    pub fn init_segment(&self) -> Vec<u8> {
        crate::pipeline::init_segment(&self.inner.track.renderer, self.container())
    }

    /// The whole mastered track as one WebM file (a continuous encode with Duration and Cues,
    /// for download or `<audio src>`). Mastered and encoded one chunk at a time; the file's bytes
    /// are returned in memory (`chunk::write_whole_track_file` writes them to any `Write` with
    /// bounded memory).
    pub fn full_webm(&self) -> Result<Vec<u8>, Error> {
        self.full_file_in(Container::Webm)
    }

    /// The whole mastered track as one file in the stream's container (WebM, or MP4 with an
    /// edit list: an `.m4a`). Mastered and encoded one chunk at a time, as [`Self::full_webm`].
    pub fn full_file(&self) -> Result<Vec<u8>, Error> {
        self.full_file_in(self.container())
    }

    fn full_file_in(&self, container: Container) -> Result<Vec<u8>, Error> {
        self.run(|| {
            crate::pipeline::whole_track_file(
                &self.inner.track.renderer,
                &self.inner.mastering.params,
                &self.inner.settings.opus,
                container,
            )
        })
    }

    /// Chunk `index`'s level (computed from its audio if it has not been served yet).
    pub fn chunk_level(&self, index: u64) -> Result<ChunkLevel, Error> {
        self.inner.plan.check_index(index)?;
        let known = lock(&self.inner.levels).get(&index).copied();
        let rms_db = match known {
            Some(l) => l,
            None => rms_db(&self.chunk_pcm(index)?),
        };
        Ok(ChunkLevel {
            rms_db,
            gain_db: self.static_gain_db(),
        })
    }

    /// The levels of the chunks served so far (by any request, cached or not), by index.
    pub fn levels_served(&self) -> Vec<(u64, ChunkLevel)> {
        let gain_db = self.static_gain_db();
        let mut out: Vec<(u64, ChunkLevel)> = lock(&self.inner.levels)
            .iter()
            .map(|(&i, &rms_db)| (i, ChunkLevel { rms_db, gain_db }))
            .collect();
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// Queues chunk `index` (of this stream, or of the same track with `mastering` settings)
    /// for the prefetch workers. Ignored for an index outside the track. The job holds this
    /// stream weakly: dropped unrun if the stream is gone or its prefetch was cancelled.
    pub fn prefetch(&self, index: u64, mastering: Option<MasteringSettings>, priority: Priority) {
        if self.inner.plan.check_index(index).is_err() {
            return;
        }
        let (stream, generation) = (self.downgrade(), self.generation());
        let work = move || {
            let Some(inner) = stream.upgrade() else {
                return Outcome::Cancelled;
            };
            let stream = Stream { inner };
            if stream.generation() != generation {
                return Outcome::Cancelled;
            }
            let served = match mastering {
                None => Ok(stream),
                Some(m) => stream.with_mastering(m),
            }
            .and_then(|target| target.chunk_entry(index, None, false));
            if served.is_ok() {
                Outcome::Done
            } else {
                Outcome::Failed
            }
        };
        self.inner
            .engine
            .inner
            .prefetch
            .push(priority, Box::new(work));
    }

    /// Queues up to `count` chunks after `index` at [`Priority::Ahead`]: those that exist (at
    /// most the rest of the track, whatever `count` says; none after the last chunk).
    pub fn prefetch_ahead(&self, index: u64, count: u64) {
        let last = self.inner.plan.total_chunks().saturating_sub(1);
        let end = index.saturating_add(count).min(last);
        let mut i = index.saturating_add(1);
        while i <= end {
            self.prefetch(i, None, Priority::Ahead);
            i += 1;
        }
    }

    /// Queues chunk `index` in each of `alternatives` at [`Priority::Alternative`], so that a
    /// switch to one of them is served from the cache.
    pub fn prefetch_alternatives(&self, index: u64, alternatives: &[MasteringSettings]) {
        for &m in alternatives {
            self.prefetch(index, Some(m), Priority::Alternative);
        }
    }

    /// Drops this stream's queued prefetch jobs (jobs already running finish). Dropping the
    /// stream does the same.
    pub fn cancel_prefetch(&self) {
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
    }

    // ---- internals ----

    fn static_gain_db(&self) -> f64 {
        let p = &self.inner.mastering.params;
        if p.is_bypass() {
            0.0
        } else {
            p.gain_db
        }
    }

    pub(super) fn note_level(&self, index: u64, level_db: f64) {
        if level_db.is_finite() {
            lock(&self.inner.levels).insert(index, level_db);
        }
    }

    /// Runs a computation between two checks that the file is unchanged.
    fn run<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        self.inner.track.check_unchanged()?;
        let out = f()?;
        self.inner.track.check_unchanged()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_types_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        fn sendable<T: Send>() {}
        shared::<Engine>();
        shared::<Stream>();
        sendable::<ChunkClusters>();
    }
}
