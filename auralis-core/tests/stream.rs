//! The stream engine: concurrency and single flight, source changes, progressive clusters,
//! transitions, PCM/WAV outputs, thread counts (the disk cache's tests are in `disk_cache.rs`).
//!
//! The oracle throughout is the single-threaded [`Renderer`] path, which earlier tests pin
//! against continuous renders: whatever the engine serves must be byte-identical to it.

mod common;

use auralis_core::Container;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auralis_core::cache::Origin;
use auralis_core::pipeline;
use auralis_core::stream::{StreamSettings, WavFormat};
use auralis_core::units::PACKET_FRAMES;
use auralis_core::{DecodeError, Error, Mastering, PlanError, Preset, Renderer, Source};
use auralis_testkit::webm as reader;
use common::streams::*;
use common::*;
use rand::{Rng, SeedableRng};

#[test]
fn sixteen_threads_get_the_single_threaded_bytes_and_each_chunk_is_computed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 42.0, 1);
    let reference = reference_segments(&path, Preset::Adaptive, 1.0);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let total = stream.info().total_chunks;
    assert_eq!(total, 9);
    let before = engine.stats().cache;
    let requested = Arc::new(Mutex::new(HashSet::new()));
    let requests = Arc::new(Mutex::new(0u64));
    let deadline = Instant::now() + Duration::from_secs(10);
    std::thread::scope(|scope| {
        for t in 0..16u64 {
            let (stream, reference, requested, requests) =
                (&stream, &reference, requested.clone(), requests.clone());
            scope.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t);
                while Instant::now() < deadline {
                    let k = rng.gen_range(0..total);
                    let served = stream.chunk_media_segment(k).unwrap();
                    assert_eq!(&*served.bytes, &reference[k as usize][..], "chunk {k}");
                    requested.lock().unwrap().insert(k);
                    *requests.lock().unwrap() += 1;
                }
            });
        }
    });
    let after = engine.stats().cache;
    let distinct = requested.lock().unwrap().len() as u64;
    let requests = *requests.lock().unwrap();
    let computed = after.computed - before.computed;
    let served =
        computed + (after.memory_hits - before.memory_hits) + (after.shared - before.shared);
    println!(
        "16 threads, 10 s: {requests} requests, {distinct} distinct chunks, {computed} computed, \
         {} shared waits",
        after.shared
    );
    assert_eq!(
        computed, distinct,
        "each distinct chunk computed exactly once"
    );
    assert_eq!(served, requests, "every request counted once");
    assert!(requests > 100);
}

#[test]
fn a_source_that_changes_or_disappears_gives_a_clear_error_and_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 12.0, 6);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let old0 = stream.chunk_media_segment(0).unwrap().bytes;
    // Rewrite with other music of the same length (a re-encode, a tag edit...).
    std::thread::sleep(Duration::from_millis(20));
    track(dir.path(), "t.wav", 12.0, 7);
    for k in [0, 1] {
        match stream.chunk_media_segment(k) {
            Err(Error::Decode(DecodeError::Changed { path: p })) => assert_eq!(p, path),
            other => panic!("chunk {k} after a change: {other:?}"),
        }
    }
    assert!(stream.chunk_pcm(1).is_err() && stream.chunk_clusters(1, None).is_err());
    // Opened again: a new signature, so new keys and the new audio.
    let reopened = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    assert_ne!(reopened.signature(), stream.signature());
    let new0 = reopened.chunk_media_segment(0).unwrap();
    assert_eq!(new0.origin, Origin::Computed);
    assert_ne!(new0.bytes, old0);
    // Deleted.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        reopened.chunk_media_segment(1),
        Err(Error::Decode(DecodeError::Changed { .. }))
    ));
    assert!(matches!(
        engine.open(&path, settings(Preset::Adaptive)),
        Err(Error::Decode(DecodeError::NotFound { .. }))
    ));
}

#[test]
fn clusters_come_one_by_one_and_join_to_the_cached_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 12.0, 8);
    let reference = reference_segments(&path, Preset::Adaptive, 1.0);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();

    // A consumer that stops after the first cluster caches nothing.
    let mut partial = stream.chunk_clusters(1, None).unwrap();
    assert_eq!(partial.origin(), Origin::Computed);
    let first = partial.next().unwrap().unwrap();
    drop(partial);
    let computed = engine.stats().cache.computed;

    let clusters = stream.chunk_clusters(1, None).unwrap();
    assert_eq!(clusters.origin(), Origin::Computed);
    let clusters: Vec<Vec<u8>> = clusters.map(Result::unwrap).collect();
    assert_eq!(clusters[0], first);
    // 5 s chunk: five 1 s clusters, each a whole Cluster element with 50 packets.
    assert_eq!(clusters.len(), 5);
    let mut file = stream.init_segment();
    for c in &clusters {
        file.extend_from_slice(c);
    }
    let parsed = reader::parse(&file).unwrap();
    assert_eq!(parsed.blocks.len() * PACKET_FRAMES, 5 * 48_000);
    assert_eq!(clusters.concat(), reference[1]);
    assert_eq!(engine.stats().cache.computed, computed + 1);

    // Now cached: the same clusters from memory.
    let again = stream.chunk_clusters(1, None).unwrap();
    assert_eq!(again.origin(), Origin::Memory);
    assert_eq!(again.map(Result::unwrap).collect::<Vec<_>>(), clusters);
    assert_eq!(
        &*stream.chunk_media_segment(1).unwrap().bytes,
        &reference[1][..]
    );
}

#[test]
fn a_chunk_is_encoded_once_for_both_containers_whichever_is_asked_first() {
    let dir = tempfile::tempdir().unwrap();
    // 12.01 s: the last chunk ends inside a packet.
    let path = track(dir.path(), "t.wav", 12.01, 9);
    let reference = reference_segments(&path, Preset::Adaptive, 1.0);
    let engine = memory_engine();
    let webm = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let mp4 = webm.with_container(Container::Mp4).unwrap();
    assert_eq!(mp4.info().mime, "audio/mp4; codecs=\"opus\"");
    assert_eq!(mp4.container(), Container::Mp4);
    let last = webm.info().total_chunks - 1;
    let movie = auralis_testkit::mp4::parse_init(&mp4.init_segment()).unwrap();
    assert_eq!(movie.edit.0, webm.info().frames);
    for (first, second) in [(&mp4, &webm), (&webm, &mp4)] {
        engine.cache().clear_memory();
        let before = engine.stats().cache.computed;
        for i in [1, last] {
            // Progressive output in the first container: computed, fragment by fragment.
            let units = first.chunk_clusters(i, None).unwrap();
            assert_eq!(units.origin(), Origin::Computed);
            let units: Vec<Vec<u8>> = units.map(Result::unwrap).collect();
            let segment = units.concat();
            // The other container: from the cache, the same packets, nothing encoded.
            let other = second.chunk_media_segment(i).unwrap();
            assert_eq!(other.origin, Origin::Memory);
            let (webm_bytes, mp4_bytes) = if first.container() == Container::Webm {
                (segment.clone(), other.bytes.to_vec())
            } else {
                (other.bytes.to_vec(), segment.clone())
            };
            assert_eq!(webm_bytes, reference[i as usize], "chunk {i}");
            let (start, frames, packets) =
                auralis_testkit::mp4::contiguous_packets(&mp4_bytes).unwrap();
            let c = webm.chunk(i).unwrap();
            assert_eq!((start, frames), (c.start_frame, c.frames), "chunk {i}");
            assert_eq!(
                packets,
                auralis_testkit::webm::media_segment_packets(&webm_bytes)
                    .unwrap()
                    .packets
            );
            // Cached fragments come one by one as well.
            let cached: Vec<Vec<u8>> = mp4
                .chunk_clusters(i, None)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(cached.concat(), mp4_bytes);
            assert!(cached.iter().all(|u| &u[4..8] == b"moof"));
            assert_eq!(
                mp4.chunk_file(i, None).unwrap(),
                [mp4.init_segment(), mp4_bytes].concat()
            );
        }
        assert_eq!(engine.stats().cache.computed, before + 2);
    }
}

#[test]
fn a_served_segment_is_kept_in_memory_per_container_and_counted_in_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 12.01, 4);
    let reference = reference_segments(&path, Preset::Adaptive, 1.0);
    let cache_dir = tempfile::tempdir().unwrap();
    let engine = disk_engine(cache_dir.path(), 1 << 30);
    let webm = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let mp4 = webm.with_container(Container::Mp4).unwrap();
    let first = webm.chunk_media_segment(1).unwrap();
    assert_eq!(first.origin, Origin::Computed);
    let bytes_after_first = engine.stats().cache.memory_bytes;
    // The entry (packets) and the WebM segment: both in memory, both counted.
    assert!(bytes_after_first >= 2 * first.bytes.len() as u64 - 4096);
    // A repeat hands out the kept segment itself: no mux, no copy.
    let again = webm.chunk_media_segment(1).unwrap();
    assert_eq!(again.origin, Origin::Memory);
    assert!(Arc::ptr_eq(&first.bytes, &again.bytes));
    assert_eq!(&*again.bytes, &reference[1][..]);
    // The other container is muxed from the same entry and kept under its own key.
    let as_mp4 = mp4.chunk_media_segment(1).unwrap();
    assert_eq!(as_mp4.origin, Origin::Memory);
    assert_eq!(&as_mp4.bytes[4..8], b"moof");
    assert!(Arc::ptr_eq(
        &as_mp4.bytes,
        &mp4.chunk_media_segment(1).unwrap().bytes
    ));
    assert!(engine.stats().cache.memory_bytes > bytes_after_first);
    // A transition is a form of its own entry, not of the plain chunk's.
    let switch = webm.transition_media_segment(1, Preset::Warm).unwrap();
    assert_eq!(switch.origin, Origin::Computed);
    assert_ne!(switch.bytes, first.bytes);
    // Forms never reach the disk: emptied memory serves from the entry's file, the same bytes.
    let files = chunk_files(cache_dir.path());
    engine.cache().clear_memory();
    let from_disk = webm.chunk_media_segment(1).unwrap();
    assert_eq!(from_disk.origin, Origin::Disk);
    assert_eq!(from_disk.bytes, first.bytes);
    assert_eq!(mp4.chunk_media_segment(1).unwrap().bytes, as_mp4.bytes);
    assert_eq!(chunk_files(cache_dir.path()), files);
    // A budget too small for the form as well still serves exact bytes, every time.
    let tight = auralis_core::stream::Engine::new(&auralis_core::stream::EngineConfig {
        cache: auralis_core::CacheConfig {
            memory_bytes: first.bytes.len() as u64 + 1024,
            disk_dir: None,
            ..Default::default()
        },
        prefetch_workers: 0,
        ..Default::default()
    });
    let s = tight.open(&path, settings(Preset::Adaptive)).unwrap();
    for _ in 0..3 {
        assert_eq!(&*s.chunk_media_segment(1).unwrap().bytes, &reference[1][..]);
    }
    assert!(tight.stats().cache.memory_bytes <= first.bytes.len() as u64 + 1024);
}

#[test]
fn pcm_wav_and_whole_track_outputs_are_exact_and_levels_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 11.0, 9);
    let source = Source::open(&path).unwrap();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, (Preset::Gentle, 0.5), None, 0).unwrap();
    let plan = renderer.plan(CHUNK_S).unwrap();
    let engine = memory_engine();
    let stream = engine
        .open(
            &path,
            StreamSettings {
                mastering: (Preset::Gentle, 0.5).into(),
                ..settings(Preset::Gentle)
            },
        )
        .unwrap();
    assert_eq!(stream.mastering(), &mastering.params);
    let info = stream.info();
    assert_eq!(
        (info.frames, info.total_chunks, info.channels),
        (528_000, 3, 2)
    );
    let mut joined = Vec::new();
    for c in plan.chunks() {
        let want = pipeline::mastered_pcm(&renderer, &plan, c.index, &mastering.params).unwrap();
        let pcm = stream.chunk_pcm(c.index).unwrap();
        assert_eq!(pcm, want, "chunk {}", c.index);
        let wav = stream.chunk_wav(c.index, WavFormat::Float32).unwrap();
        let from_wav: Vec<f32> = hound::WavReader::new(&wav[..])
            .unwrap()
            .into_samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(from_wav, want);
        let level = stream.chunk_level(c.index).unwrap();
        assert!((level.rms_db - auralis_core::stream::rms_db(&want)).abs() < 1e-12);
        assert_eq!(level.gain_db, mastering.params.gain_db);
        joined.extend(want);
    }
    assert_eq!(stream.levels_served().len(), 3);
    let full = stream.full_wav(WavFormat::Float32).unwrap();
    let reader = hound::WavReader::new(&full[..]).unwrap();
    assert_eq!(reader.duration() as u64, info.frames);
    let samples: Vec<f32> = reader.into_samples::<f32>().map(Result::unwrap).collect();
    assert_eq!(samples, joined);
    let webm = stream.full_webm().unwrap();
    assert!(reader::parse(&webm).is_ok());
    // A bypassed stream reports 0 dB of gain.
    let plain = engine
        .open(
            &path,
            StreamSettings {
                mastering: (Preset::Warm, 0.0).into(),
                ..settings(Preset::Warm)
            },
        )
        .unwrap();
    assert_eq!(plain.chunk_level(0).unwrap().gain_db, 0.0);
}

#[test]
fn bad_requests_fail_before_any_work_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 6.0, 10);
    let engine = memory_engine();
    let stream = engine.open(&path, settings(Preset::Adaptive)).unwrap();
    let computed = engine.stats().cache.computed;
    assert!(matches!(
        stream.chunk_media_segment(2),
        Err(Error::Plan(PlanError::ChunkIndexOutOfRange {
            index: 2,
            total: 2
        }))
    ));
    assert!(stream.chunk_pcm(u64::MAX).is_err());
    assert!(stream.chunk_clusters(9, None).is_err());
    assert!(stream.chunk_level(9).is_err());
    assert!(matches!(
        stream.transition_media_segment(0, (Preset::Warm, 2.0)),
        Err(Error::Mastering(_))
    ));
    assert_eq!(
        engine.stats().cache.computed,
        computed,
        "no work for a bad request"
    );
    let bad = |s: StreamSettings| engine.open(&path, s).unwrap_err();
    assert!(matches!(
        bad(StreamSettings {
            mastering: (Preset::Adaptive, 2.0).into(),
            ..settings(Preset::Adaptive)
        }),
        Error::Mastering(_)
    ));
    assert!(matches!(
        bad(StreamSettings {
            chunk_seconds: 0.01,
            ..settings(Preset::Adaptive)
        }),
        Error::Plan(_)
    ));
    assert!(matches!(
        engine.open(dir.path().join("missing.wav"), settings(Preset::Adaptive)),
        Err(Error::Decode(DecodeError::NotFound { .. }))
    ));
    let garbage = write_temp(&dir, "g.mp3", &[0x55; 5000]);
    assert!(engine.open(&garbage, settings(Preset::Adaptive)).is_err());
    // A second stream of other settings and a sibling made from a stream agree.
    let a = engine.open(&path, settings(Preset::Warm)).unwrap();
    let b = stream.with_mastering((Preset::Warm, 1.0)).unwrap();
    assert_eq!(a.mastering(), b.mastering());
}

fn packets_of(init: &[u8], segment: &[u8]) -> Vec<Vec<u8>> {
    let mut file = init.to_vec();
    file.extend_from_slice(segment);
    reader::parse(&file)
        .unwrap()
        .blocks
        .into_iter()
        .map(|b| b.data)
        .collect()
}

#[test]
fn a_transition_chunk_fades_from_the_old_settings_to_the_new_without_a_click() {
    use auralis_core::dsp::crossfade::{self, Curve};
    use auralis_core::pipeline::Transition;
    let dir = tempfile::tempdir().unwrap();
    // 20 s of the demo piece from its verse: real chords and drums.
    let pcm = auralis_core::demo::synthesize();
    let from = 44_100 * 2 * 20;
    let path = dir.path().join("demo.wav");
    std::fs::write(
        &path,
        wav_int(
            44_100,
            2,
            16,
            &quantize(&pcm[from..from + 44_100 * 2 * 20], 16),
        ),
    )
    .unwrap();
    let (old, new) = ((Preset::Warm, 1.0), (Preset::Bright, 1.0));
    let engine = memory_engine();
    let old_stream = engine.open(&path, settings(old.0)).unwrap();
    let new_stream = old_stream.with_mastering((new.0, new.1)).unwrap();
    let ch = 2;
    let switch = 2u64;
    let total = new_stream.info().total_chunks;
    let fade = new_stream.settings().fade_ms;
    assert_eq!(fade, 50.0);

    // The transition chunk's audio: old at its first frame, new from the end of the fade on,
    // the raised-cosine mix in between.
    let renderer = Renderer::new(Source::open(&path).unwrap());
    let plan = *new_stream.plan();
    let transition = Transition {
        from: old_stream.mastering().clone(),
        fade_frames: 2_400,
        curve: Curve::RaisedCosine,
    };
    let mut run = pipeline::ChunkRender::start(
        &renderer,
        &plan,
        switch,
        new_stream.mastering(),
        Some(&transition),
        Some(&Default::default()),
    )
    .unwrap();
    let segment: Vec<u8> = run
        .by_ref()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(
        segment,
        &new_stream
            .transition_media_segment(switch, old)
            .unwrap()
            .bytes[..]
    );
    let mixed = run.pcm();
    let (old_k, new_k) = (
        old_stream.chunk_pcm(switch).unwrap(),
        new_stream.chunk_pcm(switch).unwrap(),
    );
    assert_eq!(
        &mixed[..ch],
        &old_k[..ch],
        "starts as the old settings' audio"
    );
    assert_eq!(
        &mixed[2_400 * ch..],
        &new_k[2_400 * ch..],
        "ends as the new settings' audio"
    );
    let mut want = new_k.clone();
    crossfade::fade_into(
        &mut want[..2_400 * ch],
        &old_k[..2_400 * ch],
        ch,
        2_400,
        Curve::RaisedCosine,
    );
    assert_eq!(mixed, &want[..]);
    assert_ne!(old_k, new_k, "the presets differ");

    // What a listener hears: old chunks, the transition, new chunks, through one decoder.
    let init = new_stream.init_segment();
    let mut packets = Vec::new();
    let mut intended = Vec::new();
    for k in 0..total {
        let (segment, audio) = match k.cmp(&switch) {
            std::cmp::Ordering::Less => (
                old_stream.chunk_media_segment(k).unwrap().bytes,
                old_stream.chunk_pcm(k).unwrap(),
            ),
            std::cmp::Ordering::Equal => (
                new_stream.transition_media_segment(k, old).unwrap().bytes,
                mixed.to_vec(),
            ),
            std::cmp::Ordering::Greater => (
                new_stream.chunk_media_segment(k).unwrap().bytes,
                new_stream.chunk_pcm(k).unwrap(),
            ),
        };
        packets.extend(packets_of(&init, &segment));
        intended.extend(audio);
    }
    let mut heard = decode_opus_packets(&packets, ch);
    heard.truncate(intended.len());
    let joins: Vec<usize> = plan
        .chunks()
        .skip(1)
        .map(|c| c.start_frame as usize)
        .collect();
    let excess = auralis_testkit::joins::worst_join_excess_db(&heard, &intended, ch, &joins);
    let at_switch = auralis_testkit::joins::worst_join_excess_db(
        &heard,
        &intended,
        ch,
        &[plan.chunk(switch).unwrap().start_frame as usize],
    );
    // The same switch without a transition: the plain new chunk after old ones.
    let mut hard_packets = Vec::new();
    let mut hard_intended = Vec::new();
    for k in 0..total {
        let s = if k < switch { &old_stream } else { &new_stream };
        hard_packets.extend(packets_of(&init, &s.chunk_media_segment(k).unwrap().bytes));
        hard_intended.extend(s.chunk_pcm(k).unwrap());
    }
    let mut hard = decode_opus_packets(&hard_packets, ch);
    hard.truncate(hard_intended.len());
    let hard_at_switch = auralis_testkit::joins::worst_join_excess_db(
        &hard,
        &hard_intended,
        ch,
        &[plan.chunk(switch).unwrap().start_frame as usize],
    );
    let step = |x: &[f32], j: usize| -> f32 {
        (0..ch)
            .map(|c| (x[j * ch + c] - x[(j - 1) * ch + c]).abs())
            .fold(0.0, f32::max)
    };
    let j = plan.chunk(switch).unwrap().start_frame as usize;
    // The largest sample-to-sample change of the music itself within ±50 ms of the switch.
    let local = |x: &[f32]| {
        (j - 2_400..j + 2_400)
            .filter(|&i| i != j)
            .map(|i| step(x, i))
            .fold(0.0, f32::max)
    };
    // The music's own step at the switch, in the old settings' continuous audio (a drum of the
    // demo may start right there: its beats fall on whole seconds).
    let old_continuous = [
        old_stream.chunk_pcm(switch - 1).unwrap(),
        old_stream.chunk_pcm(switch).unwrap(),
    ]
    .concat();
    let own = step(
        &old_continuous,
        j - plan.chunk(switch - 1).unwrap().start_frame as usize,
    );
    println!(
        "warm→bright at chunk {switch}: transition: worst join {excess:.2} dB, at the switch \
         {at_switch:.2} dB, step {:.4} (music's largest nearby {:.4}, its own there {own:.4}); \
         hard switch: {hard_at_switch:.2} dB, step {:.4} (largest nearby {:.4})",
        step(&intended, j),
        local(&intended),
        step(&hard_intended, j),
        local(&hard_intended)
    );
    assert!(excess <= 3.0 && at_switch <= 3.0);
    assert!(
        step(&intended, j) <= local(&intended).max(own),
        "no step at the switch beyond the music's own"
    );
    // The step check discriminates: a switch without a transition jumps further than the
    // music does there or anywhere near it.
    assert!(step(&hard_intended, j) > local(&hard_intended).max(own));

    // Cached under its own key, apart from the plain chunk.
    let again = new_stream.transition_media_segment(switch, old).unwrap();
    assert_eq!(again.origin, Origin::Memory);
    assert_ne!(
        again.bytes,
        new_stream.chunk_media_segment(switch).unwrap().bytes
    );
    // The progressive form of a transition chunk is the same bytes.
    let clusters: Vec<u8> = new_stream
        .chunk_clusters(switch, Some(old.into()))
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(clusters, &again.bytes[..]);
}

#[test]
fn one_two_and_four_threads_give_the_same_bytes() {
    use auralis_core::pipeline::Transition;
    let dir = tempfile::tempdir().unwrap();
    let path = track(dir.path(), "t.wav", 41.0, 12);
    let source = Source::open(&path).unwrap();
    let mastering = Mastering::prepare(&source, Preset::Punchy, None, 0).unwrap();
    let warm = Mastering::prepare(&source, Preset::Warm, None, 0).unwrap();
    let transition = Transition {
        from: warm.params,
        fade_frames: 2_400,
        curve: auralis_core::Curve::RaisedCosine,
    };
    let settings = auralis_core::opus::OpusSettings::default();
    let render = |threads: usize| {
        let renderer = Renderer::new(source.clone()).with_threads(threads);
        let plan = renderer.plan(30.0).unwrap();
        let mut out = Vec::new();
        for c in plan.chunks() {
            out.push(
                pipeline::media_segment(
                    &renderer,
                    &plan,
                    c.index,
                    &mastering.params,
                    &settings,
                    Container::Webm,
                )
                .unwrap(),
            );
            let pcm = pipeline::mastered_pcm(&renderer, &plan, c.index, &mastering.params).unwrap();
            out.push(pcm.iter().flat_map(|x| x.to_le_bytes()).collect());
            let run = pipeline::ChunkRender::start(
                &renderer,
                &plan,
                c.index,
                &mastering.params,
                Some(&transition),
                Some(&settings),
            )
            .unwrap();
            out.push(run.map(Result::unwrap).collect::<Vec<_>>().concat());
        }
        out
    };
    let one = render(1);
    assert_eq!(one.len(), 6);
    assert!(render(2) == one, "2 threads differ from 1");
    assert!(render(4) == one, "4 threads differ from 1");
}

#[test]
fn prefetch_ahead_queues_at_most_the_rest_of_the_track() {
    // No workers: every queued job is counted (as cancelled) at once.
    let engine = memory_engine();
    let stream = engine
        .open_bytes(
            auralis_core::demo::demo_wav(),
            Some("wav"),
            StreamSettings {
                chunk_seconds: 30.0,
                ..StreamSettings::default()
            },
        )
        .unwrap();
    let total = stream.plan().total_chunks();
    let count = || engine.stats().prefetch.cancelled;
    let before = count();
    stream.prefetch_ahead(0, u64::MAX); // once a loop of 2^64 requests
    assert_eq!(count() - before, total - 1);
    stream.prefetch_ahead(u64::MAX, 5); // once an overflow
    stream.prefetch_ahead(total - 1, 10); // after the last chunk: nothing
    assert_eq!(count() - before, total - 1);
    stream.prefetch_ahead(1, 2);
    assert_eq!(count() - before, total - 1 + 2);
}

#[test]
fn an_open_track_is_analyzed_once_even_after_the_cache_lets_the_analysis_go() {
    let engine = memory_engine();
    let stream = engine
        .open_bytes(
            auralis_core::demo::demo_wav(),
            Some("wav"),
            StreamSettings::default(),
        )
        .unwrap();
    let analysis = stream.analysis().clone();
    // Opening computed two entries: the analysis and the default mastering.
    assert_eq!(engine.stats().cache.computed, 2);
    engine.cache().clear_memory();
    let warm = stream.with_mastering((Preset::Warm, 0.7)).unwrap();
    // Only the new mastering was computed: the track knew its analysis.
    assert_eq!(engine.stats().cache.computed, 3);
    assert_eq!(warm.analysis(), &analysis);
    // And that mastering is the one a fresh engine calibrates from scratch.
    let fresh = memory_engine()
        .open_bytes(
            auralis_core::demo::demo_wav(),
            Some("wav"),
            StreamSettings {
                mastering: (Preset::Warm, 0.7).into(),
                ..StreamSettings::default()
            },
        )
        .unwrap();
    assert_eq!(warm.mastering(), fresh.mastering());
}

/// The built-in demo in 10 s chunks, default settings.
fn demo_stream(engine: &auralis_core::stream::Engine) -> auralis_core::stream::Stream {
    engine
        .open_bytes(
            auralis_core::demo::demo_wav(),
            Some("wav"),
            StreamSettings {
                chunk_seconds: 10.0,
                ..StreamSettings::default()
            },
        )
        .unwrap()
}

#[test]
fn a_switch_calibrating_while_it_renders_gives_the_two_step_bytes() {
    // The oracle: a fresh engine doing the switch in two steps (calibrate, then the transition
    // chunk). `switch_clusters` overlaps the two; its stream and bytes must be the same.
    let engine_of = |threads: usize| {
        auralis_core::stream::Engine::new(&auralis_core::stream::EngineConfig {
            prefetch_workers: 0,
            render_threads: threads,
            ..Default::default()
        })
    };
    let old = StreamSettings::default().mastering();
    for (to, index, threads) in [
        ((Preset::Warm, 0.8), 3, 2),
        ((Preset::Bright, 1.0), 0, 1),
        ((Preset::Punchy, 0.5), 11, 4),
        ((Preset::None, 1.0), 5, 2),
    ] {
        // The oracle on one thread, the switch on `threads`.
        let oracle_engine = engine_of(1);
        let oracle = demo_stream(&oracle_engine).with_mastering(to).unwrap();
        let expected = oracle.transition_media_segment(index, old).unwrap().bytes;

        let engine = engine_of(threads);
        let stream = demo_stream(&engine);
        let before = engine.stats().cache.computed;
        let (switched, clusters) = stream.switch_clusters(index, to).unwrap();
        assert_eq!(clusters.origin(), Origin::Computed);
        let units: Vec<Vec<u8>> = clusters.map(|c| c.unwrap()).collect();
        assert!(units.len() > 1, "{to:?}: progressive");
        assert_eq!(units.concat(), &expected[..], "{to:?} at chunk {index}");
        assert_eq!(switched.mastering(), oracle.mastering(), "{to:?}");
        assert_eq!(switched.settings().mastering(), to.into());
        // The overlapped path was the one taken: only the gain differs from the design.
        let mut designed = auralis_core::mastering::design(stream.analysis(), to).unwrap();
        designed.gain_db = switched.mastering().gain_db;
        assert_eq!(&designed, switched.mastering(), "{to:?}");
        // The mastering and the transition chunk, each computed once and cached: the usual
        // request for the same transition is a hit, and the same stream.
        assert_eq!(engine.stats().cache.computed - before, 2, "{to:?}");
        let again = stream
            .with_mastering(to)
            .unwrap()
            .transition_media_segment(index, old)
            .unwrap();
        assert_eq!(again.origin, Origin::Memory);
        assert_eq!(&again.bytes[..], &expected[..]);
        // Known now: a second switch takes the plain path, same bytes.
        let (_, clusters) = stream.switch_clusters(index, to).unwrap();
        assert_eq!(clusters.origin(), Origin::Memory);
    }
}

#[test]
fn a_switch_that_is_stopped_or_bad_leaves_nothing_half_done() {
    let engine = memory_engine();
    let stream = demo_stream(&engine);
    let computed = engine.stats().cache.computed;
    assert!(matches!(
        stream.switch_clusters(0, (Preset::Warm, 2.0)),
        Err(Error::Mastering(_))
    ));
    assert!(matches!(
        stream.switch_clusters(99, (Preset::Warm, 1.0)),
        Err(Error::Plan(PlanError::ChunkIndexOutOfRange {
            index: 99,
            ..
        }))
    ));
    assert_eq!(engine.stats().cache.computed, computed, "no work");
    // A consumer that takes one cluster and stops caches no chunk (the mastering is kept).
    let (switched, mut clusters) = stream.switch_clusters(4, (Preset::Live, 0.9)).unwrap();
    assert!(!clusters.next().unwrap().unwrap().is_empty());
    drop(clusters);
    assert_eq!(
        engine.stats().cache.computed,
        computed + 1,
        "the mastering only"
    );
    let served = switched
        .transition_media_segment(4, StreamSettings::default().mastering())
        .unwrap();
    assert_eq!(served.origin, Origin::Computed);
    let oracle = demo_stream(&memory_engine())
        .with_mastering((Preset::Live, 0.9))
        .unwrap()
        .transition_media_segment(4, StreamSettings::default().mastering())
        .unwrap();
    assert_eq!(served.bytes, oracle.bytes);
}
