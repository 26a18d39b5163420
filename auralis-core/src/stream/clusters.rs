//! Progressive output: one chunk's clusters, from the cache or as they are encoded.

use std::path::Path;

use crate::cache::{CacheEntry, FlightGuard, Origin};
use crate::error::{DecodeError, Error};
use crate::render::ChunkRun;
use crate::webm;

use super::{rms_db, Stream};

/// The clusters of one chunk (see [`Stream::chunk_clusters`]): an iterator of WebM Clusters,
/// each a `Vec<u8>` to send as it comes. `Send`.
pub struct ClusterStream {
    pub(super) origin: Origin,
    pub(super) state: ClusterState,
}

impl std::fmt::Debug for ClusterStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStream")
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
    pub(super) encoder: ChunkRun,
    pub(super) guard: Option<FlightGuard>,
    pub(super) bytes: Vec<u8>,
    pub(super) stream: Stream,
    pub(super) index: u64,
    pub(super) note_level: bool,
    pub(super) _foreground: crate::prefetch::ForegroundGuard,
}

impl ClusterStream {
    /// Where the chunk comes from: a cache, or [`Origin::Computed`] when it is being encoded
    /// as it is consumed.
    pub fn origin(&self) -> Origin {
        self.origin
    }
}

impl Iterator for ClusterStream {
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
                    let level_db = rms_db(live.encoder.pcm());
                    // Cache only what was made from the file as it was opened.
                    if live.stream.inner.track.check_unchanged().is_ok() {
                        if let Some(guard) = live.guard.take() {
                            guard.complete(CacheEntry {
                                bytes: std::mem::take(&mut live.bytes).into(),
                                level_db,
                            });
                        }
                        if live.note_level {
                            live.stream.note_level(live.index, level_db);
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
