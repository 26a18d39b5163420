//! Mastering speed: the chain on a 30 s chunk (with its warm-up and post-roll), the analysis
//! of a 4-minute track, the whole preparation (analysis + loudness calibration), and the
//! library's loudness meter against the `ebur128` crate on the same excerpts.
//!
//! `cargo bench -p auralis-benches --bench mastering`

use std::hint::black_box;
use std::time::Duration;

use auralis_core::dsp::loudness::{self, Measurement};
use auralis_core::mastering::{self, Stages, POST_ROLL_FRAMES, WARMUP_FRAMES};
use auralis_core::{analysis, Mastering, Preset, Renderer, Source};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn chain(c: &mut Criterion) {
    let source = auralis_core::demo::demo_source().unwrap();
    let renderer = Renderer::new(source.clone());
    let mut reader = source.reader().unwrap();
    // Chunk 1 of the demo (30-60 s, its loudest part) with the warm-up and post-roll the
    // renderer gives it.
    let (start, end) = (30 * 48_000, 60 * 48_000);
    let input = renderer
        .render_range(&mut reader, start - WARMUP_FRAMES, end + POST_ROLL_FRAMES)
        .unwrap();
    let mut group = c.benchmark_group("mastering_chain_30s_chunk");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(end - start));
    for preset in [Preset::Adaptive, Preset::Bright] {
        let m = Mastering::prepare(&source, preset, None, 0).unwrap();
        group.bench_function(preset.name(), |b| {
            b.iter(|| {
                let mut buf = input.clone();
                mastering::process(
                    &mut buf,
                    2,
                    48_000,
                    start - WARMUP_FRAMES,
                    &m.params,
                    Stages::All,
                );
                black_box(buf)
            })
        });
    }
    group.finish();
}

fn analysis_of_a_4_minute_track(c: &mut Criterion) {
    let Some(path) = auralis_benches::long_mp3(4) else {
        eprintln!("SKIP analysis: corpus not found");
        return;
    };
    let source = Source::open(&path).unwrap();
    let mut group = c.benchmark_group("track_4min_mp3");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("analysis", |b| {
        b.iter(|| black_box(analysis::analyze(&source, 0).unwrap()))
    });
    let stored = analysis::analyze(&source, 0).unwrap();
    group.bench_function("prepare_with_stored_analysis", |b| {
        b.iter(|| {
            black_box(
                Mastering::prepare(&source, Preset::Adaptive, Some(stored.clone()), 0).unwrap(),
            )
        })
    });
    group.finish();
}

/// The 24 s of analysis excerpts of the 4-minute MP3 (or of the demo), measured on one thread
/// by the library's meter and by `ebur128`: integrated loudness alone (what the calibration
/// measures twice) and with loudness range and true peak (what the analysis measures).
fn loudness_meters(c: &mut Criterion) {
    let source = match auralis_benches::long_mp3(4) {
        Some(path) => Source::open(&path).unwrap(),
        None => auralis_core::demo::demo_source().unwrap(),
    };
    let info = source.info().clone();
    let (rate, ch) = (
        analysis::analysis_rate(info.sample_rate),
        info.channels as usize,
    );
    let excerpts = analysis::read_excerpts(&source, &analysis::Sampling::default(), 1).unwrap();
    let ebur = |mode: ebur128::Mode| {
        let meters: Vec<ebur128::EbuR128> = excerpts
            .iter()
            .map(|e| {
                let mut m = ebur128::EbuR128::new(ch as u32, rate, mode).unwrap();
                m.add_frames_f32(e).unwrap();
                m
            })
            .collect();
        ebur128::EbuR128::loudness_global_multiple(meters.iter()).unwrap()
    };
    let ours = |true_peak: bool| {
        let m: Vec<Measurement> = excerpts
            .iter()
            .map(|e| Measurement::of(e, rate, ch, true_peak))
            .collect();
        (loudness::integrated(&m), loudness::range(&m))
    };
    let mut group = c.benchmark_group("loudness_24s_excerpts");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("ours_integrated", |b| b.iter(|| black_box(ours(false))));
    group.bench_function("ebur128_integrated", |b| {
        b.iter(|| black_box(ebur(ebur128::Mode::I)))
    });
    group.bench_function("ours_integrated_range_true_peak", |b| {
        b.iter(|| black_box(ours(true)))
    });
    group.bench_function("ebur128_integrated_range_true_peak", |b| {
        b.iter(|| {
            black_box(ebur(
                ebur128::Mode::I | ebur128::Mode::LRA | ebur128::Mode::TRUE_PEAK,
            ))
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    chain,
    analysis_of_a_4_minute_track,
    loudness_meters
);
criterion_main!(benches);
