//! Lookahead true-peak limiter, applied to a whole buffer.
//!
//! 1. Detector: for every frame, the largest of |x| over channels and over the three points a
//!    4× oversampling puts between it and the next frame (a 12-tap-per-phase, Hann-windowed
//!    sinc interpolator, BS.1770 Annex 2 style). The ceiling it aims at is
//!    [`DETECTOR_MARGIN_DB`] below the requested one, because a 4× detector can read up to
//!    0.44 dB low near 19 kHz (measured against a 32× oversampled meter).
//! 2. Required gain per frame: `min(1, ceiling / peak)`.
//! 3. Minimum of the required gain over a centred window of `2A + 1` frames (van Herk /
//!    Gil-Werman), then the mean of
//!    that over the same window. Every value averaged at a peak's frame is a minimum over a
//!    window that contains the peak, so the smoothed gain is never above what the peak needs:
//!    no overshoot, with a gain ramp of `2A` frames (2 ms) instead of a step.
//! 4. Release: the gain falls at once to that curve and recovers toward it with a one-pole of
//!    [`RELEASE_MS`].
//! 5. A final clip at the ceiling catches anything the detector could not see (it never
//!    engages on the test material; it is a guarantee, not a tool).
//!
//! The limiter looks `A` + 6 frames ahead of each output frame and its release remembers the
//! past with a time constant of 80 ms; the mastering stage gives it warm-up and post-roll
//! around every chunk.

use crate::dsp::true_peak::{detect, phases};

/// How far below the ceiling the 4× detector aims.
pub const DETECTOR_MARGIN_DB: f64 = 0.5;
/// Half-width of the gain-smoothing window in ms (the lookahead).
pub const LOOKAHEAD_MS: f64 = 1.0;
/// Release time constant in ms.
pub const RELEASE_MS: f64 = 80.0;

/// Frames processed per tile: the sliding minimum works tile by tile so that its intermediate
/// arrays stay in cache (whole-buffer passes were memory-bound, measured).
const TILE: usize = 4096;

/// Sliding minimum over `[i - half, i + half]` (clamped to the buffer): van Herk / Gil-Werman,
/// prefix and suffix minima over blocks of the window's width, tile by tile.
#[inline(always)]
fn sliding_min(values: &[f32], half: usize) -> Vec<f32> {
    let n = values.len();
    let width = 2 * half + 1;
    let mut out = vec![0.0f32; n];
    let mut prefix = vec![0.0f32; TILE + width];
    let mut suffix = vec![0.0f32; TILE + width];
    for start in (0..n).step_by(TILE) {
        let len = TILE.min(n - start);
        // Window of output i (tile-relative) is local[i .. i + width], where local[0] is
        // values[start - half]; positions outside the buffer are neutral.
        let span = len + width - 1;
        let (lo, hi) = (start.saturating_sub(half), (start + span - half).min(n));
        if values[lo..hi].iter().all(|&v| v >= 1.0) {
            // Nothing in reach needs limiting: the common case, answered without the blocks.
            out[start..start + len].fill(1.0);
            continue;
        }
        for k in 0..span {
            let idx = (start + k).wrapping_sub(half);
            let v = if idx < n { values[idx] } else { f32::INFINITY };
            prefix[k] = v;
            suffix[k] = v;
        }
        for block in (0..span).step_by(width) {
            let end = (block + width).min(span);
            for k in block + 1..end {
                prefix[k] = prefix[k].min(prefix[k - 1]);
            }
            for k in (block..end - 1).rev() {
                suffix[k] = suffix[k].min(suffix[k + 1]);
            }
        }
        for (i, o) in out[start..start + len].iter_mut().enumerate() {
            *o = suffix[i].min(prefix[i + width - 1]);
        }
    }
    out
}

/// Limits interleaved `buf` (1 or 2 channels) in place to `ceiling_dbtp`.
///
/// The work runs in the widest vector instructions the processor has (AVX2 where present,
/// chosen at run time by `pulp`). The loops are the same scalar code whatever the width: only
/// multiplications, additions, minima and comparisons, none fused, each sum in the same order,
/// so the output is the same bit for bit on every x86-64 processor.
pub fn limit(buf: &mut [f32], channels: usize, rate: u32, ceiling_dbtp: f64) {
    struct Limit<'a> {
        buf: &'a mut [f32],
        channels: usize,
        rate: u32,
        ceiling_dbtp: f64,
    }
    impl pulp::WithSimd for Limit<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) {
            limit_scalar(self.buf, self.channels, self.rate, self.ceiling_dbtp);
        }
    }
    pulp::Arch::new().dispatch(Limit {
        buf,
        channels,
        rate,
        ceiling_dbtp,
    });
}

#[inline(always)]
fn limit_scalar(buf: &mut [f32], channels: usize, rate: u32, ceiling_dbtp: f64) {
    let n = buf.len() / channels;
    if n == 0 {
        return;
    }
    let target = 10f64.powf((ceiling_dbtp - DETECTOR_MARGIN_DB) / 20.0) as f32;
    let filters = phases();
    let mut peak = vec![0.0f32; n];
    let mut scratch = Vec::new();
    for c in 0..channels {
        detect(buf, channels, c, &filters, target, &mut peak, &mut scratch);
    }
    let required: Vec<f32> = peak
        .iter()
        .map(|&p| if p > target { target / p } else { 1.0 })
        .collect();
    let half = (LOOKAHEAD_MS * 1e-3 * f64::from(rate)).round().max(1.0) as usize;
    let minimum = sliding_min(&required, half);
    // Centred mean of the minimum, with a running sum in f64, then the release: a serial
    // pass that only computes the per-frame gain; applying it is a separate pass the compiler
    // vectorizes (one loop doing both was a third of the chunk's mastering time, measured).
    let mut sum: f64 = minimum[..half.min(n)].iter().map(|&g| f64::from(g)).sum();
    let release = 1.0 - (-1.0 / (RELEASE_MS * 1e-3 * f64::from(rate))).exp();
    let inv_width = 1.0 / (2 * half + 1) as f64;
    let mut gain = 1.0f64;
    let mut gains = required; // reused: `required` is not needed any more
    for (i, out) in gains.iter_mut().enumerate() {
        if i + half < n {
            sum += f64::from(minimum[i + half]);
        }
        if i > half {
            sum -= f64::from(minimum[i - half - 1]);
        }
        let smooth = if i >= half && i + half < n {
            sum * inv_width
        } else {
            let count = (i + half).min(n - 1) - i.saturating_sub(half) + 1;
            sum / count as f64
        };
        gain = if smooth < gain {
            smooth
        } else {
            gain + (smooth - gain) * release
        };
        *out = gain as f32;
    }
    let clip = 10f64.powf(ceiling_dbtp / 20.0) as f32;
    if channels == 2 {
        for (frame, &g) in buf.chunks_exact_mut(2).zip(&gains) {
            frame[0] = (frame[0] * g).clamp(-clip, clip);
            frame[1] = (frame[1] * g).clamp(-clip, clip);
        }
    } else {
        for (frame, &g) in buf.chunks_exact_mut(channels).zip(&gains) {
            for x in frame {
                *x = (*x * g).clamp(-clip, clip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_min_matches_a_naive_window() {
        let values: Vec<f32> = (0..200).map(|i| ((i * 37 % 101) as f32).sin()).collect();
        let got = sliding_min(&values, 7);
        for (i, &g) in got.iter().enumerate() {
            let lo = i.saturating_sub(7);
            let hi = (i + 7).min(values.len() - 1);
            let want = values[lo..=hi]
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min);
            assert_eq!(g, want, "{i}");
        }
    }

    #[test]
    fn interpolator_phases_have_unit_dc_gain_and_find_intersample_peaks() {
        for phase in phases() {
            assert!((phase.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // fs/4 at 45°: samples read 0.707 of the true amplitude of 1.
        let x: Vec<f32> = (0..4800)
            .map(|i| {
                (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin() as f32
            })
            .collect();
        let mut peak = vec![0.0f32; x.len()];
        detect(&x, 1, 0, &phases(), 0.0, &mut peak, &mut Vec::new());
        let max = peak[100..4700].iter().copied().fold(0.0, f32::max);
        assert!(max > 0.98 && max < 1.02, "{max}");
    }

    #[test]
    fn a_hot_signal_ends_below_the_ceiling_and_a_quiet_one_is_untouched() {
        let rate = 48_000;
        let hot: Vec<f32> = (0..48_000 * 2)
            .map(|i| {
                (1.8 * (std::f64::consts::TAU * 997.0 * (i / 2) as f64 / 48_000.0).sin()) as f32
            })
            .collect();
        let mut limited = hot.clone();
        limit(&mut limited, 2, rate, -1.0);
        let ceiling = 10f32.powf(-1.0 / 20.0);
        assert!(limited.iter().all(|x| x.abs() <= ceiling));
        let quiet: Vec<f32> = hot.iter().map(|x| x * 0.3).collect();
        let mut same = quiet.clone();
        limit(&mut same, 2, rate, -1.0);
        assert_eq!(same, quiet);
    }
}
