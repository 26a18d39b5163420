//! The output-rate option: PCM at the source's own rate, mastered, never resampled.
//! Oracles: the 48 kHz path for a 48 kHz source (bit for bit), the file's own integers for the
//! bypass, ebur128 (BS.1770) for the loudness and true peak at every rate, and the ranges
//! themselves rendered in other orders by other engines.

mod common;

use auralis_core::stream::{Engine, StreamSettings};
use auralis_core::{ErrorKind, OutputRate, Preset};

const RATES: [u32; 5] = [44_100, 48_000, 88_200, 96_000, 192_000];

fn open(bytes: Vec<u8>, preset: Preset) -> auralis_core::Stream {
    Engine::default()
        .open_bytes(
            bytes,
            Some("wav"),
            StreamSettings {
                mastering: preset.into(),
                ..Default::default()
            },
        )
        .unwrap()
}

fn music_wav(rate: u32, seconds: f64) -> (Vec<u8>, Vec<i32>) {
    let frames = (seconds * f64::from(rate)) as usize;
    let ints = common::quantize(&common::music_like(rate, 2, frames, 7), 16);
    (common::wav_int(rate, 2, 16, &ints), ints)
}

/// Auralis 1.5's chunk model at `rate`: chunk 0 is `[0, 15)` s, chunk `i` `[10 i + 5,
/// 10 i + 15)` s, the last one ending at the track's end.
fn v15_ranges(frames: u64, rate: u32) -> Vec<(u64, u64)> {
    let t = frames as f64 / f64::from(rate);
    let n = (((t - 5.0) / 10.0).ceil() as u64).max(1);
    let at = |s: f64| ((s * f64::from(rate)).round() as u64).min(frames);
    (0..n)
        .map(|i| {
            let start = if i == 0 { 0.0 } else { 10.0 * i as f64 + 5.0 };
            let end = if i + 1 == n {
                frames
            } else {
                at(10.0 * i as f64 + 15.0)
            };
            (at(start), end)
        })
        .collect()
}

fn loudness(pcm: &[f32], rate: u32) -> (f64, f64) {
    let mut m =
        ebur128::EbuR128::new(2, rate, ebur128::Mode::I | ebur128::Mode::TRUE_PEAK).unwrap();
    m.add_frames_f32(pcm).unwrap();
    let tp = (0..2).map(|c| m.true_peak(c).unwrap()).fold(0.0, f64::max);
    (m.loudness_global().unwrap(), 20.0 * tp.log10())
}

#[test]
fn a_48_khz_source_gives_the_same_bits_at_either_rate() {
    let (wav, _) = music_wav(48_000, 12.0);
    let stream = open(wav, Preset::Warm);
    assert_eq!(stream.frames_at(OutputRate::Source), stream.info().frames);
    for (a, b) in [(0, 48_000 * 5), (48_000 * 4 + 17, 48_000 * 12)] {
        let source = stream.pcm_range(OutputRate::Source, a, b).unwrap();
        let opus = stream.pcm_range(OutputRate::Opus, a, b).unwrap();
        assert_eq!(source.len() as u64, (b - a) * 2);
        assert!(
            source == opus,
            "range {a}..{b} differs between the two rates"
        );
    }
}

#[test]
fn source_rate_ranges_tile_the_track_and_do_not_depend_on_order_or_engine() {
    let rate = 44_100;
    let (wav, _) = music_wav(rate, 47.0);
    let first = open(wav.clone(), Preset::Punchy);
    let frames = first.frames_at(OutputRate::Source);
    assert_eq!(frames, 47 * 44_100);
    assert_eq!(first.rate_hz(OutputRate::Source), rate);
    let ranges = v15_ranges(frames, rate);
    assert_eq!(ranges.len(), 5);
    assert_eq!(ranges[0], (0, 15 * 44_100));
    assert_eq!(ranges[4], (45 * 44_100, frames));
    for w in ranges.windows(2) {
        assert_eq!(w[0].1, w[1].0, "chunks must tile the track");
    }
    let forward: Vec<Vec<f32>> = ranges
        .iter()
        .map(|&(a, b)| first.pcm_range(OutputRate::Source, a, b).unwrap())
        .collect();
    // Another engine (nothing cached), in reverse order, on two threads at once.
    let second = open(wav, Preset::Punchy);
    let backward: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .iter()
            .rev()
            .map(|&(a, b)| {
                let st = second.clone();
                s.spawn(move || st.pcm_range(OutputRate::Source, a, b).unwrap())
            })
            .collect();
        let mut out: Vec<Vec<f32>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        out.reverse();
        out
    });
    assert_eq!(
        forward.iter().map(Vec::len).sum::<usize>() as u64,
        frames * 2
    );
    for (i, (f, b)) in forward.iter().zip(&backward).enumerate() {
        assert!(f == b, "chunk {i} depends on the order or the engine");
    }
    // Joined, the chunks are one continuous mastering: each starts from rest 3 s before it,
    // so at every join they match a whole-track render to far below audibility.
    let whole = first.pcm_range(OutputRate::Source, 0, frames).unwrap();
    let joined: Vec<f32> = forward.concat();
    let worst = common::max_abs_diff(&whole, &joined);
    assert!(
        worst < 1e-3,
        "joined chunks differ from the whole by {worst}"
    );
}

#[test]
fn mastering_targets_hold_at_every_source_rate() {
    for rate in RATES {
        let (wav, _) = music_wav(rate, 20.0);
        let stream = open(wav, Preset::Adaptive);
        let frames = stream.frames_at(OutputRate::Source);
        let at_source = stream.pcm_range(OutputRate::Source, 0, frames).unwrap();
        let at_48k = stream
            .pcm_range(OutputRate::Opus, 0, stream.frames_at(OutputRate::Opus))
            .unwrap();
        let (lufs, tp) = loudness(&at_source, rate);
        let (lufs_48k, _) = loudness(&at_48k, 48_000);
        let ceiling = stream.mastering().ceiling_dbtp;
        assert!(
            (lufs - lufs_48k).abs() < 0.2,
            "{rate} Hz: {lufs:.2} LUFS at the source rate, {lufs_48k:.2} at 48 kHz"
        );
        assert!(
            tp <= ceiling + 0.5,
            "{rate} Hz: true peak {tp:.2} dBTP over the ceiling {ceiling}"
        );
        assert_eq!(
            at_source.len() as u64,
            frames * 2,
            "{rate} Hz: exact length"
        );
    }
}

#[test]
fn the_bypass_at_the_source_rate_is_the_files_own_samples() {
    for rate in [44_100, 96_000] {
        let (wav, ints) = music_wav(rate, 4.0);
        let stream = open(wav, Preset::None);
        let frames = stream.frames_at(OutputRate::Source);
        let got = stream.pcm_range(OutputRate::Source, 1234, frames).unwrap();
        let want: Vec<f32> = ints[1234 * 2..]
            .iter()
            .map(|&x| x as f32 / 32768.0)
            .collect();
        assert!(got == want, "{rate} Hz: not the file's samples");
        let original = stream.original_range(OutputRate::Source, 0, 10).unwrap();
        let head: Vec<f32> = ints[..20].iter().map(|&x| x as f32 / 32768.0).collect();
        assert!(
            original == head,
            "{rate} Hz: the unmastered range is not the file's"
        );
    }
}

#[test]
fn a_range_past_the_track_is_refused_with_the_tracks_length() {
    let (wav, _) = music_wav(44_100, 3.0);
    let stream = open(wav, Preset::Warm);
    let frames = stream.frames_at(OutputRate::Source);
    for (a, b) in [(0, frames + 1), (10, 5), (frames + 1, frames + 2)] {
        let e = stream.pcm_range(OutputRate::Source, a, b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IndexOutOfRange, "{a}..{b}: {e}");
        assert!(e.to_string().contains(&frames.to_string()), "{e}");
        let e = stream.original_range(OutputRate::Source, a, b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IndexOutOfRange, "{a}..{b}: {e}");
    }

    let wav16 = stream
        .wav_range(
            OutputRate::Source,
            0,
            frames,
            auralis_core::stream::WavFormat::Pcm16,
        )
        .unwrap();
    let reader = hound::WavReader::new(std::io::Cursor::new(wav16)).unwrap();
    assert_eq!(reader.spec().sample_rate, 44_100);
    assert_eq!(u64::from(reader.duration()), frames);
}

#[test]
fn a_range_is_kept_in_memory_and_not_written_to_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(&auralis_core::EngineConfig {
        cache: auralis_core::CacheConfig {
            disk_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        },
        ..Default::default()
    });
    let (wav, _) = music_wav(44_100, 12.0);
    let stream = engine
        .open_bytes(wav, Some("wav"), StreamSettings::default())
        .unwrap();
    let files = || std::fs::read_dir(dir.path()).unwrap().count();
    let before = files();
    let first = stream
        .pcm_range(OutputRate::Source, 44_100, 9 * 44_100)
        .unwrap();
    assert_eq!(files(), before, "a PCM range was written to the disk cache");
    let hits = engine.stats().cache.memory_hits;
    let again = stream
        .pcm_range(OutputRate::Source, 44_100, 9 * 44_100)
        .unwrap();
    assert!(first == again);
    assert_eq!(
        engine.stats().cache.memory_hits,
        hits + 1,
        "not served from memory"
    );
}
