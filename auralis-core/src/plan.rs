//! The chunk plan: how a track's 48 kHz timeline is cut into chunks.
//!
//! Chunk `k` covers frames `[k·C, min((k+1)·C, T))`, where `C` is the chunk length in frames
//! (a multiple of 960, i.e. of 20 ms, so every chunk holds whole Opus frames) and `T` the
//! track's frame count. There are `ceil(T / C)` chunks, none empty; together they tile the
//! track exactly. Seconds convert to frames by rounding to the nearest frame, never by
//! truncation.

use serde::Serialize;

use crate::error::PlanError;
use crate::units::{frames_to_seconds, seconds_to_frames, PACKET_FRAMES};
use crate::OUTPUT_RATE_HZ;

/// Default chunk length.
pub const DEFAULT_CHUNK_SECONDS: f64 = 30.0;
/// Longest accepted chunk length.
pub const MAX_CHUNK_SECONDS: f64 = 600.0;

/// One chunk's place on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChunkRange {
    /// The chunk index.
    pub index: u64,
    /// First frame (48 kHz).
    pub start_frame: u64,
    /// Frames in the chunk.
    pub frames: u64,
}

impl ChunkRange {
    /// One past the last frame.
    pub fn end_frame(&self) -> u64 {
        self.start_frame + self.frames
    }
    /// Start time in seconds.
    pub fn start_s(&self) -> f64 {
        frames_to_seconds(self.start_frame)
    }
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        frames_to_seconds(self.frames)
    }
}

/// A track's chunk geometry.
///
/// ```
/// use auralis_core::ChunkPlan;
///
/// // 65 s at 48 kHz in 30 s chunks: 30 s, 30 s and the last 5 s.
/// let plan = ChunkPlan::new(65 * 48_000, 30.0)?;
/// assert_eq!(plan.total_chunks(), 3);
/// assert_eq!((plan.chunk(2)?.start_frame, plan.chunk(2)?.frames), (60 * 48_000, 5 * 48_000));
/// assert_eq!(plan.chunk_at_time(61.5)?, 2);
/// assert_eq!(
///     plan.chunk(3).unwrap_err().to_string(),
///     "invalid chunk index 3 (track has 3 chunks: 0..=2)"
/// );
/// # Ok::<(), auralis_core::PlanError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    frames: u64,
    chunk_frames: u64,
}

impl ChunkPlan {
    /// Plans `frames` 48 kHz frames in chunks of `chunk_seconds`.
    pub fn new(frames: u64, chunk_seconds: f64) -> Result<Self, PlanError> {
        let chunk_frames = Self::chunk_frames_for(chunk_seconds)?;
        if frames == 0 {
            return Err(PlanError::EmptyTrack);
        }
        Ok(ChunkPlan {
            frames,
            chunk_frames,
        })
    }

    /// Validates a chunk length and converts it to frames.
    pub fn chunk_frames_for(chunk_seconds: f64) -> Result<u64, PlanError> {
        let invalid = || PlanError::InvalidChunkLength {
            seconds: chunk_seconds,
            max_seconds: MAX_CHUNK_SECONDS,
        };
        if !chunk_seconds.is_finite() || chunk_seconds <= 0.0 || chunk_seconds > MAX_CHUNK_SECONDS {
            return Err(invalid());
        }
        let exact = chunk_seconds * f64::from(OUTPUT_RATE_HZ);
        let frames = exact.round();
        // Tolerate the float error of decimal input such as 0.1 * 3, nothing more.
        if (exact - frames).abs() > 1e-6
            || !(frames as u64).is_multiple_of(PACKET_FRAMES as u64)
            || frames < 1.0
        {
            return Err(invalid());
        }
        Ok(frames as u64)
    }

    /// Frames in the track.
    pub fn frames(&self) -> u64 {
        self.frames
    }
    /// Frames in a full chunk.
    pub fn chunk_frames(&self) -> u64 {
        self.chunk_frames
    }
    /// Chunk length in seconds.
    pub fn chunk_seconds(&self) -> f64 {
        frames_to_seconds(self.chunk_frames)
    }
    /// Track duration in seconds.
    pub fn duration_s(&self) -> f64 {
        frames_to_seconds(self.frames)
    }
    /// Number of chunks, `ceil(frames / chunk_frames)`.
    pub fn total_chunks(&self) -> u64 {
        self.frames.div_ceil(self.chunk_frames)
    }

    /// Checks an index against the plan.
    pub fn check_index(&self, index: u64) -> Result<(), PlanError> {
        if index < self.total_chunks() {
            Ok(())
        } else {
            Err(PlanError::ChunkIndexOutOfRange {
                index,
                total: self.total_chunks(),
            })
        }
    }

    /// Chunk `index`'s range.
    pub fn chunk(&self, index: u64) -> Result<ChunkRange, PlanError> {
        self.check_index(index)?;
        let start_frame = index * self.chunk_frames;
        let frames = self.chunk_frames.min(self.frames - start_frame);
        Ok(ChunkRange {
            index,
            start_frame,
            frames,
        })
    }

    /// All chunks in order.
    pub fn chunks(&self) -> impl Iterator<Item = ChunkRange> + '_ {
        (0..self.total_chunks()).map(|i| self.chunk(i).expect("index below total_chunks"))
    }

    /// The chunk holding `frame`.
    pub fn chunk_at_frame(&self, frame: u64) -> Result<u64, PlanError> {
        if frame >= self.frames {
            return Err(PlanError::TimeOutOfRange {
                seconds: frames_to_seconds(frame),
                duration_s: self.duration_s(),
            });
        }
        Ok(frame / self.chunk_frames)
    }

    /// The rest of the chunk holding `frame`, from `frame` to the chunk's end: what a switch at
    /// the playhead renders (a segment a player appends over what it buffered from `frame` on).
    /// `frame` must lie inside the track ([`PlanError::TimeOutOfRange`]) on the 20 ms packet
    /// grid ([`PlanError::OffPacketGrid`]); a chunk's first frame gives the whole chunk.
    pub fn tail_from(&self, frame: u64) -> Result<ChunkRange, PlanError> {
        let index = self.chunk_at_frame(frame)?;
        if !frame.is_multiple_of(PACKET_FRAMES as u64) {
            return Err(PlanError::OffPacketGrid { frame });
        }
        let chunk = self.chunk(index)?;
        Ok(ChunkRange {
            index,
            start_frame: frame,
            frames: chunk.start_frame + chunk.frames - frame,
        })
    }

    /// The chunk to play from `seconds` (for seeking). The track's end time maps to the last
    /// chunk; anything outside `[0, duration]` or not finite is an error.
    pub fn chunk_at_time(&self, seconds: f64) -> Result<u64, PlanError> {
        if !seconds.is_finite() || seconds < 0.0 || seconds > self.duration_s() {
            return Err(PlanError::TimeOutOfRange {
                seconds,
                duration_s: self.duration_s(),
            });
        }
        self.chunk_at_frame(seconds_to_frames(seconds).min(self.frames - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_tile_the_track_and_only_the_last_is_short() {
        for frames in [
            1, 959, 960, 1_440_000, 1_440_001, 2_160_000, 2_880_000, 10_000_019,
        ] {
            let plan = ChunkPlan::new(frames, 30.0).unwrap();
            let chunks: Vec<_> = plan.chunks().collect();
            assert_eq!(chunks.len() as u64, plan.total_chunks());
            assert_eq!(plan.total_chunks(), frames.div_ceil(1_440_000));
            let mut next = 0;
            for c in &chunks {
                assert_eq!(c.start_frame, next);
                assert!(c.frames > 0 && c.frames <= 1_440_000);
                next = c.end_frame();
            }
            assert_eq!(next, frames);
            assert!(chunks[..chunks.len() - 1]
                .iter()
                .all(|c| c.frames == 1_440_000));
        }
    }

    #[test]
    fn chunk_length_must_be_a_positive_multiple_of_20_ms() {
        assert_eq!(ChunkPlan::chunk_frames_for(30.0), Ok(1_440_000));
        assert_eq!(ChunkPlan::chunk_frames_for(0.02), Ok(960));
        assert_eq!(ChunkPlan::chunk_frames_for(0.1 * 3.0), Ok(14_400));
        for bad in [0.0, -1.0, 0.01, 0.03, 29.999, 1e9, f64::NAN, f64::INFINITY] {
            let err = ChunkPlan::chunk_frames_for(bad).unwrap_err();
            assert!(
                matches!(err, PlanError::InvalidChunkLength { .. }),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn out_of_range_index_names_the_valid_range() {
        let plan = ChunkPlan::new(8 * 1_440_000 - 5, 30.0).unwrap();
        let err = plan.chunk(12).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid chunk index 12 (track has 8 chunks: 0..=7)"
        );
        assert!(plan.chunk(7).is_ok());
    }

    #[test]
    fn time_to_chunk_rounds_to_the_nearest_frame() {
        let plan = ChunkPlan::new(3 * 1_440_000, 30.0).unwrap();
        // 29.99999 s is 1 439 999.52 frames: rounds to frame 1 440 000, chunk 1.
        assert_eq!(plan.chunk_at_time(29.999_99), Ok(1));
        assert_eq!(plan.chunk_at_time(29.999_98), Ok(0));
        assert_eq!(plan.chunk_at_time(0.0), Ok(0));
        assert_eq!(plan.chunk_at_time(90.0), Ok(2));
        assert!(plan.chunk_at_time(90.1).is_err());
        assert!(plan.chunk_at_time(-0.1).is_err());
        assert!(plan.chunk_at_time(f64::NAN).is_err());
        assert_eq!(ChunkPlan::new(0, 30.0), Err(PlanError::EmptyTrack));
    }
}
