//! Serving a stream's chunks: the request checks, the cache keys and ETags, media segments
//! and chunk files, progressive clusters, preset switches, and the one place a chunk is
//! rendered, encoded and cached.

use super::*;

impl Stream {
    /// Whether chunk `index` (a transition from `from` when given) is in the cache, in memory
    /// or on disk, so that serving it renders nothing: what a pre-render job skips. Checks the
    /// request like [`Self::chunk_etag`].
    pub fn is_cached(&self, index: u64, from: Option<MasteringSettings>) -> Result<bool, Error> {
        let (_, key) = self.prepare_request(index, None, from, Kind::Packets)?;
        Ok(self.inner.engine.cache().contains(key))
    }

    /// A strong HTTP entity tag (quotes included) for chunk `index`'s media segment as this
    /// stream serves it ([`Self::chunk_media_segment`], [`Self::chunk_clusters`]; a transition
    /// from `from` when given), computed without rendering anything: the chunk's cache key
    /// (library version, the file's content signature, every setting that changes the bytes,
    /// the index) and the container. Equal tags mean equal bytes, in any process and on any
    /// machine with this library version, so a server answers `If-None-Match` with `304` before
    /// any work and a CDN may keep the bytes for good. Checks the index, the transition and
    /// that the file is unchanged like a request does.
    pub fn chunk_etag(&self, index: u64, from: Option<MasteringSettings>) -> Result<String, Error> {
        let (_, key) = self.prepare_request(index, None, from, Kind::Packets)?;
        Ok(entity_tag(
            format!("{:032x} {}", key.0, self.container().name()).as_bytes(),
        ))
    }

    /// [`Self::chunk_etag`] of a switch at the playhead
    /// ([`Self::transition_segment_at`]`(at_frame, from)`): checks the frame and the
    /// settings, renders nothing.
    pub fn transition_etag_at(
        &self,
        at_frame: u64,
        from: impl Into<MasteringSettings>,
    ) -> Result<String, Error> {
        let (index, at) = self.switch_point(at_frame)?;
        let (_, key) = self.prepare_request(index, at, Some(from.into()), Kind::Packets)?;
        Ok(entity_tag(
            format!("{:032x} {}", key.0, self.container().name()).as_bytes(),
        ))
    }

    /// A strong HTTP entity tag (quotes included) for [`Self::init_segment`]: a hash of its
    /// bytes (which are made without rendering).
    pub fn init_etag(&self) -> String {
        entity_tag(&self.init_segment())
    }

    /// Chunk `index` as a media segment in the stream's container (WebM Clusters or MP4
    /// fragments), cached.
    pub fn chunk_media_segment(&self, index: u64) -> Result<Served, Error> {
        self.media_segment(index, None, None, true)
    }

    /// Chunk `index` as a transition from other settings: it starts as `from`'s audio and
    /// crossfades to this stream's over the settings' fade (see [`Transition`]). Cached under
    /// its own key. `from` equal to this stream's settings is the plain chunk.
    pub fn transition_media_segment(
        &self,
        index: u64,
        from: impl Into<MasteringSettings>,
    ) -> Result<Served, Error> {
        self.media_segment(index, None, Some(from.into()), true)
    }

    /// A switch at the playhead, on the stream switched to: from frame `at_frame` (on the
    /// 20 ms packet grid, inside the track) to the end of its chunk, this stream's audio
    /// crossfaded from `from`'s over the settings' fade starting at `at_frame`, as a media
    /// segment in the stream's container (cached under its own key). The encoder's pre-roll
    /// before `at_frame` is `from`'s audio, so a player that removes what it buffered from
    /// `at_frame` on and appends this (then this stream's next chunks) plays through the
    /// switch as through a chunk join: the new settings are heard from `at_frame`, fully
    /// after the fade. At a chunk's first frame this is [`Self::transition_media_segment`] of
    /// that chunk; `from` equal to this stream's settings gives the rest of the chunk as it
    /// is. A frame off the grid is [`crate::PlanError::OffPacketGrid`], past the end
    /// [`crate::PlanError::TimeOutOfRange`], both before any work.
    pub fn transition_segment_at(
        &self,
        at_frame: u64,
        from: impl Into<MasteringSettings>,
    ) -> Result<Served, Error> {
        let (index, at) = self.switch_point(at_frame)?;
        self.media_segment(index, at, Some(from.into()), true)
    }

    /// [`Self::transition_segment_at`] unit by unit (WebM Clusters or MP4 fragments of 1 s
    /// from `at_frame`), each given as soon as it is encoded (the first after a 2 s part), as
    /// [`Self::chunk_clusters`] gives a chunk; the units joined are its bytes.
    pub fn transition_clusters_at(
        &self,
        at_frame: u64,
        from: impl Into<MasteringSettings>,
    ) -> Result<ChunkClusters, Error> {
        let (index, at) = self.switch_point(at_frame)?;
        let (origin, groups) = self.chunk_groups(index, at, Some(from.into()))?;
        Ok(ChunkClusters::groups(origin, groups, self.container()))
    }

    /// A preset or intensity switch at the playhead, asked of the stream that plays: the
    /// stream of `to` (as [`Stream::with_mastering`] gives it) and, unit by unit, the rest of
    /// the chunk from `at_frame` as a transition from this stream's mastering (the bytes of
    /// `transition_clusters_at(at_frame, this stream's mastering)` on that stream). Errors are
    /// those of the two calls it stands for.
    pub fn switch_clusters_at(
        &self,
        at_frame: u64,
        to: impl Into<MasteringSettings>,
    ) -> Result<(Stream, ChunkClusters), Error> {
        let to = to.into();
        // The one check of the new settings (the rest are this stream's, checked at open).
        to.validate()?;
        let (index, at) = self.switch_point(at_frame)?;
        let target = self.sibling(StreamSettings {
            mastering: to,
            ..self.inner.settings
        })?;
        let from = self.inner.settings.mastering();
        let (origin, groups) = target.chunk_groups(index, at, Some(from))?;
        let container = target.container();
        Ok((target, ChunkClusters::groups(origin, groups, container)))
    }

    /// The chunk holding `at_frame` and where in it the segment starts (`None`: at its start,
    /// the whole chunk).
    fn switch_point(&self, at_frame: u64) -> Result<(u64, Option<u64>), Error> {
        let plan = &self.inner.plan;
        let tail = plan.tail_from(at_frame)?;
        let start = plan.chunk(tail.index)?.start_frame;
        Ok((tail.index, (at_frame != start).then_some(at_frame)))
    }

    /// Chunk `index` as a standalone file in the stream's container: init segment + media
    /// segment (a transition from `from` when given).
    pub fn chunk_file(
        &self,
        index: u64,
        from: Option<MasteringSettings>,
    ) -> Result<Vec<u8>, Error> {
        ChunkSource::file(self, index, from.as_ref())
    }

    /// Chunk `index`'s media segment cluster by cluster (progressive output): from the cache
    /// if there, else encoded as it is consumed (the chunk's audio is rendered first, then each
    /// cluster, 1 s of audio, is encoded when asked for). The whole segment is cached when the
    /// last cluster has been made; a consumer that stops early caches nothing.
    pub fn chunk_clusters(
        &self,
        index: u64,
        from: Option<MasteringSettings>,
    ) -> Result<ChunkClusters, Error> {
        let (origin, groups) = self.chunk_groups(index, None, from)?;
        Ok(ChunkClusters::groups(origin, groups, self.container()))
    }

    /// Chunk `index`'s packet groups (from frame `at` when given; a transition from `from`
    /// when given): from the cache if there, else from a render started now, which caches the
    /// chunk after its last group.
    pub(crate) fn chunk_groups(
        &self,
        index: u64,
        at: Option<u64>,
        from: Option<MasteringSettings>,
    ) -> Result<(Origin, ChunkGroups), Error> {
        let (target, key) = self.prepare_request(index, at, from, Kind::Packets)?;
        let foreground = self.inner.engine.inner.prefetch.foreground();
        match self.inner.engine.cache().claim(key) {
            Claim::Hit(entry, origin) => Ok((origin, ChunkGroups::cached(entry.bytes)?)),
            Claim::Miss(guard) => {
                // Parts render in the background from here; the file is checked again
                // before the result is cached.
                let encoder = target.start_chunk(index, at, from)?;
                let live = Live {
                    encoder,
                    guard: Some(guard),
                    packets: Vec::new(),
                    stream: target.clone(),
                    index,
                    note_level: from.is_none() && at.is_none(),
                    _foreground: foreground,
                };
                Ok((Origin::Computed, ChunkGroups::Live(Box::new(live))))
            }
        }
    }

    /// A preset or intensity switch at chunk `index`: the stream of `to` (as
    /// [`Stream::with_mastering`] gives it) and its chunk `index` as a transition from this
    /// stream's mastering, cluster by cluster (as `chunk_clusters(index, Some(this stream's
    /// mastering))` on that stream gives it: the same bytes, the same cache entry).
    ///
    /// When `to` has never been calibrated for this track, the calibration and the transition
    /// chunk's first part run at once: while the gain is calibrated over the kept analysis
    /// excerpts, the first part's audio is decoded, resampled, shaped by every stage before
    /// the gain and mastered the old way for the fade, so the first cluster waits only for the
    /// gain, the limiter and the encoder after the calibration. Errors are those of the two
    /// calls it stands for (a bad intensity, index or file).
    pub fn switch_clusters(
        &self,
        index: u64,
        to: impl Into<MasteringSettings>,
    ) -> Result<(Stream, ChunkClusters), Error> {
        let to = to.into();
        // The one check of the new settings (the rest are this stream's, checked at open).
        to.validate()?;
        self.inner.plan.check_index(index)?;
        let from = self.inner.settings.mastering();
        let settings = StreamSettings {
            mastering: to,
            ..self.inner.settings
        };
        let track = &self.inner.track;
        let known = lock(&track.masterings).contains_key(&to);
        let analysis = lock(&track.analysis).clone();
        let plain = || {
            let target = self.sibling(settings)?;
            let clusters = target.chunk_clusters(index, Some(from))?;
            Ok((target, clusters))
        };
        let Some(analysis) = analysis.filter(|_| !known && to != from) else {
            return plain();
        };
        let mut params = crate::mastering::presets::design_checked(&analysis, to);
        if params.is_bypass() {
            return plain();
        }
        track.check_unchanged()?;
        let key = request_key(track, &settings, index, None, Some(from), Kind::Packets);
        let foreground = self.inner.engine.inner.prefetch.foreground();
        let guard = match self.inner.engine.cache().claim(key) {
            Claim::Hit(..) => return plain(),
            Claim::Miss(guard) => guard,
        };
        let pending = Arc::new(crate::pipeline::PendingGain::default());
        let transition = Transition {
            from: self.inner.mastering.params.clone(),
            fade_frames: settings.fade_frames(),
            curve: settings.fade_curve,
        };
        let encoder = ChunkRender::start_with_pending_gain(
            &track.renderer,
            &self.inner.plan,
            index,
            &params,
            pending.clone(),
            Some(&transition),
            Some(&settings.opus),
        )?;
        // The calibration, while the first part is read (an error drops the render, which
        // stops it).
        let target = self.sibling(settings)?;
        params.gain_db = target.mastering().gain_db;
        if params != *target.mastering() {
            // Not the parameters the design gave (it cannot happen: only the gain is
            // calibrated): render it the plain way.
            drop((encoder, guard));
            return plain();
        }
        pending.set(params.gain_db);
        let container = target.container();
        let live = Live {
            encoder,
            guard: Some(guard),
            packets: Vec::new(),
            stream: target.clone(),
            index,
            note_level: false,
            _foreground: foreground,
        };
        Ok((
            target,
            ChunkClusters::groups(
                Origin::Computed,
                ChunkGroups::Live(Box::new(live)),
                container,
            ),
        ))
    }

    /// Starts rendering and encoding chunk `index` (from frame `at` when given; a transition
    /// from `from` when given) on the renderer's threads (the request has checked the file).
    pub(super) fn start_chunk(
        &self,
        index: u64,
        at: Option<u64>,
        from: Option<MasteringSettings>,
    ) -> Result<ChunkRender, Error> {
        // The file was checked by the request (`prepare_request`) and is checked again before
        // the result is cached; a check around the start itself would see nothing new.
        let (renderer, plan) = (&self.inner.track.renderer, &self.inner.plan);
        let params = &self.inner.mastering.params;
        let transition = self.transition_from(from)?;
        let opus = Some(&self.inner.settings.opus);
        match at {
            None => ChunkRender::start(renderer, plan, index, params, transition.as_ref(), opus),
            Some(at) => {
                ChunkRender::start_at(renderer, plan, at, params, transition.as_ref(), opus)
            }
        }
    }

    pub(super) fn transition_from(
        &self,
        from: Option<MasteringSettings>,
    ) -> Result<Option<Transition>, Error> {
        let s = &self.inner.settings;
        let Some(from) = from.filter(|m| *m != s.mastering()) else {
            return Ok(None);
        };
        let from = self.inner.track.mastering(&self.inner.engine.inner, from)?;
        Ok(Some(Transition {
            from: from.params.clone(),
            fade_frames: s.fade_frames(),
            curve: s.fade_curve,
        }))
    }

    /// Checks the index (and the frame `at` where the segment starts inside the chunk, when
    /// given), the transition's settings and the file; returns the cache key.
    pub(super) fn prepare_request(
        &self,
        index: u64,
        at: Option<u64>,
        from: Option<MasteringSettings>,
        kind: Kind,
    ) -> Result<(Stream, CacheKey), Error> {
        self.inner.plan.check_index(index)?;
        if let Some(at) = at {
            let tail = self.inner.plan.tail_from(at)?;
            debug_assert_eq!(
                tail.index, index,
                "the switch point lies in the chunk asked for"
            );
        }
        let s = &self.inner.settings;
        let from = from.filter(|m| *m != s.mastering());
        if let Some(m) = from {
            m.validate()?;
        }
        self.inner.track.check_unchanged()?;
        Ok((
            self.clone(),
            request_key(&self.inner.track, s, index, at, from, kind),
        ))
    }

    pub(super) fn media_segment(
        &self,
        index: u64,
        at: Option<u64>,
        from: Option<MasteringSettings>,
        foreground: bool,
    ) -> Result<Served, Error> {
        let (_, key) = self.prepare_request(index, at, from, Kind::Packets)?;
        // The segment as last served in this container, if memory still has it: no mux.
        let form = key.form(self.container().name());
        let cache = self.inner.engine.cache();
        if let Some(bytes) = cache.memory_form(form) {
            return Ok(Served {
                bytes,
                origin: Origin::Memory,
            });
        }
        let (entry, origin) = self.entry_of(key, index, at, from, foreground)?;
        let bytes: Arc<[u8]> = packets::view(&entry.bytes)?
            .media_segment(self.container())
            .into();
        cache.keep_memory_form(form, bytes.clone());
        Ok(Served { bytes, origin })
    }

    /// Chunk `index`'s cache entry (see `format::packets`): cached, or rendered, encoded and
    /// cached now.
    pub(super) fn chunk_entry(
        &self,
        index: u64,
        from: Option<MasteringSettings>,
        foreground: bool,
    ) -> Result<(CacheEntry, Origin), Error> {
        let (_, key) = self.prepare_request(index, None, from, Kind::Packets)?;
        self.entry_of(key, index, None, from, foreground)
    }

    /// [`Self::chunk_entry`] once the request is checked and its key known.
    fn entry_of(
        &self,
        key: CacheKey,
        index: u64,
        at: Option<u64>,
        from: Option<MasteringSettings>,
        foreground: bool,
    ) -> Result<(CacheEntry, Origin), Error> {
        let _foreground = foreground.then(|| self.inner.engine.inner.prefetch.foreground());
        self.inner.engine.cache().get_or_compute(key, || {
            let (chunk, is_last, pcm) = self.start_chunk(index, at, from)?.finish_encoded()?;
            let plain = from.is_none() && at.is_none();
            self.finished_chunk(index, plain, &chunk, is_last, &pcm)
        })
    }

    /// A computed chunk made ready for the cache: the one place this is done for a track's
    /// chunks, whole ([`Self::chunk_entry`]) or unit by unit (`clusters::Live`). The file
    /// must still be as it was opened (else [`crate::DecodeError::Changed`] and nothing is
    /// cached), a plain chunk's level is noted (a transition's is not the stream's), and the
    /// entry is the chunk's packets.
    pub(super) fn finished_chunk(
        &self,
        index: u64,
        plain: bool,
        chunk: &EncodedChunk,
        is_last: bool,
        pcm: &[f32],
    ) -> Result<CacheEntry, Error> {
        self.inner.track.check_unchanged()?;
        if plain {
            self.note_level(index, rms_db(pcm));
        }
        Ok(CacheEntry::new(packets::encode(chunk, is_last)))
    }
}

/// The cache key of chunk `index` of `track` with `settings` (from frame `at` inside it when
/// given; a transition from `from`, which differs from the settings' own mastering, when
/// given).
pub(super) fn request_key(
    track: &Track,
    s: &StreamSettings,
    index: u64,
    at: Option<u64>,
    from: Option<MasteringSettings>,
    kind: Kind,
) -> CacheKey {
    let mut what = match kind {
        Kind::Packets => format!("opus/{}", s.key_part(true)),
        Kind::Pcm => format!("pcm/{}", s.key_part(false)),
    };
    if let Some(m) = from {
        what += &format!(
            "/from {}/{}/{}",
            m.key_part(),
            s.fade_frames(),
            s.fade_curve.name()
        );
    }
    what += &format!("/chunk {index}");
    if let Some(at) = at {
        what += &format!(" from frame {at}");
    }
    track.key(&what)
}

/// `"<32 hex digits>"`: the XXH3-128 of `bytes` as an HTTP strong entity tag.
pub(super) fn entity_tag(bytes: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(bytes))
}
