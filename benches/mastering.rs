//! Mastering speed: the chain on a 30 s chunk (with its warm-up and post-roll), the analysis
//! of a 4-minute track, and the whole preparation (analysis + loudness calibration).
//!
//! `cargo bench -p auralis-benches --bench mastering`

use std::hint::black_box;
use std::time::Duration;

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
        let m = Mastering::prepare(&source, preset, 1.0, None, 0).unwrap();
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
                Mastering::prepare(&source, Preset::Adaptive, 1.0, Some(stored.clone()), 0)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, chain, analysis_of_a_4_minute_track);
criterion_main!(benches);
