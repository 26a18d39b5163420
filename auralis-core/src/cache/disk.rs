//! The on-disk half of the cache: checked files, atomic writes, LRU eviction by modification
//! time (see the parent module's docs for the format and the guarantees).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

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
