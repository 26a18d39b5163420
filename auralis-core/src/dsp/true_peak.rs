//! The true peak as the limiter's detector sees it: each sample and the three points a 4×
//! oversampling puts between it and the next (a 12-tap-per-phase, Hann-windowed sinc
//! interpolator, BS.1770 Annex 2 style). Shared by the limiter (`mastering::limiter`, which
//! limits what this reads) and the loudness measurement ([`super::loudness`]), so both see
//! the same peaks.

pub(crate) const TAPS: usize = 12;
const HALF: usize = TAPS / 2 - 1; // taps at offsets -5..=6 around a frame

/// Interpolation filters for the points 1/4, 2/4 and 3/4 of the way to the next frame.
pub(crate) fn phases() -> [[f32; TAPS]; 3] {
    let mut out = [[0.0f32; TAPS]; 3];
    for (k, phase) in out.iter_mut().enumerate() {
        let frac = (k + 1) as f64 / 4.0;
        let mut taps = [0.0f64; TAPS];
        for (j, tap) in taps.iter_mut().enumerate() {
            let t = frac - (j as f64 - HALF as f64);
            let sinc = if t.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
            };
            let window = 0.5 + 0.5 * (std::f64::consts::PI * t / (TAPS as f64 / 2.0 + 0.5)).cos();
            *tap = sinc * window;
        }
        let sum: f64 = taps.iter().sum();
        for (o, t) in phase.iter_mut().zip(taps) {
            *o = (t / sum) as f32;
        }
    }
    out
}

/// Outputs computed together in [`detect`]: eight accumulators held in registers (two SSE
/// vectors on the baseline x86-64 target), instead of an accumulator array in memory that every
/// tap read and wrote back (which made the detector two thirds of the limiter's time, measured).
const LANES: usize = 16;

/// Per-frame peak estimate of channel `c` of interleaved `buf`, written as the max into
/// `peak`: the sample and the three interpolated points after it. Each phase is a 12-tap filter
/// whose sums run tap by tap from 0 in the same order for every frame, so the result does not
/// depend on how frames are grouped.
///
/// Frames whose estimate cannot exceed `floor` are left as they are: a group of [`LANES`]
/// frames is skipped when the largest |x| its taps reach, times the largest sum of |tap| of a
/// phase (with a margin far above the rounding of a 12-term f32 sum), is at most `floor`. The
/// limiter passes its target (what it does with a frame only depends on whether the peak is
/// above it), the true-peak meter 0 (nothing skipped but silence).
#[inline(always)]
pub(crate) fn detect(
    buf: &[f32],
    channels: usize,
    c: usize,
    filters: &[[f32; TAPS]; 3],
    floor: f32,
    peak: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let gain = filters
        .iter()
        .map(|f| f.iter().map(|h| h.abs()).sum::<f32>())
        .fold(1.0f32, f32::max)
        * (1.0 + 1e-4);
    let n = buf.len() / channels;
    // Zero-padded planar copy so every frame has its taps.
    scratch.clear();
    scratch.resize(n + TAPS, 0.0);
    for (s, frame) in scratch[HALF..HALF + n]
        .iter_mut()
        .zip(buf.chunks_exact(channels))
    {
        *s = frame[c];
    }
    let x = &scratch[..];
    let mut i = 0;
    while i + LANES <= n {
        // The three phases side by side: each window of the input is loaded once for all.
        let xs: &[f32; LANES + TAPS] = x[i..i + LANES + TAPS].try_into().expect("padded");
        if xs.iter().fold(0.0f32, |m, v| m.max(v.abs())) * gain <= floor {
            i += LANES;
            continue;
        }
        let mut acc = [[0.0f32; LANES]; 3];
        for j in 0..TAPS {
            let window: &[f32; LANES] = xs[j..j + LANES].try_into().expect("in the tile");
            for (acc, filter) in acc.iter_mut().zip(filters) {
                let h = filter[j];
                for l in 0..LANES {
                    acc[l] += h * window[l];
                }
            }
        }
        let out: &mut [f32; LANES] = (&mut peak[i..i + LANES]).try_into().expect("in range");
        for l in 0..LANES {
            let mut p = out[l].max(xs[HALF + l].abs());
            for acc in &acc {
                p = p.max(acc[l].abs());
            }
            out[l] = p;
        }
        i += LANES;
    }
    for i in i..n {
        let mut p = peak[i].max(x[HALF + i].abs());
        for filter in filters {
            let mut acc = 0.0f32;
            for (j, &h) in filter.iter().enumerate() {
                acc += h * x[i + j];
            }
            p = p.max(acc.abs());
        }
        peak[i] = p;
    }
}

/// The largest of |x| over the samples of interleaved `buf` and the three points the
/// limiter's 4× interpolator puts between neighbouring samples: the true peak (linear) as the
/// limiter's detector sees it. Runs in the widest vector instructions present, like the limiter.
pub(crate) fn true_peak(buf: &[f32], channels: usize) -> f32 {
    struct Peak<'a> {
        buf: &'a [f32],
        channels: usize,
    }
    impl pulp::WithSimd for Peak<'_> {
        type Output = f32;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) -> f32 {
            let n = self.buf.len() / self.channels;
            let filters = phases();
            let mut peak = vec![0.0f32; n];
            let mut scratch = Vec::new();
            for c in 0..self.channels {
                detect(
                    self.buf,
                    self.channels,
                    c,
                    &filters,
                    0.0,
                    &mut peak,
                    &mut scratch,
                );
            }
            peak.iter().copied().fold(0.0, f32::max)
        }
    }
    pulp::Arch::new().dispatch(Peak { buf, channels })
}
