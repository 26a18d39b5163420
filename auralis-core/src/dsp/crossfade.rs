//! Crossfades between two versions of the same audio, and between consecutive chunks.
//!
//! A preset switch crossfades the old settings' audio into the new settings' audio of the same
//! music. The two are strongly correlated (the same notes through two EQs and compressors), so
//! the gains must add up to one (constant amplitude): an equal-power fade, whose gains add up to
//! √2 at the midpoint, would bulge by up to 3 dB there. [`Curve::RaisedCosine`] (sin²/cos²)
//! keeps the sum at one and, unlike [`Curve::Linear`], starts and ends with zero slope, so the
//! fade itself adds no corner to the waveform. [`Curve::EqualPower`] (sin/cos) is for
//! uncorrelated material (two different tracks), where powers add.

use serde::{Deserialize, Serialize};

/// The shape of a crossfade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Curve {
    /// Straight lines: gains `1 − t` and `t`. Constant amplitude, corners at both ends.
    Linear,
    /// `cos(πt/2)` and `sin(πt/2)`: constant power, for uncorrelated material.
    EqualPower,
    /// `cos²(πt/2)` and `sin²(πt/2)`: constant amplitude with smooth ends, for correlated
    /// material (the same music under two settings). The default for preset switches.
    #[default]
    RaisedCosine,
}

impl Curve {
    /// The (fade-out, fade-in) gains at position `t` in `[0, 1]`.
    pub fn gains(self, t: f64) -> (f64, f64) {
        let t = t.clamp(0.0, 1.0);
        let half_pi = std::f64::consts::FRAC_PI_2;
        match self {
            Curve::Linear => (1.0 - t, t),
            Curve::EqualPower => ((half_pi * t).cos(), (half_pi * t).sin()),
            Curve::RaisedCosine => {
                let s = (half_pi * t).sin().powi(2);
                (1.0 - s, s)
            }
        }
    }

    /// The name used in cache keys and APIs.
    pub fn name(self) -> &'static str {
        match self {
            Curve::Linear => "linear",
            Curve::EqualPower => "equal_power",
            Curve::RaisedCosine => "raised_cosine",
        }
    }

    /// Every curve.
    pub const ALL: [Curve; 3] = [Curve::Linear, Curve::EqualPower, Curve::RaisedCosine];

    /// The curve of a name given by [`Self::name`], or an error listing the valid names.
    pub fn from_name(name: &str) -> Result<Self, crate::Error> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| crate::Error::InvalidArgument {
                name: "curve",
                value: format!("{name:?}"),
                valid: "linear, equal_power or raised_cosine",
            })
    }
}

/// Fades interleaved `from` into `to` in place over `fade_frames` frames: frame `i` of the fade
/// becomes `from·g_out(i/n) + to·g_in(i/n)`, so frame 0 is exactly `from` and frame `n` onwards
/// exactly `to`. The two buffers must have the same length; a fade longer than them covers all
/// of it.
///
/// # Panics
/// If the lengths differ or `channels` is 0.
pub fn fade_into(to: &mut [f32], from: &[f32], channels: usize, fade_frames: usize, curve: Curve) {
    assert!(channels > 0 && to.len() == from.len());
    let frames = to.len() / channels;
    let n = fade_frames.min(frames);
    for i in 0..n {
        let (g_out, g_in) = curve.gains(i as f64 / fade_frames as f64);
        for c in 0..channels {
            let k = i * channels + c;
            to[k] = (f64::from(from[k]) * g_out + f64::from(to[k]) * g_in) as f32;
        }
    }
}

/// A transition mixed into `new` in place (a preset switch or an A/B switch, in a track's or a
/// queue's chunk): `offset` is where `new[0]` lies relative to the fade's first frame. Frames
/// before the fade become `old`; over the fade's `fade_frames` frames the output goes from
/// `old` to `new` along `curve` (the arithmetic of [`fade_into`]); from its end on, `new` stays.
/// `old` holds the outgoing audio of the same frames and may be shorter than `new` (frames past
/// it stay `new`).
pub fn mix_transition(
    new: &mut [f32],
    old: &[f32],
    channels: usize,
    offset: i64,
    fade_frames: usize,
    curve: Curve,
) {
    for (j, (n, o)) in new
        .chunks_exact_mut(channels)
        .zip(old.chunks_exact(channels))
        .enumerate()
    {
        let d = offset + j as i64;
        if d < 0 {
            n.copy_from_slice(o);
        } else if (d as usize) < fade_frames {
            let (g_out, g_in) = curve.gains(d as f64 / fade_frames as f64);
            for (x, &y) in n.iter_mut().zip(o) {
                *x = (f64::from(y) * g_out + f64::from(*x) * g_in) as f32;
            }
        } else {
            break;
        }
    }
}

/// Joins two chunks with an overlap, as the Python backend's function of the same name does:
/// `overlap` is clipped to both lengths; the result is `c1` without its last `overlap` frames,
/// the overlap (`c1`'s tail faded out, `c2`'s head faded in, gains spaced from 0 to 1
/// inclusive), then the rest of `c2`: `len1 + len2 − overlap` frames. An overlap of 0 is plain
/// concatenation. The original used [`Curve::Linear`].
///
/// # Panics
/// If `channels` is 0.
pub fn crossfade_between_chunks(
    c1: &[f32],
    c2: &[f32],
    channels: usize,
    overlap_frames: usize,
    curve: Curve,
) -> Vec<f32> {
    assert!(channels > 0);
    let (f1, f2) = (c1.len() / channels, c2.len() / channels);
    let n = overlap_frames.min(f1).min(f2);
    let mut out = Vec::with_capacity((f1 + f2 - n) * channels);
    out.extend_from_slice(&c1[..(f1 - n) * channels]);
    for i in 0..n {
        // Gains spaced like numpy's linspace(0, 1, n): both ends included.
        let t = if n == 1 {
            0.0
        } else {
            i as f64 / (n - 1) as f64
        };
        let (g_out, g_in) = curve.gains(t);
        for c in 0..channels {
            let a = f64::from(c1[(f1 - n + i) * channels + c]);
            let b = f64::from(c2[i * channels + c]);
            out.push((a * g_out + b * g_in) as f32);
        }
    }
    out.extend_from_slice(&c2[n * channels..f2 * channels]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_amplitude_curves_sum_to_one_and_equal_power_to_one_in_power() {
        for k in 0..=100 {
            let t = f64::from(k) / 100.0;
            for curve in [Curve::Linear, Curve::RaisedCosine] {
                let (a, b) = curve.gains(t);
                assert!((a + b - 1.0).abs() < 1e-12, "{curve:?} at {t}");
            }
            let (a, b) = Curve::EqualPower.gains(t);
            assert!((a * a + b * b - 1.0).abs() < 1e-12);
        }
        for curve in [Curve::Linear, Curve::EqualPower, Curve::RaisedCosine] {
            assert_eq!(curve.gains(0.0), (1.0, 0.0));
            let (a, b) = curve.gains(1.0);
            assert!(a.abs() < 1e-15 && (b - 1.0).abs() < 1e-15);
        }
        // The raised cosine starts flat: its first step is a tenth of linear's or less.
        assert!(Curve::RaisedCosine.gains(0.01).1 < 0.1 * Curve::Linear.gains(0.01).1);
    }

    #[test]
    fn fade_starts_at_the_old_audio_and_ends_at_the_new() {
        let from = vec![1.0_f32; 20]; // 10 stereo frames
        let mut to = vec![-1.0_f32; 20];
        fade_into(&mut to, &from, 2, 4, Curve::Linear);
        let left: Vec<f32> = to.iter().step_by(2).copied().collect();
        assert_eq!(
            left,
            [1.0, 0.5, 0.0, -0.5, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0]
        );
    }

    #[test]
    fn chunk_crossfade_matches_the_original_definition() {
        // Mono: c1 = [1, 1, 1, 1], c2 = [3, 3, 3], overlap 3 -> [1, 1·1+3·0, 1·0.5+3·0.5, 1·0+3·1]
        let out = crossfade_between_chunks(&[1.0; 4], &[3.0; 3], 1, 3, Curve::Linear);
        assert_eq!(out, [1.0, 1.0, 2.0, 3.0]);
        // Overlap clipped to the shorter chunk; 0 concatenates.
        assert_eq!(
            crossfade_between_chunks(&[1.0; 2], &[2.0; 2], 1, 0, Curve::Linear),
            [1.0, 1.0, 2.0, 2.0]
        );
        let clipped = crossfade_between_chunks(&[1.0; 2], &[2.0; 5], 1, 9, Curve::Linear);
        assert_eq!(clipped.len(), 5);
        // Stereo frames stay paired.
        let st = crossfade_between_chunks(&[1.0, -1.0, 1.0, -1.0], &[0.0; 4], 2, 1, Curve::Linear);
        assert_eq!(st, [1.0, -1.0, 1.0, -1.0, 0.0, 0.0]);
    }

    #[test]
    fn a_transition_is_old_before_the_fade_faded_over_it_and_new_after() {
        let mut new = vec![1.0f32; 10];
        mix_transition(&mut new, &[0.0; 10], 1, -3, 4, Curve::Linear);
        assert_eq!(new, [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        // An `old` shorter than `new` (a queue reads the outgoing audio up to the fade's end).
        let mut new = vec![1.0f32; 10];
        mix_transition(&mut new, &[0.0; 5], 1, -1, 4, Curve::Linear);
        assert_eq!(new, [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0]);
        // No fade: old before, new from the first frame on.
        let mut new = vec![1.0f32; 4];
        mix_transition(&mut new, &[0.0; 4], 1, -2, 0, Curve::RaisedCosine);
        assert_eq!(new, [0.0, 0.0, 1.0, 1.0]);
    }
}
