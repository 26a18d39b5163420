//! The part grid of a chunk and what a part is made from (see the module docs of
//! [`super`]).

use crate::error::Error;
use crate::plan::ChunkRange;

/// Length of a chunk's first part: 2 s, the first two WebM clusters.
pub const FIRST_PART_FRAMES: u64 = 2 * 48_000;
/// Length of the following parts: 8 s.
pub const PART_FRAMES: u64 = 8 * 48_000;

/// The parts `[start, end)` (absolute frames) of a chunk.
pub fn parts(chunk: &ChunkRange) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut at, mut len) = (0, FIRST_PART_FRAMES);
    while at < chunk.frames {
        let end = (at + len).min(chunk.frames);
        out.push((chunk.start_frame + at, chunk.start_frame + end));
        at = end;
        len = PART_FRAMES;
    }
    out
}

/// What one part gives: its mastered PCM and, when encoding, its Opus packets.
pub(crate) struct PartOut {
    pub(crate) pcm: Vec<f32>,
    pub(crate) packets: Vec<Vec<u8>>,
}

/// Where a chunk's parts come from: the audio of each part, mastered and encoded with the
/// encoder's pre-roll and look-ahead. A track's chunk (its renderer, mastering and transition:
/// [`PartWork`]) and a queue's chunk rendered from the queue's audio
/// (`stream::queue::QueueParts`) are the two; [`ChunkRender`] is the one pipeline both run
/// through (the worker threads, the parts in order, the first unit before the first part is
/// done, the hand-out of groups, cancelling on drop).
pub(crate) trait PartSource: Send + Sync + 'static {
    /// How many parts the chunk has.
    fn part_count(&self) -> usize;

    /// Renders part `i`. The first part hands its first group's packets (at most
    /// [`crate::format::webm::CLUSTER_PACKETS`]) to `early` as soon as they are encoded.
    fn run(&self, i: usize, early: &mut dyn FnMut(&[Vec<u8>])) -> Result<PartOut, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_start_with_two_seconds_then_eight_and_tile_the_chunk() {
        let chunk = |start_frame, frames| ChunkRange {
            index: 0,
            start_frame,
            frames,
        };
        let s = parts(&chunk(1_440_000, 1_440_000));
        let lens: Vec<u64> = s.iter().map(|(a, b)| (b - a) / 48_000).collect();
        assert_eq!(lens, [2, 8, 8, 8, 4]);
        assert_eq!(s[0].0, 1_440_000);
        assert_eq!(s.last().unwrap().1, 2_880_000);
        assert!(s.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(s.iter().all(|(a, _)| a % 960 == 0));
        assert_eq!(parts(&chunk(0, 500)), [(0, 500)]);
        assert_eq!(parts(&chunk(0, 96_001)), [(0, 96_000), (96_000, 96_001)]);
    }
}
