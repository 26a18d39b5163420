//! Opus in WebM: structure, exact frame counts, gapless joins (and the naive method failing the
//! same check), and encoder robustness.

mod common;

use auralis_core::format::webm;
use auralis_core::opus::{self, OpusSettings};
use auralis_core::pipeline;
use auralis_core::units::{LOOKAHEAD_FRAMES, PACKET_FRAMES};
use auralis_core::Container;
use auralis_core::{Mastering, Preset, Renderer, Source};
use auralis_testkit::webm as reader;
use common::*;

fn demo_excerpt(seconds: usize) -> Source {
    let pcm = auralis_core::demo::synthesize();
    // Start 20 s in: the verse and the loud chorus.
    let from = 44_100 * 2 * 20;
    let ints = quantize(&pcm[from..from + 44_100 * 2 * seconds], 16);
    Source::from_bytes(wav_int(44_100, 2, 16, &ints), Some("wav")).unwrap()
}

#[test]
fn chunk_files_are_valid_webm_with_one_init_segment_and_exact_timing() {
    let source = demo_excerpt(17);
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Adaptive, None, 0).unwrap();
    let plan = renderer.plan(5.0).unwrap();
    let settings = OpusSettings::default();
    let init = pipeline::init_segment(&renderer, Container::Webm);
    let parsed_init = reader::parse(&init).unwrap();
    assert!(parsed_init.segment_size_unknown && parsed_init.blocks.is_empty());
    assert_eq!(
        (
            parsed_init.channels,
            parsed_init.pre_skip,
            parsed_init.codec_delay_ns
        ),
        (2, 0, 0)
    );
    assert_eq!(parsed_init.seek_pre_roll_ns, 80_000_000);
    assert_eq!(parsed_init.duration_ms, None);
    let mut packets = Vec::new();
    for c in plan.chunks() {
        let file = pipeline::chunk_file(
            &renderer,
            &plan,
            c.index,
            &mastering.params,
            &settings,
            Container::Webm,
        )
        .unwrap();
        assert!(
            file.starts_with(&init),
            "chunk {}: the init segment differs",
            c.index
        );
        let parsed = reader::parse(&file).unwrap();
        assert_eq!(parsed.first_cluster_offset, Some(init.len()));
        let expected_blocks = (c.frames as usize).div_ceil(PACKET_FRAMES);
        assert_eq!(parsed.blocks.len(), expected_blocks, "chunk {}", c.index);
        let start_ms = (c.start_frame / 48) as i64;
        assert_eq!(parsed.cluster_timestamps_ms[0], start_ms);
        for (i, block) in parsed.blocks.iter().enumerate() {
            assert_eq!(
                block.timestamp_ms,
                start_ms + 20 * i as i64,
                "chunk {} block {i}",
                c.index
            );
        }
        assert!(
            parsed.cluster_timestamps_ms.len() == expected_blocks.div_ceil(webm::CLUSTER_PACKETS)
        );
        let is_last = c.index + 1 == plan.total_chunks();
        let padding = (expected_blocks * PACKET_FRAMES) as u64 - c.frames;
        let last = parsed.blocks.last().unwrap();
        if is_last && padding > 0 {
            assert_eq!(
                last.discard_padding_ns,
                Some(auralis_core::units::frames_to_ns(padding) as i64)
            );
        } else {
            assert!(parsed
                .blocks
                .iter()
                .all(|b| b.keyframe && b.discard_padding_ns.is_none()));
        }
        packets.extend(parsed.blocks.into_iter().map(|b| b.data));
    }
    // One decoder over every chunk's packets, minus the discard padding: the exact length.
    let decoded = decode_opus_packets(&packets, 2);
    let last = plan.chunk(plan.total_chunks() - 1).unwrap();
    let padding =
        (last.frames as usize).div_ceil(PACKET_FRAMES) * PACKET_FRAMES - last.frames as usize;
    assert_eq!(decoded.len() / 2 - padding, renderer.frames() as usize);
}

#[test]
fn joins_are_as_clean_as_the_rest_and_the_naive_method_is_not() {
    let mut cases = vec![("demo", demo_excerpt(30))];
    if let Some(dir) = corpus() {
        cases.push((
            "sad_44s.mp3",
            Source::open(dir.join("sad_44s.mp3")).unwrap(),
        ));
        cases.push((
            "frantic_45s.ogg",
            Source::open(dir.join("frantic_45s.ogg")).unwrap(),
        ));
    }
    let settings = OpusSettings::default();
    for (name, source) in cases {
        let renderer = Renderer::new(source.clone());
        let ch = renderer.channels() as usize;
        let mastering = Mastering::prepare(&source, Preset::Adaptive, None, 0).unwrap();
        let plan = renderer.plan(5.0).unwrap();
        let reference = pipeline::mastered_track(&renderer, &plan, &mastering.params).unwrap();
        let boundaries: Vec<usize> = plan
            .chunks()
            .skip(1)
            .map(|c| c.start_frame as usize)
            .collect();
        // The restart points inside chunks (parts) are joins of the same kind.
        let inner: Vec<usize> = plan
            .chunks()
            .flat_map(|c| auralis_core::pipeline::parts(&c).into_iter().skip(1))
            .map(|(start, _)| start as usize)
            .collect();
        assert!(!inner.is_empty());

        let packets: Vec<Vec<u8>> = plan
            .chunks()
            .flat_map(|c| {
                pipeline::encoded(&renderer, &plan, c.index, &mastering.params, &settings)
                    .unwrap()
                    .packets
            })
            .collect();
        let mut ours = decode_opus_packets(&packets, ch);
        ours.truncate(reference.len());
        let excess =
            auralis_testkit::joins::worst_join_excess_db(&ours, &reference, ch, &boundaries);
        assert!(
            excess <= 3.0,
            "{name}: worst join {excess:.2} dB above the median codec error"
        );
        // Chunk and part joins against one continuous encode of the whole track in the
        // same windows: the error a join adds where the music itself is hard to code.
        let track = opus::encode_track(&reference, ch, &settings).unwrap();
        let mut continuous = decode_opus_packets(&track.packets, ch);
        continuous.drain(..LOOKAHEAD_FRAMES * ch);
        let all: Vec<usize> = boundaries.iter().chain(&inner).copied().collect();
        let inner_excess = auralis_testkit::joins::worst_join_excess_over_baseline_db(
            &ours,
            &continuous,
            &reference,
            ch,
            &all,
        );
        assert!(
            inner_excess <= 3.0,
            "{name}: worst chunk or part join {inner_excess:.2} dB above a continuous encode"
        );

        // The naive method: each chunk encoded alone from silence, zeros after it, and played
        // with its pre-skip removed (the best a per-chunk ffmpeg encode can do).
        let mut naive = Vec::new();
        for (c, pcm) in plan
            .chunks()
            .zip(reference.chunks(plan.chunk_frames() as usize * ch))
        {
            let mut input = vec![0.0f32; auralis_core::units::PRE_ROLL_FRAMES * ch];
            input.extend_from_slice(pcm);
            input.extend(vec![0.0f32; LOOKAHEAD_FRAMES * ch]);
            // Zero pre-roll and zero post-roll: the chunk sees nothing of its neighbours.
            let encoded =
                opus::encode_chunk(&input, ch, c.start_frame, c.frames, &settings).unwrap();
            let mut decoded = decode_opus_packets(&encoded.packets, ch);
            decoded.truncate(c.frames as usize * ch);
            naive.extend(decoded);
        }
        let naive_excess =
            auralis_testkit::joins::worst_join_excess_db(&naive, &reference, ch, &boundaries);
        assert!(
            naive_excess > 3.0,
            "{name}: the check does not discriminate (naive {naive_excess:.2} dB)"
        );
        println!(
            "{name}: worst chunk join {excess:.2} dB above the median codec error (naive \
             {naive_excess:.2} dB); worst chunk or part join {inner_excess:.2} dB above a \
             continuous encode in the same window"
        );
    }
}

#[test]
fn whole_track_file_has_pre_skip_codec_delay_duration_and_cues() {
    let source = demo_excerpt(12);
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Warm, None, 0).unwrap();
    let file = pipeline::whole_track_file(
        &renderer,
        &mastering.params,
        &OpusSettings::default(),
        Container::Webm,
    )
    .unwrap();
    let parsed = reader::parse(&file).unwrap();
    assert!(!parsed.segment_size_unknown);
    assert_eq!(parsed.pre_skip as usize, LOOKAHEAD_FRAMES);
    assert_eq!(
        parsed.codec_delay_ns,
        auralis_core::units::frames_to_ns(LOOKAHEAD_FRAMES as u64)
    );
    assert_eq!(parsed.duration_ms, Some(renderer.frames() as f64 / 48.0));
    assert_eq!(parsed.cues.len(), parsed.cluster_timestamps_ms.len());
    for (&(time, position), &cluster_ms) in parsed.cues.iter().zip(&parsed.cluster_timestamps_ms) {
        assert_eq!(time as i64, cluster_ms);
        let at = parsed.segment_data_offset + position as usize;
        assert_eq!(
            &file[at..at + 4],
            &[0x1F, 0x43, 0xB6, 0x75],
            "cue points at a Cluster"
        );
    }
    let packets: Vec<Vec<u8>> = parsed.blocks.iter().map(|b| b.data.clone()).collect();
    let decoded = decode_opus_packets(&packets, 2);
    let padding = auralis_core::units::ns_to_frames(
        parsed.blocks.last().unwrap().discard_padding_ns.unwrap() as u64,
    );
    assert_eq!(
        decoded.len() as u64 / 2 - LOOKAHEAD_FRAMES as u64 - padding,
        renderer.frames()
    );
}

#[test]
fn ffmpeg_decodes_chunk_files_and_the_whole_track_to_the_same_frame_counts() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 12 s and 1001 frames: the last chunk ends inside a packet, so DiscardPadding is exercised.
    let pcm = auralis_core::demo::synthesize();
    let ints = quantize(&pcm[..(44_100 * 12 + 1001) * 2], 16);
    let source = Source::from_bytes(wav_int(44_100, 2, 16, &ints), Some("wav")).unwrap();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Bright, None, 0).unwrap();
    let plan = renderer.plan(5.0).unwrap();
    let settings = OpusSettings::default();
    let count = |bytes: &[u8], name: &str| {
        let path = write_temp(&dir, name, bytes);
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "f32le", "-acodec", "pcm_f32le", "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ffmpeg: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout.len() / 8
    };
    for c in plan.chunks() {
        let file = pipeline::chunk_file(
            &renderer,
            &plan,
            c.index,
            &mastering.params,
            &settings,
            Container::Webm,
        )
        .unwrap();
        let ours = reader::parse(&file).unwrap();
        let padding = ours
            .blocks
            .last()
            .unwrap()
            .discard_padding_ns
            .map_or(0, |ns| {
                auralis_core::units::ns_to_frames(ns as u64) as usize
            });
        let frames = ours.blocks.len() * PACKET_FRAMES - padding;
        assert_eq!(frames as u64, c.frames, "chunk {}", c.index);
        assert_eq!(
            count(&file, &format!("chunk{}.webm", c.index)),
            frames,
            "ffmpeg, chunk {}",
            c.index
        );
        // ffprobe sees every packet at our timestamp.
        let path = dir.path().join(format!("chunk{}.webm", c.index));
        let probe = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "a",
                "-show_entries",
                "packet=pts_time",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let times: Vec<f64> = String::from_utf8_lossy(&probe.stdout)
            .lines()
            .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
            .collect();
        assert_eq!(
            times.len(),
            ours.blocks.len(),
            "ffprobe packets, chunk {}",
            c.index
        );
        for (t, b) in times.iter().zip(&ours.blocks) {
            assert!(
                (t - b.timestamp_ms as f64 / 1000.0).abs() < 0.0005,
                "chunk {}: ffprobe {t} vs {}",
                c.index,
                b.timestamp_ms
            );
        }
    }
    let whole =
        pipeline::whole_track_file(&renderer, &mastering.params, &settings, Container::Webm)
            .unwrap();
    assert_eq!(
        count(&whole, "whole.webm") as u64,
        renderer.frames(),
        "ffmpeg, whole track"
    );
}

#[test]
fn the_encoder_survives_nan_silence_square_waves_and_dc() {
    let frames = 48_000usize;
    let square: Vec<f32> = (0..frames * 2)
        .map(|i| if (i / 2 / 24) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let inputs: Vec<(&str, Vec<f32>)> = vec![
        ("nan", vec![f32::NAN; frames * 2]),
        (
            "inf",
            (0..frames * 2)
                .map(|i| if i % 7 == 0 { f32::INFINITY } else { 0.1 })
                .collect(),
        ),
        ("silence", vec![0.0; frames * 2]),
        ("square", square),
        ("dc", vec![0.9; frames * 2]),
    ];
    for (name, pcm) in inputs {
        let mut input = vec![0.0f32; auralis_core::units::PRE_ROLL_FRAMES * 2];
        input.extend_from_slice(&pcm);
        input.extend(vec![0.0f32; LOOKAHEAD_FRAMES * 2]);
        let encoded =
            opus::encode_chunk(&input, 2, 0, frames as u64, &OpusSettings::default()).unwrap();
        assert_eq!(encoded.packets.len(), frames / PACKET_FRAMES, "{name}");
        let decoded = decode_opus_packets(&encoded.packets, 2);
        assert!(
            decoded.iter().all(|x| x.is_finite()),
            "{name}: non-finite decode"
        );
    }
    for bad in [
        OpusSettings {
            bitrate_bps: 1000,
            complexity: 10,
        },
        OpusSettings {
            bitrate_bps: 128_000,
            complexity: 11,
        },
    ] {
        assert!(bad.validate().is_err());
    }
}

#[test]
fn chunk_file_bytes_do_not_depend_on_render_order() {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let source = demo_excerpt(16);
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, (Preset::Live, 0.7), None, 0).unwrap();
    let plan = renderer.plan(5.0).unwrap();
    let settings = OpusSettings {
        bitrate_bps: 96_000,
        complexity: 8,
    };
    let in_order: Vec<Vec<u8>> = plan
        .chunks()
        .map(|c| {
            pipeline::chunk_file(
                &renderer,
                &plan,
                c.index,
                &mastering.params,
                &settings,
                Container::Webm,
            )
            .unwrap()
        })
        .collect();
    let mut order: Vec<u64> = (0..plan.total_chunks()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(3));
    for k in order {
        let again = pipeline::chunk_file(
            &renderer,
            &plan,
            k,
            &mastering.params,
            &settings,
            Container::Webm,
        )
        .unwrap();
        assert!(
            again == in_order[k as usize],
            "chunk {k} bytes depend on render order"
        );
    }
}

#[test]
fn the_streamed_whole_track_file_is_the_in_memory_one_and_write_errors_are_io_errors() {
    // 65 s: three chunks, the last partial, so the continuous encode crosses chunk joins.
    let source = demo_excerpt(65);
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Warm, None, 0).unwrap();
    let settings = OpusSettings::default();
    // The oracle: the whole track's PCM in one buffer, one continuous encode of it.
    let plan = renderer.plan(30.0).unwrap();
    let pcm = pipeline::mastered_track(&renderer, &plan, &mastering.params).unwrap();
    let track = opus::encode_track(&pcm, 2, &settings).unwrap();
    for container in [Container::Webm, Container::Mp4] {
        let mut streamed = Vec::new();
        let written = pipeline::write_whole_track_file(
            &renderer,
            &mastering.params,
            &settings,
            container,
            &mut streamed,
        )
        .unwrap();
        assert_eq!(written, streamed.len() as u64);
        assert!(
            streamed == container.whole_track_file(&track, 2),
            "{container}: differs from the one-buffer encode"
        );
        assert!(
            streamed
                == pipeline::whole_track_file(&renderer, &mastering.params, &settings, container)
                    .unwrap()
        );
        // A writer that fails half-way: an I/O error, not a panic.
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = pipeline::write_whole_track_file(
            &renderer,
            &mastering.params,
            &settings,
            container,
            &mut Full(streamed.len() / 2),
        )
        .unwrap_err();
        assert_eq!(err.kind(), auralis_core::ErrorKind::Io, "{err}");
    }
}

#[test]
fn a_whole_track_file_whose_source_fails_mid_track_is_an_error_not_a_short_file() {
    // 95 s of 48 kHz WAV: four chunks. Opened whole, then cut on disk to 40 s, so chunk 0 is
    // mastered (and encoded, beside the mastering of chunk 1) before a later chunk's read fails.
    let dir = tempfile::tempdir().unwrap();
    let samples = quantize(&music_like(48_000, 2, 95 * 48_000, 7), 16);
    let bytes = wav_int(48_000, 2, 16, &samples);
    let path = write_temp(&dir, "cut.wav", &bytes);
    let renderer = Renderer::new(Source::open(&path).unwrap());
    assert_eq!(renderer.plan(30.0).unwrap().total_chunks(), 4);
    let mastering = Mastering::prepare(renderer.source(), Preset::Warm, None, 0).unwrap();
    std::fs::write(&path, &bytes[..44 + 40 * 48_000 * 4]).unwrap();
    // The failure is mid-track: chunk 0 still renders from the cut file, chunk 2 does not.
    let plan = renderer.plan(30.0).unwrap();
    assert!(pipeline::mastered_pcm(&renderer, &plan, 0, &mastering.params).is_ok());
    assert!(pipeline::mastered_pcm(&renderer, &plan, 2, &mastering.params).is_err());
    for container in [Container::Webm, Container::Mp4] {
        let mut out = Vec::new();
        let result = pipeline::write_whole_track_file(
            &renderer,
            &mastering.params,
            &OpusSettings::default(),
            container,
            &mut out,
        );
        assert!(
            matches!(result, Err(auralis_core::Error::Decode(_))),
            "{container}: {result:?}"
        );
        assert!(out.is_empty(), "{container}: {} bytes written", out.len());
        let whole = pipeline::whole_track_file(
            &renderer,
            &mastering.params,
            &OpusSettings::default(),
            container,
        );
        assert!(matches!(whole, Err(auralis_core::Error::Decode(_))));
    }
}
