//! Progressive output: one chunk's clusters, from the cache or as they are encoded.

use std::path::Path;

use std::sync::Arc;

use crate::cache::{CacheEntry, FlightGuard, Origin};
use crate::chunk::ChunkRender;
use crate::container::Container;
use crate::error::{DecodeError, Error};

use super::{rms_db, Stream};

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
    Cached {
        bytes: Arc<[u8]>,
        at: usize,
        container: Container,
    },
    Live(Box<Live>),
    /// Another producer of units (a queue's chunk, see [`crate::Queue::chunk_clusters`]).
    Other(Box<dyn Iterator<Item = Result<Vec<u8>, Error>> + Send>),
    Done,
}

pub(super) struct Live {
    pub(super) encoder: ChunkRender,
    pub(super) guard: Option<FlightGuard>,
    pub(super) bytes: Vec<u8>,
    pub(super) stream: Stream,
    pub(super) container: Container,
    pub(super) index: u64,
    pub(super) note_level: bool,
    pub(super) _foreground: crate::prefetch::ForegroundGuard,
}

impl ChunkClusters {
    /// Where the chunk comes from: a cache, or [`Origin::Computed`] when it is being encoded
    /// as it is consumed.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// A chunk's units from the bytes of its whole media segment in `container`.
    pub(crate) fn cached(origin: Origin, bytes: Arc<[u8]>, container: Container) -> Self {
        ChunkClusters {
            origin,
            state: ClusterState::Cached {
                bytes,
                at: 0,
                container,
            },
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
        match &mut self.state {
            ClusterState::Done => None,
            ClusterState::Cached {
                bytes,
                at,
                container,
            } => {
                let rest = &bytes[*at..];
                let unit = container.split(rest).into_iter().next()?.to_vec();
                *at += unit.len();
                Some(Ok(unit))
            }
            ClusterState::Other(units) => match units.next() {
                Some(Err(e)) => {
                    self.state = ClusterState::Done;
                    Some(Err(e))
                }
                Some(unit) => Some(unit),
                None => {
                    self.state = ClusterState::Done;
                    None
                }
            },
            ClusterState::Live(live) => match live.encoder.next_group() {
                Some(Ok(group)) => {
                    // The cache keeps the WebM form; the caller gets its container's.
                    let cluster = group.mux(Container::Webm);
                    live.bytes.extend_from_slice(&cluster);
                    match live.container {
                        Container::Webm => Some(Ok(cluster)),
                        other => Some(Ok(group.mux(other))),
                    }
                }
                Some(Err(e)) => {
                    self.state = ClusterState::Done;
                    Some(Err(e))
                }
                None => {
                    // Cache only what was made from the file as it was opened.
                    if live.stream.inner.track.check_unchanged().is_ok() {
                        if let Some(guard) = live.guard.take() {
                            guard.complete(CacheEntry::new(std::mem::take(&mut live.bytes)));
                        }
                        if live.note_level {
                            live.stream
                                .note_level(live.index, rms_db(live.encoder.pcm()));
                        }
                        self.state = ClusterState::Done;
                        None
                    } else {
                        let path = live
                            .stream
                            .path()
                            .map(Path::to_path_buf)
                            .unwrap_or_default();
                        self.state = ClusterState::Done;
                        Some(Err(DecodeError::Changed { path }.into()))
                    }
                }
            },
        }
    }
}
