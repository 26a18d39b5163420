//! Queue fixtures shared by the queue tests (`queue.rs`, `queue_levels.rs`,
//! `queue_layouts.rs`): tracks, items, the browser-side decode of a queue's segments, join
//! shifts, the continuous-encode reference; steady tracks and loudness; tagged copies.

use std::path::{Path, PathBuf};

use auralis_core::stream::{Queue, QueueItem};

use auralis_core::Preset;

use super::streams::{settings, track};
use super::{quantize, wav_int};

/// Three tracks of odd lengths (none a multiple of 20 ms), so every join cuts a packet.
pub fn three_tracks(dir: &Path) -> Vec<PathBuf> {
    vec![
        track(dir, "a.wav", 12.3456, 1),
        track(dir, "b.wav", 9.8765, 2),
        track(dir, "c.wav", 11.1111, 3),
    ]
}

pub fn items(paths: &[PathBuf]) -> Vec<QueueItem> {
    paths.iter().map(|p| QueueItem::new(p.clone())).collect()
}

/// Every chunk's packets decoded one after the other by one decoder, as a browser plays one
/// SourceBuffer: a block with DiscardPadding gives only its frames before the padding.
pub fn decode_queue(queue: &Queue) -> Vec<f32> {
    let segments: Vec<Vec<u8>> = queue
        .chunks()
        .iter()
        .map(|c| queue.chunk_media_segment(c.index).unwrap().bytes.to_vec())
        .collect();
    decode_segments(&segments, queue.channels() as usize)
}

pub use auralis_testkit::decode_segments;
pub use auralis_testkit::joins::local_shift;

/// Per join, the shift of `heard` against `reference` just before it and just after it.
pub fn shifts_at(heard: &[f32], reference: &[f32], joins: &[usize]) -> Vec<i64> {
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
pub fn continuous_encode(reference: &[f32]) -> Vec<f32> {
    let settings = auralis_core::opus::OpusSettings::DEFAULT;
    let encoded = auralis_core::opus::encode_track(reference, 2, &settings).unwrap();
    let mut decoded = super::decode_opus_packets(&encoded.packets, 2);
    decoded.drain(..auralis_core::units::LOOKAHEAD_FRAMES * 2);
    decoded.truncate(reference.len());
    decoded
}

/// The default settings (adaptive, 5 s chunks) in MP4.
pub fn mp4_settings() -> auralis_core::StreamSettings {
    auralis_core::StreamSettings {
        container: auralis_core::Container::Mp4,
        ..settings(Preset::Adaptive)
    }
}

pub fn joins_of(queue: &Queue) -> Vec<usize> {
    queue
        .chunks()
        .iter()
        .skip(1)
        .map(|c| c.start_frame as usize)
        .collect()
}

/// A stationary "song" at `level` (peak, linear): noise shaped like music's spectrum, so
/// that its momentary loudness is steady and a dip or bump in a crossfade shows.
pub fn steady_track(dir: &Path, name: &str, seconds: f64, level: f64, seed: u64) -> PathBuf {
    let frames = (44_100.0 * seconds) as usize;
    let pcm: Vec<f64> = super::music_like(44_100, 2, frames, seed)
        .iter()
        .map(|x| x * level)
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, wav_int(44_100, 2, 16, &quantize(&pcm, 16))).unwrap();
    path
}

pub fn momentary(samples: &[f32], frame: usize) -> f64 {
    let (from, to) = (
        frame.saturating_sub(9_600),
        (frame + 9_600).min(samples.len() / 2),
    );
    let mut meter = ebur128::EbuR128::new(2, 48_000, ebur128::Mode::M).unwrap();
    meter.add_frames_f32(&samples[from * 2..to * 2]).unwrap();
    meter.loudness_momentary().unwrap()
}

pub fn integrated(samples: &[f32]) -> f64 {
    let mut meter = ebur128::EbuR128::new(2, 48_000, ebur128::Mode::I).unwrap();
    meter.add_frames_f32(samples).unwrap();
    meter.loudness_global().unwrap()
}

/// `ffmpeg -i WAV -metadata ... OUT`: `wav` re-encoded with tags.
pub fn tagged(wav: &Path, out: &Path, tags: &[(&str, &str)]) {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-i"]).arg(wav);
    for (k, v) in tags {
        cmd.args(["-metadata", &format!("{k}={v}")]);
    }
    let status = cmd.arg(out).status().unwrap();
    assert!(status.success(), "ffmpeg tagging {}", out.display());
}
