//! Mastering: the meter against EBU conformance signals, loudness and true peak on the corpus,
//! preset directions, intensity, chunk independence and continuity, silence and DC.

mod common;

use auralis_core::analysis::{self, analyze_samples, Sampling};
use auralis_core::mastering::{self, Stages};
use auralis_core::pipeline;
use auralis_core::{Mastering, Preset, Renderer, Source};
use common::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

// ---- helpers -------------------------------------------------------------------------------

/// A stereo 1 kHz sine, `(dBFS, seconds)` piece after piece.
fn sine_program(rate: u32, pieces: &[(f64, f64)]) -> Vec<f32> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for &(dbfs, seconds) in pieces {
        let amp = 10f64.powf(dbfs / 20.0);
        for _ in 0..(seconds * f64::from(rate)).round() as u64 {
            let x =
                (amp * (std::f64::consts::TAU * 1000.0 * n as f64 / f64::from(rate)).sin()) as f32;
            out.extend([x, x]);
            n += 1;
        }
    }
    out
}

/// True peak in dBTP at 8× oversampling (rubato's FFT resampler to 384 kHz), an oracle
/// independent of the limiter's own 4× detector.
fn true_peak_8x(samples: &[f32], channels: usize) -> f64 {
    auralis_testkit::true_peak_oversampled_dbtp(samples, channels, 48_000, 8)
}

fn loudness(samples: &[f32], channels: usize) -> f64 {
    analyze_samples(samples, 48_000, channels).integrated_lufs
}

/// Energy above 3 kHz relative to energy below 200 Hz, in dB.
fn hf_over_lf_db(samples: &[f32], channels: usize) -> f64 {
    let a = analyze_samples(samples, 48_000, channels);
    let power = |db: f64| 10f64.powf(db / 10.0);
    10.0 * ((power(a.band_db[3]) + power(a.band_db[4])) / power(a.band_db[0])).log10()
}

/// Momentary loudness (400 ms) centred on `frame`.
fn momentary_at(samples: &[f32], channels: usize, frame: usize) -> f64 {
    let (from, to) = (
        frame.saturating_sub(9_600),
        (frame + 9_600).min(samples.len() / channels),
    );
    let mut meter = ebur128::EbuR128::new(channels as u32, 48_000, ebur128::Mode::M).unwrap();
    meter
        .add_frames_f32(&samples[from * channels..to * channels])
        .unwrap();
    meter.loudness_momentary().unwrap()
}

fn mastered_chunks(renderer: &Renderer, mastering: &Mastering, chunk_seconds: f64) -> Vec<f32> {
    let plan = renderer.plan(chunk_seconds).unwrap();
    plan.chunks()
        .flat_map(|c| pipeline::mastered_pcm(renderer, &plan, c.index, &mastering.params).unwrap())
        .collect()
}

/// One continuous pass of the chain over the whole track (the reference for continuity).
fn mastered_continuous(renderer: &Renderer, mastering: &Mastering) -> Vec<f32> {
    let mut reader = renderer.source().reader().unwrap();
    let mut buf = renderer
        .render_range(&mut reader, 0, renderer.frames())
        .unwrap();
    mastering::process(
        &mut buf,
        renderer.channels() as usize,
        48_000,
        0,
        &mastering.params,
        Stages::All,
    );
    buf
}

/// A named conformance case: the programme and the expected value.
type Case = (&'static str, Vec<(f64, f64)>, f64);

const MUSIC: [&str; 7] = [
    "frantic_45s.ogg",
    "elvish_45s_24bit.flac",
    "sad_44s.mp3",
    "love_40s.m4a",
    "revelation_mono_22k.wav",
    "transience_96k_24bit.wav",
    "victory_5s.wav",
];

const PRESETS: [Preset; 6] = Preset::PROCESSING;

// ---- the meter -----------------------------------------------------------------------------

#[test]
fn loudness_meter_passes_ebu_tech_3341_and_3342_cases_at_48_and_44_1_khz() {
    for rate in [48_000u32, 44_100] {
        // Tech 3341 cases 1-5: integrated loudness -23.0 ±0.1 LUFS (cases 1 and 2 at their level).
        let cases_3341: [Case; 5] = [
            ("3341-1", vec![(-23.0, 20.0)], -23.0),
            ("3341-2", vec![(-33.0, 20.0)], -33.0),
            (
                "3341-3",
                vec![(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],
                -23.0,
            ),
            (
                "3341-4",
                vec![
                    (-72.0, 10.0),
                    (-36.0, 10.0),
                    (-23.0, 60.0),
                    (-36.0, 10.0),
                    (-72.0, 10.0),
                ],
                -23.0,
            ),
            (
                "3341-5",
                vec![(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],
                -23.0,
            ),
        ];
        for (name, pieces, expect) in cases_3341 {
            let a = analyze_samples(&sine_program(rate, &pieces), rate, 2);
            assert!(
                (a.integrated_lufs - expect).abs() <= 0.1,
                "{name} @ {rate}: {}",
                a.integrated_lufs
            );
        }
        // Tech 3342 cases 1-4: loudness range ±1 LU.
        let cases_3342: [Case; 4] = [
            ("3342-1", vec![(-20.0, 20.0), (-30.0, 20.0)], 10.0),
            ("3342-2", vec![(-20.0, 20.0), (-15.0, 20.0)], 5.0),
            ("3342-3", vec![(-40.0, 20.0), (-20.0, 20.0)], 20.0),
            (
                "3342-4",
                vec![
                    (-50.0, 20.0),
                    (-35.0, 20.0),
                    (-20.0, 20.0),
                    (-35.0, 20.0),
                    (-50.0, 20.0),
                ],
                15.0,
            ),
        ];
        for (name, pieces, expect) in cases_3342 {
            let a = analyze_samples(&sine_program(rate, &pieces), rate, 2);
            assert!(
                (a.loudness_range_lu - expect).abs() <= 1.0,
                "{name} @ {rate}: {}",
                a.loudness_range_lu
            );
        }
    }
}

#[test]
fn sparse_analysis_stays_within_1_lu_of_the_full_measurement() {
    let Some(dir) = corpus() else { return };
    let sparse = Sampling {
        full_up_to_s: 0.0,
        excerpts: 4,
        excerpt_s: 3.0,
    };
    let full = Sampling {
        full_up_to_s: f64::INFINITY,
        ..Sampling::default()
    };
    for name in MUSIC {
        let source = Source::open(dir.join(name)).unwrap();
        let a = analysis::analyze_with(&source, &sparse, 0).unwrap();
        let b = analysis::analyze_with(&source, &full, 0).unwrap();
        assert!(
            a.analyzed_s < b.analyzed_s || b.analyzed_s <= 12.0,
            "{name}: the sparse run must sample"
        );
        assert!(
            (a.integrated_lufs - b.integrated_lufs).abs() <= 1.0,
            "{name}: {} vs {}",
            a.integrated_lufs,
            b.integrated_lufs
        );
        // The stored analysis round-trips through JSON exactly.
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(
            serde_json::from_str::<analysis::TrackAnalysis>(&json).unwrap(),
            b
        );
    }
}

// ---- what the chain does -------------------------------------------------------------------

#[test]
fn every_preset_hits_its_loudness_target_under_the_true_peak_ceiling() {
    let Some(dir) = corpus() else { return };
    for name in MUSIC {
        let source = Source::open(dir.join(name)).unwrap();
        let renderer = Renderer::new(source.clone());
        let ch = renderer.channels() as usize;
        let analysis = analysis::analyze(&source, 0).unwrap();
        for preset in PRESETS {
            let mastering = Mastering::prepare(&source, preset, Some(analysis.clone()), 0).unwrap();
            let out = mastered_chunks(&renderer, &mastering, 30.0);
            assert!(
                out.iter().all(|x| x.is_finite()),
                "{name} {preset}: non-finite output"
            );
            let got = loudness(&out, ch);
            let target = mastering.params.target_lufs;
            assert!(
                (got - target).abs() <= 1.0,
                "{name} {preset}: {got:.2} LUFS, target {target:.2}"
            );
            let tp = true_peak_8x(&out, ch);
            assert!(tp <= -1.0, "{name} {preset}: true peak {tp:.3} dBTP");
        }
    }
}

#[test]
fn bright_has_more_treble_over_bass_than_warm_on_every_track() {
    let Some(dir) = corpus() else { return };
    for name in MUSIC {
        let source = Source::open(dir.join(name)).unwrap();
        let renderer = Renderer::new(source.clone());
        let ch = renderer.channels() as usize;
        let ratio = |preset| {
            let m = Mastering::prepare(&source, preset, None, 0).unwrap();
            hf_over_lf_db(&mastered_chunks(&renderer, &m, 30.0), ch)
        };
        let (bright, warm) = (ratio(Preset::Bright), ratio(Preset::Warm));
        assert!(
            bright > warm + 1.0,
            "{name}: bright {bright:.2} dB vs warm {warm:.2} dB"
        );
    }
}

#[test]
fn intensity_zero_is_an_exact_bypass_and_half_lies_between() {
    let source = demo_excerpt();
    let renderer = Renderer::new(source.clone());
    let ch = renderer.channels() as usize;
    let plan = renderer.plan(5.0).unwrap();
    let at = |k: f64| Mastering::prepare(&source, (Preset::Bright, k), None, 0).unwrap();
    let zero = at(0.0);
    for c in plan.chunks() {
        let bypass = pipeline::mastered_pcm(&renderer, &plan, c.index, &zero.params).unwrap();
        assert!(
            bypass == renderer.render_chunk(&plan, c.index).unwrap(),
            "chunk {}",
            c.index
        );
    }
    let none = Mastering::prepare(&source, Preset::None, None, 0).unwrap();
    assert!(none.params.is_bypass());
    let out = |m: &Mastering| mastered_chunks(&renderer, m, 5.0);
    let (o0, o5, o1) = (out(&zero), out(&at(0.5)), out(&at(1.0)));
    let (l0, l5, l1) = (loudness(&o0, ch), loudness(&o5, ch), loudness(&o1, ch));
    assert!(
        (l0.min(l1)..=l0.max(l1)).contains(&l5) && (l0 - l1).abs() > 1.0,
        "loudness {l0:.2} {l5:.2} {l1:.2}"
    );
    let (b0, b5, b1) = (
        hf_over_lf_db(&o0, ch),
        hf_over_lf_db(&o5, ch),
        hf_over_lf_db(&o1, ch),
    );
    assert!(b0 < b5 && b5 < b1, "treble/bass {b0:.2} {b5:.2} {b1:.2}");
}

/// The first 40 s of the demo (loud and quiet sections), as a source.
fn demo_excerpt() -> Source {
    let pcm = auralis_core::demo::synthesize();
    let ints = quantize(&pcm[..44_100 * 2 * 40], 16);
    Source::from_bytes(wav_int(44_100, 2, 16, &ints), Some("wav")).unwrap()
}

// ---- chunks --------------------------------------------------------------------------------

#[test]
fn mastered_chunks_are_independent_of_render_order_for_5_10_and_30_s_chunks() {
    let source = demo_excerpt();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Punchy, None, 0).unwrap();
    for chunk_seconds in [5.0, 10.0, 30.0] {
        let plan = renderer.plan(chunk_seconds).unwrap();
        let in_order = mastered_chunks(&renderer, &mastering, chunk_seconds);
        let mut order: Vec<u64> = (0..plan.total_chunks()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(chunk_seconds as u64));
        let mut chunks = vec![Vec::new(); order.len()];
        for &k in &order {
            chunks[k as usize] =
                pipeline::mastered_pcm(&renderer, &plan, k, &mastering.params).unwrap();
        }
        // Ranges through one reader in shuffled order equal ranges through fresh readers:
        // the reader's history must not matter either.
        let mut reader = source.reader().unwrap();
        for &k in order.iter().take(4) {
            let c = plan.chunk(k).unwrap();
            let shared = renderer
                .render_mastered(&mut reader, c.start_frame, c.end_frame(), &mastering.params)
                .unwrap();
            let fresh = renderer
                .render_mastered(
                    &mut source.reader().unwrap(),
                    c.start_frame,
                    c.end_frame(),
                    &mastering.params,
                )
                .unwrap();
            assert!(shared == fresh, "range {k} depends on the reader's history");
        }
        assert!(
            chunks.concat() == in_order,
            "{chunk_seconds} s chunks depend on render order"
        );
    }
}

#[test]
fn no_level_step_at_chunk_boundaries_that_the_continuous_render_does_not_have() {
    let Some(dir) = corpus() else { return };
    for name in ["frantic_45s.ogg", "sad_44s.mp3", "elvish_45s_24bit.flac"] {
        let source = Source::open(dir.join(name)).unwrap();
        let renderer = Renderer::new(source.clone());
        let ch = renderer.channels() as usize;
        for preset in [Preset::Adaptive, Preset::Bright] {
            let mastering = Mastering::prepare(&source, preset, None, 0).unwrap();
            let continuous = mastered_continuous(&renderer, &mastering);
            for chunk_seconds in [5.0, 10.0] {
                let chunked = mastered_chunks(&renderer, &mastering, chunk_seconds);
                assert_eq!(chunked.len(), continuous.len());
                let plan = renderer.plan(chunk_seconds).unwrap();
                for c in plan.chunks().skip(1) {
                    let b = c.start_frame as usize;
                    let (x, y) = (
                        momentary_at(&chunked, ch, b),
                        momentary_at(&continuous, ch, b),
                    );
                    assert!(
                        (x - y).abs() < 0.1,
                        "{name} {preset} {chunk_seconds} s: boundary {b}: {x:.3} vs {y:.3} LUFS"
                    );
                }
            }
        }
    }
}

// ---- bad input -----------------------------------------------------------------------------

#[test]
fn silence_stays_silent_and_finite() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "silence.wav",
        &wav_int(44_100, 2, 16, &vec![0; 44_100 * 2 * 8]),
    );
    let source = Source::open(&path).unwrap();
    let renderer = Renderer::new(source.clone());
    for preset in PRESETS {
        let m = Mastering::prepare(&source, preset, None, 0).unwrap();
        assert_eq!(m.params.gain_db, 0.0, "{preset}");
        let out = mastered_chunks(&renderer, &m, 5.0);
        assert!(
            out.iter().all(|&x| x == 0.0),
            "{preset}: digital silence must stay digital silence"
        );
    }
    // Near-silence (the corpus's noise floor at -78 dBFS) is not amplified into noise.
    let Some(corpus) = corpus() else { return };
    let source = Source::open(corpus.join("silence_10s.flac")).unwrap();
    let renderer = Renderer::new(source.clone());
    for preset in PRESETS {
        let m = Mastering::prepare(&source, preset, None, 0).unwrap();
        let out = mastered_chunks(&renderer, &m, 5.0);
        let peak = out.iter().fold(0.0f32, |p, x| p.max(x.abs()));
        assert!(
            out.iter().all(|x| x.is_finite()) && peak < 10f32.powf(-60.0 / 20.0),
            "{preset}: peak {peak}"
        );
    }
}

#[test]
fn dc_offset_does_not_eat_the_limiters_headroom() {
    // A quiet tune riding on a DC offset of 0.5: the DC blocker removes the offset, so the
    // music still reaches the target instead of being held down by a constant "peak".
    let rate = 44_100;
    let music = music_like(rate, 2, rate as usize * 12, 4);
    let with_dc: Vec<f64> = music.iter().map(|x| x * 0.1 + 0.5).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "dc.wav",
        &wav_int(rate, 2, 16, &quantize(&with_dc, 16)),
    );
    let source = Source::open(&path).unwrap();
    let renderer = Renderer::new(source.clone());
    let m = Mastering::prepare(&source, Preset::Adaptive, None, 0).unwrap();
    let out = mastered_chunks(&renderer, &m, 5.0);
    let tail = &out[out.len() / 2..];
    let mean = tail.iter().map(|&x| f64::from(x)).sum::<f64>() / tail.len() as f64;
    assert!(mean.abs() < 0.01, "DC left: {mean}");
    let got = loudness(&out, 2);
    assert!(
        (got - m.params.target_lufs).abs() <= 1.0,
        "{got} vs {}",
        m.params.target_lufs
    );
}

#[test]
fn analysis_and_calibration_do_not_depend_on_the_thread_count() {
    // The 2-minute demo is sampled (8 excerpts), so the threads really split the work.
    let source = auralis_core::demo::demo_source().unwrap();
    let sampling = Sampling::default();
    let info = source.info();
    assert!(analysis::excerpts(info.frames, info.sample_rate, &sampling).len() > 1);
    let one = Mastering::prepare(&source, (Preset::Punchy, 0.8), None, 1).unwrap();
    for threads in [2, 3, 4, 8] {
        let many = Mastering::prepare(&source, (Preset::Punchy, 0.8), None, threads).unwrap();
        // Bit for bit: every float of the analysis and of the parameters.
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            serde_json::to_string(&one).unwrap(),
            "threads {threads}"
        );
        let excerpts = analysis::read_excerpts(&source, &sampling, threads).unwrap();
        let single = analysis::read_excerpts(&source, &sampling, 1).unwrap();
        assert!(
            excerpts == single,
            "excerpt samples differ with {threads} threads"
        );
    }
    // A processing preset on music: the calibrated gain was computed (not a bypass's 0 dB).
    assert!(one.params.gain_db != 0.0);
}
