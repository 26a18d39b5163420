//! The engine's loudness meter (`auralis_core::dsp::loudness`) against the `ebur128` crate (a port
//! of libebur128, which passes EBU Tech 3341 and 3342) on the same samples: integrated
//! loudness, loudness range and true peak, for single stretches and for excerpts measured
//! together, at several rates, mono and stereo, on music, noise and level steps.

mod common;

use auralis_core::dsp::loudness::{self, Measurement};
use ebur128::{EbuR128, Mode};

fn crate_meter(samples: &[f32], rate: u32, channels: usize) -> EbuR128 {
    let mut m = EbuR128::new(channels as u32, rate, Mode::I | Mode::LRA | Mode::TRUE_PEAK).unwrap();
    if channels == 1 {
        m.set_channel(0, ebur128::Channel::DualMono).unwrap();
    }
    m.add_frames_f32(samples).unwrap();
    m
}

/// Compares one set of excerpts measured together; returns the largest differences.
fn compare(excerpts: &[Vec<f32>], rate: u32, channels: usize, what: &str) -> (f64, f64, f64) {
    let ours: Vec<Measurement> = excerpts
        .iter()
        .map(|e| Measurement::of(e, rate, channels, true))
        .collect();
    let theirs: Vec<EbuR128> = excerpts
        .iter()
        .map(|e| crate_meter(e, rate, channels))
        .collect();
    let i_ours = loudness::integrated(&ours).expect("above the gate");
    let i_theirs = EbuR128::loudness_global_multiple(theirs.iter()).unwrap();
    let r_ours = loudness::range(&ours);
    let r_theirs = EbuR128::loudness_range_multiple(theirs.iter()).unwrap();
    let tp_ours = ours.iter().map(|m| m.true_peak()).fold(0.0f32, f32::max);
    let tp_theirs = theirs
        .iter()
        .flat_map(|m| (0..channels as u32).map(move |c| m.true_peak(c).unwrap()))
        .fold(0.0f64, f64::max);
    let tp_db = 20.0 * (f64::from(tp_ours) / tp_theirs).log10();
    println!(
        "{what}: integrated {i_ours:.4} / {i_theirs:.4} LUFS, range {r_ours:.4} / {r_theirs:.4} LU, \
         true peak {:.3} / {:.3} dBTP (ours / ebur128)",
        20.0 * f64::from(tp_ours).log10(),
        20.0 * tp_theirs.log10()
    );
    (
        (i_ours - i_theirs).abs(),
        (r_ours - r_theirs).abs(),
        tp_db.abs(),
    )
}

fn check(excerpts: &[Vec<f32>], rate: u32, channels: usize, what: &str) {
    let (i, r, tp) = compare(excerpts, rate, channels, what);
    assert!(i < 1e-3, "{what}: integrated differs by {i} LU");
    assert!(r < 1e-3, "{what}: range differs by {r} LU");
    // Two 4× interpolators (12 taps per phase here, 49 taps in all there) read a true peak
    // between samples slightly differently.
    assert!(tp < 0.1, "{what}: true peak differs by {tp} dB");
}

fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

#[test]
fn music_like_audio_reads_as_ebur128_reads_it_at_every_rate_and_layout() {
    for rate in [48_000u32, 44_100, 22_050, 32_000, 8_000, 11_025] {
        for channels in [1usize, 2] {
            let frames = rate as usize * 13 + 777;
            let audio = to_f32(&common::music_like(rate, channels, frames, u64::from(rate)));
            check(
                &[audio],
                rate,
                channels,
                &format!("{rate} Hz, {channels} ch"),
            );
        }
    }
}

#[test]
fn level_steps_and_quiet_passages_gate_as_ebur128_gates_them() {
    // 3 s excerpts (the analysis's) of music at very different levels, measured together:
    // the relative gates drop the quiet ones, the absolute gate drops the silent one.
    let rate = 44_100;
    let base = common::music_like(rate, 2, rate as usize * 3, 7);
    let excerpts: Vec<Vec<f32>> = [0.0, -6.0, -20.0, -35.0, -80.0, -3.0, -12.0, -50.0]
        .iter()
        .map(|db: &f64| {
            let g = 10f64.powf(db / 20.0);
            base.iter().map(|&x| (x * g) as f32).collect()
        })
        .collect();
    check(&excerpts, rate, 2, "8 excerpts of 3 s at 0 to -80 dB");
    // One long programme with the same steps.
    let long: Vec<f32> = excerpts.concat();
    check(&[long], rate, 2, "the same steps in one 24 s programme");
}

#[test]
fn the_corpus_reads_as_ebur128_reads_it() {
    // `corpus()` reports the skip (and fails under CI when the corpus is missing).
    let Some(dir) = common::corpus() else { return };
    for (name, _, _) in common::CORPUS {
        let path = dir.join(name);
        let source = auralis_core::Source::open(&path).unwrap();
        let info = source.info().clone();
        let excerpts = auralis_core::analysis::read_excerpts(
            &source,
            &auralis_core::analysis::Sampling::default(),
            0,
        )
        .unwrap();
        let (rate, channels) = (
            auralis_core::analysis::analysis_rate(info.sample_rate),
            info.channels as usize,
        );
        let ours: Vec<Measurement> = excerpts
            .iter()
            .map(|e| Measurement::of(e, rate, channels, true))
            .collect();
        if loudness::integrated(&ours).is_none() {
            // Silence: below the absolute gate for both.
            let theirs: Vec<EbuR128> = excerpts
                .iter()
                .map(|e| crate_meter(e, rate, channels))
                .collect();
            let l = EbuR128::loudness_global_multiple(theirs.iter());
            assert!(l.map_or(true, |l| l == f64::NEG_INFINITY), "{name}: {l:?}");
            continue;
        }
        check(&excerpts, rate, channels, name);
    }
}
