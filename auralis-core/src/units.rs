//! The units of the engine's timeline, in one place: the output rate, the Opus packet and the
//! encoder's look-ahead and pre-roll in frames, and the conversions between frames, seconds,
//! nanoseconds and source-rate frames. Everything else counts in these.
//!
//! ## The output rate
//!
//! The output rate of PCM and WAV: 48 kHz, the rate of Opus and of every container this library
//! writes, or the source file's own rate, for consumers that want the file's samples mastered
//! and nothing else (the Auralis 1.5 backend streams PCM at the source rate over a WebSocket).
//!
//! At [`OutputRate::Source`] nothing is resampled: a range is decoded at the file's rate and the
//! mastering chain runs on it at that rate. The chain is designed for the rate it runs at (the
//! tone filters are bilinear designs at that rate, the compressor's and limiter's time
//! constants are in seconds, the warm-up is 3 s and the look-ahead 100 ms of that rate), and its
//! decisions (the analysis, the preset's targets, the calibrated loudness gain) are made once
//! per track and are the same at every output rate, so a track reaches the same loudness and
//! ceiling at 44.1, 48, 88.2, 96 and 192 kHz (tested). A 48 kHz source gives the 48 kHz
//! output bit for bit at either rate.
//!
//! A range's samples are a pure function of the file, the settings, the rate and the range:
//! every range is mastered from rest [`crate::mastering::WARMUP_FRAMES`]' worth of seconds
//! before its start, as the 48 kHz chunks are, so ranges come out the same in any order, on any
//! thread, in any process.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The sample rate of every Opus output (and of PCM unless [`OutputRate::Source`] is asked).
pub const OUTPUT_RATE_HZ: u32 = 48_000;
/// Frames in one Opus packet (20 ms at 48 kHz): chunk lengths and transition points are
/// multiples of this.
pub const PACKET_FRAMES: usize = 960;
/// Packets encoded before a chunk and dropped, so the encoder has settled when the chunk starts.
pub const PRE_ROLL_PACKETS: usize = 15;
/// libopus's look-ahead at 48 kHz (the `Audio` application), checked when an encoder is made.
pub const LOOKAHEAD_FRAMES: usize = 312;
/// Frames of audio before a chunk the encoder is fed.
pub const PRE_ROLL_FRAMES: usize = PRE_ROLL_PACKETS * PACKET_FRAMES - LOOKAHEAD_FRAMES;

/// Packets that cover `frames` frames of a chunk (the last one padded).
pub fn packet_count(frames: u64) -> usize {
    (frames as usize).div_ceil(PACKET_FRAMES)
}

/// Frames of a chunk's last packet past its end: what a player discards (WebM
/// `DiscardPadding`) when the chunk ends the track. The one place this is computed.
pub fn padding_frames(frames: u64) -> u64 {
    (packet_count(frames) * PACKET_FRAMES) as u64 - frames
}

/// Seconds to 48 kHz frames, rounded to the nearest frame.
pub fn seconds_to_frames(seconds: f64) -> u64 {
    seconds_to_frames_at(seconds, OUTPUT_RATE_HZ)
}

/// 48 kHz frames to seconds.
pub fn frames_to_seconds(frames: u64) -> f64 {
    frames as f64 / f64::from(OUTPUT_RATE_HZ)
}

/// 48 kHz frames to nanoseconds, rounded (WebM timestamps and DiscardPadding).
pub fn frames_to_ns(frames: u64) -> u64 {
    (frames * 1_000_000_000 + 24_000) / 48_000
}

/// 48 kHz frames to whole milliseconds, truncated (chunk and Cluster starts lie on the 20 ms
/// packet grid, so theirs are exact; a queue's track start is rounded down to its millisecond).
pub fn frames_to_ms(frames: u64) -> u64 {
    frames / u64::from(OUTPUT_RATE_HZ / 1000)
}

/// Nanoseconds to 48 kHz frames, rounded (the inverse of [`frames_to_ns`] for whole frames).
pub fn ns_to_frames(ns: u64) -> u64 {
    (ns * 48 + 500_000) / 1_000_000
}

/// Frames at 48 kHz for `frames` at `rate` Hz: `ceil(frames · 48000 / rate)`.
pub fn output_frames(frames: u64, rate: u32) -> u64 {
    let num = u128::from(frames) * u128::from(OUTPUT_RATE_HZ);
    num.div_ceil(u128::from(rate)) as u64
}

/// Seconds of audio mastered (and discarded) before a range: every stage starts from rest there.
pub const WARMUP_SECONDS: u64 = 3;

/// Which rate PCM and WAV outputs have.
///
/// ```
/// use auralis_core::OutputRate;
///
/// let rate: OutputRate = "source".parse()?;
/// assert_eq!((rate.hz(44_100), OutputRate::Opus.hz(44_100)), (44_100, 48_000));
/// assert!("44100".parse::<OutputRate>().is_err()); // "48000" or "source"
/// # Ok::<(), auralis_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputRate {
    /// 48 kHz, resampled where the source has another rate (the rate of every Opus output).
    #[default]
    Opus,
    /// The source file's own rate: decoded samples, mastered, never resampled.
    Source,
}

impl OutputRate {
    /// Every output rate.
    pub const ALL: [OutputRate; 2] = [OutputRate::Opus, OutputRate::Source];

    /// Its name in every face: `"48000"` or `"source"`.
    pub fn name(self) -> &'static str {
        match self {
            OutputRate::Opus => "48000",
            OutputRate::Source => "source",
        }
    }

    /// The rate in Hz for a source of `source_rate_hz`.
    pub fn hz(self, source_rate_hz: u32) -> u32 {
        match self {
            OutputRate::Opus => OUTPUT_RATE_HZ,
            OutputRate::Source => source_rate_hz,
        }
    }

    /// The length on this rate's timeline of a source of `source_frames` at `source_rate_hz`
    /// (at 48 kHz `ceil`, as [`crate::units::output_frames`]).
    pub(crate) fn frames_of(self, source_frames: u64, source_rate_hz: u32) -> u64 {
        match self {
            OutputRate::Opus => crate::units::output_frames(source_frames, source_rate_hz),
            OutputRate::Source => source_frames,
        }
    }
}

impl fmt::Display for OutputRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputRate {
    type Err = Error;

    /// `"48000"` (or `"opus"`, `"48k"`) and `"source"`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "48000" | "opus" | "48k" => Ok(OutputRate::Opus),
            "source" => Ok(OutputRate::Source),
            _ => Err(Error::InvalidArgument {
                name: "output_rate",
                value: s.to_string(),
                valid: "\"48000\" (Opus's rate) or \"source\" (the file's own rate)",
            }),
        }
    }
}

/// The frame of `seconds` on a timeline of `rate_hz`, rounded (never truncated).
pub fn seconds_to_frames_at(seconds: f64, rate_hz: u32) -> u64 {
    (seconds * f64::from(rate_hz)).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_a_bad_name_says_what_is_valid() {
        for r in OutputRate::ALL {
            assert_eq!(r.name().parse::<OutputRate>().unwrap(), r);
        }
        let e = "44100".parse::<OutputRate>().unwrap_err().to_string();
        assert!(e.contains("output_rate") && e.contains("source"), "{e}");
        assert_eq!(OutputRate::Source.hz(96_000), 96_000);
        assert_eq!(OutputRate::Opus.hz(96_000), 48_000);
    }

    #[test]
    fn positions_round_to_the_nearest_frame() {
        // 10.00001 s at 44.1 kHz is 441000.441 frames: 441000; 0.5 of a frame rounds up.
        assert_eq!(seconds_to_frames_at(10.00001, 44_100), 441_000);
        assert_eq!(seconds_to_frames_at(1.5 / 44_100.0, 44_100), 2);
        assert_eq!(seconds_to_frames_at(-1.0, 44_100), 0);
    }
}
