//! Rendering a queue's chunk from the queue's audio: the mastered timeline, the cache key of
//! what a chunk is made of, the parts for the chunk pipeline (`QueueParts`), and the muxing
//! of its units on the queue's timeline.

use super::*;

impl Queue {
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

    /// The key of a boundary chunk's packets: every item its input touches (signature,
    /// mastering, place relative to the chunk, fades), the layout, the Opus settings and how its
    /// last block ends (which changes the encoder's input past a cut). Not the container: the
    /// entry is muxed when served, so a WebM and an MP4 queue of one layout share it.
    pub(super) fn boundary_key(&self, chunk: &QueueChunk) -> CacheKey {
        let (from, to) = self.input_span(chunk);
        let items = &self.inner.items;
        let mut what = format!(
            "queue packets/{}/{}/{} frames/{:?}\n",
            self.inner.layout.name(),
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
    pub(super) fn input_span(&self, chunk: &QueueChunk) -> (i64, i64) {
        let packets = crate::units::packet_count(chunk.frames) as u64;
        (
            chunk.start_frame as i64 - PRE_ROLL_FRAMES as i64,
            (chunk.start_frame + packets * PACKET_FRAMES as u64) as i64 + LOOKAHEAD_FRAMES as i64,
        )
    }

    /// A chunk's packets and audio, rendered from the queue's audio (a boundary chunk, or any
    /// chunk as a transition from `from`) through the one chunk pipeline
    /// ([`crate::pipeline::ChunkRender`]).
    pub(super) fn render_chunk(
        &self,
        chunk: &QueueChunk,
        from: Option<&Queue>,
    ) -> Result<(opus::EncodedChunk, Vec<f32>), Error> {
        let (encoded, _, pcm) = self.start_render(chunk, from).finish_encoded()?;
        Ok((encoded, pcm))
    }

    /// What a chunk's muxing on the queue's timeline depends on beyond its packets (the
    /// container, the layout, where the chunk and its item start, the item's millisecond
    /// timestamp and how the chunk ends): the name of its served form
    /// ([`crate::cache::CacheKey::form`]), so that a segment kept for one queue is never served
    /// for another whose chunk has the same packets at another place.
    pub(super) fn mux_form(&self, chunk: &QueueChunk) -> String {
        let item = &self.inner.items[chunk.item];
        format!(
            "queue {} {} chunk {} of {} at {} frames {} item at {} ms {} end {:?}",
            self.inner.settings.container.name(),
            self.inner.layout.name(),
            chunk.index,
            self.total_chunks(),
            chunk.start_frame,
            chunk.frames,
            item.place.start_frame,
            item.ms,
            self.last_block(chunk),
        )
    }

    /// Starts rendering a chunk from the queue's audio: its parts (the grid of
    /// [`crate::pipeline::parts`]) on the render threads, each encoded with the encoder's
    /// pre-roll and look-ahead (see [`QueueParts`]).
    pub(super) fn start_render(&self, chunk: &QueueChunk, from: Option<&Queue>) -> ChunkRender {
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
    pub(super) fn render_part(
        &self,
        s: u64,
        e: u64,
        cut_at: u64,
        from: Option<(&Queue, u64)>,
        first: usize,
        early: &mut dyn FnMut(&[Vec<u8>]),
    ) -> Result<PartOut, Error> {
        let ch = self.inner.channels as usize;
        let full = crate::units::packet_count(e - s) as u64 * PACKET_FRAMES as u64;
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
    pub(super) fn overhang_before(&self, at: u64) -> Option<u64> {
        let items = &self.inner.items;
        let i = items.iter().position(|it| it.place.start_frame == at)?;
        let previous = items.get(i.checked_sub(1)?)?;
        let packet = PACKET_FRAMES as u64;
        Some((packet - previous.place.played_frames % packet) % packet)
    }

    /// How chunk `chunk`'s last block ends: the queue's end (DiscardPadding for the padding
    /// of its last packet), a cut where the next item starts (see [`Queue::open`]'s
    /// timestamps), or a plain block.
    pub(super) fn last_block(&self, chunk: &QueueChunk) -> LastBlock {
        let item = &self.inner.items[chunk.item];
        let last_of_item =
            chunk.start_frame + chunk.frames == item.place.start_frame + item.place.played_frames;
        if chunk.index + 1 == self.total_chunks() {
            match crate::units::padding_frames(chunk.frames) {
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
    pub(super) fn mux<P: AsRef<[u8]>>(&self, chunk: &QueueChunk, packets: &[P]) -> Vec<u8> {
        let groups = packets.len().div_ceil(CLUSTER_PACKETS);
        packets
            .chunks(CLUSTER_PACKETS)
            .enumerate()
            .flat_map(|(c, group)| self.mux_group(chunk, c, group, c + 1 == groups))
            .collect()
    }

    /// Unit `c` of chunk `chunk` (a WebM Cluster or an MP4 fragment of at most
    /// [`CLUSTER_PACKETS`] packets), `last` when it ends the chunk.
    pub(super) fn mux_group<P: AsRef<[u8]>>(
        &self,
        chunk: &QueueChunk,
        c: usize,
        group: &[P],
        last: bool,
    ) -> Vec<u8> {
        let offset = (c * CLUSTER_PACKETS) as u64;
        if self.inner.layout == QueueLayout::Continuous {
            // The queue's packet grid runs from its first frame, like a track's.
            let padding = if last && chunk.index + 1 == self.total_chunks() {
                crate::units::padding_frames(chunk.frames)
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
