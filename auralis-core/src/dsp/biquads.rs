//! Biquad filters run over several channels at once: the mastering chain's tone, high-pass and
//! sidechain filters and the loudness meter's K-weighting.

use biquad::Coefficients;

/// A transposed direct form II biquad over `C` channels at once, its state in locals.
///
/// This is the `biquad` crate's `DirectForm2Transposed::run`, operation for operation (so the
/// samples are the same bit for bit), with the coefficients and the channels' states held as
/// plain arrays: a cascade of them over a frame then stays in registers and the channels run
/// side by side in SIMD lanes, where `Vec`s of the crate's filters went through memory on
/// every sample (the tone stage took half its time less this way, measured).
#[derive(Clone, Copy)]
pub(crate) struct Biquads<const C: usize> {
    c: Coefficients<f64>,
    s1: [f64; C],
    s2: [f64; C],
}

impl<const C: usize> Biquads<C> {
    pub(crate) fn new(c: Coefficients<f64>) -> Self {
        Biquads {
            c,
            s1: [0.0; C],
            s2: [0.0; C],
        }
    }

    #[inline(always)]
    pub(crate) fn run(&mut self, x: [f64; C]) -> [f64; C] {
        let c = &self.c;
        let mut y = [0.0; C];
        for ch in 0..C {
            y[ch] = self.s1[ch] + c.b0 * x[ch];
            self.s1[ch] = self.s2[ch] + c.b1 * x[ch] - c.a1 * y[ch];
            self.s2[ch] = c.b2 * x[ch] - c.a2 * y[ch];
        }
        y
    }
}
