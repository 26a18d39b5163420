//! The Opus encoder and WebM writer on fuzzed PCM and options, read back by the crate's strict
//! WebM reader and decoded by libopus. Input: flags (channels, last chunk, a wrong input
//! length), bitrate, complexity, start packet, chunk length (up to 0.5 s), then 16-bit samples
//! (repeated to the length needed). Oracle: invalid options are typed errors; otherwise the init
//! segment parses with the right channel count, the media segment holds exactly the encoded
//! packets in order with 20 ms steps from the chunk's start, DiscardPadding only on a last
//! chunk's final block, and libopus decodes every packet to 960 frames.
#![no_main]

use auralis_core::opus::{self, OpusSettings};
use auralis_core::units::{LOOKAHEAD_FRAMES, PACKET_FRAMES, PRE_ROLL_FRAMES};
use auralis_core::format::webm;
use auralis_testkit::webm as reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let (head, body) = data.split_at(6);
    let channels = 1 + usize::from(head[0] & 1);
    let is_last = head[0] & 2 != 0;
    // Mostly valid bitrates, sometimes not (the check must catch them).
    let bitrate_bps = u32::from(head[1]) * 2_100;
    let complexity = head[2] % 12;
    let start_frame = u64::from(head[3]) * PACKET_FRAMES as u64;
    let settings = OpusSettings {
        bitrate_bps,
        complexity,
    };
    // The samples of the input, repeated to the length the chunk needs (pre-roll + frames +
    // look-ahead, 200 ms more than the chunk): short inputs reach the encoder and the muxer.
    let samples: Vec<f32> = body
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
        .collect();
    let frames = 1 + u64::from(u16::from_le_bytes([head[4], head[5]])) % 24_000;
    let margin = (PRE_ROLL_FRAMES + LOOKAHEAD_FRAMES) as u64;
    let need = (margin + frames) as usize * channels;
    let mut pcm: Vec<f32> = if samples.is_empty() {
        vec![0.0; need]
    } else {
        (0..need).map(|i| samples[i % samples.len()]).collect()
    };
    if head[0] & 4 != 0 {
        // A caller's mistake: one sample short. A typed error, never a panic.
        pcm.pop();
        assert!(opus::encode_chunk(&pcm, channels, start_frame, frames, &settings).is_err());
        return;
    }

    let encoded = match opus::encode_chunk(&pcm, channels, start_frame, frames, &settings) {
        Ok(e) => e,
        Err(err) => {
            assert!(settings.validate().is_err(), "valid settings failed: {err}");
            return;
        }
    };
    assert!(settings.validate().is_ok());
    assert_eq!(encoded.frames, frames);

    let init = webm::init_segment(channels as u8);
    let segment = webm::media_segment(&encoded, is_last);
    let mut file = init.clone();
    file.extend_from_slice(&segment);
    let parsed = reader::parse(&file).expect("our own WebM parses");
    assert_eq!(usize::from(parsed.channels), channels);
    assert_eq!(parsed.first_cluster_offset, Some(init.len()));
    assert_eq!(parsed.blocks.len(), encoded.packets.len());
    let first_ms = parsed.blocks[0].timestamp_ms;
    for (i, (block, packet)) in parsed.blocks.iter().zip(&encoded.packets).enumerate() {
        assert_eq!(&block.data, packet, "packet {i}");
        assert_eq!(block.timestamp_ms - first_ms, 20 * i as i64, "packet {i}");
        if i + 1 < parsed.blocks.len() || !is_last {
            assert_eq!(block.discard_padding_ns, None, "packet {i}");
        }
    }
    let clusters = webm::split_clusters(&segment);
    assert_eq!(clusters.concat(), segment);

    let layout = if channels == 1 {
        ::opus::Channels::Mono
    } else {
        ::opus::Channels::Stereo
    };
    let mut decoder = ::opus::Decoder::new(48_000, layout).expect("decoder");
    let mut out = vec![0.0f32; 5_760 * channels];
    for packet in &encoded.packets {
        let n = decoder
            .decode_float(packet, &mut out, false)
            .expect("libopus decodes our packets");
        assert_eq!(n, PACKET_FRAMES);
    }
});
