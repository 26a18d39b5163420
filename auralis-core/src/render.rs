//! 48 kHz PCM for any range of the output timeline, from the file alone: unmastered
//! ([`Renderer::render_range`]) or mastered ([`Renderer::render_mastered_span`]). Chunk-level
//! outputs (threads, Opus, WebM) are [`crate::pipeline`]'s, built on this.
//!
//! A range is computed from scratch every time: decode the source range it needs (with the
//! decoder's warm-up), resample with a fresh resampler (with its pre- and post-roll). Nothing is
//! carried from one range to the next, which is what makes chunk `k` the same samples whether
//! it is rendered alone, after other chunks, in another thread or in another process. The cost
//! is the roll-around: about 0.2 s of extra decoding and resampling per chunk (under 1 % at
//! 30 s chunks).

use crate::decode::{RangeReader, Source};
use crate::error::{DecodeError, Error, PlanError};
use crate::mastering::{
    self, MasteringParams, Stages, COMPRESSOR_BLOCK, POST_ROLL_FRAMES, WARMUP_FRAMES,
};
use crate::plan::ChunkPlan;
use crate::resample::{stream_resampled, Resampling};
use crate::units::output_frames;
use crate::units::OutputRate;

/// Renders 48 kHz PCM ranges of one source.
///
/// `Send + Sync` and cheap to clone; each call opens its own reader unless given one.
///
/// ```
/// use auralis_core::{Renderer, Source};
///
/// let renderer = Renderer::new(Source::from_bytes(auralis_core::demo::demo_wav(), Some("wav"))?);
/// let plan = renderer.plan(10.0)?;
/// // Chunk 3 alone equals the same frames of a render of chunks 0 to 3 in one pass.
/// let alone = renderer.render_chunk(&plan, 3)?;
/// let chunk = plan.chunk(3)?;
/// let mut reader = renderer.source().reader()?;
/// let continuous = renderer.render_range(&mut reader, 0, chunk.end_frame())?;
/// assert_eq!(alone, continuous[(chunk.start_frame * 2) as usize..]);
/// # Ok::<(), auralis_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Renderer {
    source: Source,
    resampling: Option<Resampling>,
    frames: u64,
    threads: usize,
}

impl Renderer {
    /// Opens a file for rendering.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, DecodeError> {
        Ok(Self::new(Source::open(path)?))
    }

    /// Renders an opened source.
    pub fn new(source: Source) -> Self {
        let info = source.info();
        let resampling = Resampling::new(info.sample_rate, info.channels as usize);
        let frames = output_frames(info.frames, info.sample_rate);
        Renderer {
            source,
            resampling,
            frames,
            threads: crate::parallel::default_threads(),
        }
    }

    /// The same renderer using `threads` threads per chunk (0: the available cores). Bytes do
    /// not depend on it (see the `chunk` module).
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = crate::parallel::resolve(threads);
        self
    }

    /// Threads used per chunk.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Frames of the track at 48 kHz.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Output channels (1 or 2).
    pub fn channels(&self) -> u16 {
        self.source.info().channels
    }

    /// Checks an output range against the track (at 48 kHz).
    fn check_range(&self, start: u64, end: u64) -> Result<(), DecodeError> {
        self.check_range_at(OutputRate::Opus, start, end)
    }

    /// Checks a range of `rate`'s timeline against the track.
    pub(crate) fn check_range_at(
        &self,
        rate: OutputRate,
        start: u64,
        end: u64,
    ) -> Result<(), DecodeError> {
        let frames = self.frames_at(rate);
        if start > end || end > frames {
            let path = self
                .source
                .path()
                .map_or_else(|| "<memory>".into(), Into::into);
            return Err(DecodeError::RangeOutOfBounds {
                path,
                start,
                end,
                frames,
            });
        }
        Ok(())
    }

    /// Chunk `index` of `plan`, checked against the plan and this track before any work.
    fn checked_chunk(
        &self,
        plan: &ChunkPlan,
        index: u64,
    ) -> Result<crate::plan::ChunkRange, Error> {
        let chunk = plan.chunk(index)?;
        if plan.frames() != self.frames {
            return Err(Error::Plan(PlanError::TimeOutOfRange {
                seconds: plan.duration_s(),
                duration_s: crate::units::frames_to_seconds(self.frames),
            }));
        }
        Ok(chunk)
    }

    /// The chunk plan of this track for a chunk length.
    pub fn plan(&self, chunk_seconds: f64) -> Result<ChunkPlan, PlanError> {
        ChunkPlan::new(self.frames, chunk_seconds)
    }

    /// Chunk `index` of `plan` as interleaved 48 kHz samples. The index is checked before any
    /// work.
    pub fn render_chunk(&self, plan: &ChunkPlan, index: u64) -> Result<Vec<f32>, Error> {
        let chunk = self.checked_chunk(plan, index)?;
        let mut reader = self.source.reader()?;
        Ok(self.render_range(&mut reader, chunk.start_frame, chunk.end_frame())?)
    }

    /// [`Self::render_range`] appended to `out` (decoded blocks go through the resampler as
    /// they come, see [`stream_resampled`]).
    pub(crate) fn render_range_into(
        &self,
        reader: &mut RangeReader,
        start: u64,
        end: u64,
        out: &mut Vec<f32>,
    ) -> Result<(), DecodeError> {
        let Some(resampling) = &self.resampling else {
            return reader.read(start, end.min(self.frames), |block| {
                out.extend_from_slice(block)
            });
        };
        self.check_range(start, end)?;
        let frames = self.source.info().frames;
        stream_resampled(reader, resampling, frames, start, end, |s| {
            out.extend_from_slice(s)
        })
    }

    /// Output frames `[start, end)` as interleaved 48 kHz samples, read through `reader`
    /// (which must come from this renderer's source).
    pub fn render_range(
        &self,
        reader: &mut RangeReader,
        start: u64,
        end: u64,
    ) -> Result<Vec<f32>, DecodeError> {
        let mut out =
            Vec::with_capacity((end.saturating_sub(start) as usize) * self.channels() as usize);
        self.render_range_into(reader, start, end, &mut out)?;
        Ok(out)
    }

    /// Output frames `[start, end)`, mastered: the chain runs from [`WARMUP_FRAMES`] before
    /// `start` (on the compressor's block grid) to [`POST_ROLL_FRAMES`] after `end`.
    pub fn render_mastered(
        &self,
        reader: &mut RangeReader,
        start: u64,
        end: u64,
        params: &MasteringParams,
    ) -> Result<Vec<f32>, DecodeError> {
        self.render_mastered_span(reader, start, end, 0, 0, params)
    }

    /// Like [`Self::render_mastered`], with `pre` frames before `start` and `post` frames after
    /// `end` taken from the same mastered buffer (silence outside the track), so the range's own
    /// frames are exactly those of `render_mastered(start, end)`. For the encoder's pre- and
    /// post-roll; `post` is at most [`POST_ROLL_FRAMES`].
    pub fn render_mastered_span(
        &self,
        reader: &mut RangeReader,
        start: u64,
        end: u64,
        pre: u64,
        post: u64,
        params: &MasteringParams,
    ) -> Result<Vec<f32>, DecodeError> {
        self.render_mastered_span_from(
            |from, to| self.render_range(reader, from, to),
            start,
            end,
            pre,
            post,
            params,
        )
    }

    /// The 48 kHz frames `[from, to)` that [`Self::render_mastered_span`] renders and masters
    /// for these arguments: the mastering warm-up before, the look-ahead after, within the track.
    pub fn mastered_input_span(
        &self,
        start: u64,
        end: u64,
        pre: u64,
        post: u64,
        params: &MasteringParams,
    ) -> (u64, u64) {
        if params.is_bypass() {
            (start.saturating_sub(pre), (end + post).min(self.frames))
        } else {
            let from =
                start.saturating_sub(WARMUP_FRAMES.max(pre)) / COMPRESSOR_BLOCK * COMPRESSOR_BLOCK;
            (from, (end + POST_ROLL_FRAMES).min(self.frames))
        }
    }

    /// [`Self::render_mastered_span`] with the 48 kHz input taken from `input(from, to)`,
    /// which must return what [`Self::render_range`] would (a chunk's parts hand their input
    /// on to the next part this way).
    pub(crate) fn render_mastered_span_from(
        &self,
        input: impl FnOnce(u64, u64) -> Result<Vec<f32>, DecodeError>,
        start: u64,
        end: u64,
        pre: u64,
        post: u64,
        params: &MasteringParams,
    ) -> Result<Vec<f32>, DecodeError> {
        self.render_mastered_span_gain_from(input, start, end, pre, post, params, || {
            Ok::<_, DecodeError>(params.gain_db)
        })
    }

    /// [`Self::render_mastered_span_from`] with the loudness gain given late: the input is read
    /// and shaped by the stages before the gain (which do not depend on it) first, then
    /// `gain()` is asked for it (a preset switch calibrates it meanwhile). With
    /// `gain() == params.gain_db` the samples are those of [`Self::render_mastered_span_from`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render_mastered_span_gain_from<E: From<DecodeError>>(
        &self,
        input: impl FnOnce(u64, u64) -> Result<Vec<f32>, DecodeError>,
        start: u64,
        end: u64,
        pre: u64,
        post: u64,
        params: &MasteringParams,
        gain: impl FnOnce() -> Result<f64, E>,
    ) -> Result<Vec<f32>, E> {
        assert!(
            post <= POST_ROLL_FRAMES,
            "post-roll beyond the mastering look-ahead"
        );
        let ch = self.channels() as usize;
        self.check_range(start, end)?;
        let (from, to) = self.mastered_input_span(start, end, pre, post, params);
        let mut buf = input(from, to)?;
        if !params.is_bypass() {
            let rate = crate::OUTPUT_RATE_HZ;
            mastering::process(&mut buf, ch, rate, from, params, Stages::BeforeGain);
            mastering::after_gain(&mut buf, ch, rate, gain()?, params);
        }
        // Cut [start - pre, end + post) out of [from, to), with silence outside the track.
        let want_start = start as i64 - pre as i64;
        let want_end = end + post;
        let mut out = Vec::with_capacity((want_end as i64 - want_start) as usize * ch);
        out.resize((from as i64 - want_start).max(0) as usize * ch, 0.0);
        let take_from = (want_start - from as i64).max(0) as usize;
        let take_to = (want_end.min(to) - from) as usize;
        out.extend_from_slice(&buf[take_from * ch..take_to * ch]);
        out.resize((want_end as i64 - want_start) as usize * ch, 0.0);
        Ok(out)
    }
}

impl Renderer {
    /// Frames of the track on `rate`'s timeline.
    pub fn frames_at(&self, rate: OutputRate) -> u64 {
        let info = self.source.info();
        rate.frames_of(info.frames, info.sample_rate)
    }

    /// The rate of `rate`'s outputs for this track, in Hz.
    pub fn rate_hz(&self, rate: OutputRate) -> u32 {
        rate.hz(self.source.info().sample_rate)
    }

    /// Frames `[start, end)` of `rate`'s timeline as interleaved samples at that rate, mastered
    /// with `params` (`None`: the unmastered audio), read through `reader` (which must come from
    /// this renderer's source). At [`OutputRate::Opus`] this is [`Self::render_mastered`] (or
    /// [`Self::render_range`]); at [`OutputRate::Source`] the source's own samples, mastered at
    /// their rate from [`crate::units::WARMUP_SECONDS`] before `start` (on the compressor's block
    /// grid) to 100 ms after `end`: a pure function of the file, the settings and the range.
    pub fn render_at(
        &self,
        reader: &mut RangeReader,
        rate: OutputRate,
        start: u64,
        end: u64,
        params: Option<&MasteringParams>,
    ) -> Result<Vec<f32>, DecodeError> {
        if rate == OutputRate::Opus {
            return match params {
                Some(p) => self.render_mastered(reader, start, end, p),
                None => self.render_range(reader, start, end),
            };
        }
        self.check_range_at(rate, start, end)?;
        let info = self.source.info();
        let (hz, frames, ch) = (info.sample_rate, info.frames, info.channels as usize);
        let mut read = |from: u64, to: u64| {
            let mut buf = Vec::with_capacity((to - from) as usize * ch);
            reader.read(from, to, |block| buf.extend_from_slice(block))?;
            Ok::<_, DecodeError>(buf)
        };
        let Some(params) = params.filter(|p| !p.is_bypass()) else {
            return read(start, end);
        };
        let warmup = crate::units::WARMUP_SECONDS * u64::from(hz);
        let from = start.saturating_sub(warmup) / COMPRESSOR_BLOCK * COMPRESSOR_BLOCK;
        let to = (end + u64::from(hz).div_ceil(10)).min(frames);
        let mut buf = read(from, to)?;
        mastering::process(&mut buf, ch, hz, from, params, Stages::All);
        buf.truncate((end - from) as usize * ch);
        buf.drain(..(start - from) as usize * ch);
        Ok(buf)
    }
}
