//! The shared engines behind streams and queues (one per cache directory and thread count).

use std::path::PathBuf;

use auralis_core::stream::{shared_engine, Engine, EngineConfig};
use auralis_core::{CacheConfig, Error};
use pyo3::prelude::*;

use crate::errors::*;

/// The engine of a cache directory (or of memory only) and a thread count, shared by every
/// stream opened with them while any of them is alive (released with the last one).
pub(crate) fn engine_for(
    cache_dir: Option<PathBuf>,
    render_threads: usize,
) -> Result<Engine, Error> {
    shared_engine(&EngineConfig {
        cache: CacheConfig {
            disk_dir: cache_dir,
            ..CacheConfig::default()
        },
        render_threads,
        ..EngineConfig::default()
    })
}

/// [`engine_for`], and at the cap of live engines (streams and queues Python has not collected
/// yet, in cycles, may be holding some) a garbage collection and a second try.
pub(crate) fn engine_collecting(
    py: Python<'_>,
    cache_dir: Option<PathBuf>,
    render_threads: usize,
) -> PyResult<Engine> {
    match engine_for(cache_dir.clone(), render_threads) {
        Ok(engine) => Ok(engine),
        Err(_) => {
            py.import("gc")?.call_method0("collect")?;
            engine_for(cache_dir, render_threads).map_err(to_py)
        }
    }
}
