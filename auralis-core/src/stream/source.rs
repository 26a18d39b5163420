//! [`ChunkSource`]: the one shape of what a player streams from, a track ([`Stream`]) or a
//! queue ([`Queue`]), so that a server, a binding or a test serves either through one code
//! path (the Python face's `media_segment` and `iter_chunk`, the C face's chunk calls).

use super::{ChunkClusters, Queue, Served, Stream};
use crate::error::Error;
use crate::format::Container;
use crate::mastering::MasteringSettings;

/// What a player streams from: an init segment, then chunks on one timeline, each as a media
/// segment whole or unit by unit (1 s WebM Clusters or MP4 fragments), plainly or as a
/// transition from another source on the same timeline.
///
/// ```
/// use auralis_core::stream::ChunkSource;
/// use auralis_core::{Engine, GainMode, Join, Queue, QueueItem, StreamSettings};
///
/// // A server's handler, written once for tracks and queues.
/// fn first_chunk_file<S: ChunkSource>(source: &S) -> Result<Vec<u8>, auralis_core::Error> {
///     source.file(0, None)
/// }
///
/// let path = std::env::temp_dir().join("auralis-doc-source.wav");
/// std::fs::write(&path, auralis_core::demo::demo_wav())?;
/// let engine = Engine::new(&Default::default());
/// let track = engine.open(&path, StreamSettings::default())?;
/// let items = [QueueItem::new(&path), QueueItem::new(&path)];
/// let queue = Queue::open(&engine, &items, &[Join::Gapless], StreamSettings::default(), GainMode::Album)?;
/// assert_eq!((track.chunk_count(), queue.chunk_count()), (5, 10));
/// let segment = track.chunk_media_segment(0)?.bytes;
/// assert_eq!(first_chunk_file(&track)?, [track.init_segment(), segment.to_vec()].concat());
/// assert_eq!(first_chunk_file(&queue)?, queue.chunk_file(0)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ChunkSource {
    /// What a transition starts from: other settings of the same track for a [`Stream`] (a
    /// preset switch), the same queue under other masterings for a [`Queue`] (A/B).
    type From;

    /// The container of every segment.
    fn container(&self) -> Container;

    /// The init segment (made without rendering).
    fn init(&self) -> Vec<u8>;

    /// How many chunks the timeline has.
    fn chunk_count(&self) -> u64;

    /// Chunk `index`'s media segment, as a transition from `from` when given; cached.
    fn segment(&self, index: u64, from: Option<&Self::From>) -> Result<Served, Error>;

    /// Chunk `index`'s media segment unit by unit, each given as soon as it is made; the
    /// units joined are [`Self::segment`]'s bytes.
    fn units(&self, index: u64, from: Option<&Self::From>) -> Result<ChunkClusters, Error>;

    /// A switch at the playhead: from frame `at_frame` (on the chunk's 20 ms packet grid) to
    /// the end of the chunk playing there, as a transition from `from` when given (else the
    /// rest of the chunk as this source masters it); cached. See
    /// [`Stream::transition_segment_at`] and [`Queue::transition_segment_at`].
    fn segment_at(&self, at_frame: u64, from: Option<&Self::From>) -> Result<Served, Error>;

    /// [`Self::segment_at`] unit by unit, each given as soon as it is made.
    fn units_at(&self, at_frame: u64, from: Option<&Self::From>) -> Result<ChunkClusters, Error>;

    /// Chunk `index` as a standalone file: the init segment, then the media segment.
    fn file(&self, index: u64, from: Option<&Self::From>) -> Result<Vec<u8>, Error> {
        let segment = self.segment(index, from)?;
        let mut file = self.init();
        file.extend_from_slice(&segment.bytes);
        Ok(file)
    }
}

impl ChunkSource for Stream {
    type From = MasteringSettings;

    fn container(&self) -> Container {
        Stream::container(self)
    }

    fn init(&self) -> Vec<u8> {
        self.init_segment()
    }

    fn chunk_count(&self) -> u64 {
        self.plan().total_chunks()
    }

    fn segment(&self, index: u64, from: Option<&MasteringSettings>) -> Result<Served, Error> {
        self.media_segment(index, None, from.copied(), true)
    }

    fn units(&self, index: u64, from: Option<&MasteringSettings>) -> Result<ChunkClusters, Error> {
        self.chunk_clusters(index, from.copied())
    }

    fn segment_at(&self, at_frame: u64, from: Option<&MasteringSettings>) -> Result<Served, Error> {
        let from = from.copied().unwrap_or(self.settings().mastering);
        self.transition_segment_at(at_frame, from)
    }

    fn units_at(
        &self,
        at_frame: u64,
        from: Option<&MasteringSettings>,
    ) -> Result<ChunkClusters, Error> {
        let from = from.copied().unwrap_or(self.settings().mastering);
        self.transition_clusters_at(at_frame, from)
    }
}

impl ChunkSource for Queue {
    type From = Queue;

    fn container(&self) -> Container {
        self.settings().container
    }

    fn init(&self) -> Vec<u8> {
        self.init_segment()
    }

    fn chunk_count(&self) -> u64 {
        self.total_chunks()
    }

    fn segment(&self, index: u64, from: Option<&Queue>) -> Result<Served, Error> {
        match from {
            Some(from) => self.transition_media_segment(index, from),
            None => self.chunk_media_segment(index),
        }
    }

    fn units(&self, index: u64, from: Option<&Queue>) -> Result<ChunkClusters, Error> {
        self.chunk_clusters(index, from)
    }

    fn segment_at(&self, at_frame: u64, from: Option<&Queue>) -> Result<Served, Error> {
        self.transition_segment_at(at_frame, from.unwrap_or(self))
    }

    fn units_at(&self, at_frame: u64, from: Option<&Queue>) -> Result<ChunkClusters, Error> {
        self.transition_clusters_at(at_frame, from.unwrap_or(self))
    }
}
