//! WAV output at 48 kHz (or a source's own rate): 32-bit float (lossless, the engine's own samples) or 16-bit PCM with
//! TPDF dither ([`WavFormat`]).
//!
//! The dither noise of a sample is a pure function of its place on the track's 48 kHz timeline
//! (frame and channel), so a chunk's 16-bit WAV is the same bytes however and whenever it is
//! made, and the chunks' sample data joined is exactly the whole track's 16-bit file. It is
//! written here (a hash of the sample's position, two uniform variables summed): no dither crate
//! offers position-addressed noise, which chunk independence needs. The container is hound's.

use std::io::{Seek, Write};
use std::path::PathBuf;

use crate::error::{DecodeError, Error};

/// The sample format of a WAV output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WavFormat {
    /// 32-bit IEEE float: the engine's samples, unchanged.
    #[default]
    Float32,
    /// 16-bit PCM with TPDF dither (triangular noise of ±1 LSB peak), clipped to the 16-bit
    /// range: the size and format most players and browsers expect of a WAV.
    Pcm16,
}

impl WavFormat {
    /// Every format.
    pub const ALL: [WavFormat; 2] = [WavFormat::Float32, WavFormat::Pcm16];

    /// `float32` or `pcm16`.
    pub fn name(self) -> &'static str {
        match self {
            WavFormat::Float32 => "float32",
            WavFormat::Pcm16 => "pcm16",
        }
    }

    /// The format of a name given by [`Self::name`], `None` for any other name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Bytes per sample.
    pub fn bytes_per_sample(self) -> u16 {
        match self {
            WavFormat::Float32 => 4,
            WavFormat::Pcm16 => 2,
        }
    }
}

/// The TPDF dither of sample `n` of the track (interleaved index on the 48 kHz timeline), in
/// LSBs: the sum of two independent uniform variables on [-0.5, 0.5), from a SplitMix64 hash
/// of `n`, so the noise of a sample does not depend on which chunk or call writes it.
pub fn tpdf_dither(n: u64) -> f64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let unit = |bits: u64| (bits & 0xFFFF_FFFF) as f64 / 4_294_967_296.0;
    unit(z) + unit(z >> 32) - 1.0
}

/// Sample `x` as 16-bit PCM with the dither of sample `n` (see [`tpdf_dither`]).
pub fn dithered_i16(x: f32, n: u64) -> i16 {
    let y = (f64::from(x) * 32768.0 + tpdf_dither(n)).round();
    y.clamp(-32768.0, 32767.0) as i16
}

/// Writes a WAV at 48 kHz from blocks of interleaved samples, each with the 48 kHz frame where
/// it starts (the dither's position). The blocks follow each other on the timeline.
pub fn write_wav<W: Write + Seek>(
    out: W,
    channels: u16,
    format: WavFormat,
    blocks: impl Iterator<Item = Result<(u64, Vec<f32>), Error>>,
) -> Result<(), Error> {
    write_wav_at(out, crate::OUTPUT_RATE_HZ, channels, format, blocks)
}

/// [`write_wav`] at `rate_hz` (an output at the source's rate, [`crate::OutputRate::Source`]):
/// the blocks' start frames and the dither's positions are on that rate's timeline.
pub fn write_wav_at<W: Write + Seek>(
    out: W,
    rate_hz: u32,
    channels: u16,
    format: WavFormat,
    blocks: impl Iterator<Item = Result<(u64, Vec<f32>), Error>>,
) -> Result<(), Error> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate_hz,
        bits_per_sample: 8 * format.bytes_per_sample(),
        sample_format: match format {
            WavFormat::Float32 => hound::SampleFormat::Float,
            WavFormat::Pcm16 => hound::SampleFormat::Int,
        },
    };
    let io = |e: hound::Error| {
        Error::Decode(DecodeError::Io {
            path: PathBuf::from("<wav output>"),
            source: match e {
                hound::Error::IoError(e) => e,
                other => std::io::Error::other(other.to_string()),
            },
        })
    };
    let mut writer = hound::WavWriter::new(out, spec).map_err(io)?;
    for block in blocks {
        let (start_frame, samples) = block?;
        match format {
            WavFormat::Float32 => {
                for x in samples {
                    writer.write_sample(x).map_err(io)?;
                }
            }
            WavFormat::Pcm16 => {
                let first = start_frame * u64::from(channels);
                let mut w = writer.get_i16_writer(samples.len() as u32);
                for (i, &x) in samples.iter().enumerate() {
                    w.write_sample(dithered_i16(x, first + i as u64));
                }
                w.flush().map_err(io)?;
            }
        }
    }
    writer.finalize().map_err(io)
}

/// One block of interleaved samples starting at 48 kHz frame `start_frame`, as a WAV file in
/// memory.
pub fn wav_bytes(
    channels: u16,
    format: WavFormat,
    start_frame: u64,
    samples: Vec<f32>,
) -> Result<Vec<u8>, Error> {
    let mut out = std::io::Cursor::new(Vec::with_capacity(
        samples.len() * usize::from(format.bytes_per_sample()) + 64,
    ));
    write_wav(
        &mut out,
        channels,
        format,
        std::iter::once(Ok((start_frame, samples))),
    )?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpdf_dither_is_triangular_on_plus_minus_one_lsb_with_zero_mean() {
        let n = 200_000u64;
        let d: Vec<f64> = (0..n).map(tpdf_dither).collect();
        assert!(d.iter().all(|&x| (-1.0..1.0).contains(&x)));
        let mean = d.iter().sum::<f64>() / n as f64;
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // TPDF of ±1 LSB: mean 0, variance 1/6; a triangle puts 1/4 of the mass beyond ±0.5.
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 6.0).abs() < 0.003, "variance {var}");
        let outer = d.iter().filter(|x| x.abs() >= 0.5).count() as f64 / n as f64;
        assert!((outer - 0.25).abs() < 0.005, "outer mass {outer}");
        // Neighbouring samples are uncorrelated (white).
        let lag1 = d.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (n - 1) as f64 / var;
        assert!(lag1.abs() < 0.01, "lag-1 correlation {lag1}");
    }

    #[test]
    fn dithered_16_bit_keeps_the_signal_and_clips_at_full_scale() {
        assert_eq!(dithered_i16(1.5, 7), 32767);
        assert_eq!(dithered_i16(-1.5, 7), -32768);
        // A DC level between two codes averages to itself (what dither is for).
        let level = 0.25 / 32768.0;
        let mean = (0..100_000u64)
            .map(|n| f64::from(dithered_i16(level, n)))
            .sum::<f64>()
            / 100_000.0;
        assert!((mean - 0.25).abs() < 0.01, "mean code {mean}");
    }
}
