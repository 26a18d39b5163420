//! A preset switch at the playhead: a segment from any 20 ms packet boundary inside a chunk to
//! the chunk's end, its audio faded from the old settings into the new at that frame, which a
//! player appends over what it buffered from there on.

mod common;

use auralis_core::cache::Origin;
use auralis_core::dsp::crossfade::{fade_into, Curve};
use auralis_core::units::PACKET_FRAMES;
use auralis_core::{Container, ErrorKind, Preset};
use auralis_testkit::joins::worst_join_excess_db;
use common::streams::{memory_engine, settings, track};
use common::*;
use rand::{Rng, SeedableRng};

/// The packets of a WebM media segment.
fn webm_packets(segment: &[u8]) -> Vec<Vec<u8>> {
    auralis_testkit::webm::media_segment_packets(segment)
        .unwrap()
        .packets
}

#[test]
fn a_switch_inside_a_chunk_is_heard_from_its_frame_as_a_chunk_join_is() {
    let dir = tempfile::tempdir().unwrap();
    // 23 s in 5 s chunks: five chunks, the last one short.
    let path = track(dir.path(), "t.wav", 23.0, 11);
    let engine = memory_engine();
    let (old, new) = (Preset::Warm, Preset::Bright);
    let old_stream = engine.open(&path, settings(old)).unwrap();
    let new_stream = old_stream.with_mastering(new).unwrap();
    let plan = *new_stream.plan();
    let ch = 2;
    let fade = 2_400;
    let old_pcm: Vec<Vec<f32>> = (0..plan.total_chunks())
        .map(|k| old_stream.chunk_pcm(k).unwrap())
        .collect();
    let new_pcm: Vec<Vec<f32>> = (0..plan.total_chunks())
        .map(|k| new_stream.chunk_pcm(k).unwrap())
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(37);
    let mut worst = f64::NEG_INFINITY;
    for _ in 0..10 {
        // A packet boundary inside a chunk, not its first frame.
        let packet = rng.gen_range(1..plan.frames() / PACKET_FRAMES as u64);
        let at = packet * PACKET_FRAMES as u64;
        let index = plan.chunk_at_frame(at).unwrap();
        let chunk = plan.chunk(index).unwrap();
        if at == chunk.start_frame {
            continue;
        }
        let tail = new_stream.transition_segment_at(at, old).unwrap();
        assert_eq!(tail.origin, Origin::Computed);
        let tail_packets = webm_packets(&tail.bytes);
        let into = (at - chunk.start_frame) as usize;
        assert_eq!(
            tail_packets.len(),
            (chunk.frames as usize - into).div_ceil(PACKET_FRAMES),
            "the segment runs from the switch to the chunk's end"
        );
        // What a listener hears: the old chunks up to the switch (the chunk holding it cut at
        // its frame, as `SourceBuffer.remove` cuts it), the switch, the new chunks after it,
        // through one decoder.
        let mut packets = Vec::new();
        let mut intended = Vec::new();
        for k in 0..index {
            packets.extend(webm_packets(
                &old_stream.chunk_media_segment(k).unwrap().bytes,
            ));
            intended.extend_from_slice(&old_pcm[k as usize]);
        }
        let cut = webm_packets(&old_stream.chunk_media_segment(index).unwrap().bytes);
        packets.extend(cut[..into / PACKET_FRAMES].iter().cloned());
        packets.extend(tail_packets);
        // The oracle: the old and the new chunk's own audio, faded at the switch's frame.
        let (old_k, new_k) = (&old_pcm[index as usize], &new_pcm[index as usize]);
        let mut mixed = new_k[into * ch..].to_vec();
        fade_into(
            &mut mixed,
            &old_k[into * ch..],
            ch,
            fade,
            Curve::RaisedCosine,
        );
        intended.extend_from_slice(&old_k[..into * ch]);
        intended.extend_from_slice(&mixed);
        for k in index + 1..plan.total_chunks() {
            packets.extend(webm_packets(
                &new_stream.chunk_media_segment(k).unwrap().bytes,
            ));
            intended.extend_from_slice(&new_pcm[k as usize]);
        }
        // No gap and no overlap: the packets cover the track exactly once.
        assert_eq!(
            packets.len(),
            (plan.frames() as usize).div_ceil(PACKET_FRAMES),
            "switch at {at}"
        );
        let mut heard = decode_opus_packets(&packets, ch);
        heard.truncate(intended.len());
        let joins: Vec<usize> = plan
            .chunks()
            .skip(1)
            .map(|c| c.start_frame as usize)
            .chain([at as usize])
            .filter(|&j| j + 4_800 < intended.len() / ch)
            .collect();
        let at_switch = worst_join_excess_db(&heard, &intended, ch, &[at as usize]);
        let any = worst_join_excess_db(&heard, &intended, ch, &joins);
        println!(
            "switch at {:.3} s (chunk {index}): {at_switch:.2} dB above the track's own error \
             around it; worst join {any:.2} dB",
            at as f64 / 48_000.0
        );
        worst = worst.max(at_switch);
        assert!(
            at_switch <= 3.0 && any <= 3.0,
            "switch at {at}: {at_switch:.2} dB"
        );
        // Cached under its own key: the second ask renders nothing.
        let again = new_stream.transition_segment_at(at, old).unwrap();
        assert_eq!(again.origin, Origin::Memory);
        assert_eq!(again.bytes, tail.bytes);
    }
    println!("worst switch: {worst:.2} dB");
}

#[test]
fn a_switch_at_the_playhead_is_the_same_bytes_whole_unit_by_unit_and_in_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 12.01, 5);
    let engine = memory_engine();
    let old = engine.open(&path, settings(Preset::Punchy)).unwrap();
    let at = 7 * 48_000 + 13 * PACKET_FRAMES as u64; // inside chunk 1 (5 s chunks)
                                                     // Asked of the stream that plays: the new stream and the segment's units, as they are made.
    let (new, units) = old.switch_clusters_at(at, Preset::Gentle).unwrap();
    assert_eq!(units.origin(), Origin::Computed);
    let units: Vec<Vec<u8>> = units.map(Result::unwrap).collect();
    assert!(units.len() >= 2, "1 s units");
    let whole = new.transition_segment_at(at, Preset::Punchy).unwrap();
    assert_eq!(whole.origin, Origin::Memory, "cached by the units' last");
    assert_eq!(units.concat(), &whole.bytes[..]);
    let cached: Vec<Vec<u8>> = new
        .transition_clusters_at(at, Preset::Punchy)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cached.concat(), units.concat());
    // The same packets as MP4 fragments from the switch's frame.
    let mp4 = new.with_container(Container::Mp4).unwrap();
    let fragments = mp4.transition_segment_at(at, Preset::Punchy).unwrap();
    assert_eq!(
        fragments.origin,
        Origin::Memory,
        "one entry for both containers"
    );
    let (start, frames, packets) =
        auralis_testkit::mp4::contiguous_packets(&fragments.bytes).unwrap();
    let chunk = new.plan().chunk(1).unwrap();
    assert_eq!((start, frames), (at, chunk.start_frame + chunk.frames - at));
    assert_eq!(packets, webm_packets(&whole.bytes));
    // At a chunk's first frame, the whole transition chunk; without a change of settings, the
    // rest of the chunk as it is mastered now.
    let start_of_2 = new.plan().chunk(2).unwrap().start_frame;
    assert_eq!(
        new.transition_segment_at(start_of_2, Preset::Punchy)
            .unwrap()
            .bytes,
        new.transition_media_segment(2, Preset::Punchy)
            .unwrap()
            .bytes
    );
    let plain_tail = new.transition_segment_at(at, Preset::Gentle).unwrap();
    assert_ne!(plain_tail.bytes, whole.bytes);
    // The last chunk's tail signals the track's end as the chunk does.
    let last = new.plan().chunk(2).unwrap();
    let in_last = last.start_frame + 2 * PACKET_FRAMES as u64;
    let end = new.transition_segment_at(in_last, Preset::Punchy).unwrap();
    let parsed = auralis_testkit::webm::media_segment_packets(&end.bytes).unwrap();
    assert_eq!(
        parsed.padding_frames,
        auralis_core::units::padding_frames(last.frames)
    );
}

#[test]
fn a_switch_off_the_packet_grid_or_past_the_end_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 8.0, 6);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Warm)).unwrap();
    let frames = stream.plan().frames();
    let computed = engine.stats().cache.computed;
    for (at, kind) in [
        (PACKET_FRAMES as u64 * 3 + 1, ErrorKind::InvalidArgument),
        (frames, ErrorKind::IndexOutOfRange),
        (u64::MAX, ErrorKind::IndexOutOfRange),
    ] {
        let err = stream
            .transition_segment_at(at, Preset::Bright)
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{at}: {err}");
        assert!(stream.transition_clusters_at(at, Preset::Bright).is_err());
        assert!(stream.switch_clusters_at(at, Preset::Bright).is_err());
    }
    let off = stream
        .transition_segment_at(PACKET_FRAMES as u64 + 7, Preset::Bright)
        .unwrap_err();
    assert!(off.to_string().contains("20 ms packet grid"), "{off}");
    // A bad intensity is refused by the switch too.
    assert!(stream
        .switch_clusters_at(PACKET_FRAMES as u64, (Preset::Bright, 1.5))
        .is_err());
    assert_eq!(engine.stats().cache.computed, computed, "nothing rendered");
}

#[test]
fn an_ab_switch_inside_a_queue_chunk_is_heard_from_its_frame_in_both_layouts() {
    use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
    use auralis_core::{MasteringSettings, QueueLayout};
    let dir = tempfile::tempdir().unwrap();
    let paths = common::queues::three_tracks(dir.path());
    let engine = memory_engine();
    let joins = [Join::Gapless, Join::Crossfade { seconds: 2.5 }];
    let items = |preset: Preset| -> Vec<QueueItem> {
        paths
            .iter()
            .map(|p| QueueItem {
                mastering: MasteringSettings::new(preset, 1.0),
                ..QueueItem::new(p.clone())
            })
            .collect()
    };
    let ch = 2;
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for (layout, s) in [
        (QueueLayout::Shared, settings(Preset::Adaptive)),
        (QueueLayout::Continuous, settings(Preset::Adaptive)),
        (QueueLayout::Continuous, common::queues::mp4_settings()),
    ] {
        let open = |preset| {
            Queue::open_with_layout(&engine, &items(preset), &joins, s, GainMode::Track, layout)
                .unwrap()
        };
        // A: mastered; B: the original audio (the A/B button).
        let (a, b) = (open(Preset::Warm), open(Preset::None));
        let frames = a.frames();
        let (pcm_a, pcm_b) = (
            a.pcm(0, frames as i64).unwrap(),
            b.pcm(0, frames as i64).unwrap(),
        );
        for _ in 0..3 {
            // A frame on the packet grid of the chunk it falls in, not the chunk's first.
            let chunk = a.chunk(rng.gen_range(0..a.total_chunks())).unwrap();
            let grid = match layout {
                QueueLayout::Continuous => 0,
                QueueLayout::Shared => a.places()[chunk.item].start_frame,
            };
            let packets = chunk.frames / PACKET_FRAMES as u64;
            if packets < 2 {
                continue;
            }
            let at = chunk.start_frame + PACKET_FRAMES as u64 * rng.gen_range(1..packets)
                - (chunk.start_frame - grid) % PACKET_FRAMES as u64;
            let tail = b.transition_segment_at(at, &a).unwrap();
            let units: Vec<Vec<u8>> = b
                .transition_clusters_at(at, &a)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                units.concat(),
                &tail.bytes[..],
                "{layout:?}: units join to the segment"
            );
            if s.container == Container::Mp4 {
                let (start, n, _) = auralis_testkit::mp4::contiguous_packets(&tail.bytes).unwrap();
                assert_eq!((start, n), (at, chunk.start_frame + chunk.frames - at));
                continue;
            }
            // Heard: A's chunks up to `at` (the chunk holding it cut there), the switch, then
            // B's chunks, each block as the browser keeps it.
            // The switch's time in the chunk's blocks: 20 ms steps from the chunk's first block
            // (the shared layout's items start at any frame, their blocks at a whole ms).
            let first_ms = auralis_testkit::webm::parse_clusters(
                &a.chunk_media_segment(chunk.index).unwrap().bytes,
            )
            .unwrap()[0]
                .timestamp_ms;
            let cut_ms = first_ms + ((at - chunk.start_frame) / 48) as i64;
            let mut blocks = Vec::new();
            for k in 0..chunk.index {
                blocks.extend(
                    auralis_testkit::webm::parse_clusters(&a.chunk_media_segment(k).unwrap().bytes)
                        .unwrap(),
                );
            }
            blocks.extend(
                auralis_testkit::webm::parse_clusters(
                    &a.chunk_media_segment(chunk.index).unwrap().bytes,
                )
                .unwrap()
                .into_iter()
                .filter(|blk| blk.timestamp_ms < cut_ms),
            );
            blocks.extend(auralis_testkit::webm::parse_clusters(&tail.bytes).unwrap());
            for k in chunk.index + 1..b.total_chunks() {
                blocks.extend(
                    auralis_testkit::webm::parse_clusters(&b.chunk_media_segment(k).unwrap().bytes)
                        .unwrap(),
                );
            }
            let mut decoder = opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
            let mut heard = Vec::new();
            let mut buf = vec![0.0f32; 5760 * ch];
            for blk in &blocks {
                let n = decoder.decode_float(&blk.data, &mut buf, false).unwrap();
                heard.extend_from_slice(&buf[..blk.kept_frames(n) * ch]);
            }
            assert_eq!(
                heard.len(),
                frames as usize * ch,
                "{layout:?} at {at}: no gap, no overlap"
            );
            let end = (chunk.start_frame + chunk.frames) as usize;
            let mut intended = pcm_a[..at as usize * ch].to_vec();
            let mut mixed = pcm_b[at as usize * ch..end * ch].to_vec();
            fade_into(
                &mut mixed,
                &pcm_a[at as usize * ch..end * ch],
                ch,
                2_400,
                Curve::RaisedCosine,
            );
            intended.extend(mixed);
            intended.extend_from_slice(&pcm_b[end * ch..]);
            if at as usize + 4_800 >= frames as usize {
                continue;
            }
            let excess = worst_join_excess_db(&heard, &intended, ch, &[at as usize]);
            println!(
                "{layout:?}: A/B at {:.3} s: {excess:.2} dB",
                at as f64 / 48_000.0
            );
            assert!(excess <= 3.0, "{layout:?} at {at}: {excess:.2} dB");
        }
    }
}

#[test]
fn a_switch_between_track_and_album_gain_is_made_at_the_playhead_and_other_joins_are_refused() {
    // Album gain renders every chunk of an album's items from the queue's audio, track gain
    // plays the tracks' own chunks: the chunks' kind differs, their times do not, so the
    // switch is one on the same timeline (it was refused as "another timeline"). Other joins
    // are another timeline.
    use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
    use auralis_core::QueueLayout;
    let dir = tempfile::tempdir().unwrap();
    let paths = common::queues::three_tracks(dir.path());
    let engine = memory_engine();
    let items: Vec<QueueItem> = paths
        .iter()
        .map(|p| QueueItem {
            album: Some("one album".into()),
            ..QueueItem::new(p.clone())
        })
        .collect();
    let s = settings(Preset::Adaptive);
    let open = |joins: &[Join], gain| {
        Queue::open_with_layout(&engine, &items, joins, s, gain, QueueLayout::Shared).unwrap()
    };
    let gapless = [Join::Gapless, Join::Gapless];
    let (track, album) = (
        open(&gapless, GainMode::Track),
        open(&gapless, GainMode::Album),
    );
    let places = (track.places(), album.places());
    assert_ne!(
        places.0[0].gain_db, places.1[0].gain_db,
        "album gain changes a gain"
    );
    let chunk = track.chunk(1).unwrap();
    assert!(!chunk.boundary && album.chunk(1).unwrap().boundary);
    let at = chunk.start_frame + 10 * PACKET_FRAMES as u64;
    let tail = album.transition_segment_at(at, &track).unwrap();
    let packets = webm_packets(&tail.bytes);
    let expected = (chunk.start_frame + chunk.frames - at).div_ceil(PACKET_FRAMES as u64);
    assert_eq!(
        packets.len() as u64,
        expected,
        "from the frame to the chunk's end"
    );
    let other = open(
        &[Join::Crossfade { seconds: 1.5 }, Join::Gapless],
        GainMode::Track,
    );
    let refused = album.transition_segment_at(at, &other).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
}
