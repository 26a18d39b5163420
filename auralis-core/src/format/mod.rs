//! Container formats: everything that knows bytes of a file format the engine writes or reads
//! beyond what symphonia decodes.
//!
//! - `ebml` and `bmff`: the two binary layouts (Matroska/WebM elements, ISO BMFF boxes),
//!   written and read, shared by the writers, their strict readers and the decoder's trimming
//!   of Matroska and MP4 files;
//! - [`webm`] and [`mp4`]: the MSE writers (init segments, media segments, whole-track files);
//! - [`Container`]: the choice between them, and the unit of progressive output of each;
//! - [`hls`]: media playlists over fragmented MP4;
//! - [`wav`]: the PCM outputs' WAV files (16-bit dithered or 32-bit float);
//! - `packets`: a chunk's encoded form as the cache keeps it, neutral to the container (each
//!   container is muxed from it when the chunk is served).

pub mod bmff;
mod container;
pub mod ebml;
pub mod hls;
pub mod mp4;
pub(crate) mod packets;
pub mod wav;
pub mod webm;

pub use container::Container;
