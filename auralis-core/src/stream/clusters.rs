//! Progressive output: one chunk's clusters, from the cache or as they are encoded.

use std::path::Path;

use crate::cache::{CacheEntry, FlightGuard, Origin};
use crate::chunk::ChunkRender;
use crate::error::{DecodeError, Error};
use crate::webm;

use super::{rms_db, Stream};

/// The clusters of one chunk (see [`Stream::chunk_clusters`]): an iterator of WebM Clusters,
/// each a `Vec<u8>` to send as it comes. `Send`.
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
    Cached { entry: CacheEntry, at: usize },
    Live(Box<Live>),
    Done,
}

pub(super) struct Live {
    pub(super) encoder: ChunkRender,
    pub(super) guard: Option<FlightGuard>,
    pub(super) bytes: Vec<u8>,
    pub(super) stream: Stream,
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
}

impl Iterator for ChunkClusters {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.state {
            ClusterState::Done => None,
            ClusterState::Cached { entry, at } => {
                let rest = &entry.bytes[*at..];
                let cluster = webm::split_clusters(rest).into_iter().next()?.to_vec();
                *at += cluster.len();
                Some(Ok(cluster))
            }
            ClusterState::Live(live) => match live.encoder.next() {
                Some(Ok(cluster)) => {
                    live.bytes.extend_from_slice(&cluster);
                    Some(Ok(cluster))
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
