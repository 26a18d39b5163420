//! Opening a queue: its items, masterings, gains, places and chunk grid.

use super::*;

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
                mastering: item.mastering,
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
}
