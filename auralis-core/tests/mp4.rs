//! Opus in fragmented MP4: structure (a strict reader), the same packets as WebM, exact timing
//! and lengths, and an independent decoder (ffmpeg) over init + every chunk and the whole file.

mod common;

use auralis_core::format::mp4;
use auralis_core::opus::OpusSettings;
use auralis_core::units::{LOOKAHEAD_FRAMES, PACKET_FRAMES};
use auralis_core::{pipeline, Container, Mastering, Preset, Renderer, Source};
use auralis_testkit::mp4 as reader;
use auralis_testkit::webm::media_segment_packets;
use common::*;

/// 12 s and 1001 frames of the demo at 44.1 kHz: three 5 s chunks, the last one ending inside a
/// packet.
fn excerpt() -> Source {
    let pcm = auralis_core::demo::synthesize();
    let ints = quantize(
        &pcm[44_100 * 2 * 20..44_100 * 2 * 20 + (44_100 * 12 + 1001) * 2],
        16,
    );
    Source::from_bytes(wav_int(44_100, 2, 16, &ints), Some("wav")).unwrap()
}

#[test]
fn mp4_chunks_hold_the_webm_chunks_packets_with_exact_timing() {
    let source = excerpt();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Adaptive, None, 0).unwrap();
    let plan = renderer.plan(5.0).unwrap();
    let settings = OpusSettings::default();
    let init = pipeline::init_segment(&renderer, Container::Mp4);
    let movie = reader::parse_init(&init).unwrap();
    assert_eq!((movie.channels, movie.pre_skip), (2, 0));
    assert_eq!(
        movie.edit,
        (renderer.frames(), 0),
        "the edit presents the track exactly"
    );
    assert_eq!(movie.fragment_duration, Some(renderer.frames()));
    assert_eq!(movie.roll_distance, -4);
    let mut total = 0;
    for c in plan.chunks() {
        let webm = pipeline::media_segment(
            &renderer,
            &plan,
            c.index,
            &mastering.params,
            &settings,
            Container::Webm,
        )
        .unwrap();
        let mp4 = pipeline::media_segment(
            &renderer,
            &plan,
            c.index,
            &mastering.params,
            &settings,
            Container::Mp4,
        )
        .unwrap();
        let (first, frames, packets) = reader::contiguous_packets(&mp4).unwrap();
        assert_eq!(
            (first, frames),
            (c.start_frame, c.frames),
            "chunk {}",
            c.index
        );
        assert_eq!(
            packets,
            media_segment_packets(&webm).unwrap().packets,
            "chunk {}: one encode, two containers",
            c.index
        );
        let is_last = c.index + 1 == plan.total_chunks();
        assert_eq!(
            mp4::media_segment(&media_segment_packets(&webm).unwrap(), is_last),
            mp4,
            "chunk {}: the WebM chunk's packets muxed to MP4",
            c.index
        );
        let fragments = reader::parse_fragments(&mp4).unwrap();
        assert_eq!(
            fragments.len(),
            (c.frames as usize).div_ceil(PACKET_FRAMES * 50)
        );
        assert!(fragments.iter().all(|f| f.packets.len() <= 50));
        let file = pipeline::chunk_file(
            &renderer,
            &plan,
            c.index,
            &mastering.params,
            &settings,
            Container::Mp4,
        )
        .unwrap();
        assert_eq!(file, [init.clone(), mp4.clone()].concat());
        total += frames;
    }
    assert_eq!(total, renderer.frames());
}

#[test]
fn ffmpeg_decodes_init_and_every_chunk_and_the_whole_file() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = excerpt();
    let renderer = Renderer::new(source.clone());
    let mastering = Mastering::prepare(&source, Preset::Bright, None, 0).unwrap();
    let plan = renderer.plan(5.0).unwrap();
    let settings = OpusSettings::default();
    let mut stream = pipeline::init_segment(&renderer, Container::Mp4);
    let mut webm = pipeline::init_segment(&renderer, Container::Webm);
    for c in plan.chunks() {
        stream.extend(
            pipeline::media_segment(
                &renderer,
                &plan,
                c.index,
                &mastering.params,
                &settings,
                Container::Mp4,
            )
            .unwrap(),
        );
        webm.extend(
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
    }
    let whole = pipeline::whole_track_file(&renderer, &mastering.params, &settings, Container::Mp4)
        .unwrap();
    let (movie, packets) = reader::parse_file(&whole).unwrap();
    assert_eq!(movie.edit, (renderer.frames(), LOOKAHEAD_FRAMES as u64));
    assert_eq!(movie.pre_skip as usize, LOOKAHEAD_FRAMES);
    assert_eq!(
        packets.len(),
        (renderer.frames() as usize + LOOKAHEAD_FRAMES).div_ceil(PACKET_FRAMES)
    );
    let whole_webm =
        pipeline::whole_track_file(&renderer, &mastering.params, &settings, Container::Webm)
            .unwrap();
    let frames = renderer.frames() as usize;
    let decode = |name: &str, bytes: &[u8]| {
        let path = write_temp(&dir, name, bytes);
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=duration_ts"])
            .args(["-of", "csv=p=0"])
            .arg(&path)
            .output()
            .unwrap();
        let duration: Option<usize> = String::from_utf8_lossy(&probe.stdout).trim().parse().ok();
        (ffmpeg_decode(&path), duration)
    };
    // The WebM stream decodes to exactly the track (DiscardPadding): the reference.
    let (reference, _) = decode("stream.webm", &webm);
    assert_eq!(reference.len(), frames * 2);
    let (whole_reference, _) = decode("whole.webm", &whole_webm);
    assert_eq!(whole_reference.len(), frames * 2);
    for (name, bytes, want) in [
        ("stream.mp4", &stream, &reference),
        ("whole.m4a", &whole, &whole_reference),
    ] {
        let (pcm, duration) = decode(name, bytes);
        // The container says the exact length (the edit list; the last sample's duration).
        assert_eq!(duration, Some(frames), "ffprobe, {name}");
        // ffmpeg 5.1 applies an MP4 edit list's start (the whole file's pre-skip) but not the
        // part of the last packet past its end (its own Opus-in-MP4 files decode the same way),
        // so it decodes up to one packet's padding more. The track's frames are the same
        // samples as the WebM decode of the same packets.
        let extra = pcm.len() / 2 - frames;
        assert!(extra < PACKET_FRAMES, "{name}: {extra} frames past the end");
        assert_eq!(
            extra as u64,
            auralis_core::units::padding_frames(
                frames as u64
                    + if name == "whole.m4a" {
                        LOOKAHEAD_FRAMES as u64
                    } else {
                        0
                    }
            ),
            "{name}"
        );
        assert!(
            pcm[..frames * 2] == want[..],
            "{name}: the samples differ from the WebM decode"
        );
    }
}

#[test]
fn the_strict_reader_refuses_what_is_not_exactly_this_layout() {
    let chunk = auralis_core::opus::EncodedChunk {
        packets: (0..60u8).map(|i| vec![i; 5]).collect(),
        start_frame: 0,
        frames: 60 * 960,
        padding_frames: 0,
    };
    let good = auralis_core::format::mp4::media_segment(&chunk, false);
    assert!(reader::parse_fragments(&good).is_ok());
    // Truncated, a size that runs past the end, a data offset that misses the mdat, a
    // fragment alone in the wrong order.
    assert!(reader::parse_fragments(&good[..good.len() - 1]).is_err());
    let mut bad = good.clone();
    bad[3] = bad[3].wrapping_add(1);
    assert!(reader::parse_fragments(&bad).is_err());
    let fragments = auralis_core::format::mp4::split_fragments(&good);
    assert_eq!(fragments.len(), 2);
    let swapped = [fragments[1], fragments[0]].concat();
    assert!(
        reader::contiguous_packets(&swapped).is_err(),
        "tfdt continuity"
    );
    let trun_offset = good.windows(4).position(|w| w == b"trun").unwrap() + 12;
    let mut off = good.clone();
    off[trun_offset + 3] ^= 1;
    assert!(reader::parse_fragments(&off).is_err(), "data offset");
}
