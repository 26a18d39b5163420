//! Presets, and the parameters a preset, an intensity and a track analysis give.

use serde::{Deserialize, Serialize};

use super::MasteringSettings;
use crate::analysis::TrackAnalysis;
use crate::error::MasteringError;

/// A mastering preset.
///
/// ```
/// use auralis_core::Preset;
///
/// assert_eq!(Preset::from_name("warm")?, Preset::Warm);
/// assert_eq!(Preset::Warm.name(), "warm");
/// assert_eq!(
///     Preset::from_name("loud").unwrap_err().to_string(),
///     r#"unknown preset "loud" (valid: adaptive, gentle, warm, bright, punchy, live, none)"#
/// );
/// # Ok::<(), auralis_core::MasteringError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// EQ and dynamics derived from the track's analysis.
    Adaptive,
    /// Light touch: a little air, gentle compression, -16 LUFS.
    Gentle,
    /// Fuller lows and low mids, softer highs.
    Warm,
    /// More presence and air, tighter dynamics, louder.
    Bright,
    /// Bass and attack forward, fast compression.
    Punchy,
    /// Open, wide, with presence for live recordings.
    Live,
    /// No processing: the original audio, resampled to 48 kHz.
    None,
}

impl Preset {
    /// Every preset, in the order documented.
    pub const ALL: [Preset; 7] = [
        Preset::Adaptive,
        Preset::Gentle,
        Preset::Warm,
        Preset::Bright,
        Preset::Punchy,
        Preset::Live,
        Preset::None,
    ];

    /// The presets that process audio (all but `none`).
    pub const PROCESSING: [Preset; 6] = [
        Preset::Adaptive,
        Preset::Gentle,
        Preset::Warm,
        Preset::Bright,
        Preset::Punchy,
        Preset::Live,
    ];

    /// The preset's name as used in APIs and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Adaptive => "adaptive",
            Preset::Gentle => "gentle",
            Preset::Warm => "warm",
            Preset::Bright => "bright",
            Preset::Punchy => "punchy",
            Preset::Live => "live",
            Preset::None => "none",
        }
    }

    /// The preset with this name (exact, lowercase).
    pub fn from_name(name: &str) -> Result<Self, MasteringError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| MasteringError::UnknownPreset {
                name: name.to_owned(),
                valid: Self::ALL
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The preset's starting values (before the analysis adapts them).
    pub fn values(self) -> PresetValues {
        let v =
            |eq_db: [f64; 5], ratio, threshold_db, attack_ms, release_ms, target_lufs, width| {
                PresetValues {
                    eq_db,
                    ratio,
                    threshold_db,
                    attack_ms,
                    release_ms,
                    target_lufs,
                    width,
                }
            };
        match self {
            Preset::Adaptive => v([0.0; 5], 1.5, -26.0, 25.0, 250.0, -14.0, 1.0),
            Preset::Gentle => v(
                [0.3, 0.0, 0.0, 0.2, 0.5],
                1.8,
                -20.0,
                15.0,
                150.0,
                -16.0,
                1.0,
            ),
            Preset::Warm => v(
                [1.5, 1.2, 0.3, -0.3, 0.8],
                2.2,
                -19.0,
                20.0,
                200.0,
                -13.0,
                1.0,
            ),
            Preset::Bright => v(
                [0.0, -0.5, 0.5, 2.0, 2.5],
                2.8,
                -17.0,
                5.0,
                80.0,
                -12.0,
                1.05,
            ),
            Preset::Punchy => v(
                [1.8, 0.5, 0.0, 1.5, 0.8],
                2.5,
                -18.0,
                5.0,
                100.0,
                -14.0,
                1.0,
            ),
            Preset::Live => v(
                [0.8, -0.8, 0.5, 2.0, 1.5],
                1.8,
                -22.0,
                15.0,
                180.0,
                -13.5,
                1.15,
            ),
            Preset::None => v([0.0; 5], 1.0, 0.0, 10.0, 100.0, -14.0, 1.0),
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = MasteringError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A preset's table values (the original backend's `preset_profiles.py` values; widths ours).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PresetValues {
    /// Gains of the five EQ bands in dB: low shelf, low-mid, mid, high-mid, high shelf.
    pub eq_db: [f64; 5],
    /// Compression ratio.
    pub ratio: f64,
    /// Compressor threshold in dB, for the track normalized to -14 LUFS.
    pub threshold_db: f64,
    /// Compressor attack in ms.
    pub attack_ms: f64,
    /// Compressor release in ms.
    pub release_ms: f64,
    /// Loudness target in LUFS.
    pub target_lufs: f64,
    /// Stereo width (side gain).
    pub width: f64,
}

/// Centre (or corner) frequencies and Q of the five EQ bands.
pub const EQ_BANDS: [(f64, f64); 5] = [
    (150.0, 0.707),
    (400.0, 0.7),
    (1_550.0, 0.7),
    (4_900.0, 0.9),
    (8_000.0, 0.707),
];

/// Reference tilt `adaptive` corrects toward, in dB per octave of octave-band energy.
pub const REFERENCE_TILT_DB_PER_OCTAVE: f64 = -4.0;

/// The limiter's ceiling in dBTP.
pub const CEILING_DBTP: f64 = -1.0;

/// Most gain the loudness stage adds, whatever the target (quiet tracks are not pumped up
/// into noise).
pub const MAX_GAIN_DB: f64 = 15.0;

/// Most peak reduction the target may ask of the limiter, estimated from the measured true
/// peak: beyond it the target is lowered instead of crushing the transients.
pub const MAX_LIMITING_DB: f64 = 6.0;

/// Everything the chain needs, fixed for a track: the preset's values adapted to the analysis
/// and scaled by the intensity. Serializable, so that a caller can see (and log) what is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasteringParams {
    /// The preset.
    pub preset: Preset,
    /// The intensity in [0, 1].
    pub intensity: f64,
    /// EQ band gains in dB (scaled by intensity).
    pub eq_db: [f64; 5],
    /// Compression ratio, `1 + (r - 1)·intensity`.
    pub ratio: f64,
    /// Compressor threshold in dB, for the track normalized to -14 LUFS.
    pub threshold_db: f64,
    /// Compressor attack in ms.
    pub attack_ms: f64,
    /// Compressor release in ms.
    pub release_ms: f64,
    /// Added to the compressor's detector level so that thresholds read as for a -14 LUFS track.
    pub detector_offset_db: f64,
    /// Stereo width, `1 + (w - 1)·intensity`.
    pub width: f64,
    /// The loudness the output aims at: the content-adjusted target at intensity 1, the track's
    /// own loudness at intensity 0, and in between linearly.
    pub target_lufs: f64,
    /// The static gain of the loudness stage in dB (calibrated to reach `target_lufs`).
    pub gain_db: f64,
    /// The limiter's ceiling in dBTP.
    pub ceiling_dbtp: f64,
}

impl MasteringParams {
    /// Whether the chain is skipped: intensity 0 or the `none` preset (output = input).
    pub fn is_bypass(&self) -> bool {
        self.preset == Preset::None || self.intensity == 0.0
    }
}

/// Derives the parameters of a preset at an intensity (`mastering`: a [`MasteringSettings`],
/// or what converts into one: a [`Preset`] at 1, or `(preset, intensity)`) for a track. The
/// loudness gain is the analysis's estimate (`target - integrated`);
/// [`super::Mastering::prepare`] calibrates it. The intensity is checked here, once.
pub fn design(
    analysis: &TrackAnalysis,
    mastering: impl Into<MasteringSettings>,
) -> Result<MasteringParams, MasteringError> {
    let mastering = mastering.into();
    mastering.validate()?;
    Ok(design_checked(analysis, mastering))
}

/// [`design`] of settings already checked (at the boundary that took them).
pub(crate) fn design_checked(
    analysis: &TrackAnalysis,
    mastering: MasteringSettings,
) -> MasteringParams {
    debug_assert!(mastering.validate().is_ok(), "checked at the boundary");
    let MasteringSettings { preset, intensity } = mastering;
    let mut v = preset.values();
    if preset == Preset::Adaptive {
        adapt(&mut v, analysis);
    }
    let k = intensity;
    let silent = analysis.is_silent();
    // A dynamic track is not pushed all the way to the target, and never so far that the
    // limiter would have to shave more than MAX_LIMITING_DB off its peaks.
    let headroom_target =
        analysis.integrated_lufs + (CEILING_DBTP + MAX_LIMITING_DB - analysis.true_peak_dbtp);
    let full_target = v.target_lufs.min(headroom_target);
    let target_lufs = if silent {
        analysis.integrated_lufs
    } else {
        analysis.integrated_lufs + k * (full_target - analysis.integrated_lufs)
    };
    let gain_db = if silent {
        0.0
    } else {
        (target_lufs - analysis.integrated_lufs).min(MAX_GAIN_DB)
    };
    MasteringParams {
        preset,
        intensity,
        eq_db: v.eq_db.map(|g| g * k),
        ratio: 1.0 + (v.ratio - 1.0) * k,
        threshold_db: v.threshold_db,
        attack_ms: v.attack_ms,
        release_ms: v.release_ms,
        detector_offset_db: if silent {
            0.0
        } else {
            -14.0 - analysis.integrated_lufs
        },
        width: 1.0 + (v.width - 1.0) * k,
        target_lufs,
        gain_db,
        ceiling_dbtp: CEILING_DBTP,
    }
}

/// Checks that an intensity is a number in [0, 1].
pub fn check_intensity(intensity: f64) -> Result<(), MasteringError> {
    if intensity.is_finite() && (0.0..=1.0).contains(&intensity) {
        Ok(())
    } else {
        Err(MasteringError::InvalidIntensity { value: intensity })
    }
}

/// `adaptive`: EQ toward the reference tilt, compression by density, target by dynamics.
fn adapt(v: &mut PresetValues, a: &TrackAnalysis) {
    if a.is_silent() {
        return;
    }
    // Positive: the track is darker than the reference, so lift the top and trim the bottom.
    let tilt_error = REFERENCE_TILT_DB_PER_OCTAVE - a.tilt_db_per_octave;
    v.eq_db[0] = (-0.4 * tilt_error).clamp(-1.5, 1.5);
    v.eq_db[3] = (0.3 * tilt_error).clamp(-1.5, 1.5);
    v.eq_db[4] = (0.6 * tilt_error).clamp(-2.5, 2.5);
    // Dense material (small crest factor, small loudness range) is compressed less.
    let density = (a.crest_db - 8.0) / 10.0 + (a.loudness_range_lu - 4.0) / 12.0;
    v.ratio = (1.15 + 0.35 * density).clamp(1.1, 2.0);
    // Highly dynamic material keeps some of its range instead of being crushed to -14.
    v.target_lufs = -14.0 - (0.5 * (a.loudness_range_lu - 8.0)).clamp(0.0, 3.0);
    // Narrow mixes are opened a little; wide ones are left alone.
    v.width = if a.stereo_correlation > 0.9 {
        1.1
    } else if a.stereo_width < 0.6 {
        1.05
    } else {
        1.0
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_presets_list_the_valid_names() {
        let err = Preset::from_name("loud").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown preset \"loud\" (valid: adaptive, gentle, warm, bright, punchy, live, none)"
        );
        for p in Preset::ALL {
            assert_eq!(Preset::from_name(p.name()).unwrap(), p);
        }
    }

    #[test]
    fn intensity_scales_parameters_and_is_range_checked() {
        let a = crate::analysis::analyze_samples(&vec![0.1; 48_000 * 2 * 4], 48_000, 2);
        let full = design(&a, Preset::Warm).unwrap();
        let half = design(&a, (Preset::Warm, 0.5)).unwrap();
        assert_eq!(full.eq_db, [1.5, 1.2, 0.3, -0.3, 0.8]);
        assert_eq!(half.eq_db, [0.75, 0.6, 0.15, -0.15, 0.4]);
        assert!((half.ratio - 1.6).abs() < 1e-12);
        assert!(design(&a, (Preset::Warm, 0.0)).unwrap().is_bypass());
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                design(&a, (Preset::Warm, bad)),
                Err(MasteringError::InvalidIntensity { .. })
            ));
        }
    }
}
