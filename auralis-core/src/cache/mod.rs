//! The chunk cache shared by every stream of a process: an in-memory LRU with a byte budget,
//! an optional directory on disk with its own byte budget, and single flight.
//!
//! * **Keys** are 128-bit XXH3 hashes of a text that names everything that changes the bytes:
//!   [`LIBRARY_ID`] (crate version and [`CACHE_FORMAT`]), the source's
//!   [`FileSignature`](crate::signature::FileSignature), the kind of entry, the settings and the
//!   chunk index (built by the stream engine).
//! * **Memory**: least-recently-used entries are dropped while the total exceeds the budget; an
//!   entry larger than the whole budget is served but not kept.
//! * **Disk**: one file per entry, `<dir>/<key>.chunk`, made of a 56-byte header (magic, format,
//!   key, a level value, payload length, XXH3-64 of header and payload) and the payload. A file
//!   is written under a temporary name in the same directory, `fsync`ed and renamed, so a crash
//!   or a `SIGKILL` leaves either no file or a whole one under the final name; temporary files
//!   are never read (stale ones are removed when a cache opens). Every read checks length,
//!   magic, key and checksum; a file that fails is deleted, reported as a
//!   [`CacheEvent::CorruptEntry`] and regenerated, never served. Reads refresh the file's
//!   modification time, which orders eviction (least recently used first) down to 90 % of the
//!   budget whenever the total may exceed it, so several processes can share one directory:
//!   renames are atomic and equal keys hold equal bytes.
//! * **Faults**: a directory that cannot be written (read-only, full, deleted, replaced) never
//!   fails a request: the entry stays in memory, the failure is reported as an event, and after
//!   three failures in a row the disk is switched off for this cache ([`CacheEvent::DiskDisabled`]).
//! * **Single flight**: concurrent requests for one missing key compute it once; the others wait
//!   for that result (a failed or abandoned computation lets the next waiter try). With a disk
//!   directory this holds across processes too: the one computing a key holds a lock on
//!   `<dir>/<key>.lock` (see `disk::KeyLock`), and another process that misses the key waits
//!   for it and reads the stored entry. A process that dies releases its locks with it, so a
//!   crash never leaves a key locked; one that hangs is waited for at most 120 s.
//!
//! Written here rather than taken from a caching crate because the disk format, its checks and
//! the single-flight hand-off are the parts that matter, and they are specific to this library.

mod disk;
mod store;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lru::LruCache;
use xxhash_rust::xxh3::xxh3_128;

use disk::{Disk, KeyLock, KeyLockWait};

/// Version of the cache's key scheme, file format and chunk layout; part of every key (2: chunks
/// in parts; 3: no level stored with entries; 4: the library's own loudness meter, whose
/// analyses and calibrated gains differ from the previous meter's in the last digits).
pub const CACHE_FORMAT: u32 = 4;
/// The library and format every key is made under.
pub const LIBRARY_ID: &str = concat!("auralis-core ", env!("CARGO_PKG_VERSION"));
/// Largest entry payload stored: 256 MiB. The largest entry the library makes, a 600 s chunk
/// of 48 kHz stereo f32 PCM, is 230.4 MB. A larger entry is served but not stored
/// ([`CacheEvent::TooLarge`]); a cache file claiming more is corrupt and is not read.
pub const MAX_ENTRY_BYTES: u64 = 256 << 20;
const MAGIC: &[u8; 8] = b"AURALISC";
const HEADER_LEN: usize = 56;
/// Failed disk writes in a row after which the disk is switched off.
const MAX_WRITE_FAILURES: u32 = 3;
/// Temporary files older than this are left over from a crash.
const STALE_TEMP: Duration = Duration::from_secs(300);
/// Events kept for [`ChunkCache::events`].
const EVENTS_KEPT: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a cache lock cannot leave a half-made entry behind (entries are
    // inserted whole), so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub u128);

impl CacheKey {
    /// The key of a description (prefixed with [`LIBRARY_ID`] and [`CACHE_FORMAT`]).
    pub fn new(description: &str) -> Self {
        CacheKey(xxh3_128(
            format!("{LIBRARY_ID}/{CACHE_FORMAT}\n{description}").as_bytes(),
        ))
    }

    /// The key of another form of this key's entry (`form`: for example the container a
    /// container-neutral entry was muxed into).
    pub(crate) fn form(self, form: &str) -> Self {
        CacheKey(xxh3_128(format!("{:032x}/{form}", self.0).as_bytes()))
    }

    /// The name of this key's file in the cache directory.
    pub fn file_name(self) -> String {
        format!("{:032x}.chunk", self.0)
    }
}

/// A cached value: its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    /// The payload.
    pub bytes: Arc<[u8]>,
}

impl CacheEntry {
    /// An entry holding `bytes`.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        CacheEntry {
            bytes: bytes.into(),
        }
    }
}

/// Where a served entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The in-memory LRU.
    Memory,
    /// The disk cache.
    Disk,
    /// Computed by this request.
    Computed,
    /// Computed by a concurrent request for the same key, which this one waited for.
    Shared,
}

/// Budgets and location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Bytes kept in memory (default 256 MiB).
    pub memory_bytes: u64,
    /// The disk cache directory, created if missing (default: none, memory only).
    pub disk_dir: Option<PathBuf>,
    /// Bytes kept on disk (default 2 GiB).
    pub disk_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_bytes: 256 << 20,
            disk_dir: None,
            disk_bytes: 2 << 30,
        }
    }
}

/// Counters since the cache was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries computed (misses that ran the computation to the end).
    pub computed: u64,
    /// Requests served from memory.
    pub memory_hits: u64,
    /// Requests served from disk.
    pub disk_hits: u64,
    /// Requests that waited for a concurrent computation of the same key.
    pub shared: u64,
    /// Entries dropped from memory for the budget.
    pub memory_evictions: u64,
    /// Files deleted from disk for the budget.
    pub disk_evictions: u64,
    /// Disk files found corrupt or truncated (deleted, never served).
    pub corrupt: u64,
    /// Disk writes that failed (the entry stayed in memory).
    pub disk_write_errors: u64,
    /// Bytes in memory now.
    pub memory_bytes: u64,
    /// Entries in memory now.
    pub memory_entries: u64,
    /// Whether the disk cache is in use.
    pub disk_enabled: bool,
}

/// Something an operator should know about; also sent to the `log` crate as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// The directory could not be opened or written several times in a row: memory only from
    /// now on.
    DiskDisabled {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// One write failed; the entry is served from memory.
    DiskWriteFailed {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// A cache file was truncated or corrupt: deleted and regenerated.
    CorruptEntry {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// An entry larger than [`MAX_ENTRY_BYTES`] was computed: served, not stored.
    TooLarge {
        /// Its size.
        bytes: u64,
    },
}

type Listener = Box<dyn Fn(&CacheEvent) + Send + Sync>;

#[derive(Default)]
struct Counters {
    computed: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    shared: AtomicU64,
    memory_evictions: AtomicU64,
    disk_evictions: AtomicU64,
    corrupt: AtomicU64,
    disk_write_errors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Memory {
    lru: LruCache<CacheKey, CacheEntry>,
    bytes: u64,
    budget: u64,
}

enum FlightState {
    Running,
    Done(CacheEntry),
    Abandoned,
}

struct Flight {
    state: Mutex<FlightState>,
    changed: Condvar,
}

struct Inner {
    memory: Mutex<Memory>,
    disk: Option<Disk>,
    flights: Mutex<HashMap<CacheKey, Arc<Flight>>>,
    counters: Counters,
    events: Mutex<VecDeque<CacheEvent>>,
    listener: Mutex<Option<Listener>>,
}

/// The cache. Cheap to clone (shared); `Send + Sync`.
#[derive(Clone)]
pub struct ChunkCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What [`ChunkCache::claim`] found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The entry, and where it came from.
    Hit(CacheEntry, Origin),
    /// Nobody has it: the caller computes it and hands it to the guard (or drops the guard,
    /// which lets a waiting request try).
    Miss(FlightGuard),
}

/// The right and duty to compute one missing entry.
pub(crate) struct FlightGuard {
    inner: Arc<Inner>,
    key: CacheKey,
    flight: Arc<Flight>,
    finished: bool,
    /// The key's cross-process lock while this guard computes it (disk caches only).
    cross_process: Option<KeyLock>,
}

impl std::fmt::Debug for FlightGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl FlightGuard {
    /// Stores the computed entry (memory, then disk) and hands it to the waiting requests.
    pub(crate) fn complete(self, entry: CacheEntry) -> CacheEntry {
        self.complete_to(entry, true)
    }

    /// [`Self::complete`], to the disk too only when `to_disk`.
    fn complete_to(mut self, entry: CacheEntry, to_disk: bool) -> CacheEntry {
        bump(&self.inner.counters.computed);
        if entry.bytes.len() as u64 > MAX_ENTRY_BYTES {
            self.finish(FlightState::Done(entry.clone()));
            self.inner.report(CacheEvent::TooLarge {
                bytes: entry.bytes.len() as u64,
            });
            return entry;
        }
        self.inner.memory_insert(self.key, entry.clone());
        self.finish(FlightState::Done(entry.clone()));
        if let Some(disk) = self.inner.disk.as_ref().filter(|_| to_disk) {
            if let Err(event) = disk.write(self.key, &entry, &self.inner.counters) {
                self.inner.report(event);
            }
        }
        // Written (or not to be): other processes waiting for the key may go on.
        self.cross_process = None;
        entry
    }

    fn finish(&mut self, state: FlightState) {
        self.finished = true;
        *lock(&self.flight.state) = state;
        self.flight.changed.notify_all();
        lock(&self.inner.flights).remove(&self.key);
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(FlightState::Abandoned);
        }
    }
}

impl ChunkCache {
    /// A cache with these budgets. A disk directory that cannot be made or read is reported
    /// as [`CacheEvent::DiskDisabled`] and the cache works from memory.
    pub fn new(config: &CacheConfig) -> Self {
        let mut startup_event = None;
        let disk = config.disk_dir.as_ref().and_then(|dir| {
            Disk::open(dir, config.disk_bytes)
                .map_err(|e| {
                    startup_event = Some(CacheEvent::DiskDisabled {
                        dir: dir.clone(),
                        reason: e.to_string(),
                    });
                })
                .ok()
        });
        let cache = ChunkCache {
            inner: Arc::new(Inner {
                memory: Mutex::new(Memory {
                    lru: LruCache::unbounded(),
                    bytes: 0,
                    budget: config.memory_bytes,
                }),
                disk,
                flights: Mutex::new(HashMap::new()),
                counters: Counters::default(),
                events: Mutex::new(VecDeque::new()),
                listener: Mutex::new(None),
            }),
        };
        if let Some(disk) = &cache.inner.disk {
            disk.evict(&cache.inner.counters);
        }
        if let Some(event) = startup_event {
            cache.inner.report(event);
        }
        cache
    }

    /// Finds `key` in memory or on disk, or waits while another request computes it; if nobody
    /// has it, returns the guard with which the caller computes it.
    pub(crate) fn claim(&self, key: CacheKey) -> Claim {
        let inner = &self.inner;
        loop {
            if let Some(entry) = inner.memory_get(key) {
                return Claim::Hit(entry, Origin::Memory);
            }
            let (flight, leader) = {
                let mut flights = lock(&inner.flights);
                match flights.get(&key) {
                    Some(f) => (f.clone(), false),
                    None => {
                        let f = Arc::new(Flight {
                            state: Mutex::new(FlightState::Running),
                            changed: Condvar::new(),
                        });
                        flights.insert(key, f.clone());
                        (f, true)
                    }
                }
            };
            if leader {
                let mut guard = FlightGuard {
                    inner: inner.clone(),
                    key,
                    flight,
                    finished: false,
                    cross_process: None,
                };
                // Another leader may have finished between the memory look-up and the claim.
                if let Some(entry) = inner.memory_get(key) {
                    guard.finish(FlightState::Done(entry.clone()));
                    return Claim::Hit(entry, Origin::Memory);
                }
                if let Some(entry) = inner.disk_get(key) {
                    inner.memory_insert(key, entry.clone());
                    guard.finish(FlightState::Done(entry.clone()));
                    return Claim::Hit(entry, Origin::Disk);
                }
                // Missing on disk too: take the key across processes, then look again (the
                // process that held it has stored it, unless it failed or stopped early).
                if let Some(disk) = inner.disk.as_ref().filter(|d| d.enabled()) {
                    let wait = disk.lock_key(key);
                    if let Some(entry) = inner.disk_get(key) {
                        inner.memory_insert(key, entry.clone());
                        guard.finish(FlightState::Done(entry.clone()));
                        return Claim::Hit(entry, Origin::Disk);
                    }
                    if let KeyLockWait::Locked(held) = wait {
                        guard.cross_process = Some(held);
                    }
                }
                return Claim::Miss(guard);
            }
            let mut state = lock(&flight.state);
            loop {
                match &*state {
                    FlightState::Running => {
                        state = flight
                            .changed
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    FlightState::Done(entry) => {
                        bump(&inner.counters.shared);
                        return Claim::Hit(entry.clone(), Origin::Shared);
                    }
                    FlightState::Abandoned => break,
                }
            }
        }
    }

    /// The entry for `key`, computed by `compute` if no one has it (once, however many ask at
    /// the same time). An error is returned to this caller and nothing is stored.
    pub fn get_or_compute<E>(
        &self,
        key: CacheKey,
        compute: impl FnOnce() -> Result<CacheEntry, E>,
    ) -> Result<(CacheEntry, Origin), E> {
        self.get_or_compute_to(key, compute, true)
    }

    /// [`Self::get_or_compute`] for an entry kept in memory only (found on disk too when
    /// something else wrote it there): for results that are large for what they cost to make
    /// again and whose durable copy is the caller's (a source-rate PCM range, which the caller
    /// writes as its own WAV), so that the request that computes one does not wait for a disk
    /// write.
    pub fn get_or_compute_in_memory<E>(
        &self,
        key: CacheKey,
        compute: impl FnOnce() -> Result<CacheEntry, E>,
    ) -> Result<(CacheEntry, Origin), E> {
        self.get_or_compute_to(key, compute, false)
    }

    fn get_or_compute_to<E>(
        &self,
        key: CacheKey,
        compute: impl FnOnce() -> Result<CacheEntry, E>,
        to_disk: bool,
    ) -> Result<(CacheEntry, Origin), E> {
        match self.claim(key) {
            Claim::Hit(entry, origin) => Ok((entry, origin)),
            Claim::Miss(guard) => Ok((guard.complete_to(compute()?, to_disk), Origin::Computed)),
        }
    }

    /// Whether `key` is stored, in memory or on disk (its file exists; it is checked when
    /// read). No LRU update.
    pub fn contains(&self, key: CacheKey) -> bool {
        self.contains_in_memory(key)
            || self
                .inner
                .disk
                .as_ref()
                .filter(|d| d.enabled())
                .is_some_and(|d| d.dir().join(key.file_name()).exists())
    }

    /// Whether `key` is in memory (no disk look-up, no LRU update).
    pub fn contains_in_memory(&self, key: CacheKey) -> bool {
        lock(&self.inner.memory).lru.contains(&key)
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let memory = lock(&self.inner.memory);
        CacheStats {
            computed: get(&c.computed),
            memory_hits: get(&c.memory_hits),
            disk_hits: get(&c.disk_hits),
            shared: get(&c.shared),
            memory_evictions: get(&c.memory_evictions),
            disk_evictions: get(&c.disk_evictions),
            corrupt: get(&c.corrupt),
            disk_write_errors: get(&c.disk_write_errors),
            memory_bytes: memory.bytes,
            memory_entries: memory.lru.len() as u64,
            disk_enabled: self.inner.disk.as_ref().is_some_and(Disk::enabled),
        }
    }

    /// The most recent events (at most 64), oldest first.
    pub fn events(&self) -> Vec<CacheEvent> {
        lock(&self.inner.events).iter().cloned().collect()
    }

    /// Calls `listener` on every future event (replacing any earlier listener).
    pub fn set_event_listener(&self, listener: impl Fn(&CacheEvent) + Send + Sync + 'static) {
        *lock(&self.inner.listener) = Some(Box::new(listener));
    }

    /// The disk directory, if the disk cache is in use.
    pub fn disk_dir(&self) -> Option<&Path> {
        self.inner
            .disk
            .as_ref()
            .filter(|d| d.enabled())
            .map(Disk::dir)
    }

    /// A served form of an entry kept in memory under its own key ([`CacheKey::form`]): found,
    /// it counts as a memory hit.
    pub(crate) fn memory_form(&self, key: CacheKey) -> Option<Arc<[u8]>> {
        self.inner.memory_get(key).map(|entry| entry.bytes)
    }

    /// Keeps a served form of an entry (a media segment muxed from a container-neutral
    /// entry) in memory under its own key, so that the next request for it copies nothing:
    /// counted against the memory budget and evicted like any entry, never written to disk
    /// (it is made again from the entry in microseconds).
    pub(crate) fn keep_memory_form(&self, key: CacheKey, bytes: Arc<[u8]>) {
        self.inner.memory_insert(key, CacheEntry { bytes });
    }

    /// Empties the memory LRU (the disk is kept): for tests and benchmarks of the disk path.
    pub fn clear_memory(&self) {
        let mut memory = lock(&self.inner.memory);
        memory.lru.clear();
        memory.bytes = 0;
    }
}

#[cfg(test)]
mod tests;
