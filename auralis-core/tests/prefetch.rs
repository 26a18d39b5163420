//! Prefetch under a flood: a request a listener waits for is never delayed by more than one
//! chunk's work, queued jobs of a dropped stream are cancelled, and the flood completes.
//!
//! Alone in its test binary so that no other test competes for the two cores while it times.

mod common;

use std::time::{Duration, Instant};

use auralis_core::stream::{Engine, EngineConfig, StreamSettings};
use auralis_core::{Preset, Priority};
use common::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn a_waited_for_request_is_not_delayed_by_more_than_one_chunk_of_prefetch_work() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = music_like(44_100, 2, 44_100 * 62, 11);
    let path = write_temp(&dir, "t.wav", &wav_int(44_100, 2, 16, &quantize(&pcm, 16)));
    let settings = |preset, intensity| StreamSettings {
        mastering: (preset, intensity).into(),
        chunk_seconds: 10.0,
        ..StreamSettings::default()
    };
    // The default engine: one prefetch worker, leaving the other core to requests.
    let engine = Engine::new(&EngineConfig::default());
    assert_eq!(EngineConfig::default().prefetch_workers, 1);
    let playing = engine.open(&path, settings(Preset::Adaptive, 1.0)).unwrap();
    let total = playing.info().total_chunks;
    // The listener's requests, on streams whose mastering is ready and chunks are not.
    let alone_stream = playing.with_mastering((Preset::Live, 0.9)).unwrap();
    let busy_stream = playing.with_mastering((Preset::Live, 0.8)).unwrap();

    // One chunk's work with nothing else running.
    let alone: Vec<f64> = (0..5)
        .map(|k| {
            let t = Instant::now();
            alone_stream.chunk_media_segment(k).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let chunk_work = median(alone.clone());

    // Flood: every chunk ahead, and every chunk in five other presets.
    playing.prefetch_ahead(0, total);
    for k in 0..total {
        playing.prefetch_alternatives(
            k,
            &[
                (Preset::Gentle, 1.0).into(),
                (Preset::Warm, 1.0).into(),
                (Preset::Bright, 1.0).into(),
                (Preset::Punchy, 1.0).into(),
                (Preset::Live, 1.0).into(),
            ],
        );
    }
    let queued = engine.stats().prefetch.queued;
    assert_eq!(queued, 6 * total - 1);
    // Let the workers get going, then ask while they are busy.
    std::thread::sleep(Duration::from_millis(300));
    let mut busy = Vec::new();
    for k in 0..3 {
        assert!(
            engine.stats().prefetch.pending > 0,
            "the flood is still queued"
        );
        let t = Instant::now();
        busy_stream.chunk_media_segment(k).unwrap();
        busy.push(t.elapsed().as_secs_f64());
        std::thread::sleep(Duration::from_millis(50));
    }
    let worst_delay = busy.iter().fold(0.0f64, |m, &b| m.max(b - chunk_work));
    println!(
        "one chunk's work alone {:.0} ms (runs {:?} ms); under a flood of {queued} jobs \
         {:?} ms; worst delay {:.0} ms",
        chunk_work * 1e3,
        alone.iter().map(|x| (x * 1e3).round()).collect::<Vec<_>>(),
        busy.iter().map(|x| (x * 1e3).round()).collect::<Vec<_>>(),
        worst_delay * 1e3
    );
    assert!(
        worst_delay <= chunk_work,
        "a waited-for request was delayed {:.0} ms, more than one chunk's work ({:.0} ms)",
        worst_delay * 1e3,
        chunk_work * 1e3
    );

    // The flood still completes, and its chunks are then served from memory.
    let until = Instant::now() + Duration::from_secs(120);
    while engine.stats().prefetch.pending > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500)); // the last running jobs
    let warm = playing.with_mastering((Preset::Warm, 1.0)).unwrap();
    let hit = warm.chunk_media_segment(total - 1).unwrap();
    assert_eq!(hit.origin, auralis_core::Origin::Memory);
    let stats = engine.stats().prefetch;
    assert_eq!(stats.failed, 0, "{stats:?}");

    // Dropping a stream cancels its queued jobs.
    let other = engine.open(&path, settings(Preset::Gentle, 0.5)).unwrap();
    let before = engine.stats().prefetch;
    let _hold = other.with_mastering((Preset::Warm, 0.5)).unwrap(); // a sibling does not keep it
    {
        let keep_busy = busy_stream.clone();
        // Keep the workers paused with a waited-for request while queueing and dropping.
        let handle = std::thread::spawn(move || keep_busy.chunk_media_segment(5).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        for k in 0..total {
            other.prefetch(k, None, Priority::Ahead);
        }
        drop(other);
        handle.join().unwrap();
    }
    let until = Instant::now() + Duration::from_secs(30);
    while engine.stats().prefetch.pending > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = engine.stats().prefetch;
    let cancelled = after.cancelled - before.cancelled;
    println!("dropped stream: {cancelled} of {total} queued jobs cancelled");
    assert!(cancelled >= total - 2, "{after:?}");
}
