//! Ogg Opus and Matroska/WebM sources (Opus, Vorbis, FLAC), made by ffmpeg at test time from
//! synthesized music: true lengths equal to ffmpeg's decode, samples equal to ffmpeg's within
//! the lossy codecs' tolerance, 5.1 Opus folded down like every 5.1 source, range reads equal to
//! a linear decode, and damaged files refused or read without a crash.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use auralis_core::Source;
use common::*;

const RATE: u32 = 44_100;
/// Not a whole number of Opus packets or Vorbis blocks at any rate, so end trimming shows.
const SECONDS: f64 = 7.345;

/// A WAV of synthesized music with `channels` channels.
fn music_wav(dir: &tempfile::TempDir, channels: u16) -> PathBuf {
    let frames = (SECONDS * f64::from(RATE)) as usize;
    let samples = quantize(&music_like(RATE, channels as usize, frames, 41), 24);
    write_temp(
        dir,
        &format!("music{channels}.wav"),
        &wav_int(RATE, channels, 24, &samples),
    )
}

fn ffmpeg(input: &Path, args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(input)
        .args(args)
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg failed to write {}", out.display());
}

struct Case {
    name: &'static str,
    channels: u16,
    args: &'static [&'static str],
    codec: &'static str,
    container: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "stereo.opus",
        channels: 2,
        args: &["-c:a", "libopus", "-b:a", "128k"],
        codec: "opus",
        container: "ogg",
    },
    Case {
        name: "gain.opus",
        channels: 2,
        // An output gain of -3 dB in the header, which the decoder must apply.
        args: &["-c:a", "libopus", "-b:a", "96k", "-apply_phase_inv", "0"],
        codec: "opus",
        container: "ogg",
    },
    Case {
        name: "surround.opus",
        channels: 6,
        args: &["-c:a", "libopus", "-mapping_family", "1", "-b:a", "256k"],
        codec: "opus",
        container: "ogg",
    },
    Case {
        name: "opus.webm",
        channels: 2,
        args: &["-c:a", "libopus", "-b:a", "96k"],
        codec: "opus",
        container: "matroska",
    },
    Case {
        name: "surround.mka",
        channels: 6,
        args: &["-c:a", "libopus", "-mapping_family", "1", "-b:a", "256k"],
        codec: "opus",
        container: "matroska",
    },
    Case {
        name: "vorbis.mka",
        channels: 2,
        args: &["-c:a", "libvorbis", "-q:a", "5"],
        codec: "vorbis",
        container: "matroska",
    },
    Case {
        name: "flac.mka",
        channels: 2,
        args: &["-c:a", "flac"],
        codec: "flac",
        container: "matroska",
    },
];

/// Folds ffmpeg's 5.1 (FL FR FC LFE BL BR) to stereo with the library's documented
/// coefficients (see the decode module): L = (FL + 0.7071 FC + 0.7071 BL) / 2.4142.
fn fold_51(six: &[f32]) -> Vec<f32> {
    let s = std::f32::consts::FRAC_1_SQRT_2;
    let norm = 1.0 + 2.0 * s;
    six.chunks_exact(6)
        .flat_map(|f| {
            [
                (f[0] + s * f[2] + s * f[4]) / norm,
                (f[1] + s * f[2] + s * f[5]) / norm,
            ]
        })
        .collect()
}

#[test]
fn opus_and_matroska_decode_like_ffmpeg_with_exact_lengths() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (path, case) in make_all(&dir) {
        if case.name == "gain.opus" {
            set_opus_output_gain(&path, -3 * 256);
        }
        let source = Source::open(&path).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let info = source.info().clone();
        assert_eq!(
            (info.codec.as_str(), info.container.as_str()),
            (case.codec, case.container),
            "{}",
            case.name
        );
        assert_eq!(info.source_channels, case.channels, "{}", case.name);
        assert_eq!(info.channels, 2, "{}", case.name);
        let ours = source.read_range(0, info.frames).unwrap();
        // Opus through libopus, the decoder this library uses; ffmpeg's own for the rest.
        let decoder = (case.codec == "opus").then_some("libopus");
        let mut theirs = ffmpeg_decode_with(&path, decoder);
        if case.channels == 6 {
            theirs = fold_51(&theirs);
        }
        let diff = max_abs_diff(&ours, &theirs);
        println!(
            "{:14} {} Hz {} frames (ffmpeg {}), max diff {diff:.2e}",
            case.name,
            info.sample_rate,
            info.frames,
            theirs.len() / 2
        );
        assert_eq!(ours.len(), theirs.len(), "{}: length", case.name);
        assert!(
            diff < 1e-4,
            "{}: max difference from ffmpeg {diff}",
            case.name
        );
    }
}

/// Rewrites the output gain field of an Ogg Opus file's OpusHead (and the page checksum).
fn set_opus_output_gain(path: &Path, gain_q8: i16) {
    let mut bytes = std::fs::read(path).unwrap();
    let head = bytes
        .windows(8)
        .position(|w| w == b"OpusHead")
        .expect("OpusHead");
    bytes[head + 16..head + 18].copy_from_slice(&gain_q8.to_le_bytes());
    // The first page holds only the header; recompute its CRC (Ogg: poly 0x04C11DB7, no
    // reflection, initial 0, over the page with the CRC field zeroed).
    let segments = usize::from(bytes[26]);
    let page_len = 27
        + segments
        + bytes[27..27 + segments]
            .iter()
            .map(|&b| usize::from(b))
            .sum::<usize>();
    bytes[22..26].fill(0);
    let mut crc = 0u32;
    for &b in &bytes[..page_len] {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                crc << 1 ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    bytes[22..26].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Every case written by ffmpeg into `dir`.
fn make_all(dir: &tempfile::TempDir) -> Vec<(PathBuf, &'static Case)> {
    let wavs = [music_wav(dir, 2), music_wav(dir, 6)];
    CASES
        .iter()
        .map(|case| {
            let path = dir.path().join(case.name);
            ffmpeg(&wavs[usize::from(case.channels == 6)], case.args, &path);
            (path, case)
        })
        .collect()
}

#[test]
fn range_reads_equal_the_linear_decode() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (path, case) in make_all(&dir) {
        let source = Source::open(&path).unwrap();
        let frames = source.info().frames;
        let linear = source.read_range(0, frames).unwrap();
        println!("{}", case.name);
        // Opus packets are 960 frames: starts inside, at and across packet edges, the whole
        // warm-up (48 000 frames) and less of it.
        let edges = [
            (959, 961),
            (960, 1920),
            (47_999, 48_001),
            (60_000, 60_960),
            (frames - 961, frames),
        ];
        assert_ranges_match_linear(&source, &linear, 11, 100_000, &edges);
    }
}

#[test]
fn the_opus_output_gain_is_applied() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.opus");
    ffmpeg(&music_wav(&dir, 2), &["-c:a", "libopus"], &path);
    let plain = Source::open(&path).unwrap();
    let plain = plain.read_range(0, plain.info().frames).unwrap();
    for db in [-6, 3] {
        set_opus_output_gain(&path, db * 256);
        let gained = Source::open(&path).unwrap();
        let gained = gained.read_range(0, gained.info().frames).unwrap();
        let want = 10f32.powf(db as f32 / 20.0);
        let worst = plain
            .iter()
            .zip(&gained)
            .map(|(p, g)| (g - p * want).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "{db} dB: off by {worst}");
    }
}

#[test]
fn damaged_opus_and_matroska_files_fail_cleanly_or_decode_what_is_there() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (path, case) in make_all(&dir) {
        let bytes = std::fs::read(&path).unwrap();
        let ext = case.name.rsplit('.').next();
        let whole = Source::from_bytes(bytes.clone(), ext).unwrap();
        // Cut in half: the part that is there, exactly as in the whole file.
        let cut = Source::from_bytes(bytes[..bytes.len() / 2].to_vec(), ext)
            .unwrap_or_else(|e| panic!("{} cut in half: {e}", case.name));
        let n = cut.info().frames;
        let total = whole.info().frames;
        assert!(
            n < total && n > total * 2 / 5,
            "{}: {n} of {total}",
            case.name
        );
        assert!(
            cut.read_range(0, n).unwrap() == whole.read_range(0, n).unwrap(),
            "{}: the part that is there differs",
            case.name
        );
        // Bytes overwritten in the middle: opening and reading never panic; either a typed
        // error or the full length of finite samples.
        let mut damaged = bytes.clone();
        let mid = damaged.len() / 2;
        for (i, b) in damaged[mid..mid + 2000].iter_mut().enumerate() {
            *b = (i * 151 % 251) as u8;
        }
        if let Ok(source) = Source::from_bytes(damaged, ext) {
            let frames = source.info().frames;
            if let Ok(samples) = source.read_range(0, frames) {
                assert_eq!(samples.len() as u64, frames * 2, "{}", case.name);
                assert!(samples.iter().all(|x| x.is_finite()));
            }
        }
        // Only the header: no audio.
        let head = Source::from_bytes(bytes[..200.min(bytes.len())].to_vec(), ext);
        assert!(head.is_err(), "{}: a bare header opened", case.name);
    }
}
