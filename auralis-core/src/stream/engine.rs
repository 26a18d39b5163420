//! The engine (cache + prefetch workers) and the tracks it opens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use crate::analysis::TrackAnalysis;
use crate::cache::{CacheConfig, CacheEntry, CacheKey, CacheStats, ChunkCache, Claim};
use crate::decode::Source;
use crate::error::{DecodeError, Error};
use crate::mastering::{Mastering, MasteringSettings};
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
    /// Threads that render the parts of one chunk (default 0: the available cores). The
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
    /// The analysis excerpts of the tracks opened last, for calibrating another preset.
    pub(super) excerpts: Mutex<Excerpts>,
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
///
/// ```
/// use auralis_core::{CacheConfig, Engine, EngineConfig, Preset, StreamSettings};
///
/// // One engine per process; a disk cache makes chunks survive restarts and be shared by
/// // processes on one directory.
/// let engine = Engine::new(&EngineConfig {
///     cache: CacheConfig { disk_dir: Some(std::env::temp_dir().join("auralis-doc-engine")), ..Default::default() },
///     ..Default::default()
/// });
/// let settings = StreamSettings { mastering: Preset::Warm.into(), chunk_seconds: 10.0, ..Default::default() };
/// // engine.open("track.flac", settings) for a file; bytes in memory here.
/// let stream = engine.open_bytes(auralis_core::demo::demo_wav(), Some("wav"), settings)?;
/// assert_eq!(stream.info().total_chunks, 13); // the demo lasts 122 s
/// # Ok::<(), auralis_core::Error>(())
/// ```
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
                excerpts: Mutex::new(Excerpts::default()),
                prefetch: Prefetcher::start(config.prefetch_workers),
                render_threads: crate::parallel::resolve(config.render_threads),
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
            analysis: Mutex::new(None),
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
            analysis: Mutex::new(None),
        });
        Stream::new(self.clone(), track, settings)
    }
}

/// Most shared engines alive at once in a process. Each holds a memory budget (256 MiB by
/// default) and its prefetch workers, so a process that opened streams over many cache
/// configurations at once could otherwise grow without bound.
pub const MAX_SHARED_ENGINES: usize = 16;

type SharedEngines = Mutex<Vec<(EngineConfig, Weak<EngineInner>)>>;

fn shared_engines() -> std::sync::MutexGuard<'static, Vec<(EngineConfig, Weak<EngineInner>)>> {
    static ENGINES: std::sync::OnceLock<SharedEngines> = std::sync::OnceLock::new();
    let mut engines = lock(ENGINES.get_or_init(Mutex::default));
    engines.retain(|(_, e)| e.strong_count() > 0);
    engines
}

/// The process-wide engine for `config`: every caller with an equal configuration gets the same
/// engine (one cache, one worker pool) while any stream or handle of it is alive. For the C and
/// Python faces, whose users open streams one at a time and expect them to share a cache. An
/// engine lives as long as something holds it: when the last stream using it is dropped, its
/// memory cache and workers go, and the next call makes a new one (the disk cache stays on
/// disk). At most [`MAX_SHARED_ENGINES`] are alive at once: one more is refused with
/// [`Error::InvalidArgument`] until a stream of another configuration is dropped.
pub fn shared_engine(config: &EngineConfig) -> Result<Engine, Error> {
    let mut engines = shared_engines();
    if let Some(inner) = engines
        .iter()
        .find(|(c, _)| c == config)
        .and_then(|(_, e)| e.upgrade())
    {
        return Ok(Engine { inner });
    }
    if engines.len() >= MAX_SHARED_ENGINES {
        return Err(Error::InvalidArgument {
            name: "cache configuration",
            value: format!("{:?}", config.cache.disk_dir),
            valid: "at most 16 cache configurations (cache directory, thread count) in use at \
                    once in a process: drop the streams of another first",
        });
    }
    let engine = Engine::new(config);
    engines.push((config.clone(), Arc::downgrade(&engine.inner)));
    Ok(engine)
}

/// Shared engines alive now (see [`shared_engine`]).
pub fn shared_engine_count() -> usize {
    shared_engines().len()
}

/// Forgets the process-wide engines: each is freed when the last stream using it is dropped
/// (which already happens without this call); later calls to [`shared_engine`] make new ones.
pub fn release_shared_engines() {
    *shared_engines() = Vec::new();
}

/// A track opened once and shared by the streams of its settings.
pub(super) struct Track {
    pub(super) renderer: Renderer,
    pub(super) signature: FileSignature,
    pub(super) path: Option<PathBuf>,
    pub(super) masterings: Mutex<HashMap<MasteringSettings, Arc<Mastering>>>,
    /// The track's analysis once known: an open track never measures itself twice, even when
    /// the cache has let the stored analysis go.
    pub(super) analysis: Mutex<Option<TrackAnalysis>>,
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
        engine: &EngineInner,
        choice: MasteringSettings,
    ) -> Result<Arc<Mastering>, Error> {
        let cache = &engine.cache;
        if let Some(m) = lock(&self.masterings).get(&choice) {
            return Ok(m.clone());
        }
        let source = self.renderer.source();
        let threads = self.renderer.threads();
        let key = self.key(&format!("mastering/{}", choice.key_part()));
        // The mastering made here, when it is: used as it is, not parsed back from its entry.
        let mut made = None;
        let (entry, _) = cache.get_or_compute(key, || -> Result<CacheEntry, Error> {
            let analysis_key = self.key("analysis");
            let sampling = crate::analysis::Sampling::default();
            // The analysis: stored, or measured now (and stored). The excerpts: kept from an
            // earlier calibration of this file, or read now (and kept for the next preset);
            // read and measured in one pass when both are new.
            let known = lock(&self.analysis).clone();
            let (analysis, fresh) = match known {
                Some(analysis) => (Some(analysis), None),
                None => match cache.claim(analysis_key) {
                    Claim::Hit(entry, _) => {
                        let analysis: TrackAnalysis =
                            serde_json::from_slice(&entry.bytes).map_err(|e| corrupt_json(&e))?;
                        (Some(analysis), None)
                    }
                    Claim::Miss(guard) => (None, Some(guard)),
                },
            };
            let kept = lock(&engine.excerpts).get(self.signature);
            let (excerpts, analysis) = match (kept, analysis) {
                (Some(kept), analysis) => (kept, analysis),
                (None, Some(analysis)) => (
                    Arc::new(crate::analysis::read_excerpts(source, &sampling, threads)?),
                    Some(analysis),
                ),
                (None, None) => {
                    let (read, analysis) =
                        crate::analysis::read_and_analyze(source, &sampling, threads)?;
                    (Arc::new(read), Some(analysis))
                }
            };
            lock(&engine.excerpts).put(self.signature, excerpts.clone());
            // The settings were checked where they came in (open, a request, a switch).
            let mastering = Mastering::from_excerpts(source, &excerpts, choice, analysis, threads);
            if let Some(guard) = fresh {
                guard.complete(json_entry(&mastering.analysis));
            }
            *lock(&self.analysis) = Some(mastering.analysis.clone());
            let entry = json_entry(&mastering);
            made = Some(mastering);
            Ok(entry)
        })?;
        let mastering: Mastering = match made {
            Some(mastering) => mastering,
            None => serde_json::from_slice(&entry.bytes).map_err(|e| corrupt_json(&e))?,
        };
        lock(&self.analysis).get_or_insert_with(|| mastering.analysis.clone());
        let mastering = Arc::new(mastering);
        lock(&self.masterings).insert(choice, mastering.clone());
        Ok(mastering)
    }
}

/// Bytes of analysis excerpts the engine keeps: those of the last few tracks whose masterings
/// it calibrated (24 s of 48 kHz stereo f32, 9.2 MB, at most per track), so that another preset
/// of an open track is calibrated without decoding them again (a preset switch's first step).
pub(super) const EXCERPT_BUDGET: usize = 40 << 20;

/// The analysis excerpts of recently calibrated tracks, most recent last, within
/// [`EXCERPT_BUDGET`].
#[derive(Default)]
pub(super) struct Excerpts {
    kept: Vec<(FileSignature, Arc<Vec<Vec<f32>>>)>,
}

impl Excerpts {
    fn get(&mut self, signature: FileSignature) -> Option<Arc<Vec<Vec<f32>>>> {
        let i = self.kept.iter().position(|(s, _)| *s == signature)?;
        let entry = self.kept.remove(i);
        let excerpts = entry.1.clone();
        self.kept.push(entry);
        Some(excerpts)
    }

    fn put(&mut self, signature: FileSignature, excerpts: Arc<Vec<Vec<f32>>>) {
        let bytes = |e: &Vec<Vec<f32>>| e.iter().map(|x| x.len() * 4).sum::<usize>();
        if bytes(&excerpts) > EXCERPT_BUDGET {
            return;
        }
        self.kept.retain(|(s, _)| *s != signature);
        self.kept.push((signature, excerpts));
        while self.kept.iter().map(|(_, e)| bytes(e)).sum::<usize>() > EXCERPT_BUDGET {
            self.kept.remove(0);
        }
    }
}

fn json_entry<T: serde::Serialize>(value: &T) -> CacheEntry {
    CacheEntry::new(serde_json::to_vec(value).expect("analysis and mastering serialize"))
}

fn corrupt_json(e: &serde_json::Error) -> Error {
    // Entries pass a checksum before they get here; this means another library version wrote
    // the same key, which the version in every key rules out.
    Error::CorruptCache {
        what: "track analysis or mastering (JSON)",
        reason: e.to_string(),
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> EngineConfig {
        EngineConfig {
            cache: CacheConfig {
                disk_dir: Some(dir.to_path_buf()),
                ..CacheConfig::default()
            },
            prefetch_workers: 0,
            ..EngineConfig::default()
        }
    }

    #[test]
    fn shared_engines_live_as_long_as_their_streams_and_are_capped() {
        // The only test of this binary that uses the shared engines.
        let dir = std::env::temp_dir().join(format!("auralis-engines-{}", std::process::id()));
        let base = shared_engine_count();
        let open = |i: usize| {
            let engine = shared_engine(&config(&dir.join(i.to_string())))?;
            engine.open_bytes(
                crate::demo::demo_wav(),
                Some("wav"),
                StreamSettings::default(),
            )
        };
        let a = open(0).unwrap();
        let again = shared_engine(&config(&dir.join("0"))).unwrap();
        assert!(Arc::ptr_eq(&again.inner, &a.engine().inner));
        drop(again);
        assert_eq!(shared_engine_count(), base + 1);
        drop(a);
        assert_eq!(shared_engine_count(), base, "released with its last stream");
        let held: Vec<Engine> = (0..MAX_SHARED_ENGINES - base)
            .map(|i| shared_engine(&config(&dir.join(format!("h{i}")))).unwrap())
            .collect();
        let err = shared_engine(&config(&dir.join("more"))).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        drop(held);
        assert!(shared_engine(&config(&dir.join("more"))).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod excerpt_tests {
    use super::*;

    fn sig(n: u128) -> FileSignature {
        FileSignature {
            size: 1,
            mtime_ns: 0,
            hash: n,
        }
    }

    fn excerpts(megabytes: usize) -> Arc<Vec<Vec<f32>>> {
        Arc::new(vec![vec![0.0; megabytes * (1 << 20) / 4]])
    }

    #[test]
    fn kept_excerpts_stay_within_the_budget_least_recently_used_out_first() {
        let mut kept = Excerpts::default();
        for n in 0..4 {
            kept.put(sig(n), excerpts(10));
        }
        assert!(kept.get(sig(0)).is_some()); // now the most recent
        kept.put(sig(4), excerpts(10)); // 50 MiB > 40 MiB: the least recent (1) goes
        assert!(kept.get(sig(1)).is_none());
        for n in [0, 2, 3, 4] {
            assert!(kept.get(sig(n)).is_some(), "{n}");
        }
        kept.put(sig(9), excerpts(41)); // larger than the whole budget: not kept, nothing lost
        assert!(kept.get(sig(9)).is_none());
        assert_eq!(kept.kept.len(), 4);
    }
}
