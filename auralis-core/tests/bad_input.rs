//! Bad input: every case gives a typed error naming the file, or (truncation) decodes what is
//! there; nothing panics, nothing loops, nothing allocates what a header claims.

mod common;

use auralis_core::{DecodeError, PlanError, Renderer, Source};
use common::*;

fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn stereo_wav_ints(frames: usize) -> Vec<i32> {
    quantize(&music_like(44_100, 2, frames, 5), 16)
}

#[test]
fn missing_file_directory_and_empty_file_are_distinct_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.mp3");
    let err = Source::open(&missing).unwrap_err();
    assert!(matches!(err, DecodeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.mp3"), "{err}");
    assert!(matches!(
        Source::open(dir.path()).unwrap_err(),
        DecodeError::NotAFile { .. }
    ));
    let empty = write_temp(&dir, "empty.flac", &[]);
    assert!(matches!(
        Source::open(&empty).unwrap_err(),
        DecodeError::EmptyFile { .. }
    ));
    assert!(matches!(
        Source::from_bytes(Vec::new(), Some("wav")).unwrap_err(),
        DecodeError::EmptyFile { .. }
    ));
}

#[test]
fn random_bytes_with_an_audio_extension_are_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = random_bytes(200_000);
    for ext in ["mp3", "flac", "wav", "ogg", "m4a", "aac", "aiff"] {
        let path = write_temp(&dir, &format!("noise.{ext}"), &bytes);
        let err = Source::open(&path).unwrap_err();
        assert!(
            matches!(err, DecodeError::UnsupportedFormat { .. }),
            ".{ext}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("noise.{ext}")), "{err}");
    }
}

/// A file cut in half opens, reports the length it really holds, reads to its end, and its
/// samples are those of the whole file.
fn assert_truncation_decodes_what_is_there(name: &str, whole: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let full = Source::from_bytes(whole.to_vec(), name.rsplit('.').next()).unwrap();
    let path = write_temp(&dir, name, &whole[..whole.len() / 2]);
    let cut = Source::open(&path).unwrap_or_else(|e| panic!("{name} cut in half: {e}"));
    let (n, total) = (cut.info().frames, full.info().frames);
    assert!(
        n < total && n > total * 2 / 5,
        "{name}: {n} frames of {total}"
    );
    let samples = cut.read_range(0, n).unwrap();
    let reference = full.read_range(0, n).unwrap();
    assert!(
        samples == reference,
        "{name}: the part that is there differs from the whole file's"
    );
    let renderer = Renderer::new(cut);
    let plan = renderer.plan(1.0).unwrap();
    let rendered: usize = plan
        .chunks()
        .map(|c| renderer.render_chunk(&plan, c.index).unwrap().len())
        .sum();
    assert_eq!(rendered as u64, renderer.frames() * 2, "{name}");
}

#[test]
fn wav_and_flac_cut_in_half_decode_what_is_there() {
    let ints = stereo_wav_ints(44_100 * 4);
    assert_truncation_decodes_what_is_there("cut.wav", &wav_int(44_100, 2, 16, &ints));
    assert_truncation_decodes_what_is_there("cut.flac", &flac(44_100, 2, 16, &ints));
}

#[test]
fn corpus_files_cut_in_half_decode_what_is_there_or_fail_cleanly() {
    let Some(dir) = corpus() else { return };
    for name in ["sad_44s.mp3", "frantic_45s.ogg", "elvish_45s_24bit.flac"] {
        assert_truncation_decodes_what_is_there(name, &std::fs::read(dir.join(name)).unwrap());
    }
    // An MP4 written by ffmpeg keeps its index (moov) at the end: half a file has none.
    let bytes = std::fs::read(dir.join("love_40s.m4a")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = write_temp(&tmp, "love_half.m4a", &bytes[..bytes.len() / 2]);
    assert!(matches!(
        Source::open(&path).unwrap_err(),
        DecodeError::UnsupportedFormat { .. }
    ));
}

#[test]
fn a_wav_header_claiming_a_billion_frames_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let ints = stereo_wav_ints(44_100);
    let mut bytes = wav_int(44_100, 2, 16, &ints);
    // RIFF size and data size both claim 10^9 frames (4 GB of samples).
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[40..44].copy_from_slice(&4_000_000_000u32.to_le_bytes());
    let path = write_temp(&dir, "liar.wav", &bytes);
    let source = Source::open(&path).unwrap();
    // The 44 100 frames present, cut to symphonia's whole 1152-frame packets: its reader
    // returns garbage for a packet that runs past the end of the file.
    assert_eq!(source.info().frames, 44_100 / 1152 * 1152);
    let pcm = source.read_range(0, source.info().frames).unwrap();
    let expect: Vec<f32> = ints[..pcm.len()]
        .iter()
        .map(|&x| x as f32 / 32_768.0)
        .collect();
    assert!(pcm == expect, "the samples are the file's");
}

#[test]
fn zero_channels_zero_hz_and_absurd_rates_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ints = stereo_wav_ints(4410);
    let patch = |at: usize, value: &[u8]| {
        let mut bytes = wav_int(44_100, 2, 16, &ints);
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    };
    let cases = [
        ("zero_channels.wav", patch(22, &0u16.to_le_bytes())),
        ("zero_hz.wav", patch(24, &0u32.to_le_bytes())),
        ("one_mhz.wav", patch(24, &1_000_000u32.to_le_bytes())),
        ("four_hz.wav", patch(24, &4u32.to_le_bytes())),
    ];
    for (name, bytes) in cases {
        let err = Source::open(write_temp(&dir, name, &bytes)).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Unsupported { .. } | DecodeError::Malformed { .. }
            ),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = Source::open(write_temp(
        &dir,
        "zero_hz.wav",
        &patch(24, &0u32.to_le_bytes()),
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("0 Hz is out of range (8000..=192000 Hz)"),
        "{err}"
    );
}

#[test]
fn a_header_without_audio_is_no_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "silent.wav", &wav_int(44_100, 2, 16, &[]));
    assert!(matches!(
        Source::open(&path).unwrap_err(),
        DecodeError::NoAudio { .. }
    ));
}

#[test]
fn non_finite_samples_become_zero() {
    let dir = tempfile::tempdir().unwrap();
    let samples = [
        0.5f32,
        f32::NAN,
        f32::INFINITY,
        -0.25,
        f32::NEG_INFINITY,
        0.125,
    ];
    let path = write_temp(&dir, "nan.wav", &wav_float(48_000, 2, &samples));
    let pcm = Source::open(&path).unwrap().read_range(0, 3).unwrap();
    assert_eq!(pcm, vec![0.5, 0.0, 0.0, -0.25, 0.0, 0.125]);
}

#[test]
fn ranges_and_chunk_indices_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "ok.wav",
        &wav_int(44_100, 2, 16, &stereo_wav_ints(44_100)),
    );
    let source = Source::open(&path).unwrap();
    let err = source.read_range(10, 44_101).unwrap_err();
    assert!(
        matches!(err, DecodeError::RangeOutOfBounds { frames: 44_100, .. }),
        "{err:?}"
    );
    assert!(matches!(
        source.read_range(20, 10).unwrap_err(),
        DecodeError::RangeOutOfBounds { .. }
    ));
    let renderer = Renderer::new(source);
    let plan = renderer.plan(0.2).unwrap();
    assert_eq!(plan.total_chunks(), 5);
    let err = renderer.render_chunk(&plan, 5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid chunk index 5 (track has 5 chunks: 0..=4)"
    );
    assert!(matches!(
        renderer.plan(0.21).unwrap_err(),
        PlanError::InvalidChunkLength { .. }
    ));
}

/// A 16-bit mono WAV header for `frames` frames at `rate`, followed by `frames` zero samples
/// as a sparse file (no disk used): long tracks without writing them.
fn sparse_wav(dir: &tempfile::TempDir, name: &str, rate: u32, frames: u64) -> std::path::PathBuf {
    let mut header = wav_int(rate, 1, 16, &[0]);
    header.truncate(44);
    let data = frames * 2;
    header[4..8].copy_from_slice(&((36 + data) as u32).to_le_bytes());
    header[40..44].copy_from_slice(&(data as u32).to_le_bytes());
    let path = write_temp(dir, name, &header);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(44 + data).unwrap();
    path
}

#[test]
fn every_input_limit_is_a_typed_error_naming_the_limit() {
    use auralis_core::decode::{MAX_CHANNELS, MAX_DURATION_S, MAX_FILE_BYTES};
    let dir = tempfile::tempdir().unwrap();

    // Duration: 4 hours is accepted, 4 hours and a second is not (8 kHz: header-measured WAV).
    let rate = 8_000u32;
    let at_limit = sparse_wav(
        &dir,
        "four_hours.wav",
        rate,
        MAX_DURATION_S * u64::from(rate),
    );
    assert_eq!(
        Source::open(&at_limit).unwrap().info().frames,
        MAX_DURATION_S * u64::from(rate)
    );
    let over = sparse_wav(
        &dir,
        "longer.wav",
        rate,
        (MAX_DURATION_S + 1) * u64::from(rate),
    );
    let err = Source::open(&over).unwrap_err();
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("longer.wav"), "{err}");

    // Channels: 8 accepted, 9 not.
    let frames = 4_410;
    let eight = quantize(&music_like(44_100, 8, frames, 3), 16);
    Source::open(write_temp(
        &dir,
        "eight.wav",
        &wav_int(44_100, 8, 16, &eight),
    ))
    .unwrap();
    let nine = quantize(&music_like(44_100, 9, frames, 3), 16);
    let err =
        Source::open(write_temp(&dir, "nine.wav", &wav_int(44_100, 9, 16, &nine))).unwrap_err();
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("9 channels is out of range (1..={MAX_CHANNELS})")),
        "{err}"
    );

    // File size: refused before a byte is read (sparse: the content is never looked at).
    let huge = write_temp(&dir, "huge.flac", b"fLaC");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(MAX_FILE_BYTES + 1)
        .unwrap();
    let err = Source::open(&huge).unwrap_err();
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{err:?}");
    assert!(
        err.to_string().contains("larger than the 8 GiB limit"),
        "{err}"
    );
}
