//! Progressive output: one chunk's units (WebM Clusters or MP4 fragments), from the cache or as
//! they are encoded. Both come as packet groups, muxed into the stream's container as each is
//! taken; a render being encoded keeps its packets and caches them, neutral to the container,
//! once the last group is made.

use std::ops::Range;
use std::sync::Arc;

use crate::cache::{FlightGuard, Origin};
use crate::error::Error;
use crate::format::{packets, webm::CLUSTER_PACKETS, Container};
use crate::pipeline::{ChunkRender, PacketGroup};
use crate::units::PACKET_FRAMES;

use super::Stream;

/// The clusters of one chunk (see [`Stream::chunk_clusters`]): an iterator of WebM Clusters or
/// MP4 fragments (the stream's container), each a `Vec<u8>` to send as it comes. `Send`.
pub struct ChunkClusters {
    pub(super) origin: Origin,
    pub(super) state: ClusterState,
}

impl std::fmt::Debug for ChunkClusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkClusters")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

pub(super) enum ClusterState {
    /// A track's chunk: its packet groups, each muxed into the container when taken.
    Groups(ChunkGroups, Container),
    /// Another producer of units (a queue's chunk, see [`crate::Queue::chunk_clusters`]).
    Other(Box<dyn Iterator<Item = Result<Vec<u8>, Error>> + Send>),
    Done,
}

/// One chunk of a track as packet groups of 1 s, in order: from a cached entry, or from a
/// render being encoded (which caches the chunk after its last group).
pub(crate) enum ChunkGroups {
    Cached {
        entry: Arc<[u8]>,
        /// Where each packet lies in `entry`.
        packets: Vec<Range<usize>>,
        start_frame: u64,
        /// The last packet's padding when the chunk ends the track, else 0.
        padding_frames: u64,
        next: usize,
    },
    Live(Box<Live>),
    Done,
}

pub(crate) struct Live {
    pub(super) encoder: ChunkRender,
    pub(super) guard: Option<FlightGuard>,
    pub(super) packets: Vec<Vec<u8>>,
    pub(super) stream: Stream,
    pub(super) index: u64,
    pub(super) note_level: bool,
    pub(super) _foreground: crate::prefetch::ForegroundGuard,
}

impl ChunkGroups {
    /// The groups of a cached entry.
    pub(crate) fn cached(entry: Arc<[u8]>) -> Result<Self, Error> {
        let view = packets::view(&entry)?;
        let base = entry.as_ptr() as usize;
        let packets = view
            .packets
            .iter()
            .map(|p| {
                let at = p.as_ptr() as usize - base;
                at..at + p.len()
            })
            .collect();
        let (start_frame, padding_frames) = (
            view.start_frame,
            if view.is_last { view.padding_frames } else { 0 },
        );
        Ok(ChunkGroups::Cached {
            entry,
            packets,
            start_frame,
            padding_frames,
            next: 0,
        })
    }

    /// The next group muxed into `container`: for a cached chunk, straight from the entry's
    /// bytes (no packet copied but into the unit).
    fn next_unit(&mut self, container: Container) -> Option<Result<Vec<u8>, Error>> {
        if let ChunkGroups::Cached {
            entry,
            packets,
            start_frame,
            padding_frames,
            next,
        } = self
        {
            let (range, first_frame, padding) =
                cached_group(packets, *start_frame, *padding_frames, *next)?;
            *next += 1;
            let slices: Vec<&[u8]> = packets[range].iter().map(|r| &entry[r.clone()]).collect();
            return Some(Ok(container.group(&slices, first_frame, padding)));
        }
        self.next_group().map(|g| g.map(|g| g.mux(container)))
    }

    /// The next group; `None` after the last (or after an error).
    pub(crate) fn next_group(&mut self) -> Option<Result<PacketGroup, Error>> {
        match self {
            ChunkGroups::Done => None,
            ChunkGroups::Cached {
                entry,
                packets,
                start_frame,
                padding_frames,
                next,
            } => {
                let (range, first_frame, padding) =
                    cached_group(packets, *start_frame, *padding_frames, *next)?;
                *next += 1;
                Some(Ok(PacketGroup {
                    packets: packets[range]
                        .iter()
                        .map(|r| entry[r.clone()].to_vec())
                        .collect(),
                    first_frame,
                    padding_frames: padding,
                }))
            }
            ChunkGroups::Live(live) => match live.encoder.next_group() {
                Some(Ok(group)) => {
                    live.packets.extend(group.packets.iter().cloned());
                    Some(Ok(group))
                }
                Some(Err(e)) => {
                    *self = ChunkGroups::Done;
                    Some(Err(e))
                }
                None => {
                    let outcome = live.complete();
                    *self = ChunkGroups::Done;
                    outcome.err().map(Err)
                }
            },
        }
    }
}

/// Group `g` of a cached chunk of `packets`: which packets, its first frame and its padding;
/// `None` past the last.
fn cached_group(
    packets: &[Range<usize>],
    start_frame: u64,
    padding_frames: u64,
    g: usize,
) -> Option<(Range<usize>, u64, u64)> {
    let start = g * CLUSTER_PACKETS;
    if start >= packets.len() {
        return None;
    }
    let end = (start + CLUSTER_PACKETS).min(packets.len());
    let padding = if end == packets.len() {
        padding_frames
    } else {
        0
    };
    Some((
        start..end,
        start_frame + (start * PACKET_FRAMES) as u64,
        padding,
    ))
}

impl Live {
    /// After the last group: caches the chunk (only if it was made from the file as it was
    /// opened) and notes its level.
    fn complete(&mut self) -> Result<(), Error> {
        let chunk = self.encoder.encoded(std::mem::take(&mut self.packets));
        let entry = self.stream.finished_chunk(
            self.index,
            self.note_level,
            &chunk,
            self.encoder.is_last(),
            self.encoder.pcm(),
        )?;
        if let Some(guard) = self.guard.take() {
            guard.complete(entry);
        }
        Ok(())
    }
}

impl ChunkClusters {
    /// Where the chunk comes from: a cache, or [`Origin::Computed`] when it is being encoded
    /// as it is consumed.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// A chunk's units from its packet groups, muxed into `container`.
    pub(crate) fn groups(origin: Origin, groups: ChunkGroups, container: Container) -> Self {
        ChunkClusters {
            origin,
            state: ClusterState::Groups(groups, container),
        }
    }

    /// A chunk's units from another producer; it ends at its first error.
    pub(crate) fn other(
        origin: Origin,
        units: impl Iterator<Item = Result<Vec<u8>, Error>> + Send + 'static,
    ) -> Self {
        ChunkClusters {
            origin,
            state: ClusterState::Other(Box::new(units)),
        }
    }
}

impl Iterator for ChunkClusters {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match &mut self.state {
            ClusterState::Done => return None,
            ClusterState::Groups(groups, container) => groups.next_unit(*container),
            ClusterState::Other(units) => units.next(),
        };
        match next {
            Some(Ok(unit)) => Some(Ok(unit)),
            Some(Err(e)) => {
                self.state = ClusterState::Done;
                Some(Err(e))
            }
            None => {
                self.state = ClusterState::Done;
                None
            }
        }
    }
}
