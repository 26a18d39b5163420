//! Queues: tracks on one timeline. Oracles: the queue's own mastered audio (each track's
//! mastered audio at its place, crossfades mixed: `Queue::pcm`), the decode of the packets a
//! browser is given (one libopus decoder through every chunk, DiscardPadding honoured), the
//! tracks' own streams (interior chunks must carry the same packets), and EBU R 128 loudness.

mod common;

use std::path::{Path, PathBuf};

use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
use auralis_core::{MasteringSettings, Preset};
use common::streams::{memory_engine, settings, track};
use common::{quantize, wav_int};

/// Three tracks of odd lengths (none a multiple of 20 ms), so every join cuts a packet.
fn three_tracks(dir: &Path) -> Vec<PathBuf> {
    vec![
        track(dir, "a.wav", 12.3456, 1),
        track(dir, "b.wav", 9.8765, 2),
        track(dir, "c.wav", 11.1111, 3),
    ]
}

fn items(paths: &[PathBuf]) -> Vec<QueueItem> {
    paths.iter().map(|p| QueueItem::new(p.clone())).collect()
}

/// Every chunk's packets decoded one after the other by one decoder, as a browser plays one
/// SourceBuffer: a block with DiscardPadding gives only its frames before the padding.
fn decode_queue(queue: &Queue) -> Vec<f32> {
    let segments: Vec<Vec<u8>> = queue
        .chunks()
        .iter()
        .map(|c| queue.chunk_media_segment(c.index).unwrap().bytes.to_vec())
        .collect();
    decode_segments(&segments, queue.channels() as usize)
}

/// Media segments decoded one after the other, DiscardPadding honoured.
fn decode_segments(segments: &[Vec<u8>], ch: usize) -> Vec<f32> {
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 5760 * ch];
    for segment in segments {
        for b in auralis_core::format::webm::reader::parse_clusters(segment).unwrap() {
            let n = decoder.decode_float(&b.data, &mut buf, false).unwrap();
            out.extend_from_slice(&buf[..b.kept_frames(n) * ch]);
        }
    }
    out
}

/// The shift in -8..=8 frames of `heard` against `reference` that leaves the least error over
/// the 4800 frames from `at` (0 where they are in step).
fn local_shift(heard: &[f32], reference: &[f32], at: usize) -> i64 {
    let error = |shift: i64| -> f64 {
        let from = (at as i64 + shift) as usize;
        heard[from * 2..(from + 4_800) * 2]
            .iter()
            .zip(&reference[at * 2..(at + 4_800) * 2])
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum()
    };
    (-8..=8i64)
        .min_by(|&a, &b| error(a).total_cmp(&error(b)))
        .unwrap()
}

/// Per join, the shift of `heard` against `reference` just before it and just after it.
fn shifts_at(heard: &[f32], reference: &[f32], joins: &[usize]) -> Vec<i64> {
    joins
        .iter()
        .flat_map(|&j| {
            [
                local_shift(heard, reference, j - 4_800),
                local_shift(heard, reference, j),
            ]
        })
        .collect()
}

/// One continuous encode of `reference` (stereo), decoded: what the music itself costs the
/// codec, to hold a join of two different signals to.
fn continuous_encode(reference: &[f32]) -> Vec<f32> {
    let settings = auralis_core::opus::OpusSettings::DEFAULT;
    let encoded = auralis_core::opus::encode_track(reference, 2, &settings).unwrap();
    let mut decoded = common::decode_opus_packets(&encoded.packets, 2);
    decoded.drain(..auralis_core::opus::LOOKAHEAD_FRAMES * 2);
    decoded.truncate(reference.len());
    decoded
}

/// The default settings (adaptive, 5 s chunks) in MP4.
fn mp4_settings() -> auralis_core::StreamSettings {
    auralis_core::StreamSettings {
        container: auralis_core::Container::Mp4,
        ..settings(Preset::Adaptive)
    }
}

fn joins_of(queue: &Queue) -> Vec<usize> {
    queue
        .chunks()
        .iter()
        .skip(1)
        .map(|c| c.start_frame as usize)
        .collect()
}

#[test]
fn a_gapless_queue_plays_every_sample_of_every_track_once_with_joins_as_good_as_the_interior() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let engine = memory_engine();
    let s = settings(Preset::Adaptive);
    let joins = [Join::Gapless, Join::Gapless];
    let queue = Queue::open(&engine, &items(&paths), &joins, s, GainMode::Track).unwrap();
    // The timeline: the tracks back to back, tiled by the chunks.
    let lengths: Vec<u64> = (0..3)
        .map(|i| queue.item_stream(i).unwrap().info().frames)
        .collect();
    assert_eq!(queue.frames(), lengths.iter().sum::<u64>());
    let places = queue.places();
    assert_eq!(places[1].start_frame, lengths[0]);
    assert_eq!(places[2].start_frame, lengths[0] + lengths[1]);
    let mut at = 0;
    for c in queue.chunks() {
        assert_eq!(c.start_frame, at);
        at += c.frames;
    }
    assert_eq!(at, queue.frames());
    // Decoded as a browser plays it: exactly the queue's frames, matching its audio, with no
    // join (track joins included) worse than 3 dB above the median window.
    let heard = decode_queue(&queue);
    let reference = queue.pcm(0, queue.frames() as i64).unwrap();
    assert_eq!(heard.len(), reference.len(), "decoded frames");
    let overall = auralis_core::joins::nsr_db(&heard, &reference, 2, 0, heard.len() / 2).unwrap();
    let all_joins = joins_of(&queue);
    let excess = auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &all_joins);
    let track_joins: Vec<usize> = places[1..].iter().map(|p| p.start_frame as usize).collect();
    let track_excess =
        auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &track_joins);
    println!(
        "gapless queue: error {overall:.1} dB re signal; worst join {excess:.2} dB above the \
         median window (track joins alone: {track_excess:.2} dB)"
    );
    // The naive way: each track's own stream (its own last packet padded with silence and
    // trimmed, its first chunk encoded after silence), the packets played one after the other.
    let naive = {
        let mut segments = Vec::new();
        for i in 0..3 {
            let stream = queue.item_stream(i).unwrap();
            for k in 0..stream.info().total_chunks {
                segments.push(stream.chunk_media_segment(k).unwrap().bytes.to_vec());
            }
        }
        decode_segments(&segments, 2)
    };
    assert_eq!(naive.len(), reference.len());
    let naive_excess =
        auralis_core::joins::worst_join_excess_db(&naive, &reference, 2, &track_joins);
    let interior: Vec<usize> = all_joins
        .iter()
        .copied()
        .filter(|j| !track_joins.contains(j))
        .collect();
    let interior_excess =
        auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &interior);
    let shifts = shifts_at(&heard, &reference, &track_joins);
    // Against one continuous encode of the same audio (what the music itself costs the codec
    // at those places: a join of two tracks is a discontinuity of the signal).
    let baseline = continuous_encode(&reference);
    let over = |heard: &[f32]| {
        auralis_core::joins::worst_join_excess_over_baseline_db(
            heard,
            &baseline,
            &reference,
            2,
            &track_joins,
        )
    };
    let (ours_over, naive_over) = (over(&heard), over(&naive));
    println!(
        "  track joins against a continuous encode: {ours_over:.2} dB (the naive way {naive_over:.2} dB)"
    );
    println!(
        "  chunk joins inside tracks {interior_excess:.2} dB; track joins {track_excess:.2} dB          (the naive way {naive_excess:.2} dB); shift before/after each track join {shifts:?}"
    );
    assert!(overall < -18.0, "{overall}");
    assert!(interior_excess <= 3.0, "{interior_excess}");
    assert!(shifts.iter().all(|&s| s == 0), "{shifts:?}");
    // Track joins: better than the naive way, and within 6 dB of the median window (the one
    // place where two packet grids meet, see the queue module's docs).
    assert!(
        track_excess < naive_excess - 3.0,
        "{track_excess} vs {naive_excess}"
    );
    assert!(track_excess <= 6.0, "{track_excess}");
    // Where the tracks meet, the audio is each track's own: the reference's frames before a
    // join are the end of the previous track, those after it the start of the next.
    for (i, p) in places.iter().enumerate().skip(1) {
        let own = queue.item_stream(i).unwrap().chunk_pcm(0).unwrap();
        let at = p.start_frame as usize * 2;
        let d = common::max_abs_diff(&reference[at..at + 9600], &own[..9600]);
        assert!(
            d < 1e-3,
            "track {i}'s start differs from its own render by {d}"
        );
    }
}

#[test]
fn chunks_inside_tracks_are_the_tracks_own_packets_and_cost_no_work() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let engine = memory_engine();
    let s = settings(Preset::Adaptive);
    // Every track played on its own first: all its chunks in the cache.
    let mut own = Vec::new();
    for p in &paths {
        let stream = engine.open(p, s).unwrap();
        let segments: Vec<Vec<u8>> = (0..stream.info().total_chunks)
            .map(|k| stream.chunk_media_segment(k).unwrap().bytes.to_vec())
            .collect();
        own.push(segments);
    }
    let before = engine.stats().cache.computed;
    let queue = Queue::open(
        &engine,
        &items(&paths),
        &[Join::Gapless, Join::Gapless],
        s,
        GainMode::Track,
    )
    .unwrap();
    let mut boundary = 0;
    for c in queue.chunks() {
        let served = queue.chunk_media_segment(c.index).unwrap();
        let packets = auralis_core::format::webm::reader::media_segment_packets(&served.bytes)
            .unwrap()
            .packets;
        let track = auralis_core::format::webm::reader::media_segment_packets(
            &own[c.item][c.item_chunk as usize],
        )
        .unwrap();
        if c.boundary {
            boundary += 1;
        } else {
            assert_eq!(packets, track.packets, "chunk {}: other packets", c.index);
            assert_ne!(served.origin, auralis_core::Origin::Computed);
        }
    }
    let computed = engine.stats().cache.computed - before;
    println!(
        "{} queue chunks, {boundary} boundary: the queue computed {computed} cache entries",
        queue.total_chunks()
    );
    assert!(
        boundary >= 4,
        "each of the two joins has a chunk on each side"
    );
    assert_eq!(computed, boundary, "only the boundary chunks were rendered");
    // Asked again: nothing is computed.
    for c in queue.chunks() {
        queue.chunk_media_segment(c.index).unwrap();
    }
    assert_eq!(engine.stats().cache.computed - before, boundary);
}

#[test]
fn boundary_chunks_are_the_same_bytes_in_any_order_and_on_any_engine() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let s = settings(Preset::Adaptive);
    let joins = [Join::Crossfade { seconds: 2.5 }, Join::Gapless];
    let open =
        || Queue::open(&memory_engine(), &items(&paths), &joins, s, GainMode::Track).unwrap();
    let (a, b) = (open(), open());
    let n = a.total_chunks();
    let forward: Vec<_> = (0..n)
        .map(|k| a.chunk_media_segment(k).unwrap().bytes)
        .collect();
    let backward: Vec<_> = (0..n)
        .rev()
        .map(|k| b.chunk_media_segment(k).unwrap().bytes)
        .collect();
    for k in 0..n as usize {
        assert_eq!(forward[k], backward[n as usize - 1 - k], "chunk {k}");
    }
}

/// A stationary "song" at `level` (peak, linear): noise shaped like music's spectrum, so
/// that its momentary loudness is steady and a dip or bump in a crossfade shows.
fn steady_track(dir: &Path, name: &str, seconds: f64, level: f64, seed: u64) -> PathBuf {
    let frames = (44_100.0 * seconds) as usize;
    let pcm: Vec<f64> = common::music_like(44_100, 2, frames, seed)
        .iter()
        .map(|x| x * level)
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, wav_int(44_100, 2, 16, &quantize(&pcm, 16))).unwrap();
    path
}

fn momentary(samples: &[f32], frame: usize) -> f64 {
    let (from, to) = (
        frame.saturating_sub(9_600),
        (frame + 9_600).min(samples.len() / 2),
    );
    let mut meter = ebur128::EbuR128::new(2, 48_000, ebur128::Mode::M).unwrap();
    meter.add_frames_f32(&samples[from * 2..to * 2]).unwrap();
    meter.loudness_momentary().unwrap()
}

fn integrated(samples: &[f32]) -> f64 {
    let mut meter = ebur128::EbuR128::new(2, 48_000, ebur128::Mode::I).unwrap();
    meter.add_frames_f32(samples).unwrap();
    meter.loudness_global().unwrap()
}

#[test]
fn a_six_second_crossfade_between_a_quiet_and_a_loud_track_holds_its_loudness_and_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 20.0, 0.12, 7);
    let loud = steady_track(dir.path(), "loud.wav", 20.0, 0.9, 8);
    let source_difference = {
        let q = auralis_core::Source::open(&quiet).unwrap();
        let l = auralis_core::Source::open(&loud).unwrap();
        let r = |s: auralis_core::Source| {
            let r = auralis_core::Renderer::new(s);
            let mut reader = r.source().reader().unwrap();
            r.render_range(&mut reader, 0, r.frames()).unwrap()
        };
        integrated(&r(l)) - integrated(&r(q))
    };
    let engine = memory_engine();
    let queue = Queue::open(
        &engine,
        &items(&[quiet, loud]),
        &[Join::Crossfade { seconds: 6.0 }],
        settings(Preset::Adaptive),
        GainMode::Track,
    )
    .unwrap();
    let places = queue.places();
    assert_eq!(places[1].fade_in_frames, 288_000);
    assert_eq!(
        queue.frames(),
        places[0].frames + places[1].frames - 288_000
    );
    let mix = queue.pcm(0, queue.frames() as i64).unwrap();
    let (fade_start, fade_end) = (
        places[1].start_frame as usize,
        (places[1].start_frame + places[1].fade_in_frames) as usize,
    );
    // The level before and after the fade (2 s windows away from it), then every 100 ms in it.
    let before = momentary(&mix, fade_start - 48_000);
    let after = momentary(&mix, fade_end + 48_000);
    let through: Vec<f64> = (fade_start..=fade_end)
        .step_by(4_800)
        .map(|f| momentary(&mix, f))
        .collect();
    let worst = through
        .iter()
        .map(|&l| (l - before).abs().max((l - after).abs()))
        .fold(0.0, f64::max);
    let peak = auralis_core::analysis::true_peak_oversampled_dbtp(&mix, 2, 48_000, 4);
    let ceiling = queue.item_stream(0).unwrap().mastering().ceiling_dbtp;
    println!(
        "crossfade 6 s, sources {source_difference:.1} LU apart: before {before:.2} LUFS, after \
         {after:.2} LUFS, worst momentary in the fade {worst:.2} LU from either; true peak \
         {peak:.2} dBTP (ceiling {ceiling:.2})"
    );
    assert!(source_difference > 10.0, "{source_difference}");
    assert!(worst <= 1.5, "{through:?}");
    assert!(peak <= ceiling + 0.1, "{peak} dBTP");
}

#[test]
fn album_gain_keeps_the_loudness_difference_of_an_albums_tracks_and_track_gain_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 12.0, 0.2, 11);
    let loud = steady_track(dir.path(), "loud.wav", 12.0, 0.6, 12);
    let sources: Vec<f64> = [&quiet, &loud]
        .iter()
        .map(|p| {
            let r = auralis_core::Renderer::new(auralis_core::Source::open(p).unwrap());
            let mut reader = r.source().reader().unwrap();
            integrated(&r.render_range(&mut reader, 0, r.frames()).unwrap())
        })
        .collect();
    let source_difference = sources[1] - sources[0];
    let measure = |mode: GainMode| {
        let items: Vec<QueueItem> = [&quiet, &loud]
            .iter()
            .map(|p| QueueItem {
                path: (*p).clone(),
                mastering: MasteringSettings::new(Preset::Gentle, 1.0),
                album: Some("one album".into()),
            })
            .collect();
        let queue = Queue::open(
            &memory_engine(),
            &items,
            &[Join::Gapless],
            settings(Preset::Gentle),
            mode,
        )
        .unwrap();
        let p = queue.places();
        let level = |i: usize| {
            let a = p[i].start_frame as i64;
            integrated(&queue.pcm(a, a + p[i].frames as i64).unwrap())
        };
        (level(1) - level(0), p[0].gain_db, p[1].gain_db)
    };
    let (album, ag0, ag1) = measure(GainMode::Album);
    let (track, tg0, tg1) = measure(GainMode::Track);
    println!(
        "sources {source_difference:.2} LU apart; album mode {album:.2} LU (gains {ag0:.2}, \
         {ag1:.2} dB); track mode {track:.2} LU (gains {tg0:.2}, {tg1:.2} dB)"
    );
    assert!(source_difference > 8.0);
    assert_eq!(ag0, ag1, "one album, one gain");
    assert!(
        (album - source_difference).abs() <= 0.5,
        "album mode: {album}"
    );
    assert!(track.abs() <= 1.0, "track mode: {track}");
}

#[test]
fn bad_queues_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let engine = memory_engine();
    let s = settings(Preset::Adaptive);
    let kind = |r: Result<Queue, auralis_core::Error>| r.unwrap_err().kind();
    use auralis_core::ErrorKind;
    assert_eq!(
        kind(Queue::open(&engine, &[], &[], s, GainMode::Track)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(Queue::open(
            &engine,
            &items(&paths),
            &[Join::Gapless],
            s,
            GainMode::Track
        )),
        ErrorKind::InvalidArgument
    );
    for seconds in [-1.0, 12.5, f64::NAN] {
        assert_eq!(
            kind(Queue::open(
                &engine,
                &items(&paths[..2]),
                &[Join::Crossfade { seconds }],
                s,
                GainMode::Track
            )),
            ErrorKind::InvalidArgument
        );
    }
    let mp4 = mp4_settings();
    // An MP4 queue is continuous: asking it to share the tracks' chunks is refused.
    assert_eq!(
        kind(Queue::open_with_layout(
            &engine,
            &items(&paths[..1]),
            &[],
            mp4,
            GainMode::Track,
            auralis_core::QueueLayout::Shared,
        )),
        ErrorKind::InvalidArgument
    );
    let missing = vec![paths[0].clone(), dir.path().join("missing.flac")];
    let e = Queue::open(
        &engine,
        &items(&missing),
        &[Join::Gapless],
        s,
        GainMode::Track,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("missing.flac"), "{e}");
    let queue = Queue::open(&engine, &items(&paths[..1]), &[], s, GainMode::Track).unwrap();
    assert_eq!(
        queue
            .chunk_media_segment(queue.total_chunks())
            .unwrap_err()
            .kind(),
        ErrorKind::IndexOutOfRange
    );
}

/// `ffmpeg -i WAV -metadata ... OUT`: `wav` re-encoded with tags.
fn tagged(wav: &Path, out: &Path, tags: &[(&str, &str)]) {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-i"]).arg(wav);
    for (k, v) in tags {
        cmd.args(["-metadata", &format!("{k}={v}")]);
    }
    let status = cmd.arg(out).status().unwrap();
    assert!(status.success(), "ffmpeg tagging {}", out.display());
}

#[test]
fn tags_are_read_from_flac_mp3_and_m4a_and_album_gain_takes_the_album_from_them() {
    if !common::required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 8.0, 0.15, 21);
    let loud = steady_track(dir.path(), "loud.wav", 8.0, 0.6, 22);
    let album = [("album", "Quiet and Loud"), ("album_artist", "The Band")];
    let mut files = Vec::new();
    for (wav, ext, title, track) in [
        (&quiet, "flac", "Hush", "1"),
        (&loud, "mp3", "Roar", "2"),
        (&quiet, "m4a", "Hush Again", "3"),
    ] {
        let out = dir.path().join(format!("{title}.{ext}"));
        let mut tags = vec![
            ("title", title),
            ("artist", "Someone"),
            ("track", track),
            ("disc", "1"),
        ];
        tags.extend_from_slice(&album);
        tagged(wav, &out, &tags);
        let t = auralis_core::Source::open(&out).unwrap().tags().clone();
        assert_eq!(t.title.as_deref(), Some(title), "{ext}: {t:?}");
        assert_eq!(t.artist.as_deref(), Some("Someone"), "{ext}: {t:?}");
        assert_eq!(t.album.as_deref(), Some("Quiet and Loud"), "{ext}: {t:?}");
        assert_eq!(t.track, Some(track.parse().unwrap()), "{ext}: {t:?}");
        println!("{ext}: {t:?}");
        files.push(out);
    }
    // One album by its tags, one file of another: album gain shares the first two's gain only.
    let other = dir.path().join("other.flac");
    tagged(&loud, &other, &[("album", "Elsewhere")]);
    let queue = Queue::open(
        &memory_engine(),
        &items(&[files[0].clone(), files[1].clone(), other]),
        &[Join::Gapless, Join::Gapless],
        settings(Preset::Gentle),
        GainMode::Album,
    )
    .unwrap();
    let gains: Vec<f64> = queue.places().iter().map(|p| p.gain_db).collect();
    println!("album gain from tags: {gains:?}");
    assert_eq!(gains[0], gains[1]);
    assert_ne!(gains[1], gains[2]);
}

#[test]
fn an_edited_queue_keeps_the_chunks_before_the_edit_and_renders_only_those_after() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let d = track(dir.path(), "d.wav", 8.765, 4);
    let engine = memory_engine();
    let s = settings(Preset::Adaptive);
    let open = |list: &[PathBuf]| {
        let joins = vec![Join::Gapless; list.len() - 1];
        Queue::open(&engine, &items(list), &joins, s, GainMode::Track).unwrap()
    };
    let before = open(&paths);
    let segments: Vec<_> = (0..before.total_chunks())
        .map(|k| before.chunk_media_segment(k).unwrap().bytes)
        .collect();
    for (label, edited) in [
        (
            "append",
            vec![
                paths[0].clone(),
                paths[1].clone(),
                paths[2].clone(),
                d.clone(),
            ],
        ),
        (
            "replace the last",
            vec![paths[0].clone(), paths[1].clone(), d.clone()],
        ),
        (
            "reorder after the first",
            vec![paths[0].clone(), paths[2].clone(), paths[1].clone()],
        ),
        ("remove the last", vec![paths[0].clone(), paths[1].clone()]),
    ] {
        let after = open(&edited);
        let kept = before.unchanged_chunks(&after);
        // The first item that differs is `e`: every chunk before the last chunk of item e - 1
        // (whose look-ahead is item e's head) is kept, none after.
        let e = (0..edited.len().min(3))
            .find(|&i| edited[i] != paths[i])
            .unwrap_or(edited.len().min(3));
        let expected = after.places()[e - 1].first_chunk
            + before.chunks().iter().filter(|c| c.item == e - 1).count() as u64
            - 1;
        println!("{label}: {kept} of {} chunks kept", before.total_chunks());
        assert_eq!(kept, expected, "{label}");
        let computed = engine.stats().cache.computed;
        for k in 0..kept {
            assert_eq!(
                after.chunk_media_segment(k).unwrap().bytes,
                segments[k as usize],
                "{label}: chunk {k}"
            );
        }
        assert_eq!(
            engine.stats().cache.computed,
            computed,
            "{label}: the kept chunks computed nothing"
        );
        if kept < after.total_chunks().min(before.total_chunks()) {
            assert_ne!(
                after.chunk_media_segment(kept).unwrap().bytes,
                segments[kept as usize],
                "{label}: the first chunk after the kept ones changes"
            );
        }
    }
}

/// The continuous layout (MP4's, and WebM's for Firefox): one chunk grid and one packet grid
/// over the whole queue, so a player that trims nothing but the stream's end plays it gapless.
#[test]
fn a_continuous_queue_is_one_grid_any_player_decodes_without_trimming_in_both_containers() {
    use auralis_core::format::mp4::reader::{contiguous_packets, parse_init};
    use auralis_core::QueueLayout;
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let joins = [Join::Gapless, Join::Crossfade { seconds: 2.5 }];
    let mp4 = mp4_settings();
    let engine = memory_engine();
    let queue = Queue::open(&engine, &items(&paths), &joins, mp4, GainMode::Track).unwrap();
    assert_eq!(queue.layout(), QueueLayout::Continuous);
    assert_eq!(queue.mime(), "audio/mp4; codecs=\"opus\"");
    let movie = parse_init(&queue.init_segment()).unwrap();
    assert_eq!(movie.fragment_duration, Some(queue.frames()));
    assert_eq!(movie.edit, (queue.frames(), 0));
    // The chunks: the track plan of a track as long as the queue.
    let plan = auralis_core::ChunkPlan::new(queue.frames(), common::streams::CHUNK_S).unwrap();
    assert_eq!(queue.total_chunks(), plan.total_chunks());
    for (c, p) in queue.chunks().iter().zip(plan.chunks()) {
        assert_eq!((c.start_frame, c.frames), (p.start_frame, p.frames));
        assert!(c.boundary);
    }
    // Every fragment follows the previous one: tfdt = the queue frame, 960 frames per packet
    // but the queue's last.
    let mut packets = Vec::new();
    let mut next = 0u64;
    let segments: Vec<_> = (0..queue.total_chunks())
        .map(|k| queue.chunk_media_segment(k).unwrap().bytes)
        .collect();
    for (c, segment) in queue.chunks().iter().zip(&segments) {
        let (first, frames, p) = contiguous_packets(segment).unwrap();
        assert_eq!((first, frames), (next, c.frames), "chunk {}", c.index);
        next += frames;
        packets.extend(p);
    }
    assert_eq!(next, queue.frames());
    // Decoded by one decoder with nothing trimmed: the queue's audio, every join (track joins
    // included) as good as the median window.
    let mut heard = common::decode_opus_packets(&packets, 2);
    heard.truncate(queue.frames() as usize * 2);
    let reference = queue.pcm(0, queue.frames() as i64).unwrap();
    assert_eq!(heard.len(), reference.len());
    let overall = auralis_core::joins::nsr_db(&heard, &reference, 2, 0, heard.len() / 2).unwrap();
    let all_joins = joins_of(&queue);
    let excess = auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &all_joins);
    let places = queue.places();
    let track_joins: Vec<usize> = places[1..].iter().map(|p| p.start_frame as usize).collect();
    let shifts = shifts_at(&heard, &reference, &track_joins);
    println!(
        "continuous MP4 queue: error {overall:.1} dB re signal; worst join {excess:.2} dB above \
         the median window; shifts at the track joins {shifts:?}"
    );
    assert!(overall < -18.0, "{overall}");
    assert!(excess <= 3.0, "{excess}");
    assert!(shifts.iter().all(|&s| s == 0), "{shifts:?}");
    // Pure functions of the queue: the same bytes backwards on a fresh engine with one render
    // thread.
    let single = auralis_core::Engine::new(&auralis_core::EngineConfig {
        prefetch_workers: 0,
        render_threads: 1,
        ..auralis_core::EngineConfig::default()
    });
    let again = Queue::open(&single, &items(&paths), &joins, mp4, GainMode::Track).unwrap();
    for k in (0..again.total_chunks()).rev() {
        assert_eq!(
            again.chunk_media_segment(k).unwrap().bytes,
            segments[k as usize],
            "chunk {k}"
        );
    }
    // The same queue in WebM, continuous: the same packets, timestamps on the exact 20 ms grid,
    // one DiscardPadding (the queue's end).
    let webm = settings(Preset::Adaptive);
    let w = Queue::open_with_layout(
        &engine,
        &items(&paths),
        &joins,
        webm,
        GainMode::Track,
        QueueLayout::Continuous,
    )
    .unwrap();
    let mut webm_packets = Vec::new();
    let mut paddings = 0;
    for k in 0..w.total_chunks() {
        let segment = w.chunk_media_segment(k).unwrap().bytes;
        for b in auralis_core::format::webm::reader::parse_clusters(&segment).unwrap() {
            assert_eq!(
                b.timestamp_ms * 48,
                webm_packets.len() as i64 * 960,
                "packet {}",
                webm_packets.len()
            );
            paddings += usize::from(b.discard_padding_ns.is_some());
            webm_packets.push(b.data);
        }
    }
    assert_eq!(webm_packets, packets);
    assert_eq!(paddings, 1);
    assert_eq!(decode_queue(&w), heard);
    // An MP4 queue cannot share the tracks' chunks.
    let e = Queue::open_with_layout(
        &engine,
        &items(&paths),
        &joins,
        mp4,
        GainMode::Track,
        QueueLayout::Shared,
    )
    .unwrap_err();
    assert_eq!(e.kind(), auralis_core::ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("layout"), "{e}");
    // An edit keeps the chunks whose input ends before it, byte for byte.
    let d = track(dir.path(), "d.wav", 8.765, 4);
    let mut longer = items(&paths);
    longer.push(QueueItem::new(d));
    let appended = Queue::open(
        &engine,
        &longer,
        &[joins[0], joins[1], Join::Gapless],
        mp4,
        GainMode::Track,
    )
    .unwrap();
    let kept = queue.unchanged_chunks(&appended);
    let end = queue.frames();
    let expected = queue
        .chunks()
        .iter()
        .filter(|c| {
            let packets = auralis_core::opus::packet_count(c.frames) as u64;
            c.start_frame + packets * 960 + auralis_core::opus::LOOKAHEAD_FRAMES as u64 <= end
        })
        .count() as u64;
    println!(
        "append to a continuous queue: {kept} of {} chunks kept",
        queue.total_chunks()
    );
    assert_eq!(kept, expected);
    for k in 0..kept {
        assert_eq!(
            appended.chunk_media_segment(k).unwrap().bytes,
            segments[k as usize]
        );
    }
    assert_ne!(
        appended.chunk_media_segment(kept).unwrap().bytes,
        segments[kept as usize]
    );
}

/// An A/B switch (the same queue with preset `none`) at a chunk boundary: the transition chunk
/// starts as the old queue's audio and crossfades to the new one's over the settings' fade, so
/// the joins around it are as good as any, in both layouts.
#[test]
fn a_b_switches_in_a_queue_crossfade_at_the_chunk_boundary_in_both_layouts() {
    use auralis_core::QueueLayout;
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let engine = memory_engine();
    let s = settings(Preset::Adaptive);
    let fade = (s.fade_ms * 48.0).round() as usize;
    let joins = [Join::Gapless, Join::Gapless];
    let plain: Vec<QueueItem> = paths
        .iter()
        .map(|p| QueueItem {
            mastering: MasteringSettings::new(Preset::None, 1.0),
            ..QueueItem::new(p.clone())
        })
        .collect();
    for layout in [QueueLayout::Shared, QueueLayout::Continuous] {
        let open = |items: &[QueueItem], engine: &auralis_core::Engine| {
            Queue::open_with_layout(engine, items, &joins, s, GainMode::Track, layout).unwrap()
        };
        let a = open(&items(&paths), &engine);
        let b = open(&plain, &engine);
        // Inside the second track, away from its joins.
        let k = a.places()[1].first_chunk + 1;
        let at = a.chunk(k).unwrap().start_frame as i64;
        let n = a.total_chunks();
        let segment = |q: &Queue, i: u64| q.chunk_media_segment(i).unwrap().bytes.to_vec();
        let transition = b.transition_media_segment(k, &a).unwrap().bytes.to_vec();
        let mut segments: Vec<Vec<u8>> = (0..k).map(|i| segment(&a, i)).collect();
        segments.push(transition.clone());
        segments.extend((k + 1..n).map(|i| segment(&b, i)));
        let heard = decode_segments(&segments, 2);
        // What should be heard: A's audio, the fade, B's audio.
        let end = a.frames() as i64;
        let (old, new) = (a.pcm(0, end).unwrap(), b.pcm(0, end).unwrap());
        let mut reference = new.clone();
        for x in 0..(at as usize + fade) {
            let (g_old, g_new) = if (x as i64) < at {
                (1.0, 0.0)
            } else {
                s.fade_curve.gains((x as i64 - at) as f64 / fade as f64)
            };
            for c in 0..2 {
                let i = x * 2 + c;
                reference[i] = (f64::from(old[i]) * g_old + f64::from(new[i]) * g_new) as f32;
            }
        }
        assert_eq!(heard.len(), reference.len());
        let switch = at as usize;
        let excess = auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &[switch]);
        // The transition chunk begins as A (the first 10 ms) and ends as B.
        let nsr = |r: &[f32], from: usize, len: usize| {
            auralis_core::joins::nsr_db(&heard, r, 2, from, from + len).unwrap()
        };
        let (start_a, start_b) = (nsr(&old, switch, 480), nsr(&new, switch, 480));
        let after = switch + fade + 4_800;
        let (end_a, end_b) = (nsr(&old, after, 9_600), nsr(&new, after, 9_600));
        println!(
            "A/B switch ({layout:?}): join {excess:.2} dB above the median window; its first \
             10 ms {start_a:.1} dB against A, {start_b:.1} dB against B; after the fade \
             {end_a:.1} dB against A, {end_b:.1} dB against B"
        );
        // The fade is a change of the music (a level ramp between two masterings), which costs
        // any encoder: the switch is held to one continuous encode of the same audio.
        let baseline = continuous_encode(&reference);
        let over = auralis_core::joins::worst_join_excess_over_baseline_db(
            &heard,
            &baseline,
            &reference,
            2,
            &[switch],
        );
        println!("  the switch against a continuous encode of the same audio: {over:.2} dB");
        assert!(over <= 3.0, "{over}");
        assert!(start_a < start_b - 6.0 && end_b < end_a - 6.0);
        // Pure: the same bytes from another engine; the plain chunk from a queue itself.
        let other = memory_engine();
        let again = open(&plain, &other).transition_media_segment(k, &open(&items(&paths), &other));
        assert_eq!(again.unwrap().bytes.to_vec(), transition);
        assert_eq!(
            a.transition_media_segment(k, &a).unwrap().bytes.to_vec(),
            segment(&a, k)
        );
        // Another timeline is refused.
        let crossfaded = Queue::open_with_layout(
            &engine,
            &plain,
            &[Join::Crossfade { seconds: 1.0 }, Join::Gapless],
            s,
            GainMode::Track,
            layout,
        )
        .unwrap();
        let e = crossfaded.transition_media_segment(k, &a).unwrap_err();
        assert_eq!(e.kind(), auralis_core::ErrorKind::InvalidArgument);
    }
}

/// A mono track between two stereo ones: the queue is stereo, the mono track plays on both
/// channels (as a browser plays a mono stream), and its joins are as good as a stereo track's.
#[test]
fn a_mono_track_in_a_stereo_queue_plays_on_both_channels_gaplessly() {
    let dir = tempfile::tempdir().unwrap();
    let mono = dir.path().join("mono.wav");
    let frames = (44_100.0 * 9.8765) as usize;
    let pcm = common::music_like(44_100, 1, frames, 7);
    std::fs::write(&mono, wav_int(44_100, 1, 16, &quantize(&pcm, 16))).unwrap();
    let paths = vec![
        track(dir.path(), "a.wav", 12.3456, 1),
        mono,
        track(dir.path(), "c.wav", 11.1111, 3),
    ];
    let engine = memory_engine();
    let s = settings(Preset::Adaptive);
    let joins = [Join::Gapless, Join::Gapless];
    let queue = Queue::open(&engine, &items(&paths), &joins, s, GainMode::Track).unwrap();
    assert_eq!(queue.channels(), 2);
    let own = queue.item_stream(1).unwrap();
    assert_eq!(own.info().channels, 1);
    let places = queue.places();
    // Every chunk of the mono track is rendered from the queue's audio (its own are mono).
    assert!(queue
        .chunks()
        .iter()
        .filter(|c| c.item == 1)
        .all(|c| c.boundary));
    let heard = decode_queue(&queue);
    let reference = queue.pcm(0, queue.frames() as i64).unwrap();
    assert_eq!(heard.len(), reference.len());
    // The mono track: both channels its own mastered audio.
    let (from, n) = (places[1].start_frame as usize, places[1].frames as usize);
    let own_pcm = own.chunk_pcm(0).unwrap();
    for x in 0..own_pcm.len().min(n) {
        assert_eq!(reference[(from + x) * 2], reference[(from + x) * 2 + 1]);
    }
    let d = (0..9_600)
        .map(|x| (reference[(from + x) * 2] - own_pcm[x]).abs())
        .fold(0.0f32, f32::max);
    assert!(
        d < 1e-3,
        "the mono track's start differs from its own render by {d}"
    );
    let overall = auralis_core::joins::nsr_db(&heard, &reference, 2, 0, heard.len() / 2).unwrap();
    let track_joins: Vec<usize> = places[1..].iter().map(|p| p.start_frame as usize).collect();
    let interior: Vec<usize> = joins_of(&queue)
        .into_iter()
        .filter(|j| !track_joins.contains(j))
        .collect();
    let interior_excess =
        auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &interior);
    let track_excess =
        auralis_core::joins::worst_join_excess_db(&heard, &reference, 2, &track_joins);
    let shifts = shifts_at(&heard, &reference, &track_joins);
    println!(
        "stereo, mono, stereo: error {overall:.1} dB re signal; chunk joins {interior_excess:.2} dB, \
         track joins {track_excess:.2} dB above the median window; shifts {shifts:?}"
    );
    assert!(overall < -18.0, "{overall}");
    assert!(interior_excess <= 3.0, "{interior_excess}");
    assert!(track_excess <= 6.0, "{track_excess}");
    assert!(shifts.iter().all(|&s| s == 0), "{shifts:?}");
}

/// What the mastering did, measured (the player's "before → after"): the output analysis of
/// each item matches the loudness of its mastered audio measured whole (ebur128), in track and
/// album mode, and stays under the ceiling.
#[test]
fn item_output_analysis_measures_the_mastered_audio() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = steady_track(dir.path(), "quiet.wav", 20.0, 0.12, 7);
    let loud = steady_track(dir.path(), "loud.wav", 20.0, 0.9, 8);
    let engine = memory_engine();
    let list: Vec<QueueItem> = [quiet, loud]
        .into_iter()
        .map(|p| QueueItem {
            album: Some("one".into()),
            ..QueueItem::new(p)
        })
        .collect();
    for gain in [GainMode::Track, GainMode::Album] {
        let s = settings(Preset::Adaptive);
        let queue = Queue::open(&engine, &list, &[Join::Gapless], s, gain).unwrap();
        for (i, p) in queue.places().iter().enumerate() {
            let after = queue.item_output_analysis(i).unwrap();
            let before = queue.item_stream(i).unwrap().analysis().clone();
            let whole = queue
                .pcm(p.start_frame as i64, (p.start_frame + p.frames) as i64)
                .unwrap();
            let measured = integrated(&whole);
            println!(
                "{gain:?}, item {i}: before {:.2} LUFS, {:.2} dBTP; after {:.2} LUFS, {:.2} dBTP; \
                 the whole mastered item {measured:.2} LUFS",
                before.integrated_lufs,
                before.true_peak_dbtp,
                after.integrated_lufs,
                after.true_peak_dbtp
            );
            assert!((after.integrated_lufs - measured).abs() <= 0.5);
            let ceiling = queue.item_stream(i).unwrap().mastering().ceiling_dbtp;
            assert!(
                after.true_peak_dbtp <= ceiling + 0.2,
                "{}",
                after.true_peak_dbtp
            );
        }
    }
    let queue = Queue::open(
        &engine,
        &list,
        &[Join::Gapless],
        settings(Preset::Adaptive),
        GainMode::Track,
    )
    .unwrap();
    let e = queue.item_output_analysis(2).unwrap_err();
    assert_eq!(e.kind(), auralis_core::ErrorKind::InvalidArgument);
}

/// Progressive output: a queue chunk's units (Clusters, fragments) joined are its media
/// segment, whether rendered as they are read, taken from the track's own clusters or from the
/// cache; a reader that stops early caches nothing.
#[test]
fn queue_chunks_unit_by_unit_join_to_their_media_segments_in_every_layout() {
    use auralis_core::cache::Origin;
    use auralis_core::QueueLayout;
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let joins = [Join::Gapless, Join::Crossfade { seconds: 2.5 }];
    let mp4 = mp4_settings();
    let webm = settings(Preset::Adaptive);
    let plain: Vec<QueueItem> = paths
        .iter()
        .map(|p| QueueItem {
            mastering: MasteringSettings::new(Preset::None, 1.0),
            ..QueueItem::new(p.clone())
        })
        .collect();
    for (label, s, layout) in [
        ("shared WebM", webm, QueueLayout::Shared),
        ("continuous WebM", webm, QueueLayout::Continuous),
        ("continuous MP4", mp4, QueueLayout::Continuous),
    ] {
        let open = |items: &[QueueItem], engine: &auralis_core::Engine| {
            Queue::open_with_layout(engine, items, &joins, s, GainMode::Track, layout).unwrap()
        };
        let reference = memory_engine();
        let want = open(&items(&paths), &reference);
        let engine = memory_engine();
        let queue = open(&items(&paths), &engine);
        for k in 0..queue.total_chunks() {
            let expected = want.chunk_media_segment(k).unwrap().bytes.to_vec();
            // A reader that stops after one unit leaves nothing cached.
            let mut first = queue.chunk_clusters(k, None).unwrap();
            assert_eq!(first.origin(), Origin::Computed, "{label} {k}");
            let unit = first.next().unwrap().unwrap();
            assert!(expected.starts_with(&unit), "{label} chunk {k}: first unit");
            drop(first);
            let clusters = queue.chunk_clusters(k, None).unwrap();
            assert_eq!(clusters.origin(), Origin::Computed, "{label} {k}");
            let joined: Vec<u8> = clusters.flat_map(Result::unwrap).collect();
            assert_eq!(joined, expected, "{label} chunk {k}");
            // Now cached (or the track's own chunk is): the same units again.
            let again = queue.chunk_clusters(k, None).unwrap();
            assert_ne!(again.origin(), Origin::Computed, "{label} {k}");
            let joined: Vec<u8> = again.flat_map(Result::unwrap).collect();
            assert_eq!(joined, expected, "{label} chunk {k}");
        }
        // A transition, unit by unit.
        let none = open(&plain, &engine);
        let k = queue.places()[1].first_chunk + 1;
        let whole = none
            .transition_media_segment(k, &queue)
            .unwrap()
            .bytes
            .to_vec();
        let other = memory_engine();
        let units: Vec<u8> = open(&plain, &other)
            .chunk_clusters(k, Some(&open(&items(&paths), &other)))
            .unwrap()
            .flat_map(Result::unwrap)
            .collect();
        assert_eq!(units, whole, "{label}: transition");
        println!(
            "{label}: {} chunks unit by unit as whole",
            queue.total_chunks()
        );
    }
}
