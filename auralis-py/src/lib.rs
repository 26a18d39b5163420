//! Python bindings of Auralis Core: the `auralis_core` package (PyO3, maturin).
//!
//! Not built yet: the PyO3 module, the drop-in `ChunkedAudioProcessor` and the FastAPI example
//! come with the Python work (issue 7). This crate is a workspace member so that the layout is
//! in place; it exports nothing.
