//! What identifies a source's content in cache keys, and how a change is noticed.
//!
//! A file's signature is its size, its modification time (ns) and a 128-bit XXH3 hash of its
//! first and last 64 KiB: cheap to take (two reads) and different after any ordinary edit,
//! re-encode, tag rewrite or replacement. An in-memory source is hashed whole. A stream checks
//! the size and modification time again around every computation, so a file that changes or
//! disappears while a stream is open gives a clear error instead of chunks of two versions.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::UNIX_EPOCH;

use xxhash_rust::xxh3::Xxh3;

use crate::error::DecodeError;

/// Bytes hashed at each end of a file.
pub const EDGE_BYTES: u64 = 64 * 1024;

/// A source's identity for caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileSignature {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in ns since the epoch (0 for in-memory sources).
    pub mtime_ns: u128,
    /// XXH3-128 of the first and last 64 KiB (of everything for in-memory sources).
    pub hash: u128,
}

impl FileSignature {
    /// The signature of a file.
    pub fn of_path(path: &Path) -> Result<Self, DecodeError> {
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => DecodeError::NotFound {
                path: path.to_path_buf(),
            },
            _ => DecodeError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let size = meta.len();
        let mut hasher = Xxh3::new();
        hasher.update(&size.to_le_bytes());
        let mut buf = vec![0u8; EDGE_BYTES.min(size) as usize];
        file.read_exact(&mut buf).map_err(io)?;
        hasher.update(&buf);
        if size > EDGE_BYTES {
            let tail = EDGE_BYTES.min(size - EDGE_BYTES);
            file.seek(SeekFrom::Start(size - tail)).map_err(io)?;
            buf.resize(tail as usize, 0);
            file.read_exact(&mut buf).map_err(io)?;
            hasher.update(&buf);
        }
        Ok(FileSignature {
            size,
            mtime_ns: mtime_ns(&meta),
            hash: hasher.digest128(),
        })
    }

    /// The signature of bytes held in memory.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        let mut hasher = Xxh3::new();
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
        FileSignature {
            size: bytes.len() as u64,
            mtime_ns: 0,
            hash: hasher.digest128(),
        }
    }

    /// Whether the file at `path` still has this size and modification time (a stat, no read).
    /// A missing file has not.
    pub fn still_matches(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.len() == self.size && mtime_ns(&m) == self.mtime_ns)
    }

    /// The signature as text for cache keys and the Python layer.
    pub fn to_hex(&self) -> String {
        format!("{:032x}-{:x}-{:x}", self.hash, self.size, self.mtime_ns)
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn any_edit_at_either_end_or_in_size_changes_the_signature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let sig = FileSignature::of_path(&path).unwrap();
        assert_eq!(sig, FileSignature::of_path(&path).unwrap());
        assert!(sig.still_matches(&path));
        for at in [0, data.len() - 1] {
            let mut edited = data.clone();
            edited[at] ^= 1;
            let other = dir.path().join("b.bin");
            std::fs::write(&other, &edited).unwrap();
            assert_ne!(FileSignature::of_path(&other).unwrap().hash, sig.hash);
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0]).unwrap();
        drop(f);
        assert!(!sig.still_matches(&path));
        std::fs::remove_file(&path).unwrap();
        assert!(!sig.still_matches(&path));
        assert!(matches!(
            FileSignature::of_path(&path),
            Err(DecodeError::NotFound { .. })
        ));
        assert_ne!(
            FileSignature::of_bytes(&data),
            FileSignature::of_bytes(&data[1..])
        );
    }
}
