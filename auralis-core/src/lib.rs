//! Auralis Core: progressive streaming of mastered music.
//!
//! ```text
//! file ─ decode ─► PCM at the source rate ─ resample ─► 48 kHz f32 ─ plan ─► chunk k
//!        (decode::Source,                    (resample)                (plan::ChunkPlan)
//!         exact range reads)
//! ```
//!
//! [`render::Renderer`] ties these together: chunk `k` of the 48 kHz timeline, computed from
//! the file alone, so that it is the same bytes whichever chunks were rendered before, in
//! which order, by which thread or process. [`mastering`] designs and applies the adaptive
//! chain, [`opus`] encodes and [`format`](mod@format) muxes chunks for Media Source Extensions, and
//! [`stream`] puts it all behind one object per (track, settings) with a shared
//! [`cache`] and `prefetch` workers (their [`Priority`]): the API the C and Python faces wrap.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Every type a public item returns or takes is nameable by the user (re-exported below).
#![warn(unnameable_types)]

pub mod analysis;
pub mod cache;
pub mod decode;
pub mod demo;
pub mod dsp;
mod error;
pub mod format;
pub mod mastering;
pub mod opus;
pub mod parallel;
pub mod pipeline;
mod plan;
mod prefetch;
mod render;
pub mod resample;
mod signature;
pub mod stream;
pub mod units;

pub use cache::{CacheConfig, CacheStats, Origin};
pub use decode::{RangeReader, Source, SourceInfo, Tags};
pub use dsp::crossfade::Curve;
pub use error::{DecodeError, EncodeError, Error, ErrorKind, MasteringError, PlanError};
pub use format::Container;
pub use mastering::{Mastering, MasteringParams, MasteringSettings, Preset};
pub use plan::{ChunkPlan, ChunkRange, DEFAULT_CHUNK_SECONDS, MAX_CHUNK_SECONDS};
pub use prefetch::{PrefetchStats, Priority};
pub use render::Renderer;
pub use signature::FileSignature;
pub use stream::{
    ChunkSource, Engine, EngineConfig, GainMode, Join, Queue, QueueItem, QueueLayout, Stream,
    StreamInfo, StreamSettings,
};
pub use units::{OutputRate, OUTPUT_RATE_HZ};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
