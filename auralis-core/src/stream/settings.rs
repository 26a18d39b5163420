//! [`StreamSettings`]: everything besides the file that changes a stream's bytes, checked
//! before any work, and the part of a cache key they make.

use crate::dsp::crossfade::Curve;
use crate::error::Error;
use crate::format::Container;
use crate::mastering::MasteringSettings;
use crate::opus::OpusSettings;
use crate::plan::{ChunkPlan, DEFAULT_CHUNK_SECONDS};

/// Longest accepted transition fade.
pub const MAX_FADE_MS: f64 = 5_000.0;

/// Settings of a stream: everything besides the file that changes its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSettings {
    /// The mastering: a preset and how much of it, 0 to 1 (default
    /// [`MasteringSettings::DEFAULT`]: `adaptive` at 1). Taken whole by the mastering
    /// ([`crate::Mastering::prepare`]) and the cache keys.
    pub mastering: MasteringSettings,
    /// Chunk length in seconds, a multiple of 0.02 (default 30).
    pub chunk_seconds: f64,
    /// Opus bitrate and complexity (default 128 kbit/s, 10).
    pub opus: OpusSettings,
    /// Length of the crossfade at the start of a transition chunk (default 50 ms).
    pub fade_ms: f64,
    /// Curve of that crossfade (default [`Curve::RaisedCosine`]).
    pub fade_curve: Curve,
    /// The container of init segments, media segments and chunk files (default
    /// [`Container::Webm`]). Not part of any cache key: a chunk is encoded once and served in
    /// either container.
    pub container: Container,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            mastering: MasteringSettings::DEFAULT,
            chunk_seconds: DEFAULT_CHUNK_SECONDS,
            opus: OpusSettings::DEFAULT,
            fade_ms: 50.0,
            fade_curve: Curve::RaisedCosine,
            container: Container::Webm,
        }
    }
}

impl StreamSettings {
    /// The preset and intensity (the `mastering` field).
    pub fn mastering(&self) -> MasteringSettings {
        self.mastering
    }

    /// Checks every setting (not the chunk length against a track: that needs the track).
    pub fn validate(&self) -> Result<(), Error> {
        self.mastering.validate()?;
        ChunkPlan::chunk_frames_for(self.chunk_seconds)?;
        self.opus.validate()?;
        if !(0.0..=MAX_FADE_MS).contains(&self.fade_ms) {
            return Err(Error::InvalidArgument {
                name: "fade_ms",
                value: self.fade_ms.to_string(),
                valid: "a number of milliseconds from 0 to 5000",
            });
        }
        Ok(())
    }

    pub(super) fn fade_frames(&self) -> usize {
        (self.fade_ms * 48.0).round() as usize
    }

    /// The part of a cache key these settings make (without the Opus settings for PCM).
    pub(super) fn key_part(&self, with_opus: bool) -> String {
        let mut s = format!(
            "{}/{}",
            self.mastering().key_part(),
            crate::units::seconds_to_frames(self.chunk_seconds)
        );
        if with_opus {
            s += &format!("/{}/{}", self.opus.bitrate_bps, self.opus.complexity);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused_with_their_name() {
        let bad = [
            StreamSettings {
                mastering: (crate::Preset::Adaptive, 1.5).into(),
                ..StreamSettings::default()
            },
            StreamSettings {
                chunk_seconds: 0.03,
                ..StreamSettings::default()
            },
            StreamSettings {
                fade_ms: -1.0,
                ..StreamSettings::default()
            },
            StreamSettings {
                fade_ms: f64::NAN,
                ..StreamSettings::default()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?}");
        }
        let e = StreamSettings {
            fade_ms: 9e9,
            ..StreamSettings::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("fade_ms"), "{e}");
        assert!(StreamSettings::default().validate().is_ok());
    }
}
