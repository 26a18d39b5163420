//! The mastering chain, run over a buffer: DC blocker → 5-band EQ → compressor → stereo width →
//! loudness gain → true-peak limiter.
//!
//! Every stage starts from rest at the start of the buffer, and the compressor's gain is
//! computed on 16-frame blocks counted from frame 0 of the track (the buffer says where it
//! starts), so the output for a frame depends only on the audio before and after it, never on
//! where a buffer happened to begin beyond the warm-up the caller gives.

use biquad::{Coefficients, Hertz, Type};

use super::limiter;
use super::presets::{MasteringParams, EQ_BANDS};
use crate::dsp::biquads::Biquads;

/// Frames per compressor gain step. Buffers start on multiples of it.
pub const COMPRESSOR_BLOCK: u64 = 16;
/// DC blocker corner: a DC offset would otherwise eat the limiter's headroom.
const DC_BLOCK_HZ: f64 = 10.0;
/// Side-chain high-pass: bass does not drive the compressor (no pumping).
const SIDECHAIN_HPF_HZ: f64 = 100.0;
/// Soft knee width of the compressor.
const KNEE_DB: f64 = 6.0;

fn coefficients(kind: Type<f64>, rate: u32, hz: f64, q: f64) -> Coefficients<f64> {
    let fs = Hertz::<f64>::from_hz(f64::from(rate)).expect("rate is positive");
    let f0 = Hertz::<f64>::from_hz(hz.min(0.45 * f64::from(rate))).expect("frequency is positive");
    Coefficients::<f64>::from_params(kind, fs, f0, q).expect("valid filter")
}

/// The filters applied to every channel in series: the DC blocker and the non-flat EQ bands.
fn tone_filters(params: &MasteringParams, rate: u32) -> Vec<Coefficients<f64>> {
    let mut filters = vec![coefficients(
        Type::HighPass,
        rate,
        DC_BLOCK_HZ,
        std::f64::consts::FRAC_1_SQRT_2,
    )];
    for (i, (&gain, &(hz, q))) in params.eq_db.iter().zip(&EQ_BANDS).enumerate() {
        if gain.abs() < 1e-9 {
            continue;
        }
        let kind = match i {
            0 => Type::LowShelf(gain),
            4 => Type::HighShelf(gain),
            _ => Type::PeakingEQ(gain),
        };
        filters.push(coefficients(kind, rate, hz, q));
    }
    filters
}

/// Which stages run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stages {
    /// Everything: the output.
    All,
    /// Everything before the loudness gain (for calibrating it).
    BeforeGain,
}

/// Runs the chain over interleaved `buf` (1 or 2 channels at `rate`) in place. `start_frame`
/// is where the buffer starts on the track's timeline (a multiple of [`COMPRESSOR_BLOCK`]).
pub fn process(
    buf: &mut [f32],
    channels: usize,
    rate: u32,
    start_frame: u64,
    params: &MasteringParams,
    stages: Stages,
) {
    debug_assert_eq!(start_frame % COMPRESSOR_BLOCK, 0);
    tone_and_compress(buf, channels, rate, params);
    if channels == 2 && params.width != 1.0 {
        let w = params.width as f32;
        for frame in buf.chunks_exact_mut(2) {
            let (mid, side) = ((frame[0] + frame[1]) * 0.5, (frame[0] - frame[1]) * 0.5 * w);
            frame[0] = mid + side;
            frame[1] = mid - side;
        }
    }
    if stages == Stages::BeforeGain {
        return;
    }
    after_gain(buf, channels, rate, params.gain_db, params);
}

/// The stages from the loudness gain on (gain, then the limiter), with `gain_db` for the
/// params' own: [`process`] with [`Stages::BeforeGain`] followed by this is [`Stages::All`]
/// with that gain, bit for bit (a preset switch shapes a chunk while its gain is calibrated).
pub fn after_gain(
    buf: &mut [f32],
    channels: usize,
    rate: u32,
    gain_db: f64,
    params: &MasteringParams,
) {
    apply_gain(buf, gain_db);
    limiter::limit(buf, channels, rate, params.ceiling_dbtp);
}

/// Multiplies by a gain in dB.
pub fn apply_gain(buf: &mut [f32], gain_db: f64) {
    if gain_db != 0.0 {
        let g = 10f64.powf(gain_db / 20.0) as f32;
        buf.iter_mut().for_each(|x| *x *= g);
    }
}

/// The tone filters, then the compressor, in one pass over the frames: each frame goes through
/// the cascade and straight on into the compressor's side chain, so the two recursions (each
/// bound by the latency of its own arithmetic) run side by side instead of one pass after the
/// other (measured: the chain before the gain in about 0.6 of the time). The operations on
/// each sample are those of the two stages run one after the other, so are the results.
fn tone_and_compress(buf: &mut [f32], channels: usize, rate: u32, params: &MasteringParams) {
    // Frame by frame through the whole cascade in f64: stages stay in registers and the signal
    // is rounded to f32 once (filter-major passes were slower, measured, and rounded per stage).
    // The cascade's length is a constant of the compiled loop (1 to 6 filters).
    let filters = tone_filters(params, rate);
    let compressor = Compressor::new(rate, params);
    struct Run<'a> {
        buf: &'a mut [f32],
        channels: usize,
        filters: &'a [Coefficients<f64>],
        compressor: Option<&'a Compressor>,
    }
    impl pulp::WithSimd for Run<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) {
            match self.channels {
                1 => tone_cascade::<1>(self.buf, self.filters, self.compressor),
                _ => tone_cascade::<2>(self.buf, self.filters, self.compressor),
            }
        }
    }
    pulp::Arch::new().dispatch(Run {
        buf,
        channels,
        filters: &filters,
        compressor: compressor.as_ref(),
    });
}

#[inline(always)]
fn tone_cascade<const C: usize>(
    buf: &mut [f32],
    filters: &[Coefficients<f64>],
    compressor: Option<&Compressor>,
) {
    match filters.len() {
        1 => tone_fixed::<C, 1>(buf, filters, compressor),
        2 => tone_fixed::<C, 2>(buf, filters, compressor),
        3 => tone_fixed::<C, 3>(buf, filters, compressor),
        4 => tone_fixed::<C, 4>(buf, filters, compressor),
        5 => tone_fixed::<C, 5>(buf, filters, compressor),
        _ => tone_fixed::<C, 6>(buf, filters, compressor),
    }
}

#[inline(always)]
fn filter_frame<const C: usize, const N: usize>(frame: &mut [f32], cascade: &mut [Biquads<C>; N]) {
    let mut y: [f64; C] = std::array::from_fn(|ch| f64::from(frame[ch]));
    for f in cascade.iter_mut() {
        y = f.run(y);
    }
    for (x, y) in frame.iter_mut().zip(y) {
        *x = y as f32;
    }
}

#[inline(always)]
fn tone_fixed<const C: usize, const N: usize>(
    buf: &mut [f32],
    filters: &[Coefficients<f64>],
    compressor: Option<&Compressor>,
) {
    let mut cascade: [Biquads<C>; N] = std::array::from_fn(|i| Biquads::new(filters[i]));
    let Some(comp) = compressor else {
        for frame in buf.chunks_exact_mut(C) {
            filter_frame(frame, &mut cascade);
        }
        return;
    };
    let mut sidechain = Biquads::<C>::new(comp.sidechain);
    let mut envelope_db = -120.0f64;
    let mut gain = 1.0f32;
    for frames in buf.chunks_mut(COMPRESSOR_BLOCK as usize * C) {
        let mut peak = 0.0f64;
        for frame in frames.chunks_exact_mut(C) {
            filter_frame(frame, &mut cascade);
            let y = sidechain.run(std::array::from_fn(|ch| f64::from(frame[ch])));
            for y in y {
                peak = peak.max(y.abs());
            }
        }
        let target = comp.gain(peak, &mut envelope_db);
        let n = frames.len() / C;
        let step = (target - gain) / n as f32;
        for (i, frame) in frames.chunks_exact_mut(C).enumerate() {
            let g = gain + step * (i + 1) as f32;
            frame.iter_mut().for_each(|x| *x *= g);
        }
        gain = target;
    }
}

/// Feed-forward, stereo-linked compressor: block peak of the high-passed side chain → level in
/// dB (offset so thresholds read as for a -14 LUFS track) → attack/release smoothing → soft-knee
/// gain computer → gain ramped linearly across each block.
struct Compressor {
    sidechain: Coefficients<f64>,
    attack: f64,
    release: f64,
    slope: f64,
    threshold_db: f64,
    detector_offset_db: f64,
}

impl Compressor {
    /// `None` when the ratio is 1 (nothing to compress).
    fn new(rate: u32, params: &MasteringParams) -> Option<Self> {
        if params.ratio <= 1.0 + 1e-9 {
            return None;
        }
        let step_s = COMPRESSOR_BLOCK as f64 / f64::from(rate);
        Some(Compressor {
            sidechain: coefficients(
                Type::HighPass,
                rate,
                SIDECHAIN_HPF_HZ,
                std::f64::consts::FRAC_1_SQRT_2,
            ),
            attack: 1.0 - (-step_s / (params.attack_ms * 1e-3)).exp(),
            release: 1.0 - (-step_s / (params.release_ms * 1e-3)).exp(),
            slope: 1.0 / params.ratio - 1.0,
            threshold_db: params.threshold_db,
            detector_offset_db: params.detector_offset_db,
        })
    }

    /// The gain at the end of a block whose side-chain peak is `peak`, moving the envelope.
    #[inline(always)]
    fn gain(&self, peak: f64, envelope_db: &mut f64) -> f32 {
        let level = 20.0 * peak.max(1e-6).log10() + self.detector_offset_db;
        let coef = if level > *envelope_db {
            self.attack
        } else {
            self.release
        };
        *envelope_db += coef * (level - *envelope_db);
        let over = *envelope_db - self.threshold_db;
        let reduction_db = if 2.0 * over < -KNEE_DB {
            0.0
        } else if 2.0 * over <= KNEE_DB {
            self.slope * (over + KNEE_DB / 2.0).powi(2) / (2.0 * KNEE_DB)
        } else {
            self.slope * over
        };
        // 10^0 is exactly 1: most blocks of most music are under the knee.
        if reduction_db == 0.0 {
            1.0
        } else {
            10f64.powf(reduction_db / 20.0) as f32
        }
    }
}
