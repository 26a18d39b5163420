//! The engine (cache + prefetch workers) and the tracks it opens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::analysis::TrackAnalysis;
use crate::cache::{CacheConfig, CacheEntry, CacheKey, CacheStats, ChunkCache, Claim};
use crate::decode::Source;
use crate::error::{DecodeError, Error};
use crate::mastering::{Mastering, Preset};
use crate::prefetch::{PrefetchStats, Prefetcher};
use crate::render::Renderer;
use crate::signature::FileSignature;

use super::{Stream, StreamSettings};

/// Engine configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The chunk cache.
    pub cache: CacheConfig,
    /// Prefetch worker threads (default 1: on two cores, one is left for waited-for
    /// requests); 0 turns prefetching off.
    pub prefetch_workers: usize,
    /// Threads that render the segments of one chunk (default 0: the available cores). The
    /// bytes do not depend on it.
    pub render_threads: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache: CacheConfig::default(),
            prefetch_workers: 1,
            render_threads: 0,
        }
    }
}

/// Counters of an engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// The cache's.
    pub cache: CacheStats,
    /// The prefetcher's.
    pub prefetch: PrefetchStats,
}

pub(super) struct EngineInner {
    pub(super) cache: ChunkCache,
    pub(super) prefetch: Arc<Prefetcher>,
    pub(super) render_threads: usize,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.prefetch.shut_down();
    }
}

/// The shared context of every stream of a process: the chunk cache and the prefetch workers.
/// Cheap to clone; `Send + Sync`. Dropping the last clone (and every stream) stops the workers.
#[derive(Clone)]
pub struct Engine {
    pub(super) inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&EngineConfig::default())
    }
}

impl Engine {
    /// An engine with this configuration.
    pub fn new(config: &EngineConfig) -> Self {
        Engine {
            inner: Arc::new(EngineInner {
                cache: ChunkCache::new(&config.cache),
                prefetch: Prefetcher::start(config.prefetch_workers),
                render_threads: match config.render_threads {
                    0 => crate::render::default_threads(),
                    n => n,
                },
            }),
        }
    }

    /// The chunk cache.
    pub fn cache(&self) -> &ChunkCache {
        &self.inner.cache
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            cache: self.inner.cache.stats(),
            prefetch: self.inner.prefetch.stats(),
        }
    }

    /// Opens a file as a stream.
    pub fn open(&self, path: impl AsRef<Path>, settings: StreamSettings) -> Result<Stream, Error> {
        settings.validate()?;
        let path = path.as_ref();
        let signature = FileSignature::of_path(path)?;
        let source = Source::open(path)?;
        let track = Arc::new(Track {
            renderer: Renderer::new(source).with_threads(self.inner.render_threads),
            signature,
            path: Some(path.to_path_buf()),
            masterings: Mutex::new(HashMap::new()),
        });
        track.check_unchanged()?;
        Stream::new(self.clone(), track, settings)
    }

    /// Opens audio held in memory (the demo, an upload) as a stream; `extension` helps the
    /// prober.
    pub fn open_bytes(
        &self,
        bytes: impl Into<Arc<[u8]>>,
        extension: Option<&str>,
        settings: StreamSettings,
    ) -> Result<Stream, Error> {
        settings.validate()?;
        let bytes: Arc<[u8]> = bytes.into();
        let signature = FileSignature::of_bytes(&bytes);
        let source = Source::from_bytes(bytes, extension)?;
        let track = Arc::new(Track {
            renderer: Renderer::new(source).with_threads(self.inner.render_threads),
            signature,
            path: None,
            masterings: Mutex::new(HashMap::new()),
        });
        Stream::new(self.clone(), track, settings)
    }
}

type SharedEngines = Mutex<Vec<(EngineConfig, Engine)>>;

fn shared_engines() -> std::sync::MutexGuard<'static, Vec<(EngineConfig, Engine)>> {
    static ENGINES: std::sync::OnceLock<SharedEngines> = std::sync::OnceLock::new();
    lock(ENGINES.get_or_init(Mutex::default))
}

/// The process-wide engine for `config`: every caller with an equal configuration gets the same
/// engine (one cache, one worker pool). For the C and Python faces, whose users open streams
/// one at a time and expect them to share a cache. Kept until [`release_shared_engines`].
pub fn shared_engine(config: &EngineConfig) -> Engine {
    let mut engines = shared_engines();
    if let Some((_, engine)) = engines.iter().find(|(c, _)| c == config) {
        return engine.clone();
    }
    let engine = Engine::new(config);
    engines.push((config.clone(), engine.clone()));
    engine
}

/// Forgets the process-wide engines: their memory is freed when the last stream using each is
/// dropped; later calls to [`shared_engine`] make new ones.
pub fn release_shared_engines() {
    *shared_engines() = Vec::new();
}

/// A track opened once and shared by the streams of its settings.
pub(super) struct Track {
    pub(super) renderer: Renderer,
    pub(super) signature: FileSignature,
    pub(super) path: Option<PathBuf>,
    pub(super) masterings: Mutex<HashMap<(Preset, u64), Arc<Mastering>>>,
}

impl Track {
    pub(super) fn check_unchanged(&self) -> Result<(), DecodeError> {
        match &self.path {
            Some(p) if !self.signature.still_matches(p) => {
                Err(DecodeError::Changed { path: p.clone() })
            }
            _ => Ok(()),
        }
    }

    pub(super) fn key(&self, what: &str) -> CacheKey {
        CacheKey::new(&format!("{what}\n{}", self.signature.to_hex()))
    }

    /// The mastering for `preset` at `intensity`: from this track's table, the cache, or
    /// computed (the analysis too, once per track).
    pub(super) fn mastering(
        &self,
        cache: &ChunkCache,
        preset: Preset,
        intensity: f64,
    ) -> Result<Arc<Mastering>, Error> {
        let id = (preset, intensity.to_bits());
        if let Some(m) = lock(&self.masterings).get(&id) {
            return Ok(m.clone());
        }
        let source = self.renderer.source();
        let threads = self.renderer.threads();
        let key = self.key(&format!("mastering/{}/{:016x}", preset.name(), id.1));
        let (entry, _) = cache.get_or_compute(key, || -> Result<CacheEntry, Error> {
            let analysis_key = self.key("analysis");
            let mastering = match cache.claim(analysis_key) {
                Claim::Hit(entry, _) => {
                    let analysis: TrackAnalysis =
                        serde_json::from_slice(&entry.bytes).map_err(|e| corrupt_json(&e))?;
                    Mastering::prepare_threads(source, preset, intensity, Some(analysis), threads)?
                }
                Claim::Miss(guard) => {
                    let m = Mastering::prepare_threads(source, preset, intensity, None, threads)?;
                    guard.complete(json_entry(&m.analysis));
                    m
                }
            };
            Ok(json_entry(&mastering))
        })?;
        let mastering: Mastering =
            serde_json::from_slice(&entry.bytes).map_err(|e| corrupt_json(&e))?;
        let mastering = Arc::new(mastering);
        lock(&self.masterings).insert(id, mastering.clone());
        Ok(mastering)
    }
}

fn json_entry<T: serde::Serialize>(value: &T) -> CacheEntry {
    CacheEntry {
        bytes: serde_json::to_vec(value)
            .expect("analysis and mastering serialize")
            .into(),
        level_db: f64::NAN,
    }
}

fn corrupt_json(e: &serde_json::Error) -> Error {
    // Entries pass a checksum before they get here; this means another library version wrote
    // the same key, which the version in every key rules out.
    Error::InvalidArgument {
        name: "cached analysis",
        value: e.to_string(),
        valid: "JSON written by this library version",
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
