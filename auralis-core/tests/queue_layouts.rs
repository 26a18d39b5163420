//! Queues' layouts and switches: the continuous grid in WebM and MP4 decoded without trimming,
//! A/B switches crossfading at a chunk boundary in both layouts, a mono item in a stereo queue.

mod common;

use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
use auralis_core::{MasteringSettings, Preset};
use common::queues::*;
use common::streams::{memory_engine, settings, track};
use common::{quantize, wav_int};

/// The continuous layout (MP4's, and WebM's for Firefox): one chunk grid and one packet grid
/// over the whole queue, so a player that trims nothing but the stream's end plays it gapless.
#[test]
fn a_continuous_queue_is_one_grid_any_player_decodes_without_trimming_in_both_containers() {
    use auralis_core::QueueLayout;
    use auralis_testkit::mp4::{contiguous_packets, parse_init};
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
    let overall =
        auralis_testkit::joins::nsr_db(&heard, &reference, 2, 0, heard.len() / 2).unwrap();
    let all_joins = joins_of(&queue);
    let excess = auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &all_joins);
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
        for b in auralis_testkit::webm::parse_clusters(&segment).unwrap() {
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
            let packets = auralis_core::units::packet_count(c.frames) as u64;
            c.start_frame + packets * 960 + auralis_core::units::LOOKAHEAD_FRAMES as u64 <= end
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
        let excess = auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &[switch]);
        // The transition chunk begins as A (the first 10 ms) and ends as B.
        let nsr = |r: &[f32], from: usize, len: usize| {
            auralis_testkit::joins::nsr_db(&heard, r, 2, from, from + len).unwrap()
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
        let over = auralis_testkit::joins::worst_join_excess_over_baseline_db(
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
    let overall =
        auralis_testkit::joins::nsr_db(&heard, &reference, 2, 0, heard.len() / 2).unwrap();
    let track_joins: Vec<usize> = places[1..].iter().map(|p| p.start_frame as usize).collect();
    let interior: Vec<usize> = joins_of(&queue)
        .into_iter()
        .filter(|j| !track_joins.contains(j))
        .collect();
    let interior_excess =
        auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &interior);
    let track_excess =
        auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &track_joins);
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
