//! Streams over synthesized tracks for the stream engine's tests (`stream.rs`, `disk_cache.rs`):
//! the tracks, the settings, engines with and without a disk cache, and the oracle (every
//! chunk rendered by the single-threaded [`Renderer`] path).

use auralis_core::Container;
use std::path::{Path, PathBuf};

use auralis_core::cache::CacheConfig;
use auralis_core::pipeline;
use auralis_core::stream::{Engine, EngineConfig, StreamSettings};
use auralis_core::{Mastering, Preset, Renderer, Source};

use super::{music_like, quantize, wav_int};

/// Chunk length of these tests, in seconds.
pub const CHUNK_S: f64 = 5.0;

/// A 44.1 kHz stereo 16-bit WAV of `seconds` of music-like audio.
pub fn track(dir: &Path, name: &str, seconds: f64, seed: u64) -> PathBuf {
    let frames = (44_100.0 * seconds) as usize;
    let pcm = music_like(44_100, 2, frames, seed);
    let path = dir.join(name);
    std::fs::write(&path, wav_int(44_100, 2, 16, &quantize(&pcm, 16))).unwrap();
    path
}

/// The default settings with `preset` and [`CHUNK_S`] chunks.
pub fn settings(preset: Preset) -> StreamSettings {
    StreamSettings {
        mastering: preset.into(),
        chunk_seconds: CHUNK_S,
        ..StreamSettings::default()
    }
}

/// The media segments of every chunk, rendered one by one on this thread without the engine.
pub fn reference_segments(path: &Path, preset: Preset, intensity: f64) -> Vec<Vec<u8>> {
    let source = Source::open(path).unwrap();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, (preset, intensity), None, 0).unwrap();
    let plan = renderer.plan(CHUNK_S).unwrap();
    plan.chunks()
        .map(|c| {
            pipeline::media_segment(
                &renderer,
                &plan,
                c.index,
                &mastering.params,
                &Default::default(),
                Container::Webm,
            )
            .unwrap()
        })
        .collect()
}

/// An engine with the memory cache only and no prefetch workers.
pub fn memory_engine() -> Engine {
    Engine::new(&EngineConfig {
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

/// An engine with a disk cache of `disk_bytes` in `dir` and no prefetch workers.
pub fn disk_engine(dir: &Path, disk_bytes: u64) -> Engine {
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

/// The cache files in `dir`, sorted (none if `dir` cannot be read).
pub fn chunk_files(dir: &Path) -> Vec<PathBuf> {
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

/// The bytes of the cache files in `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    chunk_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}
