//! Where entries are kept: the memory LRU's look-up and insertion (within its byte budget,
//! least recently used evicted first), the disk's look-up, and the events reported to the
//! listener.

use super::*;

impl Inner {
    pub(super) fn memory_get(&self, key: CacheKey) -> Option<CacheEntry> {
        let entry = lock(&self.memory).lru.get(&key).cloned();
        if entry.is_some() {
            bump(&self.counters.memory_hits);
        }
        entry
    }

    pub(super) fn memory_insert(&self, key: CacheKey, entry: CacheEntry) {
        let mut memory = lock(&self.memory);
        let size = entry.bytes.len() as u64;
        if size > memory.budget {
            return;
        }
        if let Some(old) = memory.lru.put(key, entry) {
            memory.bytes -= old.bytes.len() as u64;
        }
        memory.bytes += size;
        while memory.bytes > memory.budget {
            let Some((_, old)) = memory.lru.pop_lru() else {
                break;
            };
            memory.bytes -= old.bytes.len() as u64;
            bump(&self.counters.memory_evictions);
        }
    }

    pub(super) fn disk_get(&self, key: CacheKey) -> Option<CacheEntry> {
        let disk = self.disk.as_ref().filter(|d| d.enabled())?;
        match disk.read(key) {
            Ok(entry) => {
                if entry.is_some() {
                    bump(&self.counters.disk_hits);
                }
                entry
            }
            Err(event) => {
                bump(&self.counters.corrupt);
                self.report(event);
                None
            }
        }
    }

    pub(super) fn report(&self, event: CacheEvent) {
        log::warn!("auralis cache: {event:?}");
        if let Some(listener) = &*lock(&self.listener) {
            listener(&event);
        }
        let mut events = lock(&self.events);
        if events.len() == EVENTS_KEPT {
            events.pop_front();
        }
        events.push_back(event);
    }
}
