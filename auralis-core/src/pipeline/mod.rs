//! The chunk pipeline, one chunk start to finish: this module owns everything that makes a chunk's bytes from its
//! place on the timeline: its parts and the threads that render them, the preset-switch mix of
//! a transition chunk, the Opus encode and the container's Clusters, and the chunk-level
//! outputs (mastered PCM, media segment, chunk file; the whole-track file, made from the chunks'
//! PCM). The stream engine, the
//! `render` command, C and Python all get their chunks through [`ChunkRender`], so there is one
//! path to every chunk's bytes. The [`crate::Renderer`] below it only makes PCM of ranges.
//!
//! Chunk `k` is cut into parts at fixed offsets from its start: the first part is
//! [`FIRST_PART_FRAMES`] (2 s: the first two WebM clusters), the following ones
//! [`PART_FRAMES`] (8 s) each, the last one shorter. The first part is not 1 s because a join
//! right after an encoder that ran only about a second came out up to 3.4 dB above a
//! continuous encode in the same window (sad_44s.mp3), where joins after 2 s or more stay
//! within 2 dB (`tests/webm.rs` checks every chunk and part join against a continuous encode).
//! Each part is rendered the way a chunk is (decode with warm-up, resample with roll, master
//! from 3 s before it, Opus with 300 ms of pre-roll and the encoder's look-ahead after it), so
//! the joins between parts are joins of the kind the WebM tests measure at chunk boundaries.
//! The part grid depends only on the chunk, never on the thread count: 1, 2 or 4 threads give
//! the same bytes (tested). Workers take parts in order, so with one thread the first cluster
//! still comes first.
//!
//! The cost of the restart points is their warm-up: about 3 s of mastering and 300 ms of
//! encoding per part (5 parts in a 30 s chunk: 2, 8, 8, 8 and 4 s). The warm-up's decoding and
//! resampling is not repeated: each part hands its 48 kHz input on to the next (see
//! `Handover`), and only the chunk's first part decodes its own.
//!
//! Workers are detached threads: when a [`ChunkRender`] is dropped before its end, each worker
//! finishes the part in hand (at most one part's work, 8 s of audio) and takes no other.

//!
//! The files: `parts` (the grid, and `PartSource`, what a part is made
//! from), `track` (a track's parts: renderer, mastering, transition, pending gain, hand-over),
//! `render` ([`ChunkRender`]: the worker threads, the order, the early first unit), `outputs`
//! (the one-call outputs), `whole_track` (the continuous encode of a whole track). A queue's
//! chunk is the other `PartSource`, in `stream::queue`.

mod outputs;
mod parts;
mod render;
mod track;
mod whole_track;

pub use outputs::{chunk_file, encoded, init_segment, mastered_pcm, mastered_track, media_segment};
pub use parts::{parts, FIRST_PART_FRAMES, PART_FRAMES};
pub(crate) use parts::{PartOut, PartSource};
pub use render::{ChunkRender, PacketGroup};
pub use track::{PendingGain, Transition};
pub use whole_track::{whole_track_file, write_whole_track_file};
