//! Queues: an ordered list of tracks on one continuous 48 kHz timeline, served as one WebM
//! stream (one init segment, media segments appended in order to one SourceBuffer), with a
//! join per boundary: gapless (the next track starts at the sample after the previous one
//! ends) or a crossfade (the tracks overlap by up to [`MAX_CROSSFADE_S`], mixed with an
//! equal-power curve; the timeline shortens by the overlap).
//!
//! ```text
//! queue frames  0 ─────────────── e₀ ──────────────────────── e₀+e₁ ─────────── total
//! item 0        [chunk 0][chunk 1][c2)                      (cut at e₀ = n₀ − F₁)
//! item 1                          [chunk 0][chunk 1][chunk 2][c3)
//!                                  ╰ F₁: item 0's tail fades out under it (crossfade)
//! ```
//!
//! Item `i` starts at queue frame `qᵢ` and plays its frames `[0, eᵢ)` before the next item
//! starts, where `eᵢ = nᵢ − Fᵢ₊₁` (its length less the next join's overlap). Its chunks are its
//! own chunk grid cut at `eᵢ`. A chunk whose audio, with the encoder's pre-roll before it and
//! look-ahead after it, is the track's own audio is an *interior* chunk: the track's ordinary
//! chunk, served from the same cache entry as the track's own stream, with only its timestamps
//! moved by `qᵢ` (no decoding, no encoding). The others are *boundary* chunks, rendered from
//! every track their input touches: an item's first chunk (its pre-roll is the previous
//! track's mastered tail, or the crossfade), the chunks under a crossfade, and an item's last
//! chunk (its look-ahead is the next track's head). A boundary chunk is a pure function of the
//! tracks it touches, their settings and the joins: cached under a key of all of them.
//!
//! A track's packets lie on its own 20 ms grid from its first frame, so at a join the previous
//! track's last packet runs past the cut by up to 959 frames (`p`). That packet is encoded with
//! the audio just before the cut repeated after it (see `cut_input`), and the next track's first
//! packet with the pre-roll that encoder was fed (its last `p` frames the audio before the cut,
//! what comes before them moved by `p`, see `render_part`): both encoders run through the same
//! audio up to the join, so the decoder runs through it as through a chunk join. Measured: track
//! joins 1.5 dB above the median error window on synthesized music (5.5 dB with the repeated
//! packet alone, 13.0 dB the naive way), and in Chromium on real music 0.67 dB above one
//! continuous encode of the same audio (the naive way 9.06 dB), with 0 samples of drift (tests
//! `queue.rs`, `browser.rs`). The cut packet's block is a BlockGroup with a BlockDuration of `d`
//! ms and a DiscardPadding of `48 d - r` frames (`r` the frames it plays, `d = r / 48 + 1`):
//! Chromium plays a block's duration less its padding, so exactly `r` frames, and the next
//! track's blocks start `d` ms after it, so blocks never overlap on the buffered timeline. WebM
//! timestamps are milliseconds: each track's first packet is placed where the previous track's
//! cut block ends, which moves the buffered timeline by under a millisecond per join against the
//! exact queue frames (`start_frame`, which the audio keeps). This is the
//! [`QueueLayout::Shared`] layout, WebM's default.
//!
//! A player that does not honour a DiscardPadding in mid-stream (Firefox refuses a second one;
//! an MP4 fragment has no way to end a packet early but at the stream's end) gets the
//! [`QueueLayout::Continuous`] layout: one chunk grid and one 20 ms packet grid from the
//! queue's first frame, every chunk encoded from the queue's audio ([`Queue::pcm`]) exactly
//! as a track's chunk from the track's, so a join of two tracks lies inside a packet like any
//! other sample and the stream needs trimming only at its end, as a single track does. MP4
//! queues (Safari, iOS) are always continuous. The price: no chunk is shared with the tracks'
//! own cache entries, so every chunk of a continuous queue is rendered once for the queue
//! (cached under a key of the items it touches, their places and settings, so an edit keeps
//! every chunk whose input ends before it).
//!
//! Loudness: each item is mastered to its preset's target (track gain), so crossfades join
//! tracks at matched loudness. With [`GainMode::Album`], the items that name the same album
//! share one loudness gain (the album's, from the tracks' measured loudness weighted by
//! length), so the album's quiet and loud tracks keep their difference; their chunks are then
//! rendered with that gain (under keys of their own).
//!

mod open;
mod render;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use super::{ChunkClusters, ChunkSource, Engine, Served, Stream, StreamSettings};
use crate::cache::{CacheEntry, CacheKey, Claim, FlightGuard, Origin};
use crate::dsp::crossfade::Curve;
use crate::error::Error;
use crate::format::webm::{self, LastBlock, CLUSTER_PACKETS};
use crate::format::Container;
use crate::mastering::{MasteringParams, MasteringSettings};
use crate::opus;
use crate::pipeline::{ChunkRender, PartOut, PartSource};
use crate::plan::ChunkRange;
use crate::units::{LOOKAHEAD_FRAMES, PACKET_FRAMES, PRE_ROLL_FRAMES};

/// Longest crossfade between two items, seconds.
pub const MAX_CROSSFADE_S: f64 = 12.0;

/// How one item follows the previous one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Join {
    /// The next item's first sample follows the previous item's last sample.
    Gapless,
    /// The items overlap by this many seconds (0 to [`MAX_CROSSFADE_S`]), mixed with an
    /// equal-power curve. Shortened to half the shorter item when an item is shorter than
    /// twice the fade.
    Crossfade {
        /// Overlap, seconds.
        seconds: f64,
    },
}

impl Join {
    fn check(self) -> Result<(), Error> {
        match self {
            Join::Gapless => Ok(()),
            Join::Crossfade { seconds } if (0.0..=MAX_CROSSFADE_S).contains(&seconds) => Ok(()),
            Join::Crossfade { seconds } => Err(Error::InvalidArgument {
                name: "crossfade",
                value: format!("{seconds} s"),
                valid: "a number of seconds from 0 to 12",
            }),
        }
    }

    fn frames(self) -> u64 {
        match self {
            Join::Gapless => 0,
            Join::Crossfade { seconds } => crate::units::seconds_to_frames(seconds),
        }
    }
}

/// Whose loudness gain an item gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GainMode {
    /// Every item is brought to its preset's target (for shuffled playlists).
    #[default]
    Track,
    /// Items naming the same [`QueueItem::album`] share one gain, so their loudness
    /// differences stay (what ReplayGain calls album gain); items without an album get track
    /// gain.
    Album,
}

/// How a queue's chunks lie on its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLayout {
    /// Each item's chunks are its own chunk grid, cut where the next item starts: chunks inside
    /// a track are the track's own cache entries (no work to play them in a queue). Each join
    /// ends a packet early with a DiscardPadding in mid-stream, which Chromium honours: WebM
    /// only, for Chromium-based browsers. The default for WebM.
    Shared,
    /// One chunk grid and one 20 ms packet grid over the whole queue, as if it were one track:
    /// every chunk is encoded from the queue's audio, and a join lies inside a packet like any
    /// other sample, so the stream needs no trimming but at the queue's end. Plays gaplessly in
    /// any browser that plays a single track (Safari and iOS in MP4, Firefox in WebM), at the
    /// price of sharing nothing with the tracks' own chunks. The default (and the only layout)
    /// for MP4.
    Continuous,
}

impl QueueLayout {
    /// The default layout of a container: [`QueueLayout::Shared`] for WebM,
    /// [`QueueLayout::Continuous`] for MP4.
    pub fn for_container(container: Container) -> Self {
        match container {
            Container::Webm => QueueLayout::Shared,
            Container::Mp4 => QueueLayout::Continuous,
        }
    }

    /// `shared` or `continuous`.
    pub fn name(self) -> &'static str {
        match self {
            QueueLayout::Shared => "shared",
            QueueLayout::Continuous => "continuous",
        }
    }
}

impl std::str::FromStr for QueueLayout {
    type Err = Error;

    /// `shared` or `continuous` (any case); anything else is [`Error::InvalidArgument`].
    fn from_str(s: &str) -> Result<Self, Error> {
        [QueueLayout::Shared, QueueLayout::Continuous]
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidArgument {
                name: "queue layout",
                value: s.to_owned(),
                valid: "shared or continuous",
            })
    }
}

/// One item of a queue: a file and its mastering.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    /// The file.
    pub path: PathBuf,
    /// Its preset and intensity.
    pub mastering: MasteringSettings,
    /// The album it belongs to, for [`GainMode::Album`] (any text that names it: items with
    /// equal names are one album). `None`: the file's tags say (album and album artist, or
    /// artist), or, without an album tag, the item gets track gain.
    pub album: Option<String>,
}

impl QueueItem {
    /// `path` with the default mastering, no album.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        QueueItem {
            path: path.into(),
            mastering: MasteringSettings::DEFAULT,
            album: None,
        }
    }
}

/// Where an item lies on the queue's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemPlace {
    /// Queue frame of the item's first sample.
    pub start_frame: u64,
    /// The item's length, frames at 48 kHz.
    pub frames: u64,
    /// Frames of the item played before the next item starts (its length less the next
    /// crossfade).
    pub played_frames: u64,
    /// Frames at its start that fade in under the previous item's tail (0 when gapless).
    pub fade_in_frames: u64,
    /// The queue chunk holding its first frame.
    pub first_chunk: u64,
    /// The loudness gain applied, dB (the track's own, or the album's in album mode).
    pub gain_db: f64,
}

/// One chunk of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueChunk {
    /// Its index in the queue.
    pub index: u64,
    /// The item it belongs to.
    pub item: usize,
    /// Its index in that item's own chunk plan ([`QueueLayout::Continuous`]: counted from the
    /// queue chunk that holds the item's first frame).
    pub item_chunk: u64,
    /// Queue frame of its first sample.
    pub start_frame: u64,
    /// Its length, frames.
    pub frames: u64,
    /// Whether it is rendered from the queue's audio (around a join, or every chunk in the
    /// continuous layout), else it is the track's own chunk with moved timestamps.
    pub boundary: bool,
}

struct Item {
    /// WebM timestamp (ms) of the item's first frame: its packet `k` is at `ms + 20 k`.
    ms: u64,
    /// How its last played packet ends when another item follows: the block's duration (ms)
    /// and DiscardPadding (frames), see [`Queue::last_block`].
    cut: Option<(u64, u64)>,
    stream: Stream,
    /// The mastering applied (the track's own, or with the album's gain).
    params: MasteringParams,
    place: ItemPlace,
}

struct QueueInner {
    settings: StreamSettings,
    layout: QueueLayout,
    items: Vec<Item>,
    joins: Vec<Join>,
    chunks: Vec<QueueChunk>,
    frames: u64,
    channels: u16,
}

/// A queue of tracks on one timeline. Cheap to clone (shared); `Send + Sync`.
///
/// ```
/// use auralis_core::{Engine, GainMode, Join, Queue, QueueItem, StreamSettings};
///
/// let path = std::env::temp_dir().join("auralis-doc-queue.wav");
/// std::fs::write(&path, auralis_core::demo::demo_wav())?;
/// let engine = Engine::new(&Default::default());
/// let items = [QueueItem::new(&path), QueueItem::new(&path)];
/// // The second item follows the first without a gap: one timeline of 2 x 122 s.
/// let queue = Queue::open(&engine, &items, &[Join::Gapless], StreamSettings::default(), GainMode::Album)?;
/// assert!((queue.duration_s() - 244.0).abs() < 0.01);
/// assert_eq!(queue.chunk_at_time(130.0)?, 5); // 30 s chunks, each track its own (5 + 5)
/// // A join count that does not fit the items is refused before any audio work.
/// assert!(Queue::open(&engine, &items, &[], StreamSettings::default(), GainMode::Track).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Queue {
    inner: Arc<QueueInner>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("items", &self.inner.items.len())
            .field("frames", &self.inner.frames)
            .field("chunks", &self.inner.chunks.len())
            .finish_non_exhaustive()
    }
}

/// Combined loudness of tracks (LUFS), weighted by length: the mean of their powers.
fn combined_lufs(tracks: &[(f64, u64)]) -> f64 {
    let total: f64 = tracks.iter().map(|&(_, n)| n as f64).sum();
    let power: f64 = tracks
        .iter()
        .map(|&(l, n)| 10f64.powf(l / 10.0) * n as f64)
        .sum::<f64>()
        / total;
    10.0 * power.log10()
}

impl Queue {
    /// Frames of the whole queue at 48 kHz.
    pub fn frames(&self) -> u64 {
        self.inner.frames
    }

    /// The queue's length in seconds.
    pub fn duration_s(&self) -> f64 {
        crate::units::frames_to_seconds(self.inner.frames)
    }

    /// 1 or 2.
    pub fn channels(&self) -> u16 {
        self.inner.channels
    }

    /// The settings every item shares (each item's preset and intensity are its own).
    pub fn settings(&self) -> &StreamSettings {
        &self.inner.settings
    }

    /// The queue's chunks, in order.
    pub fn chunks(&self) -> &[QueueChunk] {
        &self.inner.chunks
    }

    /// Number of chunks.
    pub fn total_chunks(&self) -> u64 {
        self.inner.chunks.len() as u64
    }

    /// Chunk `index` (checked).
    pub fn chunk(&self, index: u64) -> Result<QueueChunk, Error> {
        self.inner
            .chunks
            .get(index as usize)
            .copied()
            .ok_or_else(|| {
                crate::PlanError::ChunkIndexOutOfRange {
                    index,
                    total: self.total_chunks(),
                }
                .into()
            })
    }

    /// The chunk playing at `seconds` on the queue's timeline (checked).
    pub fn chunk_at_time(&self, seconds: f64) -> Result<u64, Error> {
        if !(seconds.is_finite() && seconds >= 0.0 && seconds < self.duration_s()) {
            return Err(crate::PlanError::TimeOutOfRange {
                seconds,
                duration_s: self.duration_s(),
            }
            .into());
        }
        let frame = crate::units::seconds_to_frames(seconds);
        let i = self
            .inner
            .chunks
            .partition_point(|c| c.start_frame + c.frames <= frame);
        Ok(i.min(self.inner.chunks.len() - 1) as u64)
    }

    /// Where each item lies on the timeline.
    pub fn places(&self) -> Vec<ItemPlace> {
        self.inner.items.iter().map(|i| i.place.clone()).collect()
    }

    /// What the mastering does to item `i`, measured: the analysis of its mastered audio
    /// (with the gain it gets in this queue: its own, or its album's) over the excerpts its
    /// source analysis measured (see [`crate::mastering::measure_output`]), to set beside
    /// its stream's [`Stream::analysis`]. Costs about an analysis; an index past the items is
    /// [`Error::InvalidArgument`].
    pub fn item_output_analysis(&self, i: usize) -> Result<crate::analysis::TrackAnalysis, Error> {
        let item = self
            .inner
            .items
            .get(i)
            .ok_or_else(|| Error::InvalidArgument {
                name: "item",
                value: i.to_string(),
                valid: "an index below the number of items",
            })?;
        item.stream.output_analysis_with(&item.params)
    }

    /// Item `i`'s stream (its own settings: what it is as a single track).
    pub fn item_stream(&self, i: usize) -> Option<&Stream> {
        self.inner.items.get(i).map(|i| &i.stream)
    }

    /// The joins.
    pub fn joins(&self) -> &[Join] {
        &self.inner.joins
    }

    /// How the chunks lie on the timeline.
    pub fn layout(&self) -> QueueLayout {
        self.inner.layout
    }

    /// The init segment, in the queue's container (WebM's is the same as each item's own: it
    /// depends on the channel count only; MP4's holds the queue's length).
    pub fn init_segment(&self) -> Vec<u8> {
        let c = self.inner.settings.container;
        c.init_segment(self.inner.channels as u8, self.inner.frames)
    }

    /// The MIME type of the init and media segments (for MP4 the lower-case codec name, see
    /// [`crate::format::mp4::MIME_SAFARI`]).
    pub fn mime(&self) -> &'static str {
        self.inner.settings.container.mime()
    }
}
