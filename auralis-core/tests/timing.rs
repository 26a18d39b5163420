//! The 48 kHz timeline is the source's time: output frame `n` is source time `n / 48000` at
//! every rate. The oracle is exact: the source is a sum of sinusoids below 0.8 of the lower of
//! its and the output's Nyquist frequencies (which any good resampler passes unchanged), and the reference is the same sum
//! evaluated at the output instants. Checked without any shift (SNR ≥ 60 dB over the interior),
//! and the fractional shift that fits best must be within ±0.01 frames of zero. A 48 kHz source
//! passes through bit for bit.

mod common;

use auralis_core::{Renderer, Source};
use common::{render_all, wav_float};
use rand::{Rng, SeedableRng};

/// 16 sinusoids per channel: (frequency Hz, amplitude, phase), from 40 Hz to 0.8 of the lower
/// of the source's and the output's Nyquist frequencies.
fn partials(rate: u32, channels: usize, seed: u64) -> Vec<Vec<(f64, f64, f64)>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let top = 0.8 * f64::from(rate.min(48_000)) / 2.0;
    (0..channels)
        .map(|_| {
            (0..16)
                .map(|k| {
                    let f = 40.0 * (top / 40.0).powf((k as f64 + rng.gen::<f64>()) / 16.0);
                    (f, 0.05, rng.gen::<f64>() * std::f64::consts::TAU)
                })
                .collect()
        })
        .collect()
}

/// The partials evaluated at time `t` seconds, channel by channel.
fn at(p: &[Vec<(f64, f64, f64)>], t: f64) -> impl Iterator<Item = f64> + '_ {
    p.iter().map(move |ch| {
        ch.iter()
            .map(|&(f, a, phi)| a * (std::f64::consts::TAU * f * t + phi).sin())
            .sum()
    })
}

/// Error energy of `out` (interleaved 48 kHz, frames `[from, to)`) against the partials at
/// instants `(n + shift) / 48000`, and the signal energy.
fn error(
    p: &[Vec<(f64, f64, f64)>],
    out: &[f32],
    from: usize,
    to: usize,
    shift: f64,
) -> (f64, f64) {
    let ch = p.len();
    let (mut err, mut sig) = (0.0, 0.0);
    for n in from..to {
        for (c, want) in at(p, (n as f64 + shift) / 48_000.0).enumerate() {
            let got = f64::from(out[n * ch + c]);
            err += (got - want).powi(2);
            sig += want * want;
        }
    }
    (err, sig)
}

/// The shift in [-1, 1] frames that minimizes the error (golden-section search).
fn best_shift(p: &[Vec<(f64, f64, f64)>], out: &[f32], from: usize, to: usize) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (-1.0f64, 1.0f64);
    let e = |d: f64| error(p, out, from, to, d).0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut ec, mut ed) = (e(c), e(d));
    while b - a > 1e-4 {
        if ec < ed {
            (b, d, ed) = (d, c, ec);
            c = b - g * (b - a);
            ec = e(c);
        } else {
            (a, c, ec) = (c, d, ed);
            d = a + g * (b - a);
            ed = e(d);
        }
    }
    (a + b) / 2.0
}

#[test]
fn output_frame_n_is_source_time_n_over_48000_at_every_rate() {
    for (rate, seed) in [
        (44_100, 1),
        (88_200, 2),
        (96_000, 3),
        (22_050, 4),
        (8_000, 5),
        (37_800, 6),
    ] {
        let p = partials(rate, 2, seed);
        let frames = rate as usize * 3;
        let samples: Vec<f32> = (0..frames)
            .flat_map(|i| at(&p, i as f64 / f64::from(rate)).collect::<Vec<_>>())
            .map(|x| x as f32)
            .collect();
        let source = Source::from_bytes(wav_float(rate, 2, &samples), Some("wav")).unwrap();
        // 1 s chunks: the joins are inside the measured span.
        let out = render_all(&Renderer::new(source), 1.0);
        // The interior: the source starts and stops abruptly, the partials do not.
        let (from, to) = (4_800, out.len() / 2 - 4_800);
        let (err, sig) = error(&p, &out, from, to, 0.0);
        let snr = 10.0 * (sig / err).log10();
        let shift = best_shift(&p, &out, from, to);
        println!("{rate} Hz: {snr:.1} dB with no shift; best fit at {shift:+.4} frames");
        assert!(snr >= 60.0, "{rate} Hz: {snr:.1} dB");
        assert!(
            shift.abs() <= 0.01,
            "{rate} Hz: best fit at {shift:+.4} frames"
        );
    }
}

#[test]
fn a_48_khz_source_passes_through_bit_for_bit() {
    let p = partials(48_000, 2, 7);
    let samples: Vec<f32> = (0..48_000 * 2)
        .flat_map(|i| at(&p, i as f64 / 48_000.0).collect::<Vec<_>>())
        .map(|x| x as f32)
        .collect();
    let source = Source::from_bytes(wav_float(48_000, 2, &samples), Some("wav")).unwrap();
    assert!(render_all(&Renderer::new(source), 0.5) == samples);
}
