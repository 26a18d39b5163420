//! The on-disk half of the cache: checked files, atomic writes, LRU eviction by modification
//! time (see the parent module's docs for the format and the guarantees).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use xxhash_rust::xxh3::Xxh3;

use super::{
    bump, lock, CacheEntry, CacheEvent, CacheKey, Counters, CACHE_FORMAT, HEADER_LEN, MAGIC,
    MAX_ENTRY_BYTES, MAX_WRITE_FAILURES, STALE_TEMP,
};

struct DiskState {
    enabled: bool,
    /// Bytes on disk as last counted plus what was written since.
    estimate: u64,
    failures: u32,
}

pub(super) struct Disk {
    dir: PathBuf,
    budget: u64,
    state: Mutex<DiskState>,
    temp_counter: AtomicU64,
}

impl Disk {
    pub(super) fn open(dir: &Path, budget: u64) -> std::io::Result<Disk> {
        fs::create_dir_all(dir)?;
        let now = SystemTime::now();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".lock") {
                // A key lock nobody holds is left by a process that died after storing its
                // entry: delete it the way a holder does (locked, then unlinked).
                if let Ok(file) = fs::File::options().read(true).write(true).open(item.path()) {
                    if file.try_lock().is_ok() && same_file(&file, &item.path()) {
                        let _ = fs::remove_file(item.path());
                    }
                }
                continue;
            }
            if name.ends_with(".tmp") {
                let old = item
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP);
                if old {
                    let _ = fs::remove_file(item.path());
                }
            }
        }
        let disk = Disk {
            dir: dir.to_path_buf(),
            budget,
            state: Mutex::new(DiskState {
                enabled: true,
                estimate: u64::MAX, // count on the first eviction pass
                failures: 0,
            }),
            temp_counter: AtomicU64::new(0),
        };
        Ok(disk)
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn enabled(&self) -> bool {
        lock(&self.state).enabled
    }

    /// Reads and checks an entry. `Ok(None)`: not there (or unreadable); `Err`: corrupt
    /// (already deleted).
    pub(super) fn read(&self, key: CacheKey) -> Result<Option<CacheEntry>, CacheEvent> {
        let path = self.dir.join(key.file_name());
        let Ok(meta) = fs::metadata(&path) else {
            return Ok(None);
        };
        if meta.len() > HEADER_LEN as u64 + MAX_ENTRY_BYTES {
            // Not read: a planted or runaway file must not be loaded into memory.
            let _ = fs::remove_file(&path);
            return Err(CacheEvent::CorruptEntry {
                path,
                reason: format!("{} bytes, more than the largest entry", meta.len()),
            });
        }
        let Ok(data) = fs::read(&path) else {
            return Ok(None);
        };
        match decode_entry(key, &data) {
            Ok(entry) => {
                // Refresh the LRU order (best effort: another process may have evicted it).
                if let Ok(f) = fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                Ok(Some(entry))
            }
            Err(reason) => {
                let _ = fs::remove_file(&path);
                Err(CacheEvent::CorruptEntry { path, reason })
            }
        }
    }

    pub(super) fn write(
        &self,
        key: CacheKey,
        entry: &CacheEntry,
        counters: &Counters,
    ) -> Result<(), CacheEvent> {
        if !self.enabled() {
            return Ok(());
        }
        let data = encode_entry(key, entry);
        let mut result = self.write_file(key, &data);
        if result.is_err() {
            // The directory may have been deleted: make it again once.
            result = fs::create_dir_all(&self.dir).and_then(|()| self.write_file(key, &data));
        }
        let mut state = lock(&self.state);
        match result {
            Ok(()) => {
                state.failures = 0;
                state.estimate = state.estimate.saturating_add(data.len() as u64);
                let over = state.estimate > self.budget;
                drop(state);
                if over {
                    self.evict(counters);
                }
                Ok(())
            }
            Err(e) => {
                bump(&counters.disk_write_errors);
                state.failures += 1;
                if state.failures >= MAX_WRITE_FAILURES {
                    state.enabled = false;
                    return Err(CacheEvent::DiskDisabled {
                        dir: self.dir.clone(),
                        reason: format!("{MAX_WRITE_FAILURES} writes failed in a row, last: {e}"),
                    });
                }
                Err(CacheEvent::DiskWriteFailed {
                    dir: self.dir.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Writes under a temporary name, syncs, renames.
    fn write_file(&self, key: CacheKey, data: &[u8]) -> std::io::Result<()> {
        let final_path = self.dir.join(key.file_name());
        let temp = self.dir.join(format!(
            ".{:032x}.{}.{}.tmp",
            key.0,
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = fs::File::create(&temp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&temp, &final_path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Takes `key`'s cross-process lock (see [`KeyLock`]), waiting while another process or
    /// thread holds it. Returns early with [`KeyLockWait::Appeared`] when the entry's file
    /// appears meanwhile, and with [`KeyLockWait::Unavailable`] when the lock cannot be made
    /// (a directory that refuses files) or was held longer than [`KEY_LOCK_PATIENCE`].
    pub(super) fn lock_key(&self, key: CacheKey) -> KeyLockWait {
        let path = self.dir.join(format!("{:032x}.lock", key.0));
        let entry = self.dir.join(key.file_name());
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let Ok(file) = fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
            else {
                return KeyLockWait::Unavailable;
            };
            match file.try_lock() {
                Ok(()) => {
                    // The holder before us deletes the path before unlocking: a lock on a file
                    // no longer at the path locks nothing, so start again.
                    if same_file(&file, &path) {
                        return KeyLockWait::Locked(KeyLock { path, _file: file });
                    }
                    continue;
                }
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(_)) => return KeyLockWait::Unavailable,
            }
            drop(file);
            if entry.exists() {
                return KeyLockWait::Appeared;
            }
            if start.elapsed() > KEY_LOCK_PATIENCE {
                log::warn!(
                    "auralis cache: {} held for over {KEY_LOCK_PATIENCE:?}; computing anyway",
                    path.display()
                );
                return KeyLockWait::Unavailable;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Counts the directory and deletes least-recently-used entries until it holds at most
    /// 90 % of the budget (when it holds more than the budget).
    pub(super) fn evict(&self, counters: &Counters) {
        let Ok(items) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(SystemTime, u64, PathBuf)> = items
            .filter_map(Result::ok)
            .filter(|i| {
                i.file_name()
                    .to_str()
                    .is_some_and(|n| n.ends_with(".chunk"))
            })
            .filter_map(|i| {
                let m = i.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), i.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total > self.budget {
            files.sort();
            let target = self.budget / 10 * 9;
            for (_, len, path) in files {
                if total <= target {
                    break;
                }
                if fs::remove_file(&path).is_ok() {
                    bump(&counters.disk_evictions);
                }
                total -= len;
            }
        }
        lock(&self.state).estimate = total;
    }
}

pub(super) fn encode_entry(key: CacheKey, entry: &CacheEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + entry.bytes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&key.0.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // reserved
    out.extend_from_slice(&(entry.bytes.len() as u64).to_le_bytes());
    let mut hasher = Xxh3::new();
    hasher.update(&out);
    hasher.update(&entry.bytes);
    out.extend_from_slice(&hasher.digest().to_le_bytes());
    out.extend_from_slice(&entry.bytes);
    out
}

pub(super) fn decode_entry(key: CacheKey, data: &[u8]) -> Result<CacheEntry, String> {
    if data.len() < HEADER_LEN {
        return Err(format!("{} bytes, shorter than the header", data.len()));
    }
    let u64_at = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
    if &data[..8] != MAGIC {
        return Err("bad magic".into());
    }
    let format = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    if format != CACHE_FORMAT {
        return Err(format!("format {format}, expected {CACHE_FORMAT}"));
    }
    if u128::from_le_bytes(data[16..32].try_into().expect("16 bytes")) != key.0 {
        return Err("the header names another key".into());
    }
    let len = u64_at(40);
    if len != (data.len() - HEADER_LEN) as u64 {
        return Err(format!(
            "payload is {} bytes, header says {len}",
            data.len() - HEADER_LEN
        ));
    }
    let mut hasher = Xxh3::new();
    hasher.update(&data[..48]);
    hasher.update(&data[HEADER_LEN..]);
    if hasher.digest() != u64_at(48) {
        return Err("checksum mismatch".into());
    }
    Ok(CacheEntry::new(&data[HEADER_LEN..]))
}

/// How long a request waits for another process's computation of the same key before
/// computing it too (a process that died releases its locks at once; this is for one that
/// hangs).
pub(super) const KEY_LOCK_PATIENCE: Duration = Duration::from_secs(120);

/// Cross-process single flight: while one process (or thread) computes a key, it holds an
/// exclusive lock on `<dir>/<key>.lock` (an advisory `flock`-style lock through
/// [`std::fs::File::try_lock`]), and any other process that misses the same key waits for it
/// and then reads the entry from disk instead of computing it again.
///
/// The lock belongs to the open file, so the kernel releases it when the process dies, however
/// it dies: a crashed renderer never leaves a key locked, and a stale `.lock` file left by one
/// is simply locked again by the next process. The holder deletes the file before it unlocks
/// (dropping this value), so lock files exist only while a key is being computed; a waiter
/// that then gets the lock on the deleted file sees that the path no longer names it and
/// starts again.
#[derive(Debug)]
pub(super) struct KeyLock {
    path: PathBuf,
    _file: fs::File,
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        // Delete first, unlock second (the file closes after this body).
        let _ = fs::remove_file(&self.path);
    }
}

/// What waiting for a key's lock gave.
#[derive(Debug)]
pub(super) enum KeyLockWait {
    /// The lock: compute, store, then drop it.
    Locked(KeyLock),
    /// The entry's file appeared while waiting: read it.
    Appeared,
    /// No lock to be had (see [`Disk::lock_key`]): compute without it.
    Unavailable,
}

/// Whether the open `file` is the file at `path` now.
fn same_file(file: &fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Elsewhere a file that is open cannot be deleted, so the path still names it.
        let _ = file;
        path.exists()
    }
}
