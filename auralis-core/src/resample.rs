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
//! Timing: output frame `n` is source time `n / 48000` exactly, at every rate. rubato's
//! filter is a windowed sinc centred on input sample `fft_size_in / 2` (integer division)
//! while the resampler trims `fft_size_out / 2` output frames as its delay; the two agree only
//! when the FFT block holds an even number of input frames. With an odd block (44.1 kHz's
//! minimum block is 147 frames, 37.8 kHz's 63) the output came out half a source sample early
//! (0.54 output frames at 44.1 kHz, 1.09 at 22.05 kHz). [`block_hint`] therefore asks rubato
//! for an even number of minimum blocks whenever the minimum block is odd
//! (`tests/timing.rs` checks the timing against sinusoids evaluated at the output instants).
//!
//! Length: a source of `n` frames at rate `r` becomes `ceil(n · 48000 / r)` frames, so the
//! output covers the whole input duration; 48 kHz sources pass through untouched.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::decode::RangeReader;
use crate::error::DecodeError;
use crate::OUTPUT_RATE_HZ;

/// Output frames decoded before a range to let the resampler settle (100 ms).
pub const PRE_ROLL_FRAMES: u64 = 4800;
/// Output frames read past a range so its last samples see their real future (100 ms).
pub const POST_ROLL_FRAMES: u64 = 4800;

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

    /// Channels.
    pub fn channels(&self) -> usize {
        self.channels
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

    /// A resampler fed block by block ([`Streaming::push`]) with the input of `span`, which
    /// returns output frames `[span.skip, span.skip + frames)`: the samples rubato's `process_all`
    /// gives over the span's whole input.
    /// Memory: one input block, not the span's input.
    pub fn stream(&self, span: InputSpan, frames: u64) -> Streaming {
        let resampler = make(self.rate, self.channels);
        let ch = self.channels;
        Streaming {
            drop: resampler.output_delay() + span.skip as usize,
            scratch: vec![0.0; resampler.output_frames_max() * ch],
            block: Vec::with_capacity(self.in_block as usize * ch),
            out: Vec::with_capacity(frames as usize * ch),
            emitted: 0,
            want: frames as usize * ch,
            in_block: self.in_block as usize,
            channels: ch,
            resampler,
        }
    }
}

/// One span's resampling, fed incrementally: the same samples as rubato's `process_all` over
/// the whole span (the same blocks go through the same resampler in the same order; blocks past
/// the last wanted frame are not processed, since nothing of theirs is kept).
pub struct Streaming {
    resampler: Fft<f32>,
    channels: usize,
    in_block: usize,
    /// Input frames waiting for a whole block (interleaved).
    block: Vec<f32>,
    scratch: Vec<f32>,
    /// Output samples still to drop: rubato's delay, then the span's skip (frames).
    drop: usize,
    /// Output not yet taken by [`Streaming::drain`].
    out: Vec<f32>,
    /// Output samples already taken.
    emitted: usize,
    /// Output samples wanted.
    want: usize,
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("in_block", &self.in_block)
            .field("out", &(self.out.len(), self.want))
            .finish_non_exhaustive()
    }
}

impl Streaming {
    /// Feeds interleaved input samples (whole frames).
    pub fn push(&mut self, mut samples: &[f32]) {
        let block_len = self.in_block * self.channels;
        while !samples.is_empty() && self.emitted + self.out.len() < self.want {
            if self.block.is_empty() && samples.len() >= block_len {
                let (whole, rest) = samples.split_at(block_len);
                self.run(whole);
                samples = rest;
                continue;
            }
            let take = (block_len - self.block.len()).min(samples.len());
            self.block.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.block.len() == block_len {
                let block = std::mem::take(&mut self.block);
                self.run(&block);
                self.block = block;
                self.block.clear();
            }
        }
    }

    /// The wanted output. The input pushed must have been whole blocks; rubato's tail (zeros
    /// through the filter) completes the output, as `process_all` does.
    pub fn finish(mut self) -> Vec<f32> {
        debug_assert!(self.block.is_empty(), "spans are whole blocks");
        let zeros = vec![0.0; self.in_block * self.channels];
        while self.emitted + self.out.len() < self.want {
            self.run(&zeros);
        }
        self.out
    }

    /// Hands the output produced so far to `sink` and forgets it (for consumers that take the
    /// output as it comes; [`Streaming::finish`] then returns only the rest).
    pub fn drain(&mut self, mut sink: impl FnMut(&[f32])) {
        if !self.out.is_empty() {
            sink(&self.out);
            self.emitted += self.out.len();
            self.out.clear();
        }
    }

    /// Processes one block of input.
    fn run(&mut self, input: &[f32]) {
        let ch = self.channels;
        let adapter_in =
            InterleavedSlice::new(input, ch, self.in_block).expect("a block holds whole frames");
        let out_frames = self.scratch.len() / ch;
        let mut adapter_out = InterleavedSlice::new_mut(&mut self.scratch, ch, out_frames)
            .expect("scratch holds whole frames");
        let (_, produced) = self
            .resampler
            .process_into_buffer(&adapter_in, &mut adapter_out, None)
            .expect("buffers are sized by the resampler's own figures");
        let dropped = produced.min(self.drop);
        self.drop -= dropped;
        let produced = &self.scratch[dropped * ch..produced * ch];
        let room = self.want - self.emitted - self.out.len();
        self.out
            .extend_from_slice(&produced[..produced.len().min(room)]);
    }
}

/// The block size to ask rubato for at `rate`: about 1024 input frames, an even number of
/// minimum blocks (`rate / gcd(rate, 48000)` input frames, `48000 / gcd` output frames). The two
/// minimum blocks are coprime, so one of them is odd: only an even count makes both the input and
/// the output block even, and with them the filter's centre and the delay rubato trims the same
/// instant (see the module docs).
pub fn block_hint(rate: u32) -> usize {
    let (a, b) = (rate as usize, OUTPUT_RATE_HZ as usize);
    let gcd = {
        let (mut x, mut y) = (a, b);
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    let min_in = a / gcd;
    let blocks = 1024usize.div_ceil(min_in).max(1).next_multiple_of(2);
    blocks * min_in
}

fn make(rate: u32, channels: usize) -> Fft<f32> {
    // With FixedSync::Both rubato uses ceil(hint / min_in) minimum blocks: exactly the hint's.
    Fft::<f32>::new(
        rate as usize,
        OUTPUT_RATE_HZ as usize,
        block_hint(rate),
        channels,
        FixedSync::Both,
    )
    .expect("rates are validated when a source is opened (8..=192 kHz)")
}

/// Output frames `[start, end)` of `reader`'s source (`source_frames` long) resampled with
/// `resampling` (see [`stream_resampled`]).
pub(crate) fn read_resampled(
    reader: &mut RangeReader,
    resampling: &Resampling,
    source_frames: u64,
    start: u64,
    end: u64,
) -> Result<Vec<f32>, DecodeError> {
    let mut out = Vec::with_capacity((end - start) as usize * resampling.channels());
    stream_resampled(reader, resampling, source_frames, start, end, |s| {
        out.extend_from_slice(s)
    })?;
    Ok(out)
}

/// Output frames `[start, end)` of `reader`'s source (`source_frames` long) resampled with
/// `resampling`, handed to `sink` in order as they are made: the span's input is decoded and
/// streamed into the resampler block by block, so memory is one resampler block of the source,
/// not the span (a 30 s span of a 192 kHz source is 46 MB of f32). Zeros stand for the time
/// before the track and after its end.
pub(crate) fn stream_resampled(
    reader: &mut RangeReader,
    resampling: &Resampling,
    source_frames: u64,
    start: u64,
    end: u64,
    mut sink: impl FnMut(&[f32]),
) -> Result<(), DecodeError> {
    let ch = resampling.channels();
    let span = resampling.span(start, end);
    let mut stream = resampling.stream(span, end - start);
    const ZEROS: [f32; 4096] = [0.0; 4096];
    let push_zeros = |stream: &mut Streaming, frames: i64| {
        let mut samples = frames.max(0) as usize * ch;
        while samples > 0 {
            let n = samples.min(ZEROS.len() / ch * ch);
            stream.push(&ZEROS[..n]);
            samples -= n;
        }
    };
    let read_start = span.start.clamp(0, source_frames as i64) as u64;
    let read_end = span.end.clamp(0, source_frames as i64) as u64;
    push_zeros(&mut stream, read_start as i64 - span.start);
    stream.drain(&mut sink);
    reader.read(read_start, read_end, |block| {
        stream.push(block);
        stream.drain(&mut sink);
    })?;
    push_zeros(&mut stream, span.end - read_end as i64);
    sink(&stream.finish());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::output_frames;

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
    fn blocks_hold_an_even_number_of_input_frames() {
        for rate in [
            8_000, 11_025, 22_050, 32_000, 37_800, 44_100, 64_000, 88_200, 96_000, 176_400, 191_999,
        ] {
            let r = Resampling::new(rate, 1).unwrap();
            assert_eq!(r.in_block as usize, block_hint(rate), "{rate}");
            assert!(
                r.in_block.is_multiple_of(2) && r.out_block.is_multiple_of(2),
                "{rate}: {r:?}"
            );
        }
        assert_eq!(block_hint(44_100), 8 * 147);
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
