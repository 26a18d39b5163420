//! Queues: a boundary chunk (rendered from two tracks around a gapless join) against an
//! ordinary chunk of the same track (the track's own chunk, as the queue serves inside a track),
//! both computed each time (an engine with no cache), 30 s chunks, preset adaptive, 128 kbit/s.
//! The target: a boundary chunk costs at most 1.5 times an ordinary one. Also the MP4
//! queue's chunk that holds the join (the continuous layout: one grid over the queue, every
//! chunk rendered from the queue's audio, the join inside it), and the first unit (1 s Cluster
//! or fragment) of each, as a server streams it.
//!
//! Input: the corpus's `sad_44s.mp3` then `elvish_45s_24bit.flac` (the 45 s demo excerpts when
//! the corpus is absent).
//!
//! `cargo bench -p auralis-benches --bench queue`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use auralis_core::stream::{
    Engine, EngineConfig, GainMode, Join, Queue, QueueItem, StreamSettings,
};
use auralis_core::CacheConfig;
use criterion::{criterion_group, criterion_main, Criterion};

fn tracks() -> Vec<PathBuf> {
    if let Some(corpus) = auralis_benches::corpus() {
        return vec![
            corpus.join("sad_44s.mp3"),
            corpus.join("elvish_45s_24bit.flac"),
        ];
    }
    println!("corpus absent: benchmarking two 45 s excerpts of the demo");
    let dir = std::env::temp_dir().join(format!("auralis-bench-queue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = auralis_core::demo::synthesize();
    (0..2)
        .map(|i| {
            let path = dir.join(format!("{i}.wav"));
            let from = 44_100 * 2 * 45 * i;
            let pcm = &source[from..from + 44_100 * 2 * 45];
            std::fs::write(
                &path,
                auralis_core::format::wav::wav_bytes(
                    2,
                    auralis_core::format::wav::WavFormat::Float32,
                    0,
                    pcm.iter().map(|&x| x as f32).collect(),
                )
                .unwrap(),
            )
            .unwrap();
            path
        })
        .collect()
}

fn queue(c: &mut Criterion) {
    let engine = Engine::new(&EngineConfig {
        cache: CacheConfig {
            memory_bytes: 0,
            disk_dir: None,
            ..CacheConfig::default()
        },
        prefetch_workers: 0,
        ..EngineConfig::default()
    });
    let items: Vec<QueueItem> = tracks().into_iter().map(QueueItem::new).collect();
    let queue = Queue::open(
        &engine,
        &items,
        &[Join::Gapless],
        StreamSettings::default(),
        GainMode::Track,
    )
    .unwrap();
    // The second track's first chunk: pre-roll from the first track's tail.
    let boundary = queue.places()[1].first_chunk;
    assert!(queue.chunk(boundary).unwrap().boundary);
    let own = queue.item_stream(1).unwrap().clone();
    let mut group = c.benchmark_group("queue");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("ordinary_chunk", |b| {
        b.iter(|| black_box(own.chunk_media_segment(0).unwrap()))
    });
    group.bench_function("boundary_chunk", |b| {
        b.iter(|| black_box(queue.chunk_media_segment(boundary).unwrap()))
    });
    let mp4 = Queue::open(
        &engine,
        &items,
        &[Join::Gapless],
        StreamSettings {
            container: auralis_core::Container::Mp4,
            ..StreamSettings::default()
        },
        GainMode::Track,
    )
    .unwrap();
    let join = mp4.places()[1].start_frame;
    let holding = mp4
        .chunks()
        .iter()
        .find(|c| c.start_frame < join && join < c.start_frame + c.frames)
        .expect("the join lies inside a chunk")
        .index;
    group.bench_function("continuous_mp4_chunk_holding_the_join", |b| {
        b.iter(|| black_box(mp4.chunk_media_segment(holding).unwrap()))
    });
    // Progressive output: the first unit (1 s Cluster or fragment) of the same chunks, as a
    // server sends it (the rest is read untimed, so that no part still renders meanwhile).
    let first_unit = |q: &Queue, k: u64| {
        let mut units = q.chunk_clusters(k, None).unwrap();
        let first = units.next().unwrap().unwrap();
        (first, units)
    };
    group.bench_function("ordinary_chunk_first_cluster", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = std::time::Instant::now();
                let mut units = own.chunk_clusters(0, None).unwrap();
                black_box(units.next().unwrap().unwrap());
                total += t.elapsed();
                units.for_each(|u| drop(u.unwrap()));
            }
            total
        })
    });
    for (name, q, k) in [
        ("boundary_chunk_first_cluster", &queue, boundary),
        (
            "continuous_mp4_chunk_holding_the_join_first_fragment",
            &mp4,
            holding,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = std::time::Instant::now();
                    let (first, rest) = first_unit(q, k);
                    total += t.elapsed();
                    black_box(first);
                    rest.for_each(|u| drop(u.unwrap()));
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
