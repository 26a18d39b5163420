//! The stream engine's disk cache: processes killed while writing, truncated and flipped
//! files, eviction under a budget, and a cache directory that is unusable or vanishes.
//!
//! The oracle is the single-threaded [`auralis_core::Renderer`] path
//! ([`common::streams::reference_segments`]): whatever the engine serves from disk must be
//! byte-identical to it, and a damaged file is never served.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auralis_core::cache::{CacheEvent, Origin};
use auralis_core::Preset;
use common::streams::*;
use rand::{Rng, SeedableRng};

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
    // Processes share the directory, two at a time, and are killed with SIGKILL at a moment a
    // temporary file (a write in progress) exists, until two have been killed mid-write.
    let start = Instant::now();
    let mut killed_during_write = 0;
    let mut spawned = 0u64;
    while killed_during_write < 2 && spawned < 8 {
        let mut children = [
            spawn_writer(&cache_dir, &source, spawned + 1),
            spawn_writer(&cache_dir, &source, spawned + 2),
        ];
        spawned += 2;
        for child in &mut children {
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
    }
    let files = chunk_files(&cache_dir).len();
    assert!(files >= 4, "the children wrote {files} files");
    assert!(
        killed_during_write >= 2,
        "only {killed_during_write} of {spawned} writers were killed with a write in progress: \
         the test did not test what it says"
    );
    println!("killed {killed_during_write} of {spawned} writers mid-write; {files} files");

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
#[ignore = "run as a child process by the shared-directory test"]
fn child_process_sharing_the_disk_cache() {
    let (Some(dir), Some(src), Some(first)) = (
        std::env::var_os("AURALIS_TEST_CACHE_DIR"),
        std::env::var_os("AURALIS_TEST_SOURCE"),
        std::env::var_os("AURALIS_TEST_FIRST_CHUNK"),
    ) else {
        return;
    };
    let first: u64 = first.to_str().unwrap().parse().unwrap();
    // Start together: wait for the parent's go file.
    let go = Path::new(&dir).join("go");
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let engine = disk_engine(Path::new(&dir), 1 << 30);
    let stream = engine.open(&src, settings(Preset::Adaptive)).unwrap();
    let n = stream.info().total_chunks;
    for i in 0..n {
        let k = (first + i) % n;
        let segment = stream.chunk_media_segment(k).unwrap();
        println!(
            "segment {k} {:032x}",
            xxhash_rust::xxh3::xxh3_128(&segment.bytes)
        );
    }
    println!("computed {}", engine.stats().cache.computed);
}

#[test]
fn processes_sharing_a_directory_compute_each_key_once_and_serve_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let source = track(dir.path(), "t.wav", 32.0, 5);
    let cache_dir = dir.path().join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    let reference = reference_segments(&source, Preset::Adaptive, 1.0);
    let n = reference.len() as u64;
    // Three processes start at once on one empty directory, asking for every chunk from
    // different places (two of them from the same one), so that they collide on the analysis,
    // the mastering and chunks.
    let children: Vec<_> = [0, 0, n / 2]
        .into_iter()
        .map(|first| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "child_process_sharing_the_disk_cache",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("AURALIS_TEST_CACHE_DIR", &cache_dir)
                .env("AURALIS_TEST_SOURCE", &source)
                .env("AURALIS_TEST_FIRST_CHUNK", first.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(cache_dir.join("go"), b"").unwrap();
    let mut computed = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut segments = 0;
        for line in text.lines() {
            // The test harness may print its own words before ours on a line.
            let ours = ["segment ", "computed "]
                .iter()
                .find_map(|w| line.find(w).map(|i| &line[i..]))
                .unwrap_or("");
            let words: Vec<&str> = ours.split_whitespace().collect();
            match words[..] {
                ["segment", k, hash] => {
                    let k: usize = k.parse().unwrap();
                    let want = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&reference[k]));
                    assert_eq!(hash, want, "chunk {k} differs from the reference");
                    segments += 1;
                }
                ["computed", c] => computed += c.parse::<u64>().unwrap(),
                _ => {}
            }
        }
        assert_eq!(segments, n, "{text}");
    }
    // Each key once over all processes: the analysis, the mastering and every chunk.
    assert_eq!(
        computed,
        2 + n,
        "keys computed by the three processes together"
    );
    let locks: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|i| i.file_name().to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "lock files left behind: {locks:?}");
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
