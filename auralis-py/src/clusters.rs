//! `Clusters`: one chunk's units (WebM Clusters or MP4 fragments) as they are made.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

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
