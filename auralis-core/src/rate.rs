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
use crate::OUTPUT_RATE_HZ;

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
    /// (at 48 kHz `ceil`, as [`crate::resample::output_frames`]).
    pub(crate) fn frames_of(self, source_frames: u64, source_rate_hz: u32) -> u64 {
        match self {
            OutputRate::Opus => crate::resample::output_frames(source_frames, source_rate_hz),
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
