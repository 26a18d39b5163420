//! Resampling to 48 kHz, chunk by chunk, with the same samples as one continuous pass.
//!
//! rubato's synchronous `Fft` resampler works on fixed blocks (for 44.1 kHz: a multiple of 147
//! input frames to the same multiple of 160 output frames) and carries one block of overlap
//! from block to block. A fresh resampler whose input starts on a block boundary of the
//! continuous block grid, with zeros standing for the audio before the track, is therefore in
//! the same state as the continuous one after one block. Each range is resampled by a fresh
//! resampler that starts at least [`PRE_ROLL_FRAMES`] before the range on that grid and reads
//! at least [`POST_ROLL_FRAMES`] past it (zeros past the track's end, as the continuous pass
//! does), so a chunk's samples do not depend on which chunks were resampled before, and equal
//! the continuous pass (tests check both, bit for bit).
//!
//! Timing: rubato's anti-aliasing filter is centred half a source sample late and only whole
//! samples of its delay are trimmed, so the 48 kHz output is half a source sample early
//! (0.54 output frames, 11 µs, at 44.1 kHz; measured with impulses). The offset is constant,
//! the same for every chunk and channel, and inaudible.
//!
//! Length: a source of `n` frames at rate `r` becomes `ceil(n · 48000 / r)` frames, so the
//! output covers the whole input duration; 48 kHz sources pass through untouched.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::OUTPUT_RATE_HZ;

/// Output frames decoded before a range to let the resampler settle (100 ms).
pub const PRE_ROLL_FRAMES: u64 = 4800;
/// Output frames read past a range so its last samples see their real future (100 ms).
pub const POST_ROLL_FRAMES: u64 = 4800;

/// Frames at 48 kHz for `frames` at `rate` Hz: `ceil(frames · 48000 / rate)`.
pub fn output_frames(frames: u64, rate: u32) -> u64 {
    let num = u128::from(frames) * u128::from(OUTPUT_RATE_HZ);
    num.div_ceil(u128::from(rate)) as u64
}

/// The input span a range of output frames needs, on the resampler's block grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSpan {
    /// First input frame (negative: before the track, read as zeros).
    pub start: i64,
    /// One past the last input frame (may lie past the track's end: zeros).
    pub end: i64,
    /// Output frames to drop before the range starts.
    pub skip: u64,
}

/// The fixed geometry of conversion from one source rate to 48 kHz.
#[derive(Debug, Clone)]
pub struct Resampling {
    rate: u32,
    channels: usize,
    in_block: u64,
    out_block: u64,
}

impl Resampling {
    /// The geometry for `rate` Hz with `channels` channels, or `None` at 48 kHz.
    pub fn new(rate: u32, channels: usize) -> Option<Self> {
        if rate == OUTPUT_RATE_HZ {
            return None;
        }
        let probe = make(rate, channels);
        Some(Resampling {
            rate,
            channels,
            in_block: probe.input_frames_next() as u64,
            out_block: probe.output_frames_next() as u64,
        })
    }

    /// The source rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Which input frames output frames `[start, end)` need, with pre- and post-roll.
    pub fn span(&self, start: u64, end: u64) -> InputSpan {
        let first_block = (start as i64 - PRE_ROLL_FRAMES as i64).div_euclid(self.out_block as i64);
        let end_block = (end + POST_ROLL_FRAMES).div_ceil(self.out_block) as i64;
        InputSpan {
            start: first_block * self.in_block as i64,
            end: end_block * self.in_block as i64,
            skip: (start as i64 - first_block * self.out_block as i64) as u64,
        }
    }

    /// Resamples `input` (interleaved, exactly the frames of `span`) and returns output frames
    /// `[span.skip, span.skip + frames)`.
    pub fn process(&self, input: &[f32], span: InputSpan, frames: u64) -> Vec<f32> {
        let ch = self.channels;
        let in_frames = input.len() / ch;
        debug_assert_eq!(in_frames as i64, span.end - span.start);
        let adapter =
            InterleavedSlice::new(input, ch, in_frames).expect("input holds whole frames");
        let out = make(self.rate, ch)
            .process_all(&adapter, in_frames, None)
            .expect("buffers are sized by the resampler's own figures");
        let mut data = out.take_data();
        let from = span.skip as usize * ch;
        let to = from + frames as usize * ch;
        assert!(
            to <= data.len(),
            "span() reads enough input for the requested frames"
        );
        data.truncate(to);
        data.drain(..from);
        data
    }
}

fn make(rate: u32, channels: usize) -> Fft<f32> {
    // 1024 is a hint; rubato rounds the block to a multiple of rate / gcd(rate, 48000).
    Fft::<f32>::new(
        rate as usize,
        OUTPUT_RATE_HZ as usize,
        1024,
        channels,
        FixedSync::Both,
    )
    .expect("rates are validated when a source is opened (8..=192 kHz)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_length_covers_the_input_duration() {
        assert_eq!(output_frames(44_100, 44_100), 48_000);
        assert_eq!(output_frames(1, 44_100), 2);
        assert_eq!(output_frames(1_984_500, 44_100), 2_160_000);
        assert_eq!(output_frames(881_764, 22_050), 1_919_487);
        assert_eq!(output_frames(1_152_000, 96_000), 576_000);
        assert_eq!(output_frames(0, 44_100), 0);
    }

    #[test]
    fn spans_sit_on_the_block_grid_with_roll_on_both_sides() {
        let r = Resampling::new(44_100, 2).unwrap();
        assert_eq!(r.in_block * 160, r.out_block * 147);
        for (start, end) in [(0, 1_440_000), (1_440_000, 2_880_000), (5, 6)] {
            let s = r.span(start, end);
            assert_eq!(s.start.rem_euclid(r.in_block as i64), 0);
            assert_eq!(s.end.rem_euclid(r.in_block as i64), 0);
            let out_start = s.start / r.in_block as i64 * r.out_block as i64;
            assert_eq!(out_start + s.skip as i64, start as i64);
            assert!(s.skip >= PRE_ROLL_FRAMES);
            let out_end = s.end / r.in_block as i64 * r.out_block as i64;
            assert!(out_end >= (end + POST_ROLL_FRAMES) as i64);
        }
    }
}
