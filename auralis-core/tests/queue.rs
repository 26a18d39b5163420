//! Queues: tracks on one timeline. Oracles: the queue's own mastered audio (each track's
//! mastered audio at its place, crossfades mixed: `Queue::pcm`), the decode of the packets a
//! browser is given (one libopus decoder through every chunk, DiscardPadding honoured), the
//! tracks' own streams (interior chunks must carry the same packets), and EBU R 128 loudness.

mod common;

use std::path::PathBuf;

use auralis_core::stream::{GainMode, Join, Queue, QueueItem};
use auralis_core::{MasteringSettings, Preset};
use common::queues::*;
use common::streams::{memory_engine, settings, track};

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
    let overall =
        auralis_testkit::joins::nsr_db(&heard, &reference, 2, 0, heard.len() / 2).unwrap();
    let all_joins = joins_of(&queue);
    let excess = auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &all_joins);
    let track_joins: Vec<usize> = places[1..].iter().map(|p| p.start_frame as usize).collect();
    let track_excess =
        auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &track_joins);
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
        auralis_testkit::joins::worst_join_excess_db(&naive, &reference, 2, &track_joins);
    let interior: Vec<usize> = all_joins
        .iter()
        .copied()
        .filter(|j| !track_joins.contains(j))
        .collect();
    let interior_excess =
        auralis_testkit::joins::worst_join_excess_db(&heard, &reference, 2, &interior);
    let shifts = shifts_at(&heard, &reference, &track_joins);
    // Against one continuous encode of the same audio (what the music itself costs the codec
    // at those places: a join of two tracks is a discontinuity of the signal).
    let baseline = continuous_encode(&reference);
    let over = |heard: &[f32]| {
        auralis_testkit::joins::worst_join_excess_over_baseline_db(
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
        let packets = auralis_testkit::webm::media_segment_packets(&served.bytes)
            .unwrap()
            .packets;
        let track =
            auralis_testkit::webm::media_segment_packets(&own[c.item][c.item_chunk as usize])
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

#[test]
fn a_rendered_queue_chunk_is_kept_once_for_both_containers_and_served_right_at_any_place() {
    use auralis_core::cache::Origin;
    use auralis_core::QueueLayout;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let paths = three_tracks(dir.path());
    let extra = track(dir.path(), "d.wav", 30.0, 4);
    let webm = settings(Preset::Adaptive);
    let mp4 = mp4_settings();
    let joins = [Join::Gapless, Join::Gapless];
    let layout = QueueLayout::Continuous;
    // What each queue's chunks are, each from an engine of its own.
    let fresh = |paths: &[PathBuf], joins: &[Join], s, layout| {
        let q = Queue::open_with_layout(
            &memory_engine(),
            &items(paths),
            joins,
            s,
            GainMode::Track,
            layout,
        )
        .unwrap();
        (0..q.total_chunks())
            .map(|k| q.chunk_media_segment(k).unwrap().bytes.to_vec())
            .collect::<Vec<_>>()
    };
    let engine = memory_engine();
    let open = |paths: &[PathBuf], joins: &[Join], s| {
        Queue::open_with_layout(&engine, &items(paths), joins, s, GainMode::Track, layout).unwrap()
    };
    let (a_webm, a_mp4) = (open(&paths, &joins, webm), open(&paths, &joins, mp4));
    let n = a_webm.total_chunks();
    for k in 0..n {
        assert_eq!(
            a_webm.chunk_media_segment(k).unwrap().origin,
            Origin::Computed
        );
    }
    let computed = engine.stats().cache.computed;
    // The MP4 queue renders nothing: the entries are the chunks' packets, muxed when served.
    let want_mp4 = fresh(&paths, &joins, mp4, layout);
    for k in 0..n {
        let served = a_mp4.chunk_media_segment(k).unwrap();
        assert_eq!(served.origin, Origin::Memory, "chunk {k}");
        assert!(*served.bytes == want_mp4[k as usize][..], "chunk {k}");
        // A repeat is the kept segment itself.
        assert!(Arc::ptr_eq(
            &served.bytes,
            &a_mp4.chunk_media_segment(k).unwrap().bytes
        ));
    }
    assert_eq!(engine.stats().cache.computed, computed);
    // The same tracks later on another queue's timeline (after a track of exactly one chunk,
    // so that the continuous layout's chunks have the same content too): chunks of the same
    // packets at other places are muxed for their own place, never served from the first
    // queue's kept segment.
    let longer: Vec<PathBuf> = std::iter::once(extra)
        .chain(paths.iter().cloned())
        .collect();
    let joins3 = [Join::Gapless; 3];
    for layout in [QueueLayout::Shared, QueueLayout::Continuous] {
        let engine = memory_engine();
        let open = |paths: &[PathBuf], joins: &[Join]| {
            Queue::open_with_layout(&engine, &items(paths), joins, webm, GainMode::Track, layout)
                .unwrap()
        };
        let first = open(&paths, &joins);
        for k in 0..first.total_chunks() {
            first.chunk_media_segment(k).unwrap();
        }
        let before = engine.stats().cache.computed;
        let later = open(&longer, &joins3);
        let want = fresh(&longer, &joins3, webm, layout);
        let mut reused = 0;
        for k in 0..later.total_chunks() {
            let served = later.chunk_media_segment(k).unwrap();
            reused += u64::from(served.origin == Origin::Memory);
            assert!(
                *served.bytes == want[k as usize][..],
                "{layout:?} chunk {k}"
            );
        }
        // Entries were shared (the place-free packets), so the test saw the case it is for.
        assert!(
            reused >= first.total_chunks() - 1,
            "{layout:?}: {reused} reused"
        );
        assert!(engine.stats().cache.computed < before + later.total_chunks());
    }
    // Unit by unit from the cache, the same bytes.
    for k in 0..n {
        let units = a_mp4.chunk_clusters(k, None).unwrap();
        assert_eq!(units.origin(), Origin::Memory);
        assert!(units.map(Result::unwrap).collect::<Vec<_>>().concat() == want_mp4[k as usize]);
    }
}
