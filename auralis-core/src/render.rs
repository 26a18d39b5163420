//! Chunk rendering: 48 kHz PCM for any range of the output timeline, from the file alone.
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
use crate::resample::{output_frames, Resampling};

/// Renders 48 kHz PCM ranges of one source.
///
/// `Send + Sync` and cheap to clone; each call opens its own reader unless given one.
#[derive(Debug, Clone)]
pub struct Renderer {
    source: Source,
    resampling: Option<Resampling>,
    frames: u64,
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
        }
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

    /// The chunk plan of this track for a chunk length.
    pub fn plan(&self, chunk_seconds: f64) -> Result<ChunkPlan, PlanError> {
        ChunkPlan::new(self.frames, chunk_seconds)
    }

    /// Chunk `index` of `plan` as interleaved 48 kHz samples. The index is checked before any
    /// work.
    pub fn render_chunk(&self, plan: &ChunkPlan, index: u64) -> Result<Vec<f32>, Error> {
        let chunk = plan.chunk(index)?;
        if plan.frames() != self.frames {
            return Err(Error::Plan(PlanError::TimeOutOfRange {
                seconds: plan.duration_s(),
                duration_s: crate::plan::frames_to_seconds(self.frames),
            }));
        }
        let mut reader = self.source.reader()?;
        Ok(self.render_range(&mut reader, chunk.start_frame, chunk.end_frame())?)
    }

    /// Output frames `[start, end)` as interleaved 48 kHz samples, read through `reader`
    /// (which must come from this renderer's source).
    pub fn render_range(
        &self,
        reader: &mut RangeReader,
        start: u64,
        end: u64,
    ) -> Result<Vec<f32>, DecodeError> {
        let source_frames = self.source.info().frames;
        let Some(resampling) = &self.resampling else {
            let mut out =
                Vec::with_capacity((end.saturating_sub(start) as usize) * self.channels() as usize);
            reader.read(start, end.min(self.frames), |block| {
                out.extend_from_slice(block)
            })?;
            return Ok(out);
        };
        if start > end || end > self.frames {
            return Err(DecodeError::RangeOutOfBounds {
                path: self
                    .source
                    .path()
                    .map_or_else(|| "<memory>".into(), Into::into),
                start,
                end,
                frames: self.frames,
            });
        }
        let ch = self.channels() as usize;
        let span = resampling.span(start, end);
        let mut input = Vec::with_capacity((span.end - span.start) as usize * ch);
        // Zeros stand for the time before the track and after its end.
        let read_start = span.start.clamp(0, source_frames as i64) as u64;
        let read_end = span.end.clamp(0, source_frames as i64) as u64;
        input.resize((read_start as i64 - span.start) as usize * ch, 0.0);
        reader.read(read_start, read_end, |block| input.extend_from_slice(block))?;
        input.resize((span.end - span.start) as usize * ch, 0.0);
        Ok(resampling.process(&input, span, end - start))
    }

    /// Chunk `index` of `plan`, mastered with `params` (see the `mastering` module).
    pub fn render_mastered_chunk(
        &self,
        plan: &ChunkPlan,
        index: u64,
        params: &MasteringParams,
    ) -> Result<Vec<f32>, Error> {
        let chunk = plan.chunk(index)?;
        if plan.frames() != self.frames {
            return Err(Error::Plan(PlanError::TimeOutOfRange {
                seconds: plan.duration_s(),
                duration_s: crate::plan::frames_to_seconds(self.frames),
            }));
        }
        let mut reader = self.source.reader()?;
        Ok(self.render_mastered(&mut reader, chunk.start_frame, chunk.end_frame(), params)?)
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
        if params.is_bypass() {
            return self.render_range(reader, start, end);
        }
        let ch = self.channels() as usize;
        let from = start.saturating_sub(WARMUP_FRAMES) / COMPRESSOR_BLOCK * COMPRESSOR_BLOCK;
        let to = (end + POST_ROLL_FRAMES).min(self.frames);
        let mut buf = self.render_range(reader, from, to.max(end))?;
        mastering::process(
            &mut buf,
            ch,
            crate::OUTPUT_RATE_HZ,
            from,
            params,
            Stages::All,
        );
        buf.truncate((end - from) as usize * ch);
        buf.drain(..(start - from) as usize * ch);
        Ok(buf)
    }
}
