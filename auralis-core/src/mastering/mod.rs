//! Adaptive mastering: track-level decisions, then a chain whose only moving parts are its
//! envelopes.
//!
//! [`Mastering::prepare`] reads the track's analysis excerpts once, measures them (or takes a
//! stored [`TrackAnalysis`]), derives the [`MasteringParams`] of a preset at an intensity, and
//! calibrates the static loudness gain by running the real chain over those excerpts: the
//! gain that brings the chain's output to the target, plus what the limiter takes back
//! (at most 1.5 dB). The parameters are then fixed for the whole track.
//!
//! Chunk independence: a chunk is mastered from [`WARMUP_FRAMES`] (3 s) before its start,
//! where every stage starts from rest, to [`POST_ROLL_FRAMES`] (100 ms) after its end. 3 s is
//! 12 time constants of the slowest envelope (the 250 ms compressor release) and far more than
//! the EQ filters and the limiter's 80 ms release need; 100 ms covers the limiter's 1 ms
//! lookahead and interpolator. The samples of chunk `k` therefore depend only on the file and
//! the settings, and equal a continuous render's to well under 0.1 LU of momentary loudness
//! at every boundary (tested).
//!
//! Intensity 0 and the preset `none` skip the chain: the output is the resampled input, bit
//! for bit. Silence (nothing above the -70 LUFS gate) gets no loudness gain, and no track gets
//! more than [`presets::MAX_GAIN_DB`].

mod chain;
mod limiter;
pub mod presets;

pub use chain::{after_gain, process, Stages, COMPRESSOR_BLOCK};
pub use presets::{design, MasteringParams, Preset, PresetValues};

use serde::{Deserialize, Serialize};

use crate::analysis::{self, TrackAnalysis};
use crate::decode::Source;
use crate::dsp::loudness::Measurement;
use crate::error::Error;

/// Frames of warm-up mastered (and discarded) before a chunk: 3 s at 48 kHz.
pub const WARMUP_FRAMES: u64 = 3 * 48_000;
/// Frames read after a chunk for the limiter's lookahead: 100 ms at 48 kHz.
pub const POST_ROLL_FRAMES: u64 = 4_800;
/// Most the loudness gain is raised to make up for what the limiter takes.
const MAX_LIMITER_MAKEUP_DB: f64 = 1.5;

/// What a mastering is asked to be: a preset at an intensity (0 to 1). Two are equal when both
/// are the same bit for bit, so a choice can key maps and caches. The default,
/// [`MasteringSettings::DEFAULT`], is every face's default (Rust, C, Python, the CLI).
#[derive(Debug, Clone, Copy)]
pub struct MasteringSettings {
    /// The preset.
    pub preset: Preset,
    /// How much of it, 0 (the original audio) to 1.
    pub intensity: f64,
}

impl MasteringSettings {
    /// `adaptive` at 1.
    pub const DEFAULT: MasteringSettings = MasteringSettings {
        preset: Preset::Adaptive,
        intensity: 1.0,
    };

    /// `preset` at `intensity` (checked by [`Self::validate`], not here).
    pub fn new(preset: Preset, intensity: f64) -> Self {
        MasteringSettings { preset, intensity }
    }

    /// Checks the intensity.
    pub fn validate(&self) -> Result<(), crate::MasteringError> {
        presets::check_intensity(self.intensity)
    }

    /// This choice's part of a cache key: the preset's name and the intensity's bits.
    pub fn key_part(&self) -> String {
        format!("{}/{:016x}", self.preset.name(), self.intensity.to_bits())
    }
}

impl Default for MasteringSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl PartialEq for MasteringSettings {
    fn eq(&self, other: &Self) -> bool {
        self.preset == other.preset && self.intensity.to_bits() == other.intensity.to_bits()
    }
}

impl Eq for MasteringSettings {}

impl std::hash::Hash for MasteringSettings {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.preset.hash(state);
        self.intensity.to_bits().hash(state);
    }
}

impl From<Preset> for MasteringSettings {
    /// `preset` at the default intensity (1).
    fn from(preset: Preset) -> Self {
        MasteringSettings {
            preset,
            intensity: MasteringSettings::DEFAULT.intensity,
        }
    }
}

impl From<(Preset, f64)> for MasteringSettings {
    fn from((preset, intensity): (Preset, f64)) -> Self {
        MasteringSettings { preset, intensity }
    }
}

/// A track's mastering, ready to apply: its analysis and the calibrated parameters.
///
/// ```
/// use auralis_core::{Mastering, Preset, Source};
///
/// let source = Source::from_bytes(auralis_core::demo::demo_wav(), Some("wav"))?;
/// // The analysis and the calibrated chain, once per track and settings (0: every core).
/// let warm = Mastering::prepare(&source, (Preset::Warm, 0.8), None, 0)?;
/// // Another preset reuses the analysis: only the calibration runs again.
/// let bright = Mastering::prepare(&source, Preset::Bright, Some(warm.analysis.clone()), 0)?;
/// assert_eq!(warm.analysis, bright.analysis);
/// assert!(Mastering::prepare(&source, (Preset::Warm, 1.5), None, 0).is_err()); // intensity 0..=1
/// # Ok::<(), auralis_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mastering {
    /// What the decisions were made from.
    pub analysis: TrackAnalysis,
    /// The decisions.
    pub params: MasteringParams,
}

impl Mastering {
    /// Analyzes (unless `analysis` is given) and designs the mastering of `source` on up to
    /// `threads` threads (0: the available cores). The analysis excerpts are read, measured
    /// and run through the chain each on its own and combined in order, so the result does not
    /// depend on `threads`.
    pub fn prepare(
        source: &Source,
        mastering: impl Into<MasteringSettings>,
        analysis: Option<TrackAnalysis>,
        threads: usize,
    ) -> Result<Self, Error> {
        // The one check of the settings, before reading anything.
        let mastering = mastering.into();
        mastering.validate()?;
        let threads = crate::parallel::resolve(threads);
        let sampling = analysis::Sampling::default();
        let (excerpts, analysis) = match analysis {
            Some(a) => (analysis::read_excerpts(source, &sampling, threads)?, a),
            None => analysis::read_and_analyze(source, &sampling, threads)?,
        };
        Ok(Self::from_excerpts(
            source,
            &excerpts,
            mastering,
            Some(analysis),
            threads,
        ))
    }

    /// [`Self::prepare`] with the analysis excerpts already read
    /// ([`analysis::read_excerpts`] with the default sampling): what the stream engine does
    /// when it keeps a track's excerpts for another preset's calibration. The calibration
    /// shapes copies of them.
    pub fn prepare_from_excerpts(
        source: &Source,
        excerpts: &[Vec<f32>],
        mastering: impl Into<MasteringSettings>,
        analysis: Option<TrackAnalysis>,
        threads: usize,
    ) -> Result<Self, Error> {
        let mastering = mastering.into();
        mastering.validate()?;
        Ok(Self::from_excerpts(
            source, excerpts, mastering, analysis, threads,
        ))
    }

    /// [`Self::prepare_from_excerpts`] of settings already checked (at the boundary that took
    /// them: `Engine::open`, a transition's request, a switch).
    pub(crate) fn from_excerpts(
        source: &Source,
        excerpts: &[Vec<f32>],
        mastering: MasteringSettings,
        analysis: Option<TrackAnalysis>,
        threads: usize,
    ) -> Self {
        let threads = crate::parallel::resolve(threads);
        let info = source.info();
        let (rate, channels) = (
            analysis::analysis_rate(info.sample_rate),
            info.channels as usize,
        );
        let analysis = analysis
            .unwrap_or_else(|| analysis::analyze_excerpts(excerpts, rate, channels, threads));
        let mut params = presets::design_checked(&analysis, mastering);
        if !params.is_bypass() && !analysis.is_silent() {
            params.gain_db = calibrate_gain(excerpts, rate, channels, &params, threads);
        }
        Mastering { analysis, params }
    }
}

/// What the chain makes of a track, measured: the analysis (loudness, loudness range, true
/// peak, ...) of the output of `params` over the excerpts the source's own analysis measured
/// ([`analysis::read_excerpts`], default sampling): the "after" to [`Mastering::analysis`]'s
/// "before", on the same audio. A bypass (`none`, intensity 0) measures the excerpts as they
/// are. Reads the excerpts again (about as long as an analysis); nothing is cached.
pub fn measure_output(
    source: &Source,
    params: &MasteringParams,
    threads: usize,
) -> Result<TrackAnalysis, Error> {
    let threads = crate::parallel::resolve(threads);
    let info = source.info();
    let (rate, channels) = (
        analysis::analysis_rate(info.sample_rate),
        info.channels as usize,
    );
    let mut excerpts = analysis::read_excerpts(source, &analysis::Sampling::default(), threads)?;
    if !params.is_bypass() {
        excerpts = crate::parallel::map_owned(excerpts, threads, |buf| {
            process(buf, channels, rate, 0, params, Stages::All);
        });
    }
    Ok(analysis::analyze_excerpts(
        &excerpts, rate, channels, threads,
    ))
}

/// The loudness gain that brings the chain's output on `excerpts` to the target. Each task
/// copies its excerpt, shapes and measures it while it is in cache (the copies, not the
/// excerpts, which the engine keeps for the next preset).
fn calibrate_gain(
    excerpts: &[Vec<f32>],
    rate: u32,
    channels: usize,
    params: &MasteringParams,
    threads: usize,
) -> f64 {
    let (shaped, before): (Vec<_>, Vec<_>) = crate::parallel::map_indexed(
        excerpts.len(),
        threads,
        || (),
        |(), i| {
            let mut buf = excerpts[i].clone();
            process(&mut buf, channels, rate, 0, params, Stages::BeforeGain);
            let measured = Measurement::of(&buf, rate, channels, false);
            (buf, measured)
        },
    )
    .into_iter()
    .unzip();
    let before = analysis::integrated_lufs(&before);
    let gain = (params.target_lufs - before).min(presets::MAX_GAIN_DB);
    let after: Vec<_> = crate::parallel::map_owned_with(shaped, threads, |buf| {
        chain::apply_gain(buf, gain);
        limiter::limit(buf, channels, rate, params.ceiling_dbtp);
        Measurement::of(buf, rate, channels, false)
    })
    .into_iter()
    .map(|(_, m)| m)
    .collect();
    let after = analysis::integrated_lufs(&after);
    (gain + (params.target_lufs - after).clamp(0.0, MAX_LIMITER_MAKEUP_DB))
        .min(presets::MAX_GAIN_DB)
}
