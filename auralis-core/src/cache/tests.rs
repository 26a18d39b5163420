//! The cache's unit tests: tiers, single flight, the disk format, corruption.

use super::disk::{decode_entry, encode_entry};
use super::*;

fn entry(n: usize, fill: u8) -> CacheEntry {
    CacheEntry::new(vec![fill; n])
}

#[test]
fn the_disk_format_round_trips_and_refuses_any_damage() {
    let key = CacheKey::new("k");
    let e = entry(1000, 7);
    let data = encode_entry(key, &e);
    assert_eq!(decode_entry(key, &data).unwrap(), e);
    assert!(decode_entry(CacheKey::new("other"), &data).is_err());
    for cut in [0, 10, HEADER_LEN, data.len() - 1] {
        assert!(decode_entry(key, &data[..cut]).is_err(), "cut at {cut}");
    }
    for flip in [0, 9, 20, 35, 44, 50, HEADER_LEN, data.len() - 1] {
        let mut bad = data.clone();
        bad[flip] ^= 0x10;
        assert!(decode_entry(key, &bad).is_err(), "flip at {flip}");
    }
}

#[test]
fn memory_keeps_within_its_budget_least_recently_used_first() {
    let cache = ChunkCache::new(&CacheConfig {
        memory_bytes: 2500,
        ..CacheConfig::default()
    });
    let key = |i: u32| CacheKey::new(&i.to_string());
    for i in 0..3 {
        cache
            .get_or_compute(key(i), || Ok::<_, ()>(entry(1000, i as u8)))
            .unwrap();
    }
    // 3000 bytes > 2500: the first went.
    let s = cache.stats();
    assert_eq!(
        (s.memory_entries, s.memory_bytes, s.memory_evictions),
        (2, 2000, 1)
    );
    assert!(!cache.contains_in_memory(key(0)));
    // Touch 1, add 3: 2 goes, 1 stays.
    let (_, origin) = cache
        .get_or_compute(key(1), || Err::<CacheEntry, ()>(()))
        .unwrap();
    assert_eq!(origin, Origin::Memory);
    cache
        .get_or_compute(key(3), || Ok::<_, ()>(entry(1000, 3)))
        .unwrap();
    assert!(cache.contains_in_memory(key(1)) && !cache.contains_in_memory(key(2)));
    // Too big for the budget: served, not kept.
    let (big, _) = cache
        .get_or_compute(key(9), || Ok::<_, ()>(entry(5000, 9)))
        .unwrap();
    assert_eq!(big.bytes.len(), 5000);
    assert!(!cache.contains_in_memory(key(9)));
}

#[test]
fn entries_over_the_size_limit_are_served_not_stored_and_never_read_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ChunkCache::new(&CacheConfig {
        memory_bytes: 1 << 40,
        disk_dir: Some(dir.path().to_path_buf()),
        ..CacheConfig::default()
    });
    // Too large to store: served, reported, in neither memory nor disk.
    let key = CacheKey::new("big");
    let n = MAX_ENTRY_BYTES as usize + 1;
    let (served, origin) = cache
        .get_or_compute(key, || Ok::<_, ()>(entry(n, 3)))
        .unwrap();
    assert_eq!((served.bytes.len(), origin), (n, Origin::Computed));
    assert!(!cache.contains_in_memory(key));
    assert!(!dir.path().join(key.file_name()).exists());
    assert!(cache
        .events()
        .contains(&CacheEvent::TooLarge { bytes: n as u64 }));
    drop(served);

    // A planted file larger than any entry: not read (sparse, so reading it would take
    // seconds and 256 MiB), deleted, reported, recomputed.
    let planted = CacheKey::new("planted");
    let path = dir.path().join(planted.file_name());
    std::fs::File::create(&path)
        .unwrap()
        .set_len(HEADER_LEN as u64 + MAX_ENTRY_BYTES + 1)
        .unwrap();
    let (got, origin) = cache
        .get_or_compute(planted, || Ok::<_, ()>(entry(10, 5)))
        .unwrap();
    assert_eq!((got, origin), (entry(10, 5), Origin::Computed));
    assert!(
        cache.events().iter().any(|e| matches!(e,
        CacheEvent::CorruptEntry { reason, .. } if reason.contains("more than the largest entry")))
    );
    assert_eq!(cache.stats().corrupt, 1);
    // The file now holds the recomputed entry.
    let data = std::fs::read(&path).unwrap();
    assert_eq!(disk::decode_entry(planted, &data).unwrap(), entry(10, 5));
}

#[test]
fn a_failed_computation_stores_nothing_and_the_next_request_computes() {
    let cache = ChunkCache::new(&CacheConfig::default());
    let key = CacheKey::new("x");
    assert_eq!(
        cache.get_or_compute(key, || Err::<CacheEntry, _>("boom")),
        Err("boom")
    );
    let (_, origin) = cache
        .get_or_compute(key, || Ok::<_, ()>(entry(10, 1)))
        .unwrap();
    assert_eq!(origin, Origin::Computed);
    assert_eq!(cache.stats().computed, 1);
}
