//! `Clusters`: one chunk's units (WebM Clusters or MP4 fragments) as they are made.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use auralis_core::stream::ChunkSource;

use crate::convert::origin_name;
use crate::errors::*;

/// Iterator over one chunk's WebM clusters (bytes), made as it is iterated.
#[pyclass(module = "auralis_core._native")]
pub(crate) struct Clusters {
    pub(crate) inner: Mutex<auralis_core::stream::ChunkClusters>,
    pub(crate) origin: &'static str,
}

#[pymethods]
impl Clusters {
    /// Where the chunk comes from ("MISS" when it is being encoded as iterated).
    #[getter]
    fn origin(&self) -> &'static str {
        self.origin
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let next = py.detach(|| {
            self.inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next()
        });
        match next {
            None => Ok(None),
            Some(Ok(cluster)) => Ok(Some(PyBytes::new(py, &cluster))),
            Some(Err(e)) => Err(to_py(e)),
        }
    }
}

/// Chunk `index`'s media segment of a track or a queue (a transition from `from` when given)
/// and its origin: `Stream.media_segment` and `Queue.media_segment` in one place.
pub(crate) fn media_segment_of<'py, S>(
    py: Python<'py>,
    source: &S,
    index: u64,
    from: Option<&S::From>,
) -> PyResult<(Bound<'py, PyBytes>, &'static str)>
where
    S: ChunkSource + Sync,
    S::From: Sync,
{
    let served = heavy(py, || source.segment(index, from))?;
    Ok((PyBytes::new(py, &served.bytes), origin_name(served.origin)))
}

/// Chunk `index` unit by unit, of a track or a queue: `iter_chunk` of both.
pub(crate) fn units_of<S>(
    py: Python<'_>,
    source: &S,
    index: u64,
    from: Option<&S::From>,
) -> PyResult<Clusters>
where
    S: ChunkSource + Sync,
    S::From: Sync,
{
    let clusters = heavy(py, || source.units(index, from))?;
    Ok(Clusters {
        origin: origin_name(clusters.origin()),
        inner: Mutex::new(clusters),
    })
}

/// A switch at the playhead of a track or a queue (the rest of the chunk from `at_frame`, a
/// transition from `from` when given) and its origin: `media_segment_at` of both.
pub(crate) fn media_segment_at_of<'py, S>(
    py: Python<'py>,
    source: &S,
    at_frame: u64,
    from: Option<&S::From>,
) -> PyResult<(Bound<'py, PyBytes>, &'static str)>
where
    S: ChunkSource + Sync,
    S::From: Sync,
{
    let served = heavy(py, || source.segment_at(at_frame, from))?;
    Ok((PyBytes::new(py, &served.bytes), origin_name(served.origin)))
}

/// [`media_segment_at_of`] unit by unit: `iter_chunk_at` of both.
pub(crate) fn units_at_of<S>(
    py: Python<'_>,
    source: &S,
    at_frame: u64,
    from: Option<&S::From>,
) -> PyResult<Clusters>
where
    S: ChunkSource + Sync,
    S::From: Sync,
{
    let clusters = heavy(py, || source.units_at(at_frame, from))?;
    Ok(Clusters {
        origin: origin_name(clusters.origin()),
        inner: Mutex::new(clusters),
    })
}

/// Chunk `index` as a standalone file, of a track or a queue: `chunk_file` of both.
pub(crate) fn file_of<'py, S>(
    py: Python<'py>,
    source: &S,
    index: u64,
    from: Option<&S::From>,
) -> PyResult<Bound<'py, PyBytes>>
where
    S: ChunkSource + Sync,
    S::From: Sync,
{
    let file = heavy(py, || source.file(index, from))?;
    Ok(PyBytes::new(py, &file))
}
