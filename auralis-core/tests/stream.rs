//! The stream engine: concurrency and single flight, the disk cache under crashes, corruption,
//! eviction and faults, source changes, progressive clusters, transitions, PCM/WAV outputs.
//!
//! The oracle throughout is the single-threaded [`Renderer`] path, which earlier tests pin
//! against continuous renders: whatever the engine serves must be byte-identical to it.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auralis_core::cache::{CacheConfig, CacheEvent, Origin};
use auralis_core::opus::PACKET_FRAMES;
use auralis_core::stream::{Engine, EngineConfig, StreamSettings};
use auralis_core::webm::reader;
use auralis_core::{DecodeError, Error, Mastering, PlanError, Preset, Renderer, Source};
use common::*;
use rand::{Rng, SeedableRng};

const CHUNK_S: f64 = 5.0;

/// A 44.1 kHz stereo 16-bit WAV of `seconds` of music-like audio.
fn track(dir: &Path, name: &str, seconds: f64, seed: u64) -> PathBuf {
    let frames = (44_100.0 * seconds) as usize;
    let pcm = music_like(44_100, 2, frames, seed);
    let path = dir.join(name);
    std::fs::write(&path, wav_int(44_100, 2, 16, &quantize(&pcm, 16))).unwrap();
    path
}

fn settings(preset: Preset) -> StreamSettings {
    StreamSettings {
        preset,
        chunk_seconds: CHUNK_S,
        ..StreamSettings::default()
    }
}

/// The media segments of every chunk, rendered one by one on this thread without the engine.
fn reference_segments(path: &Path, preset: Preset, intensity: f64) -> Vec<Vec<u8>> {
    let source = Source::open(path).unwrap();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, preset, intensity, None).unwrap();
    let plan = renderer.plan(CHUNK_S).unwrap();
    plan.chunks()
        .map(|c| {
            renderer
                .chunk_media_segment(&plan, c.index, &mastering.params, &Default::default())
                .unwrap()
        })
        .collect()
}

fn memory_engine() -> Engine {
    Engine::new(&EngineConfig {
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

fn disk_engine(dir: &Path, disk_bytes: u64) -> Engine {
    Engine::new(&EngineConfig {
        cache: CacheConfig {
            disk_dir: Some(dir.to_path_buf()),
            disk_bytes,
            ..CacheConfig::default()
        },
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

fn chunk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|items| {
            items
                .filter_map(Result::ok)
                .map(|i| i.path())
                .filter(|p| p.extension().is_some_and(|e| e == "chunk"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn dir_bytes(dir: &Path) -> u64 {
    chunk_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

#[test]
fn sixteen_threads_get_the_single_threaded_bytes_and_each_chunk_is_computed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 42.0, 1);
    let reference = reference_segments(&path, Preset::Adaptive, 1.0);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let total = stream.info().total_chunks;
    assert_eq!(total, 9);
    let before = engine.stats().cache;
    let requested = Arc::new(Mutex::new(HashSet::new()));
    let requests = Arc::new(Mutex::new(0u64));
    let deadline = Instant::now() + Duration::from_secs(10);
    std::thread::scope(|scope| {
        for t in 0..16u64 {
            let (stream, reference, requested, requests) =
                (&stream, &reference, requested.clone(), requests.clone());
            scope.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t);
                while Instant::now() < deadline {
                    let k = rng.gen_range(0..total);
                    let served = stream.chunk_media_segment(k).unwrap();
                    assert_eq!(&*served.bytes, &reference[k as usize][..], "chunk {k}");
                    requested.lock().unwrap().insert(k);
                    *requests.lock().unwrap() += 1;
                }
            });
        }
    });
    let after = engine.stats().cache;
    let distinct = requested.lock().unwrap().len() as u64;
    let requests = *requests.lock().unwrap();
    let computed = after.computed - before.computed;
    let served =
        computed + (after.memory_hits - before.memory_hits) + (after.shared - before.shared);
    println!(
        "16 threads, 10 s: {requests} requests, {distinct} distinct chunks, {computed} computed, \
         {} shared waits",
        after.shared
    );
    assert_eq!(
        computed, distinct,
        "each distinct chunk computed exactly once"
    );
    assert_eq!(served, requests, "every request counted once");
    assert!(requests > 100);
}

#[test]
#[ignore = "run as a child process by the SIGKILL test"]
fn child_process_writing_the_disk_cache() {
    let (Some(dir), Some(src)) = (
        std::env::var_os("AURALIS_TEST_CACHE_DIR"),
        std::env::var_os("AURALIS_TEST_SOURCE"),
    ) else {
        return;
    };
    let engine = disk_engine(Path::new(&dir), 1 << 30);
    let seed: u64 = std::env::var("AURALIS_TEST_SEED").unwrap().parse().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let streams: Vec<_> = [Preset::Adaptive, Preset::Warm, Preset::Bright]
        .into_iter()
        .map(|p| engine.open(&src, settings(p)).unwrap())
        .collect();
    loop {
        let s = &streams[rng.gen_range(0..streams.len())];
        let k = rng.gen_range(0..s.info().total_chunks);
        s.chunk_media_segment(k).unwrap();
        engine.cache().clear_memory();
    }
}

fn spawn_writer(cache_dir: &Path, source: &Path, seed: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_writing_the_disk_cache",
            "--ignored",
            "--nocapture",
        ])
        .env("AURALIS_TEST_CACHE_DIR", cache_dir)
        .env("AURALIS_TEST_SOURCE", source)
        .env("AURALIS_TEST_SEED", seed.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn processes_killed_while_writing_never_leave_a_file_that_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let source = track(dir.path(), "t.wav", 42.0, 2);
    let cache_dir = dir.path().join("cache");
    // Two processes share the directory; both are killed with SIGKILL while writing.
    let mut a = spawn_writer(&cache_dir, &source, 1);
    let mut b = spawn_writer(&cache_dir, &source, 2);
    let start = Instant::now();
    let mut killed_during_write = 0;
    for child in [&mut a, &mut b] {
        // Wait for some whole files, then kill at a moment a temporary file exists.
        while chunk_files(&cache_dir).len() < 4 && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let temp = std::fs::read_dir(&cache_dir)
                .unwrap()
                .filter_map(Result::ok)
                .any(|i| i.file_name().to_string_lossy().ends_with(".tmp"));
            if temp || Instant::now() > until {
                child.kill().unwrap(); // SIGKILL
                killed_during_write += usize::from(temp);
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        child.wait().unwrap();
    }
    let files = chunk_files(&cache_dir).len();
    assert!(files >= 4, "the children wrote {files} files");
    println!(
        "killed {killed_during_write} of 2 writers with a temporary file present; {files} files"
    );

    // A fresh process (engine) on the same directory serves only correct chunks.
    let engine = disk_engine(&cache_dir, 1 << 30);
    for preset in [Preset::Adaptive, Preset::Warm, Preset::Bright] {
        let reference = reference_segments(&source, preset, 1.0);
        let stream = engine.open(&source, settings(preset)).unwrap();
        for (k, want) in reference.iter().enumerate() {
            let got = stream.chunk_media_segment(k as u64).unwrap();
            assert_eq!(&*got.bytes, &want[..], "{preset:?} chunk {k}");
        }
    }
    let stats = engine.stats().cache;
    assert!(stats.disk_hits >= 3, "{stats:?}");
    assert_eq!(
        stats.corrupt, 0,
        "renames are atomic: no partial file under a final name"
    );
}

#[test]
fn truncated_or_flipped_cache_files_are_detected_deleted_and_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let source = track(dir.path(), "t.wav", 22.0, 3);
    let cache_dir = dir.path().join("cache");
    let reference = reference_segments(&source, Preset::Adaptive, 1.0);
    {
        let engine = disk_engine(&cache_dir, 1 << 30);
        let stream = engine.open(&source, settings(Preset::Adaptive)).unwrap();
        for k in 0..reference.len() as u64 {
            stream.chunk_media_segment(k).unwrap();
        }
    }
    // The two largest files are chunks; damage both differently.
    let mut files = chunk_files(&cache_dir);
    files.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    let truncated = &files[0];
    let len = std::fs::metadata(truncated).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let flipped = &files[1];
    let mut bytes = std::fs::read(flipped).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    std::fs::write(flipped, &bytes).unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let engine = disk_engine(&cache_dir, 1 << 30);
    let sink = events.clone();
    engine
        .cache()
        .set_event_listener(move |e| sink.lock().unwrap().push(e.clone()));
    let stream = engine.open(&source, settings(Preset::Adaptive)).unwrap();
    for (k, want) in reference.iter().enumerate() {
        assert_eq!(
            &*stream.chunk_media_segment(k as u64).unwrap().bytes,
            &want[..]
        );
    }
    let stats = engine.stats().cache;
    assert_eq!(stats.corrupt, 2, "{stats:?}");
    assert_eq!(
        stats.computed, 2,
        "exactly the two damaged chunks recomputed"
    );
    let corrupt: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            CacheEvent::CorruptEntry { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(corrupt.len(), 2);
    // Regenerated: a third engine reads every chunk from disk.
    let engine = disk_engine(&cache_dir, 1 << 30);
    let stream = engine.open(&source, settings(Preset::Adaptive)).unwrap();
    for k in 0..reference.len() as u64 {
        assert_eq!(stream.chunk_media_segment(k).unwrap().origin, Origin::Disk);
    }
    assert_eq!(engine.stats().cache.corrupt, 0);
}

#[test]
fn eviction_keeps_the_disk_under_its_budget_while_chunks_keep_coming() {
    let dir = tempfile::tempdir().unwrap();
    let source = track(dir.path(), "t.wav", 62.0, 4);
    let cache_dir = dir.path().join("cache");
    let budget = 300_000;
    let engine = disk_engine(&cache_dir, budget);
    let mut most = 0;
    let mut written = 0;
    for preset in [Preset::Adaptive, Preset::Punchy] {
        let stream = engine.open(&source, settings(preset)).unwrap();
        for k in 0..stream.info().total_chunks {
            written += stream.chunk_media_segment(k).unwrap().bytes.len() as u64;
            let now = dir_bytes(&cache_dir);
            most = most.max(now);
            assert!(
                now <= budget,
                "{now} bytes on disk after chunk {k}, budget {budget}"
            );
        }
    }
    let stats = engine.stats().cache;
    println!(
        "wrote {written} bytes, at most {most} on disk, {} evictions",
        stats.disk_evictions
    );
    assert!(written > 3 * budget && stats.disk_evictions > 0);
    // The most recent chunk survived eviction.
    engine.cache().clear_memory();
    let stream = engine.open(&source, settings(Preset::Punchy)).unwrap();
    let last = stream.info().total_chunks - 1;
    assert_eq!(
        stream.chunk_media_segment(last).unwrap().origin,
        Origin::Disk
    );
}

#[test]
fn an_unusable_or_vanishing_cache_directory_falls_back_to_memory_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let source = track(dir.path(), "t.wav", 22.0, 5);
    let reference = reference_segments(&source, Preset::Adaptive, 1.0);

    // A path that is a file, not a directory: disabled at once, requests still served.
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let engine = disk_engine(&not_a_dir, 1 << 30);
    assert!(matches!(
        engine.cache().events().as_slice(),
        [CacheEvent::DiskDisabled { .. }]
    ));
    let stream = engine.open(&source, settings(Preset::Adaptive)).unwrap();
    assert_eq!(
        &*stream.chunk_media_segment(0).unwrap().bytes,
        &reference[0][..]
    );
    assert!(!engine.stats().cache.disk_enabled);

    // Deleted while running: made again on the next write.
    let cache_dir = dir.path().join("cache");
    let engine = disk_engine(&cache_dir, 1 << 30);
    let stream = engine.open(&source, settings(Preset::Adaptive)).unwrap();
    std::fs::remove_dir_all(&cache_dir).unwrap();
    assert_eq!(
        &*stream.chunk_media_segment(0).unwrap().bytes,
        &reference[0][..]
    );
    assert_eq!(chunk_files(&cache_dir).len(), 1);

    // Replaced by a file while running: every write fails, every request is served, the
    // failures are reported and the disk is switched off after three.
    std::fs::remove_dir_all(&cache_dir).unwrap();
    std::fs::write(&cache_dir, b"in the way").unwrap();
    for (k, want) in reference.iter().enumerate().skip(1) {
        assert_eq!(
            &*stream.chunk_media_segment(k as u64).unwrap().bytes,
            &want[..]
        );
    }
    let events = engine.cache().events();
    let failed = events
        .iter()
        .filter(|e| matches!(e, CacheEvent::DiskWriteFailed { .. }))
        .count();
    assert_eq!(failed, 2, "{events:?}");
    assert!(matches!(
        events.last(),
        Some(CacheEvent::DiskDisabled { .. })
    ));
    let stats = engine.stats().cache;
    assert!(!stats.disk_enabled && stats.disk_write_errors == 3);
}

#[test]
fn a_source_that_changes_or_disappears_gives_a_clear_error_and_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 12.0, 6);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let old0 = stream.chunk_media_segment(0).unwrap().bytes;
    // Rewrite with other music of the same length (a re-encode, a tag edit...).
    std::thread::sleep(Duration::from_millis(20));
    track(dir.path(), "t.wav", 12.0, 7);
    for k in [0, 1] {
        match stream.chunk_media_segment(k) {
            Err(Error::Decode(DecodeError::Changed { path: p })) => assert_eq!(p, path),
            other => panic!("chunk {k} after a change: {other:?}"),
        }
    }
    assert!(stream.chunk_pcm(1).is_err() && stream.chunk_clusters(1, None).is_err());
    // Opened again: a new signature, so new keys and the new audio.
    let reopened = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    assert_ne!(reopened.signature(), stream.signature());
    let new0 = reopened.chunk_media_segment(0).unwrap();
    assert_eq!(new0.origin, Origin::Computed);
    assert_ne!(new0.bytes, old0);
    // Deleted.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        reopened.chunk_media_segment(1),
        Err(Error::Decode(DecodeError::Changed { .. }))
    ));
    assert!(matches!(
        engine.open(&path, settings(Preset::Adaptive)),
        Err(Error::Decode(DecodeError::NotFound { .. }))
    ));
}

#[test]
fn clusters_come_one_by_one_and_join_to_the_cached_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 12.0, 8);
    let reference = reference_segments(&path, Preset::Adaptive, 1.0);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();

    // A consumer that stops after the first cluster caches nothing.
    let mut partial = stream.chunk_clusters(1, None).unwrap();
    assert_eq!(partial.origin(), Origin::Computed);
    let first = partial.next().unwrap().unwrap();
    drop(partial);
    let computed = engine.stats().cache.computed;

    let clusters = stream.chunk_clusters(1, None).unwrap();
    assert_eq!(clusters.origin(), Origin::Computed);
    let clusters: Vec<Vec<u8>> = clusters.map(Result::unwrap).collect();
    assert_eq!(clusters[0], first);
    // 5 s chunk: five 1 s clusters, each a whole Cluster element with 50 packets.
    assert_eq!(clusters.len(), 5);
    let mut file = stream.init_segment();
    for c in &clusters {
        file.extend_from_slice(c);
    }
    let parsed = reader::parse(&file).unwrap();
    assert_eq!(parsed.blocks.len() * PACKET_FRAMES, 5 * 48_000);
    assert_eq!(clusters.concat(), reference[1]);
    assert_eq!(engine.stats().cache.computed, computed + 1);

    // Now cached: the same clusters from memory.
    let again = stream.chunk_clusters(1, None).unwrap();
    assert_eq!(again.origin(), Origin::Memory);
    assert_eq!(again.map(Result::unwrap).collect::<Vec<_>>(), clusters);
    assert_eq!(
        &*stream.chunk_media_segment(1).unwrap().bytes,
        &reference[1][..]
    );
}

#[test]
fn pcm_wav_and_whole_track_outputs_are_exact_and_levels_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 11.0, 9);
    let source = Source::open(&path).unwrap();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Gentle, 0.5, None).unwrap();
    let plan = renderer.plan(CHUNK_S).unwrap();
    let engine = memory_engine();
    let stream = engine
        .open(
            &path,
            StreamSettings {
                intensity: 0.5,
                ..settings(Preset::Gentle)
            },
        )
        .unwrap();
    assert_eq!(stream.mastering(), &mastering.params);
    let info = stream.info();
    assert_eq!(
        (info.frames, info.total_chunks, info.channels),
        (528_000, 3, 2)
    );
    let mut joined = Vec::new();
    for c in plan.chunks() {
        let want = renderer
            .render_mastered_chunk(&plan, c.index, &mastering.params)
            .unwrap();
        let pcm = stream.chunk_pcm(c.index).unwrap();
        assert_eq!(pcm, want, "chunk {}", c.index);
        let wav = stream.chunk_wav(c.index).unwrap();
        let from_wav: Vec<f32> = hound::WavReader::new(&wav[..])
            .unwrap()
            .into_samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(from_wav, want);
        let level = stream.chunk_level(c.index).unwrap();
        assert!((level.rms_db - auralis_core::stream::rms_db(&want)).abs() < 1e-12);
        assert_eq!(level.gain_db, mastering.params.gain_db);
        joined.extend(want);
    }
    assert_eq!(stream.levels_served().len(), 3);
    let full = stream.full_wav().unwrap();
    let reader = hound::WavReader::new(&full[..]).unwrap();
    assert_eq!(reader.duration() as u64, info.frames);
    let samples: Vec<f32> = reader.into_samples::<f32>().map(Result::unwrap).collect();
    assert_eq!(samples, joined);
    let webm = stream.full_webm().unwrap();
    assert!(reader::parse(&webm).is_ok());
    // A bypassed stream reports 0 dB of gain.
    let plain = engine
        .open(
            &path,
            StreamSettings {
                intensity: 0.0,
                ..settings(Preset::Warm)
            },
        )
        .unwrap();
    assert_eq!(plain.chunk_level(0).unwrap().gain_db, 0.0);
}

#[test]
fn bad_requests_fail_before_any_work_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 6.0, 10);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let computed = engine.stats().cache.computed;
    assert!(matches!(
        stream.chunk_media_segment(2),
        Err(Error::Plan(PlanError::ChunkIndexOutOfRange {
            index: 2,
            total: 2
        }))
    ));
    assert!(stream.chunk_pcm(u64::MAX).is_err());
    assert!(stream.chunk_clusters(9, None).is_err());
    assert!(stream.chunk_level(9).is_err());
    assert!(matches!(
        stream.transition_media_segment(0, (Preset::Warm, 2.0)),
        Err(Error::Mastering(_))
    ));
    assert_eq!(
        engine.stats().cache.computed,
        computed,
        "no work for a bad request"
    );
    let bad = |s: StreamSettings| engine.open(&path, s).unwrap_err();
    assert!(matches!(
        bad(StreamSettings {
            intensity: 2.0,
            ..settings(Preset::Adaptive)
        }),
        Error::Mastering(_)
    ));
    assert!(matches!(
        bad(StreamSettings {
            chunk_seconds: 0.01,
            ..settings(Preset::Adaptive)
        }),
        Error::Plan(_)
    ));
    assert!(matches!(
        engine.open(dir.path().join("missing.wav"), settings(Preset::Adaptive)),
        Err(Error::Decode(DecodeError::NotFound { .. }))
    ));
    let garbage = write_temp(&dir, "g.mp3", &[0x55; 5000]);
    assert!(engine.open(&garbage, settings(Preset::Adaptive)).is_err());
    // A second stream of other settings and a sibling made from a stream agree.
    let a = engine.open(&path, settings(Preset::Warm)).unwrap();
    let b = stream.with_mastering(Preset::Warm, 1.0).unwrap();
    assert_eq!(a.mastering(), b.mastering());
}

fn packets_of(init: &[u8], segment: &[u8]) -> Vec<Vec<u8>> {
    let mut file = init.to_vec();
    file.extend_from_slice(segment);
    reader::parse(&file)
        .unwrap()
        .blocks
        .into_iter()
        .map(|b| b.data)
        .collect()
}

#[test]
fn a_transition_chunk_fades_from_the_old_settings_to_the_new_without_a_click() {
    use auralis_core::crossfade::{self, Curve};
    use auralis_core::render::Transition;
    let dir = tempfile::tempdir().unwrap();
    // 20 s of the demo piece from its verse: real chords and drums.
    let pcm = auralis_core::demo::synthesize();
    let from = 44_100 * 2 * 20;
    let path = dir.path().join("demo.wav");
    std::fs::write(
        &path,
        wav_int(
            44_100,
            2,
            16,
            &quantize(&pcm[from..from + 44_100 * 2 * 20], 16),
        ),
    )
    .unwrap();
    let (old, new) = ((Preset::Warm, 1.0), (Preset::Bright, 1.0));
    let engine = memory_engine();
    let old_stream = engine.open(&path, settings(old.0)).unwrap();
    let new_stream = old_stream.with_mastering(new.0, new.1).unwrap();
    let ch = 2;
    let switch = 2u64;
    let total = new_stream.info().total_chunks;
    let fade = new_stream.settings().fade_ms;
    assert_eq!(fade, 50.0);

    // The transition chunk's audio: old at its first frame, new from the end of the fade on,
    // the raised-cosine mix in between.
    let renderer = Renderer::new(Source::open(&path).unwrap());
    let plan = *new_stream.plan();
    let transition = Transition {
        from: old_stream.mastering().clone(),
        fade_frames: 2_400,
        curve: Curve::RaisedCosine,
    };
    let mut run = renderer
        .chunk_clusters(
            &plan,
            switch,
            new_stream.mastering(),
            Some(&transition),
            &Default::default(),
        )
        .unwrap();
    let segment: Vec<u8> = run
        .by_ref()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(
        segment,
        &new_stream
            .transition_media_segment(switch, old)
            .unwrap()
            .bytes[..]
    );
    let mixed = run.pcm();
    let (old_k, new_k) = (
        old_stream.chunk_pcm(switch).unwrap(),
        new_stream.chunk_pcm(switch).unwrap(),
    );
    assert_eq!(
        &mixed[..ch],
        &old_k[..ch],
        "starts as the old settings' audio"
    );
    assert_eq!(
        &mixed[2_400 * ch..],
        &new_k[2_400 * ch..],
        "ends as the new settings' audio"
    );
    let mut want = new_k.clone();
    crossfade::fade_into(
        &mut want[..2_400 * ch],
        &old_k[..2_400 * ch],
        ch,
        2_400,
        Curve::RaisedCosine,
    );
    assert_eq!(mixed, &want[..]);
    assert_ne!(old_k, new_k, "the presets differ");

    // What a listener hears: old chunks, the transition, new chunks, through one decoder.
    let init = new_stream.init_segment();
    let mut packets = Vec::new();
    let mut intended = Vec::new();
    for k in 0..total {
        let (segment, audio) = match k.cmp(&switch) {
            std::cmp::Ordering::Less => (
                old_stream.chunk_media_segment(k).unwrap().bytes,
                old_stream.chunk_pcm(k).unwrap(),
            ),
            std::cmp::Ordering::Equal => (
                new_stream.transition_media_segment(k, old).unwrap().bytes,
                mixed.to_vec(),
            ),
            std::cmp::Ordering::Greater => (
                new_stream.chunk_media_segment(k).unwrap().bytes,
                new_stream.chunk_pcm(k).unwrap(),
            ),
        };
        packets.extend(packets_of(&init, &segment));
        intended.extend(audio);
    }
    let mut heard = decode_opus_packets(&packets, ch);
    heard.truncate(intended.len());
    let joins: Vec<usize> = plan
        .chunks()
        .skip(1)
        .map(|c| c.start_frame as usize)
        .collect();
    let excess = auralis_core::joins::worst_join_excess_db(&heard, &intended, ch, &joins);
    let at_switch = auralis_core::joins::worst_join_excess_db(
        &heard,
        &intended,
        ch,
        &[plan.chunk(switch).unwrap().start_frame as usize],
    );
    // The same switch without a transition: the plain new chunk after old ones.
    let mut hard_packets = Vec::new();
    let mut hard_intended = Vec::new();
    for k in 0..total {
        let s = if k < switch { &old_stream } else { &new_stream };
        hard_packets.extend(packets_of(&init, &s.chunk_media_segment(k).unwrap().bytes));
        hard_intended.extend(s.chunk_pcm(k).unwrap());
    }
    let mut hard = decode_opus_packets(&hard_packets, ch);
    hard.truncate(hard_intended.len());
    let hard_at_switch = auralis_core::joins::worst_join_excess_db(
        &hard,
        &hard_intended,
        ch,
        &[plan.chunk(switch).unwrap().start_frame as usize],
    );
    let step = |x: &[f32], j: usize| -> f32 {
        (0..ch)
            .map(|c| (x[j * ch + c] - x[(j - 1) * ch + c]).abs())
            .fold(0.0, f32::max)
    };
    let j = plan.chunk(switch).unwrap().start_frame as usize;
    // The largest sample-to-sample change of the music itself within ±50 ms of the switch.
    let local = |x: &[f32]| {
        (j - 2_400..j + 2_400)
            .filter(|&i| i != j)
            .map(|i| step(x, i))
            .fold(0.0, f32::max)
    };
    println!(
        "warm→bright at chunk {switch}: transition: worst join {excess:.2} dB, at the switch \
         {at_switch:.2} dB, step {:.4} (music's largest nearby {:.4}); hard switch: \
         {hard_at_switch:.2} dB, step {:.4} (largest nearby {:.4})",
        step(&intended, j),
        local(&intended),
        step(&hard_intended, j),
        local(&hard_intended)
    );
    assert!(excess <= 3.0 && at_switch <= 3.0);
    assert!(
        step(&intended, j) <= local(&intended),
        "no step at the switch"
    );
    // The step check discriminates: a switch without a transition jumps further than the
    // music does anywhere near it.
    assert!(step(&hard_intended, j) > local(&hard_intended));

    // Cached under its own key, apart from the plain chunk.
    let again = new_stream.transition_media_segment(switch, old).unwrap();
    assert_eq!(again.origin, Origin::Memory);
    assert_ne!(
        again.bytes,
        new_stream.chunk_media_segment(switch).unwrap().bytes
    );
    // The progressive form of a transition chunk is the same bytes.
    let clusters: Vec<u8> = new_stream
        .chunk_clusters(switch, Some(old))
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(clusters, &again.bytes[..]);
}

#[test]
fn one_two_and_four_threads_give_the_same_bytes() {
    use auralis_core::render::Transition;
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 41.0, 12);
    let source = Source::open(&path).unwrap();
    let mastering = Mastering::prepare(&source, Preset::Punchy, 1.0, None).unwrap();
    let warm = Mastering::prepare(&source, Preset::Warm, 1.0, None).unwrap();
    let transition = Transition {
        from: warm.params,
        fade_frames: 2_400,
        curve: auralis_core::Curve::RaisedCosine,
    };
    let settings = Default::default();
    let render = |threads: usize| {
        let renderer = Renderer::new(source.clone()).with_threads(threads);
        let plan = renderer.plan(30.0).unwrap();
        let mut out = Vec::new();
        for c in plan.chunks() {
            out.push(
                renderer
                    .chunk_media_segment(&plan, c.index, &mastering.params, &settings)
                    .unwrap(),
            );
            let pcm = renderer
                .render_mastered_chunk(&plan, c.index, &mastering.params)
                .unwrap();
            out.push(pcm.iter().flat_map(|x| x.to_le_bytes()).collect());
            let run = renderer
                .chunk_clusters(
                    &plan,
                    c.index,
                    &mastering.params,
                    Some(&transition),
                    &settings,
                )
                .unwrap();
            out.push(run.map(Result::unwrap).collect::<Vec<_>>().concat());
        }
        out
    };
    let one = render(1);
    assert_eq!(one.len(), 6);
    assert!(render(2) == one, "2 threads differ from 1");
    assert!(render(4) == one, "4 threads differ from 1");
}
