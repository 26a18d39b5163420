//! The cache's read path on fuzzed cache files. Each input is written as the file of a fixed key
//! in a cache directory, then that key is requested with the memory cache cleared. Oracle: the
//! request never fails and never panics; it is either a disk hit whose bytes are what the file
//! holds after the 56-byte header (a valid entry) or a recomputation that serves the computed
//! entry, and in that case a damaged file was reported and replaced by a valid one.
#![no_main]

use std::sync::OnceLock;

use auralis_core::cache::{CacheEntry, CacheKey, ChunkCache};
use auralis_core::{CacheConfig, Origin};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    cache: ChunkCache,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cache = ChunkCache::new(&CacheConfig {
            disk_dir: Some(dir.path().to_path_buf()),
            ..CacheConfig::default()
        });
        let path = dir.path().join(key().file_name());
        Fixture {
            _dir: dir,
            path,
            cache,
        }
    })
}

fn key() -> CacheKey {
    CacheKey::new("fuzz/cache_read")
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    std::fs::write(&f.path, data).expect("write the cache file");
    f.cache.clear_memory();
    let computed = CacheEntry::new(b"computed".to_vec());
    let corrupt_before = f.cache.stats().corrupt;
    let (entry, origin) = f
        .cache
        .get_or_compute(key(), || Ok::<_, ()>(computed.clone()))
        .expect("the computation cannot fail");
    match origin {
        Origin::Disk => assert_eq!(&entry.bytes[..], &data[56..]),
        Origin::Computed => {
            assert_eq!(entry, computed);
            assert_eq!(
                f.cache.stats().corrupt,
                corrupt_before + 1,
                "damage not reported"
            );
            let again = std::fs::read(&f.path).expect("the entry was written again");
            assert!(again.ends_with(b"computed"));
        }
        other => panic!("unexpected origin {other:?}"),
    }
});
