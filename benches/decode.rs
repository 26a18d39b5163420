//! Decode + resample speed, random access, and opening, on the corpus.
//!
//! `cargo bench -p auralis-benches --bench decode`. Throughput is in source frames per second:
//! divide by 44 100 for "× real time" on one core (the renderer is single-threaded).

use std::hint::black_box;
use std::time::Duration;

use auralis_core::{Renderer, Source};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn decode_and_resample(c: &mut Criterion) {
    let Some(corpus) = auralis_benches::corpus() else {
        eprintln!("SKIP decode_resample: corpus not found");
        return;
    };
    let mut group = c.benchmark_group("decode_resample_44k1_stereo");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for name in ["frantic_45s.ogg", "elvish_45s_24bit.flac", "sad_44s.mp3"] {
        let renderer = Renderer::open(corpus.join(name)).unwrap();
        group.throughput(Throughput::Elements(renderer.source().info().frames));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut reader = renderer.source().reader().unwrap();
                black_box(
                    renderer
                        .render_range(&mut reader, 0, renderer.frames())
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn random_access(c: &mut Criterion) {
    let Some(path) = auralis_benches::long_mp3(10) else {
        eprintln!("SKIP random_access: corpus not found");
        return;
    };
    let mut group = c.benchmark_group("mp3_10min");
    group.sample_size(50);
    group.bench_function("open", |b| {
        b.iter(|| black_box(Source::open(&path).unwrap()))
    });
    let source = Source::open(&path).unwrap();
    let renderer = Renderer::new(source.clone());
    let plan = renderer.plan(30.0).unwrap();
    let middle = plan.chunk(plan.total_chunks() / 2).unwrap();
    // The first 48 kHz sample of the middle chunk: a new reader, the seek, the decoder's
    // warm-up, and the resampler's pre-roll.
    group.bench_function("first_sample_of_middle_chunk", |b| {
        b.iter(|| {
            let mut reader = source.reader().unwrap();
            black_box(
                renderer
                    .render_range(&mut reader, middle.start_frame, middle.start_frame + 1)
                    .unwrap(),
            )
        })
    });
    group.bench_function("whole_middle_chunk_30s", |b| {
        b.iter(|| black_box(renderer.render_chunk(&plan, middle.index).unwrap()))
    });
    group.finish();
}

/// Opening Ogg Opus and Matroska files (issue 16): the 10-minute MP3 re-encoded by ffmpeg into
/// `target/bench-data/` once. Opening demuxes every packet (the index); Vorbis in Matroska also
/// decodes every packet once. And the first sample of the middle chunk, which demuxes from the
/// start and decodes Opus's one-second warm-up.
fn open_opus_and_matroska(c: &mut Criterion) {
    let Some(mp3) = auralis_benches::long_mp3(10) else {
        eprintln!("SKIP open_opus_and_matroska: corpus not found");
        return;
    };
    let mut group = c.benchmark_group("open_10min");
    group.sample_size(10);
    for (name, codec) in [
        ("long_10min.opus", "libopus"),
        ("long_10min_opus.webm", "libopus"),
        ("long_10min_vorbis.mka", "libvorbis"),
        ("long_10min_flac.mka", "flac"),
    ] {
        let path = mp3.with_file_name(name);
        if !path.exists() {
            let ok = std::process::Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-y", "-i"])
                .arg(&mp3)
                .args(["-c:a", codec])
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("SKIP open_10min/{name}: ffmpeg could not make it");
                continue;
            }
        }
        group.bench_function(name, |b| b.iter(|| black_box(Source::open(&path).unwrap())));
        let renderer = Renderer::open(&path).unwrap();
        let plan = renderer.plan(30.0).unwrap();
        let middle = plan.chunk(plan.total_chunks() / 2).unwrap();
        group.bench_function(format!("{name}/first_sample_of_middle_chunk"), |b| {
            b.iter(|| {
                let mut reader = renderer.source().reader().unwrap();
                black_box(
                    renderer
                        .render_range(&mut reader, middle.start_frame, middle.start_frame + 1)
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decode_and_resample,
    random_access,
    open_opus_and_matroska
);
criterion_main!(benches);
