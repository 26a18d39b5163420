//! The stream engine: a chunk served from the memory cache (as cached, and in the other
//! container: re-wrapped as fragmented MP4), from the disk cache, and computed
//! cold (random access in a 4-minute track whose analysis is known), plus the first cluster of
//! a cold chunk (progressive output), opening a stream whose mastering is cached, and the first
//! cluster of chunk 0 from a file nothing is known of (time to first audio).
//!
//! Input: a 4-minute MP3 made from the corpus (`sad_44s.mp3` repeated), or the 2-minute
//! built-in demo when the corpus is absent. Chunks of 30 s, preset adaptive, 128 kbit/s.
//!
//! `cargo bench -p auralis-benches --bench stream`

use std::hint::black_box;
use std::time::Duration;

use auralis_core::stream::{Engine, EngineConfig, Stream, StreamSettings};
use auralis_core::CacheConfig;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn open(engine: &Engine) -> Stream {
    match auralis_benches::long_mp3(4) {
        Some(path) => engine.open(path, StreamSettings::default()).unwrap(),
        None => {
            println!("corpus absent: benchmarking the 2-minute demo instead of a 4-minute MP3");
            engine
                .open_bytes(
                    auralis_core::demo::demo_wav(),
                    Some("wav"),
                    StreamSettings::default(),
                )
                .unwrap()
        }
    }
}

fn engine(disk: Option<&std::path::Path>) -> Engine {
    Engine::new(&EngineConfig {
        cache: CacheConfig {
            disk_dir: disk.map(std::path::Path::to_path_buf),
            ..CacheConfig::default()
        },
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

fn stream_engine(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("auralis-bench-cache-{}", std::process::id()));
    let engine = engine(Some(&dir));
    let stream = open(&engine);
    let total = stream.info().total_chunks;
    let k = total / 2;
    stream.chunk_media_segment(k).unwrap();

    let mut group = c.benchmark_group("stream");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("cached_chunk_memory", |b| {
        b.iter(|| black_box(stream.chunk_media_segment(k).unwrap()))
    });
    // The second container of a cached chunk: the WebM entry re-wrapped as MP4 fragments.
    let mp4 = stream.with_container(auralis_core::Container::Mp4).unwrap();
    group.bench_function("cached_chunk_memory_as_mp4", |b| {
        b.iter(|| black_box(mp4.chunk_media_segment(k).unwrap()))
    });
    group.bench_function("cached_chunk_disk", |b| {
        b.iter_batched(
            || engine.cache().clear_memory(),
            |()| black_box(stream.chunk_media_segment(k).unwrap()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("open_with_cached_mastering", |b| {
        b.iter(|| black_box(open(&engine)))
    });
    // Time to first audio from nothing: a fresh engine opens the file (probe, analysis,
    // calibration) and yields the first 1 s Cluster of chunk 0.
    // The rest of the chunk is drained untimed, so that no segment still rendering on a worker
    // overlaps the next iteration.
    group.bench_function("first_cluster_uncached_file", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let t = std::time::Instant::now();
                let fresh = self::engine(None);
                let stream = open(&fresh);
                let mut clusters = stream.chunk_clusters(0, None).unwrap();
                black_box(clusters.next());
                timed += t.elapsed();
                clusters.for_each(|c| drop(black_box(c)));
            }
            timed
        })
    });

    let cold_engine = self::engine(None);
    let cold = open(&cold_engine);
    let mut next = 0u64;
    let mut pick = move || {
        // A fixed walk over every chunk in scattered order (seek-like access).
        next = (next + 5) % total;
        next
    };
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("cold_chunk_random_access", |b| {
        b.iter_batched(
            || {
                cold_engine.cache().clear_memory();
                pick()
            },
            |k| black_box(cold.chunk_media_segment(k).unwrap()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("cold_chunk_first_cluster", |b| {
        b.iter_batched(
            || {
                cold_engine.cache().clear_memory();
                pick()
            },
            |k| black_box(cold.chunk_clusters(k, None).unwrap().next()),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, stream_engine);
criterion_main!(benches);
