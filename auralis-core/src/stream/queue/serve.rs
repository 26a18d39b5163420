//! Serving a queue's chunks: cached, moved from an item's own chunk, or rendered; whole, or
//! unit by unit; transitions between two queues on one timeline; playlists and edits.

use super::*;
use crate::stream::clusters::ChunkGroups;

impl Queue {
    /// Chunk `index` as a media segment on the queue's timeline, in the queue's container. An
    /// interior chunk is its track's own cached chunk with moved timestamps (its origin is that
    /// entry's); a boundary chunk (every chunk of the continuous layout) is rendered once and
    /// cached.
    pub fn chunk_media_segment(&self, index: u64) -> Result<Served, Error> {
        let chunk = self.chunk(index)?;
        let item = &self.inner.items[chunk.item];
        if !chunk.boundary {
            // The track's cached packets, borrowed from its entry: no copy per packet.
            let (entry, origin) = item.stream.chunk_entry(chunk.item_chunk, None, true)?;
            let own = crate::format::packets::view(&entry.bytes)?;
            return Ok(Served {
                bytes: self.mux(&chunk, &own.packets).into(),
                origin,
            });
        }
        self.rendered_segment(&chunk, None)
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
        self.rendered_segment(&chunk, Some(&from))
    }

    /// A chunk rendered from the queue's audio (a boundary chunk, or a transition from `from`),
    /// whole: the segment as last served, if memory still has it; else the cache entry (the
    /// chunk's packets, container-neutral as a track's: `format::packets`), cached or rendered
    /// now, muxed on the queue's timeline and kept in memory under its own key.
    fn rendered_segment(&self, chunk: &QueueChunk, from: Option<&Queue>) -> Result<Served, Error> {
        let key = self.render_key(chunk, from);
        let cache = self.inner.items[chunk.item].stream.engine().cache();
        let form = key.form(&self.mux_form(chunk));
        if let Some(bytes) = cache.memory_form(form) {
            return Ok(Served {
                bytes,
                origin: Origin::Memory,
            });
        }
        let (entry, origin) = cache.get_or_compute(key, || {
            self.check_unchanged(from)?;
            let (encoded, _) = self.render_chunk(chunk, from)?;
            self.finished_chunk(from, &encoded)
        })?;
        let bytes: Arc<[u8]> = self
            .mux(chunk, &crate::format::packets::view(&entry.bytes)?.packets)
            .into();
        cache.keep_memory_form(form, bytes.clone());
        Ok(Served { bytes, origin })
    }

    /// A chunk rendered from the queue's audio made ready for the cache (whole, or unit by unit
    /// in `Progressive`): every file must still be as it was opened (else nothing is cached),
    /// and the entry is the chunk's packets, as a track's (`Stream::finished_chunk`). The
    /// queue's own timestamps and last block are applied when it is served.
    pub(super) fn finished_chunk(
        &self,
        from: Option<&Queue>,
        encoded: &opus::EncodedChunk,
    ) -> Result<CacheEntry, Error> {
        self.check_unchanged(from)?;
        Ok(CacheEntry::new(crate::format::packets::encode(
            encoded, false,
        )))
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
        self.clusters_of(self.chunk(index)?, from)
    }

    /// A switch at the playhead on the queue switched to (an A/B or preset change while the
    /// queue plays): from queue frame `at_frame` to the end of the chunk playing there, this
    /// queue's audio crossfaded from `from`'s over the settings' fade starting at `at_frame`,
    /// as a media segment (cached under its own key), as [`Stream::transition_segment_at`]
    /// gives it for a track. `at_frame` lies on the chunk's packet grid: a multiple of 20 ms
    /// from the queue's first frame in the continuous layout, from the item's first frame in
    /// the shared one ([`crate::PlanError::OffPacketGrid`] else; past the end,
    /// [`crate::PlanError::TimeOutOfRange`]). At a chunk's first frame it is
    /// [`Self::transition_media_segment`]; `from` must lie on this queue's timeline.
    pub fn transition_segment_at(&self, at_frame: u64, from: &Queue) -> Result<Served, Error> {
        let tail = self.tail_at(at_frame)?;
        if tail.start_frame == self.chunk(tail.index)?.start_frame {
            return self.transition_media_segment(tail.index, from);
        }
        let from = self.transition_source(&tail, Some(from))?;
        self.rendered_segment(&tail, from.as_ref())
    }

    /// [`Self::transition_segment_at`] unit by unit, each given as soon as it is encoded; the
    /// units joined are its bytes.
    pub fn transition_clusters_at(
        &self,
        at_frame: u64,
        from: &Queue,
    ) -> Result<ChunkClusters, Error> {
        self.clusters_of(self.tail_at(at_frame)?, Some(from))
    }

    /// The rest of the chunk playing at queue frame `at_frame`, from that frame: a chunk of its
    /// own, rendered from the queue's audio (see [`Self::transition_segment_at`] for the grid).
    fn tail_at(&self, at_frame: u64) -> Result<QueueChunk, Error> {
        if at_frame >= self.frames() {
            return Err(crate::PlanError::TimeOutOfRange {
                seconds: crate::units::frames_to_seconds(at_frame),
                duration_s: self.duration_s(),
            }
            .into());
        }
        let chunks = &self.inner.chunks;
        let i = chunks.partition_point(|c| c.start_frame + c.frames <= at_frame);
        let chunk = chunks[i.min(chunks.len() - 1)];
        let origin = match self.inner.layout {
            QueueLayout::Continuous => 0,
            QueueLayout::Shared => self.inner.items[chunk.item].place.start_frame,
        };
        if !(at_frame - origin).is_multiple_of(PACKET_FRAMES as u64) {
            return Err(crate::PlanError::OffPacketGrid { frame: at_frame }.into());
        }
        if at_frame == chunk.start_frame {
            return Ok(chunk);
        }
        Ok(QueueChunk {
            start_frame: at_frame,
            frames: chunk.start_frame + chunk.frames - at_frame,
            boundary: true,
            ..chunk
        })
    }

    /// Chunk `chunk` (a queue chunk, or the tail of one from a switch point) unit by unit.
    fn clusters_of(&self, chunk: QueueChunk, from: Option<&Queue>) -> Result<ChunkClusters, Error> {
        let from = self.transition_source(&chunk, from)?;
        let item = &self.inner.items[chunk.item];
        let groups = crate::units::packet_count(chunk.frames).div_ceil(CLUSTER_PACKETS);
        if from.is_none() && !chunk.boundary {
            // The track's own packet groups, moved to the queue's timeline.
            let (origin, own) = item.stream.chunk_groups(chunk.item_chunk, None, None)?;
            return Ok(self.units_of(chunk, origin, own));
        }
        let key = self.render_key(&chunk, from.as_ref());
        let engine = &item.stream.inner.engine.inner;
        match engine.cache.claim(key) {
            Claim::Hit(entry, origin) => {
                Ok(self.units_of(chunk, origin, ChunkGroups::cached(entry.bytes)?))
            }
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
                        packets: Vec::new(),
                        guard: Some(guard),
                        _foreground: engine.prefetch.foreground(),
                    },
                ))
            }
        }
    }

    /// Chunk `chunk`'s units from packet groups (a track's own chunk, or a cached entry), each
    /// muxed on the queue's timeline as it is asked for.
    fn units_of(&self, chunk: QueueChunk, origin: Origin, mut own: ChunkGroups) -> ChunkClusters {
        let groups = crate::units::packet_count(chunk.frames).div_ceil(CLUSTER_PACKETS);
        let queue = self.clone();
        let mut c = 0;
        let units = std::iter::from_fn(move || {
            let group = own.next_group()?;
            let unit = group.map(|g| queue.mux_group(&chunk, c, &g.packets, c + 1 == groups));
            c += 1;
            Some(unit)
        });
        ChunkClusters::other(origin, units)
    }

    /// `from` as the source of a transition into chunk `chunk`: checked to lie on this queue's
    /// timeline, and `None` when it renders the chunk as this queue does (a plain chunk).
    pub(super) fn transition_source(
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
    pub(super) fn render_key(&self, chunk: &QueueChunk, from: Option<&Queue>) -> CacheKey {
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
    pub(super) fn check_unchanged(&self, from: Option<&Queue>) -> Result<(), Error> {
        let others = from.map_or(&[][..], |f| &f.inner.items[..]);
        for it in self.inner.items.iter().chain(others) {
            it.stream.inner.track.check_unchanged()?;
        }
        Ok(())
    }

    /// Whether `other` lies on this queue's timeline: the same files at the same places with
    /// the same joins, chunks and packet layout, the same Opus settings and container (the
    /// masterings and gains may differ, and with them which chunks are rendered from the
    /// queue's audio: album gain makes every chunk of an album's items one).
    pub(super) fn same_timeline(&self, other: &Queue) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        a.settings.opus == b.settings.opus
            && a.settings.container == b.settings.container
            && a.layout == b.layout
            && a.chunks.len() == b.chunks.len()
            && a.chunks.iter().zip(&b.chunks).all(|(x, y)| {
                QueueChunk {
                    boundary: y.boundary,
                    ..*x
                } == *y
            })
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
        ChunkSource::file(self, index, None)
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
    /// The packets encoded, for the cache.
    packets: Vec<Vec<u8>>,
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
                self.packets.extend(group.packets);
                self.emitted += 1;
                Some(Ok(unit))
            }
            Some(Err(e)) => Some(Err(e)),
            None => {
                let guard = self.guard.take()?;
                let encoded = opus::EncodedChunk {
                    packets: std::mem::take(&mut self.packets),
                    start_frame: self.chunk.start_frame,
                    frames: self.chunk.frames,
                    padding_frames: crate::units::padding_frames(self.chunk.frames),
                };
                match self.queue.finished_chunk(self.from.as_ref(), &encoded) {
                    Ok(entry) => {
                        guard.complete(entry);
                        None
                    }
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }
}
