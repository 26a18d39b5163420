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

use std::path::PathBuf;
use std::sync::Arc;

use super::{ChunkClusters, Engine, Served, Stream, StreamSettings};
use crate::cache::{CacheEntry, CacheKey, Claim, FlightGuard, Origin};
use crate::dsp::crossfade::Curve;
use crate::error::Error;
use crate::format::webm::{self, LastBlock, CLUSTER_PACKETS};
use crate::format::Container;
use crate::mastering::{MasteringParams, MasteringSettings};
use crate::opus::{self, LOOKAHEAD_FRAMES, PACKET_FRAMES, PRE_ROLL_FRAMES};
use crate::pipeline::{ChunkRender, PartOut, PartSource};
use crate::plan::ChunkRange;

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
            Join::Crossfade { seconds } => crate::plan::seconds_to_frames(seconds),
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
    /// Opens every item on `engine` (each with `settings` and its own preset and intensity) and
    /// plans the queue's chunks, in the container's default layout
    /// ([`QueueLayout::for_container`]: shared chunks in WebM, one continuous grid in MP4).
    /// `joins[i]` is how item `i + 1` follows item `i`: there is one join fewer than items.
    /// Everything is checked before any audio work: no items, a join count that does not
    /// match or a crossfade outside 0..=12 s are [`Error::InvalidArgument`]; an unreadable
    /// item is its decode error (naming the file). The queue is stereo when any item is: a
    /// mono item plays on both channels (as a browser plays a mono stream), its chunks
    /// rendered from the queue's audio rather than shared with its own stream's.
    pub fn open(
        engine: &Engine,
        items: &[QueueItem],
        joins: &[Join],
        settings: StreamSettings,
        gain: GainMode,
    ) -> Result<Queue, Error> {
        let layout = QueueLayout::for_container(settings.container);
        Queue::open_with_layout(engine, items, joins, settings, gain, layout)
    }

    /// [`Queue::open`] with a chosen layout: [`QueueLayout::Continuous`] in WebM is the queue
    /// for Firefox (one DiscardPadding, at the queue's end); [`QueueLayout::Shared`] in MP4 is
    /// [`Error::InvalidArgument`] (an MP4 fragment cannot end a packet early in mid-stream).
    pub fn open_with_layout(
        engine: &Engine,
        items: &[QueueItem],
        joins: &[Join],
        settings: StreamSettings,
        gain: GainMode,
        layout: QueueLayout,
    ) -> Result<Queue, Error> {
        if items.is_empty() {
            return Err(Error::InvalidArgument {
                name: "queue",
                value: "no items".into(),
                valid: "one item or more",
            });
        }
        if joins.len() + 1 != items.len() {
            return Err(Error::InvalidArgument {
                name: "join count",
                value: format!("{} for {} items", joins.len(), items.len()),
                valid: "one join fewer than items",
            });
        }
        for j in joins {
            j.check()?;
        }
        if layout == QueueLayout::Shared && settings.container != Container::Webm {
            return Err(Error::InvalidArgument {
                name: "queue layout",
                value: format!("shared in {}", settings.container.name()),
                valid: "continuous in MP4 (the shared layout is WebM's)",
            });
        }
        settings.validate()?;
        for item in items {
            item.mastering.validate()?;
        }
        let mut streams = Vec::with_capacity(items.len());
        for item in items {
            let s = StreamSettings {
                preset: item.mastering.preset,
                intensity: item.mastering.intensity,
                ..settings
            };
            streams.push(engine.open(&item.path, s)?);
        }
        // Stereo when any item is: a mono item then plays on both channels (as a browser plays
        // a mono stream), its chunks rendered from the queue's audio.
        let channels = streams.iter().map(|s| s.info().channels).max().unwrap_or(1);
        // Loudness gains.
        let mut params: Vec<MasteringParams> =
            streams.iter().map(|s| s.mastering().clone()).collect();
        if gain == GainMode::Album {
            // An item's album: the caller's name, else its tags' album and album artist (or
            // artist).
            let album_of: Vec<Option<String>> = items
                .iter()
                .zip(&streams)
                .map(|(item, stream)| {
                    item.album.clone().or_else(|| {
                        let t = stream.tags();
                        t.album.as_ref().map(|a| {
                            let by = t.album_artist.as_ref().or(t.artist.as_ref());
                            format!("{a}\n{}", by.map_or("", String::as_str))
                        })
                    })
                })
                .collect();
            let mut albums: Vec<&str> = album_of.iter().filter_map(|a| a.as_deref()).collect();
            albums.sort_unstable();
            albums.dedup();
            for album in albums {
                let members: Vec<usize> = (0..items.len())
                    .filter(|&i| {
                        album_of[i].as_deref() == Some(album)
                            && !params[i].is_bypass()
                            && !streams[i].analysis().is_silent()
                    })
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let weighted = |f: &dyn Fn(usize) -> f64| -> Vec<(f64, u64)> {
                    members
                        .iter()
                        .map(|&i| (f(i), streams[i].info().frames))
                        .collect()
                };
                // Each track's gain brings its loudness to its target: the album gain brings
                // the album's combined loudness to the combined target.
                let measured = combined_lufs(&weighted(&|i| streams[i].analysis().integrated_lufs));
                let target = combined_lufs(&weighted(&|i| {
                    streams[i].analysis().integrated_lufs + params[i].gain_db
                }));
                let album_gain = (target - measured).min(crate::mastering::presets::MAX_GAIN_DB);
                for &i in &members {
                    params[i].gain_db = album_gain;
                }
            }
        }
        // The timeline.
        let n: Vec<u64> = streams.iter().map(|s| s.info().frames).collect();
        let mut fades = vec![0u64; items.len() + 1]; // fades[i]: the overlap before item i
        for (k, j) in joins.iter().enumerate() {
            let limit = n[k].min(n[k + 1]) / 2;
            fades[k + 1] = j.frames().min(limit);
        }
        let chunk_frames = crate::plan::ChunkPlan::chunk_frames_for(settings.chunk_seconds)?;
        let mut placed = Vec::with_capacity(items.len());
        let mut chunks = Vec::new();
        let mut start = 0u64;
        let mut item_ms = 0u64;
        for (i, (stream, p)) in streams.into_iter().zip(params).enumerate() {
            let played = n[i] - fades[i + 1];
            let last_item = i + 1 == items.len();
            // Its chunks inside the track are its own stream's: the same mastering and channels.
            let own = p == *stream.mastering() && stream.info().channels == channels;
            let first_chunk = chunks.len() as u64;
            let mut j = 0u64;
            while j * chunk_frames < played {
                let a = j * chunk_frames;
                let b = ((j + 1) * chunk_frames).min(played);
                let touches_previous = i > 0 && a < fades[i] + PRE_ROLL_FRAMES as u64;
                let touches_next = !last_item && b + LOOKAHEAD_FRAMES as u64 > played;
                chunks.push(QueueChunk {
                    index: chunks.len() as u64,
                    item: i,
                    item_chunk: j,
                    start_frame: start + a,
                    frames: b - a,
                    boundary: touches_previous || touches_next || !own,
                });
                j += 1;
            }
            // Timestamps: the item's packets are 20 ms apart from its first; where it stops
            // inside a packet (`r` frames of it played), that block lasts `d` ms and discards
            // `d * 48 - r` frames (1 to 48), and the next item starts `d` ms after it, so
            // a player keeps exactly `r` frames and the blocks never overlap.
            let last_packet = played.saturating_sub(1) / PACKET_FRAMES as u64;
            let r = played - last_packet * PACKET_FRAMES as u64;
            let cut = (layout == QueueLayout::Shared && !last_item && r < PACKET_FRAMES as u64)
                .then(|| {
                    let d = r / 48 + 1;
                    (d, d * 48 - r)
                });
            let next_ms = match cut {
                Some((d, _)) => item_ms + 20 * last_packet + d,
                None => item_ms + 20 * (last_packet + 1),
            };
            placed.push(Item {
                ms: item_ms,
                cut,
                place: ItemPlace {
                    start_frame: start,
                    frames: n[i],
                    played_frames: played,
                    fade_in_frames: fades[i],
                    first_chunk,
                    gain_db: if p.is_bypass() { 0.0 } else { p.gain_db },
                },
                stream,
                params: p,
            });
            start += played;
            item_ms = next_ms;
        }
        if layout == QueueLayout::Continuous {
            // One grid over the queue: chunk k is [k c, (k + 1) c), whatever item it lies in.
            chunks.clear();
            let mut a = 0u64;
            while a < start {
                let b = (a + chunk_frames).min(start);
                let item = placed
                    .iter()
                    .rposition(|it| it.place.start_frame <= a)
                    .unwrap_or(0);
                chunks.push(QueueChunk {
                    index: chunks.len() as u64,
                    item,
                    item_chunk: 0,
                    start_frame: a,
                    frames: b - a,
                    boundary: true,
                });
                a = b;
            }
            for it in &mut placed {
                it.place.first_chunk = it.place.start_frame / chunk_frames;
            }
            for c in &mut chunks {
                c.item_chunk = c.index - placed[c.item].place.first_chunk;
            }
        }
        Ok(Queue {
            inner: Arc::new(QueueInner {
                settings,
                layout,
                items: placed,
                joins: joins.to_vec(),
                chunks,
                frames: start,
                channels,
            }),
        })
    }

    /// Frames of the whole queue at 48 kHz.
    pub fn frames(&self) -> u64 {
        self.inner.frames
    }

    /// The queue's length in seconds.
    pub fn duration_s(&self) -> f64 {
        crate::plan::frames_to_seconds(self.inner.frames)
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
        let frame = crate::plan::seconds_to_frames(seconds);
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
        let renderer = &item.stream.inner.track.renderer;
        crate::mastering::measure_output(renderer.source(), &item.params, renderer.threads())
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

    /// Chunk `index` as a media segment on the queue's timeline, in the queue's container. An
    /// interior chunk is its track's own cached chunk with moved timestamps (its origin is that
    /// entry's); a boundary chunk (every chunk of the continuous layout) is rendered once and
    /// cached.
    pub fn chunk_media_segment(&self, index: u64) -> Result<Served, Error> {
        let chunk = self.chunk(index)?;
        let item = &self.inner.items[chunk.item];
        if !chunk.boundary {
            let (own, _, origin) = item.stream.encoded_chunk(chunk.item_chunk, None, true)?;
            return Ok(Served {
                bytes: self.mux(&chunk, &own.packets).into(),
                origin,
            });
        }
        let key = self.boundary_key(&chunk);
        let (entry, origin) = item.stream.engine().cache().get_or_compute(key, || {
            self.check_unchanged(None)?;
            let (packets, _) = self.render_chunk(&chunk, None)?;
            self.check_unchanged(None)?;
            Ok::<_, Error>(CacheEntry::new(self.mux(&chunk, &packets)))
        })?;
        Ok(Served {
            bytes: entry.bytes,
            origin,
        })
    }

    /// Chunk `index` as a transition from `from`, the same queue under other masterings (an
    /// A/B switch between a preset and `none`, or any preset change while a queue plays): it
    /// starts as `from`'s audio, the encoder's pre-roll included, and crossfades to this
    /// queue's over the settings' fade (`fade_ms`, `fade_curve`: as a track's preset switch),
    /// so a switch at a chunk boundary has no click. Always rendered (even inside a track), and
    /// cached under a key of both queues' audio and the fade. `from` must lie on the same
    /// timeline (the same files, joins, chunk plan, Opus settings, container and layout),
    /// else [`Error::InvalidArgument`]; `from` with this queue's masterings gives the plain
    /// chunk.
    pub fn transition_media_segment(&self, index: u64, from: &Queue) -> Result<Served, Error> {
        let chunk = self.chunk(index)?;
        let Some(from) = self.transition_source(&chunk, Some(from))? else {
            return self.chunk_media_segment(index);
        };
        let key = self.render_key(&chunk, Some(&from));
        let item = &self.inner.items[chunk.item];
        let (entry, origin) = item.stream.engine().cache().get_or_compute(key, || {
            self.check_unchanged(Some(&from))?;
            let (packets, _) = self.render_chunk(&chunk, Some(&from))?;
            self.check_unchanged(Some(&from))?;
            Ok::<_, Error>(CacheEntry::new(self.mux(&chunk, &packets)))
        })?;
        Ok(Served {
            bytes: entry.bytes,
            origin,
        })
    }

    /// Chunk `index` unit by unit (WebM Clusters or MP4 fragments of 1 s), to send as each is
    /// made, as [`Stream::chunk_clusters`] does for a track: from the cache when there; a chunk
    /// inside a track from the track's own clusters (timestamps moved); else rendered on the
    /// render threads, each unit given as soon as its part is encoded (the first after the
    /// chunk's first 2 s part), and the whole segment cached once the last unit is made. With
    /// `from`, the chunk as a transition from that queue (see
    /// [`Queue::transition_media_segment`]). The units joined are the bytes of
    /// [`Queue::chunk_media_segment`] (or of the transition).
    pub fn chunk_clusters(&self, index: u64, from: Option<&Queue>) -> Result<ChunkClusters, Error> {
        let chunk = self.chunk(index)?;
        let from = self.transition_source(&chunk, from)?;
        let item = &self.inner.items[chunk.item];
        let groups = opus::packet_count(chunk.frames).div_ceil(CLUSTER_PACKETS);
        if from.is_none() && !chunk.boundary {
            // The track's own packet groups, moved to the queue's timeline.
            let (origin, mut own) = item.stream.chunk_groups(chunk.item_chunk, None)?;
            let queue = self.clone();
            let mut c = 0;
            let units = std::iter::from_fn(move || {
                let group = own.next_group()?;
                let unit = group.map(|g| queue.mux_group(&chunk, c, &g.packets, c + 1 == groups));
                c += 1;
                Some(unit)
            });
            return Ok(ChunkClusters::other(origin, units));
        }
        let key = self.render_key(&chunk, from.as_ref());
        let engine = &item.stream.inner.engine.inner;
        match engine.cache.claim(key) {
            Claim::Hit(entry, origin) => Ok(ChunkClusters::cached(
                origin,
                entry.bytes,
                self.inner.settings.container,
            )),
            Claim::Miss(guard) => {
                self.check_unchanged(from.as_ref())?;
                let render = self.start_render(&chunk, from.as_ref());
                Ok(ChunkClusters::other(
                    Origin::Computed,
                    Progressive {
                        queue: self.clone(),
                        from,
                        chunk,
                        render,
                        emitted: 0,
                        groups,
                        bytes: Vec::new(),
                        guard: Some(guard),
                        _foreground: engine.prefetch.foreground(),
                    },
                ))
            }
        }
    }

    /// `from` as the source of a transition into chunk `chunk`: checked to lie on this queue's
    /// timeline, and `None` when it renders the chunk as this queue does (a plain chunk).
    fn transition_source(
        &self,
        chunk: &QueueChunk,
        from: Option<&Queue>,
    ) -> Result<Option<Queue>, Error> {
        let Some(from) = from else { return Ok(None) };
        if !self.same_timeline(from) {
            return Err(Error::InvalidArgument {
                name: "transition_from",
                value: "a queue on another timeline".into(),
                valid: "the same queue (files, joins, chunks, Opus settings, container) under \
                        other masterings",
            });
        }
        Ok((self.boundary_key(chunk) != from.boundary_key(chunk)).then(|| from.clone()))
    }

    /// The cache key of a chunk rendered from the queue's audio: a boundary chunk's, or a
    /// transition's from `from` (both queues' keys and the fade).
    fn render_key(&self, chunk: &QueueChunk, from: Option<&Queue>) -> CacheKey {
        let new = self.boundary_key(chunk);
        let Some(from) = from else { return new };
        let s = &self.inner.settings;
        CacheKey::new(&format!(
            "queue transition\n{}\n{}\nfade {} {}",
            new.file_name(),
            from.boundary_key(chunk).file_name(),
            s.fade_frames(),
            s.fade_curve.name()
        ))
    }

    /// Whether every file of this queue (and of `from`) is as it was opened.
    fn check_unchanged(&self, from: Option<&Queue>) -> Result<(), Error> {
        let others = from.map_or(&[][..], |f| &f.inner.items[..]);
        for it in self.inner.items.iter().chain(others) {
            it.stream.inner.track.check_unchanged()?;
        }
        Ok(())
    }

    /// Whether `other` lies on this queue's timeline: the same files at the same places with
    /// the same joins, chunks and packet layout, the same Opus settings and container (the
    /// masterings may differ).
    fn same_timeline(&self, other: &Queue) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        a.settings.opus == b.settings.opus
            && a.settings.container == b.settings.container
            && a.layout == b.layout
            && a.chunks == b.chunks
            && a.frames == b.frames
            && a.items.len() == b.items.len()
            && a.items.iter().zip(&b.items).all(|(x, y)| {
                x.stream.signature() == y.stream.signature()
                    && x.ms == y.ms
                    && x.cut == y.cut
                    && x.place.start_frame == y.place.start_frame
                    && x.place.frames == y.place.frames
                    && x.place.played_frames == y.place.played_frames
                    && x.place.fade_in_frames == y.place.fade_in_frames
            })
    }

    /// An HLS media playlist (version 7, fMP4) over the queue's chunks, as
    /// [`crate::format::hls::media_playlist`] writes one for a track: `init_uri` in `#EXT-X-MAP`,
    /// `segment_uri(i)` for chunk `i`. Only an MP4 queue in the continuous layout is one HLS
    /// stream; for any other, [`Error::InvalidArgument`].
    pub fn hls_playlist(
        &self,
        init_uri: &str,
        segment_uri: impl Fn(u64) -> String,
    ) -> Result<String, Error> {
        let q = &self.inner;
        if q.settings.container != Container::Mp4 || q.layout != QueueLayout::Continuous {
            return Err(Error::InvalidArgument {
                name: "HLS playlist",
                value: format!("a {} queue in {}", q.layout.name(), q.settings.container),
                valid: "an MP4 queue (continuous)",
            });
        }
        // The continuous layout's chunks are the plan of a track as long as the queue.
        let plan = crate::plan::ChunkPlan::new(q.frames, q.settings.chunk_seconds)?;
        debug_assert_eq!(plan.total_chunks(), q.chunks.len() as u64);
        Ok(crate::format::hls::media_playlist(
            &plan,
            init_uri,
            segment_uri,
        ))
    }

    /// Chunk `index` as a chunk file: the init segment, then its media segment.
    pub fn chunk_file(&self, index: u64) -> Result<Vec<u8>, Error> {
        let segment = self.chunk_media_segment(index)?;
        let mut file = self.init_segment();
        file.extend_from_slice(&segment.bytes);
        Ok(file)
    }

    /// How many leading chunks this queue and `other` (an edit of it: items appended, removed
    /// or reordered after some point) share, byte for byte: a player keeps those it has
    /// appended and fetches the others from `other`. Chunks are compared by what makes their
    /// bytes (place, length, the tracks and settings they are rendered from), so the count is
    /// exact and computes nothing.
    pub fn unchanged_chunks(&self, other: &Queue) -> u64 {
        let (a, b) = (&self.inner, &other.inner);
        if a.settings.opus != b.settings.opus
            || a.settings.chunk_seconds != b.settings.chunk_seconds
            || a.settings.container != b.settings.container
            || a.layout != b.layout
        {
            return 0;
        }
        let same_item = |i: usize| {
            let (x, y) = (&a.items[i], &b.items[i]);
            // What an interior chunk's bytes depend on (where the item stops is in the boundary
            // chunks' keys and the last blocks, compared below).
            x.stream.signature() == y.stream.signature()
                && x.params == y.params
                && x.place.start_frame == y.place.start_frame
                && x.place.fade_in_frames == y.place.fade_in_frames
        };
        let mut n = 0u64;
        for (ca, cb) in a.chunks.iter().zip(&b.chunks) {
            let same = ca == cb
                && ca.item < b.items.len()
                && same_item(ca.item)
                && (!ca.boundary || self.boundary_key(ca) == other.boundary_key(cb))
                && self.last_block(ca) == other.last_block(cb)
                && (a.layout == QueueLayout::Continuous
                    || a.items[ca.item].ms == b.items[cb.item].ms);
            if !same {
                break;
            }
            n += 1;
        }
        n
    }

    /// The queue's mastered audio over queue frames `[start, end)` (silence outside the
    /// queue): each item's mastered audio at its place, with the crossfades mixed. Boundary
    /// chunks encode exactly this; interior chunks encode their track's own chunk, which
    /// equals it within the mastering's warm-up convergence (far below the codec's noise).
    pub fn pcm(&self, start: i64, end: i64) -> Result<Vec<f32>, Error> {
        if end < start {
            return Err(Error::InvalidArgument {
                name: "frame range",
                value: format!("{start}..{end}"),
                valid: "start <= end",
            });
        }
        let ch = self.inner.channels as usize;
        let mut out = vec![0.0f32; (end - start) as usize * ch];
        let items = &self.inner.items;
        for (i, item) in items.iter().enumerate() {
            let q = item.place.start_frame as i64;
            let n = item.place.frames as i64;
            let (x0, x1) = ((start - q).max(0), (end - q).min(n));
            if x0 >= x1 {
                continue;
            }
            let renderer = &item.stream.inner.track.renderer;
            let mut reader = renderer.source().reader()?;
            let audio =
                renderer.render_mastered(&mut reader, x0 as u64, x1 as u64, &item.params)?;
            let fade_in = item.place.fade_in_frames;
            let played = item.place.played_frames;
            let fade_out = items.get(i + 1).map_or(0, |next| next.place.fade_in_frames);
            let item_ch = item.stream.info().channels as usize;
            for (k, frame) in audio.chunks_exact(item_ch).enumerate() {
                let x = x0 as u64 + k as u64;
                let mut w = 1.0f64;
                if x < fade_in {
                    w *= Curve::EqualPower.gains(x as f64 / fade_in as f64).1;
                }
                if fade_out > 0 && x >= played {
                    w *= Curve::EqualPower
                        .gains((x - played) as f64 / fade_out as f64)
                        .0;
                }
                let at = ((q + x as i64 - start) as usize) * ch;
                // A mono item in a stereo queue: the same sample on both channels.
                for (o, &s) in out[at..at + ch].iter_mut().zip(frame.iter().cycle()) {
                    *o += (f64::from(s) * w) as f32;
                }
            }
        }
        Ok(out)
    }

    // ---- internals ----

    /// The key of a boundary chunk: every item its input touches (signature, mastering, place
    /// relative to the chunk, fades), the Opus settings and how its last block ends.
    fn boundary_key(&self, chunk: &QueueChunk) -> CacheKey {
        let (from, to) = self.input_span(chunk);
        let items = &self.inner.items;
        let mut what = format!(
            "queue/{}/{}/{}/{} frames/{:?}\n",
            self.inner.layout.name(),
            self.inner.settings.container.name(),
            self.inner.settings.opus.bitrate_bps,
            chunk.frames,
            self.last_block(chunk),
        );
        what += &format!("complexity {}\n", self.inner.settings.opus.complexity);
        for (i, item) in items.iter().enumerate() {
            let q = item.place.start_frame as i64;
            if q >= to || q + item.place.frames as i64 <= from {
                continue;
            }
            let fade_out = items.get(i + 1).map_or(0, |n| n.place.fade_in_frames);
            what += &format!(
                "{} {} at {} fade in {} played {} fade out {} params {}\n",
                item.stream.signature().to_hex(),
                item.place.frames,
                q - chunk.start_frame as i64,
                item.place.fade_in_frames,
                item.place.played_frames,
                fade_out,
                serde_json::to_string(&item.params).unwrap_or_default(),
            );
        }
        CacheKey::new(&what)
    }

    /// The queue frames a boundary chunk's encode reads.
    fn input_span(&self, chunk: &QueueChunk) -> (i64, i64) {
        let packets = opus::packet_count(chunk.frames) as u64;
        (
            chunk.start_frame as i64 - PRE_ROLL_FRAMES as i64,
            (chunk.start_frame + packets * PACKET_FRAMES as u64) as i64 + LOOKAHEAD_FRAMES as i64,
        )
    }

    /// A chunk's packets and audio, rendered from the queue's audio (a boundary chunk, or any
    /// chunk as a transition from `from`) through the one chunk pipeline
    /// ([`crate::pipeline::ChunkRender`]).
    fn render_chunk(
        &self,
        chunk: &QueueChunk,
        from: Option<&Queue>,
    ) -> Result<(Vec<Vec<u8>>, Vec<f32>), Error> {
        let (encoded, _, pcm) = self.start_render(chunk, from).finish_encoded()?;
        Ok((encoded.packets, pcm))
    }

    /// Starts rendering a chunk from the queue's audio: its parts (the grid of
    /// [`crate::pipeline::parts`]) on the render threads, each encoded with the encoder's
    /// pre-roll and look-ahead (see [`QueueParts`]).
    fn start_render(&self, chunk: &QueueChunk, from: Option<&Queue>) -> ChunkRender {
        let range = ChunkRange {
            index: chunk.index,
            start_frame: chunk.start_frame,
            frames: chunk.frames,
        };
        let parts = crate::pipeline::parts(&range);
        // The queue frame where the chunk's item stops and the next one plays (none for the
        // queue's last chunk).
        let item = &self.inner.items[chunk.item];
        let cut_at = match self.inner.items.get(chunk.item + 1) {
            Some(_)
                if self.inner.layout == QueueLayout::Shared
                    && chunk.start_frame + chunk.frames
                        == item.place.start_frame + item.place.played_frames =>
            {
                chunk.start_frame + chunk.frames
            }
            _ => u64::MAX,
        };
        let threads = item.stream.inner.track.renderer.threads();
        let source = QueueParts {
            queue: self.clone(),
            from: from.map(|q| (q.clone(), chunk.start_frame)),
            parts,
            cut_at,
        };
        let is_last = chunk.index + 1 == self.total_chunks();
        ChunkRender::from_source(Arc::new(source), threads, range, is_last)
    }

    /// One part `[s, e)` of a boundary chunk: its packets, which cover it to the next 20 ms
    /// (past a cut `cut_at`, the item's end where the next item starts, the padding of its last
    /// packet: see `cut_input`), and its mastered audio.
    /// With `from` (a queue on the same timeline, and the frame where the transition starts),
    /// the audio is `from`'s up to that frame, then crossfades to this queue's.
    fn render_part(
        &self,
        s: u64,
        e: u64,
        cut_at: u64,
        from: Option<(&Queue, u64)>,
        first: usize,
        early: &mut dyn FnMut(&[Vec<u8>]),
    ) -> Result<PartOut, Error> {
        let ch = self.inner.channels as usize;
        let full = opus::packet_count(e - s) as u64 * PACKET_FRAMES as u64;
        let (a, b) = (
            s as i64 - PRE_ROLL_FRAMES as i64,
            (s + full + LOOKAHEAD_FRAMES as u64) as i64,
        );
        let mut input = self.pcm(a, b)?;
        if let Some((old, at)) = from {
            let settings = &self.inner.settings;
            let fade = settings.fade_frames();
            let end = b.min(at as i64 + fade as i64);
            if a < end {
                let before = old.pcm(a, end)?;
                let offset = a - at as i64;
                crate::dsp::crossfade::mix_transition(
                    &mut input,
                    &before,
                    ch,
                    offset,
                    fade,
                    settings.fade_curve,
                );
            }
        }
        if e == cut_at && full > e - s {
            cut_input(
                &mut input,
                ch,
                PRE_ROLL_FRAMES + (e - s) as usize,
                (full - (e - s)) as usize,
            );
        }
        // An item's first part, after a cut that ran `p` frames past the previous item's end:
        // its pre-roll is what the encoder of that cut packet was fed (see `cut_input`), so
        // both encoders run through the same audio before the join.
        let shared = self.inner.layout == QueueLayout::Shared;
        if let Some(p) = self.overhang_before(s).filter(|&p| shared && p > 0) {
            let (p, ch_pre) = (p as usize * ch, PRE_ROLL_FRAMES * ch);
            input.copy_within(p..ch_pre, 0);
        }
        let pcm = input[PRE_ROLL_FRAMES * ch..(PRE_ROLL_FRAMES + (e - s) as usize) * ch].to_vec();
        let settings = &self.inner.settings.opus;
        let encoded = opus::encode_chunk_early(input, ch, s, full, settings, first, |p| early(p))?;
        Ok(PartOut {
            pcm,
            packets: encoded.packets,
        })
    }

    /// Frames the previous item's last packet ran past its end when queue frame `at` is where
    /// an item (not the first) starts, else `None`.
    fn overhang_before(&self, at: u64) -> Option<u64> {
        let items = &self.inner.items;
        let i = items.iter().position(|it| it.place.start_frame == at)?;
        let previous = items.get(i.checked_sub(1)?)?;
        let packet = PACKET_FRAMES as u64;
        Some((packet - previous.place.played_frames % packet) % packet)
    }

    /// How chunk `chunk`'s last block ends: the queue's end (DiscardPadding for the padding
    /// of its last packet), a cut where the next item starts (see [`Queue::open`]'s
    /// timestamps), or a plain block.
    fn last_block(&self, chunk: &QueueChunk) -> LastBlock {
        let item = &self.inner.items[chunk.item];
        let last_of_item =
            chunk.start_frame + chunk.frames == item.place.start_frame + item.place.played_frames;
        if chunk.index + 1 == self.total_chunks() {
            match opus::padding_frames(chunk.frames) {
                0 => LastBlock::Plain,
                padding_frames => LastBlock::TrackEnd { padding_frames },
            }
        } else if let (true, Some((duration_ms, padding_frames))) = (last_of_item, item.cut) {
            LastBlock::Cut {
                padding_frames,
                duration_ms,
            }
        } else {
            LastBlock::Plain
        }
    }

    /// `packets` as chunk `chunk`'s media segment on the queue's timeline: its units
    /// ([`Queue::mux_group`]) one after the other.
    fn mux(&self, chunk: &QueueChunk, packets: &[Vec<u8>]) -> Vec<u8> {
        let groups = packets.len().div_ceil(CLUSTER_PACKETS);
        packets
            .chunks(CLUSTER_PACKETS)
            .enumerate()
            .flat_map(|(c, group)| self.mux_group(chunk, c, group, c + 1 == groups))
            .collect()
    }

    /// Unit `c` of chunk `chunk` (a WebM Cluster or an MP4 fragment of at most
    /// [`CLUSTER_PACKETS`] packets), `last` when it ends the chunk.
    fn mux_group(&self, chunk: &QueueChunk, c: usize, group: &[Vec<u8>], last: bool) -> Vec<u8> {
        let offset = (c * CLUSTER_PACKETS) as u64;
        if self.inner.layout == QueueLayout::Continuous {
            // The queue's packet grid runs from its first frame, like a track's.
            let padding = if last && chunk.index + 1 == self.total_chunks() {
                opus::padding_frames(chunk.frames)
            } else {
                0
            };
            let first = chunk.start_frame + offset * PACKET_FRAMES as u64;
            return self.inner.settings.container.group(group, first, padding);
        }
        let item = &self.inner.items[chunk.item];
        let first_packet = (chunk.start_frame - item.place.start_frame) / PACKET_FRAMES as u64;
        let end = if last {
            self.last_block(chunk)
        } else {
            LastBlock::Plain
        };
        webm::cluster_at(group, item.ms + 20 * (first_packet + offset), end)
    }
}

/// A chunk rendered from the queue's audio, as the chunk pipeline's parts (see
/// [`Queue::render_part`]); with `from`, the transition from that queue at the given frame.
pub(crate) struct QueueParts {
    queue: Queue,
    from: Option<(Queue, u64)>,
    parts: Vec<(u64, u64)>,
    cut_at: u64,
}

impl PartSource for QueueParts {
    fn part_count(&self) -> usize {
        self.parts.len()
    }

    fn run(&self, i: usize, early: &mut dyn FnMut(&[Vec<u8>])) -> Result<PartOut, Error> {
        let (s, e) = self.parts[i];
        let from = self.from.as_ref().map(|(q, at)| (q, *at));
        // Only the first part's first unit is waited for by a listener.
        let first = if i == 0 { CLUSTER_PACKETS } else { usize::MAX };
        self.queue
            .render_part(s, e, self.cut_at, from, first, early)
    }
}

/// A chunk rendered from the queue's audio, given unit by unit as its groups come out of the
/// pipeline (see [`Queue::chunk_clusters`]), and cached whole after the last.
struct Progressive {
    queue: Queue,
    from: Option<Queue>,
    chunk: QueueChunk,
    render: ChunkRender,
    emitted: usize,
    groups: usize,
    /// The units made, for the cache.
    bytes: Vec<u8>,
    guard: Option<FlightGuard>,
    _foreground: crate::prefetch::ForegroundGuard,
}

impl Iterator for Progressive {
    type Item = Result<Vec<u8>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.render.next_group() {
            Some(Ok(group)) => {
                let last = self.emitted + 1 == self.groups;
                let unit = self
                    .queue
                    .mux_group(&self.chunk, self.emitted, &group.packets, last);
                self.bytes.extend_from_slice(&unit);
                self.emitted += 1;
                Some(Ok(unit))
            }
            Some(Err(e)) => Some(Err(e)),
            None => {
                let guard = self.guard.take()?;
                // Cache only what was made from the files as they were opened.
                if let Err(e) = self.queue.check_unchanged(self.from.as_ref()) {
                    return Some(Err(e));
                }
                guard.complete(CacheEntry::new(std::mem::take(&mut self.bytes)));
                None
            }
        }
    }
}

/// The encoder input past a cut (`at`, in frames from the input's start), for the packet that
/// runs `padding` frames past it: those frames are discarded by the player, and what the decoder
/// keeps from that packet for the next one (the end of its overlap window) must be the audio
/// the next packet was encoded after, which is the queue's audio just before the cut. So the
/// input from the cut on is the queue's audio `padding` frames earlier: the packet's end then
/// holds the audio at the cut, where the next item's first packet continues.
fn cut_input(input: &mut [f32], channels: usize, at: usize, padding: usize) {
    let (a, p) = (at * channels, padding * channels);
    // Back to front, so every frame is read before it is overwritten.
    for k in (a..input.len()).rev() {
        input[k] = input[k - p];
    }
}
