//! Fixtures for the integration tests: synthesized files, the corpus, reference decoders.
#![allow(dead_code)]

pub mod queues;
pub mod streams;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Deterministic "music": a few partials with a slow vibrato, plus quiet noise, per channel
/// different, in [-0.9, 0.9]. Interleaved f64.
pub fn music_like(rate: u32, channels: usize, frames: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        for c in 0..channels {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let f0 = 110.0 * (1.0 + c as f64 * 0.5);
            let vib = 1.0 + 0.01 * (std::f64::consts::TAU * 5.0 * t).sin();
            let x = 0.4 * (std::f64::consts::TAU * f0 * vib * t).sin()
                + 0.2 * (std::f64::consts::TAU * 3.1 * f0 * t).sin()
                + 0.1 * (std::f64::consts::TAU * 7_000.0 * t).sin()
                + 0.1 * noise;
            out.push(x * 0.9 / 0.8);
        }
    }
    out
}

/// Quantizes to signed integers of `bits`.
pub fn quantize(samples: &[f64], bits: u32) -> Vec<i32> {
    let scale = f64::from(1u32 << (bits - 1));
    samples
        .iter()
        .map(|x| (x * scale).round().clamp(-scale, scale - 1.0) as i32)
        .collect()
}

/// An integer PCM WAV file.
pub fn wav_int(rate: u32, channels: u16, bits: u16, samples: &[i32]) -> Vec<u8> {
    wav(rate, channels, bits, hound::SampleFormat::Int, samples)
}

/// A 32-bit float WAV file.
pub fn wav_float(rate: u32, channels: u16, samples: &[f32]) -> Vec<u8> {
    wav(rate, channels, 32, hound::SampleFormat::Float, samples)
}

fn wav<S: hound::Sample + Copy>(
    rate: u32,
    channels: u16,
    bits: u16,
    format: hound::SampleFormat,
    samples: &[S],
) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    bytes.into_inner()
}

/// A FLAC file (flacenc, fixed 4096-frame blocks).
pub fn flac(rate: u32, channels: usize, bits: usize, samples: &[i32]) -> Vec<u8> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let mut config = flacenc::config::Encoder::default();
    // symphonia 0.6.1 mis-decodes some 24-bit fixed-predictor subframes that flacenc writes
    // (ffmpeg decodes them exactly; measured: 2 of 9 blocks of a 22.05 kHz signal with a 7 kHz
    // partial). LPC-only fixtures keep these tests about our pipeline; the corpus's 24-bit
    // FLAC (libFLAC) is checked against ffmpeg in tests/corpus.rs.
    config.subframe_coding.use_fixed = false;
    let config = config.into_verified().unwrap();
    let source = flacenc::source::MemSource::from_samples(samples, channels, bits, rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size).unwrap();
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).unwrap();
    let mut bytes = sink.as_slice().to_vec();
    // flacenc counts the short final block in STREAMINFO's minimum block size, which the
    // format excludes and symphonia 0.6.1 then refuses ("unexpected end of file"); libFLAC
    // writes min = max for fixed-size blocks. Write what libFLAC would.
    assert_eq!(&bytes[0..4], b"fLaC");
    let max_block = [bytes[10], bytes[11]];
    bytes[8..10].copy_from_slice(&max_block);
    bytes
}

/// Writes bytes to a file in a fresh temporary directory.
pub fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The corpus directory (`$AURALIS_CORPUS`, or `../shared/corpus` beside the project), or
/// `None` with the skip reported ([`auralis_testkit::skip`]: a failure under CI).
pub fn corpus() -> Option<PathBuf> {
    auralis_testkit::corpus()
}

/// Corpus music files with their true content length in frames at the source rate
/// (from the container: Xing/LAME info, Ogg end granule, MP4 edit list, FLAC STREAMINFO,
/// WAV data size; agreed with ffprobe's durations).
pub const CORPUS: [(&str, u32, u64); 8] = [
    ("frantic_45s.ogg", 44_100, 1_984_500),
    ("elvish_45s_24bit.flac", 44_100, 1_984_500),
    ("sad_44s.mp3", 44_100, 1_958_169),
    ("love_40s.m4a", 44_100, 1_764_000),
    ("revelation_mono_22k.wav", 22_050, 881_764),
    ("transience_96k_24bit.wav", 96_000, 1_152_000),
    ("victory_5s.wav", 44_100, 240_640),
    ("silence_10s.flac", 44_100, 441_000),
];

/// Whether a required external tool must be present (CI) rather than skipped.
pub fn required_in_ci(tool: &str) -> bool {
    let present = Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        auralis_testkit::skip(&format!("{tool} (CI installs it)"));
    }
    present
}

/// ffmpeg's decode of a file as interleaved f32 at the source rate and channel count.
pub fn ffmpeg_decode(path: &Path) -> Vec<f32> {
    ffmpeg_decode_with(path, None)
}

/// [`ffmpeg_decode`] with the given decoder (`libopus`, say) instead of ffmpeg's choice.
pub fn ffmpeg_decode_with(path: &Path, decoder: Option<&str>) -> Vec<f32> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error"]);
    if let Some(decoder) = decoder {
        cmd.args(["-c:a", decoder]);
    }
    let out = cmd
        .arg("-i")
        .arg(path)
        .args(["-f", "f32le", "-acodec", "pcm_f32le", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// The whole signal resampled to 48 kHz in one continuous rubato pass (the reference the
/// chunked renderer must equal).
pub fn continuous_resample(input: &[f32], channels: usize, rate: u32) -> Vec<f32> {
    use rubato::{Fft, FixedSync, Resampler};
    if rate == 48_000 {
        return input.to_vec();
    }
    let frames = input.len() / channels;
    let adapter =
        audioadapter_buffers::direct::InterleavedSlice::new(input, channels, frames).unwrap();
    let mut resampler = Fft::<f32>::new(
        rate as usize,
        48_000,
        auralis_core::resample::block_hint(rate),
        channels,
        FixedSync::Both,
    )
    .unwrap();
    let mut out = resampler
        .process_all(&adapter, frames, None)
        .unwrap()
        .take_data();
    // rubato computes ceil(len * ratio) in f64, which can come out one frame over an exact
    // multiple (1 764 000 * 160/147); the exact length is the library's.
    out.truncate(auralis_core::units::output_frames(frames as u64, rate) as usize * channels);
    out
}

/// Largest absolute difference between two sample slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// RMS of the difference, in dB relative to full scale.
pub fn rms_diff_db(a: &[f32], b: &[f32]) -> f64 {
    let e: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64;
    10.0 * e.max(1e-30).log10()
}

/// Asserts two decodes of the same range agree: bit for bit, except for AAC, whose noise-
/// substituted bands are regenerated after a seek (random by design; see the decode module):
/// there the difference must stay below -50 dB RMS. Opus is held to bit-exactness too: its
/// one-second warm-up makes a seek's output converge exactly (see the decode module).
pub fn assert_same_audio(label: &str, codec: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{label}: lengths differ");
    if codec == "aac" {
        let db = rms_diff_db(got, want);
        assert!(db < -50.0, "{label}: AAC difference {db:.1} dB RMS");
    } else {
        assert!(
            got == want,
            "{label}: differs (max diff {}, {:.1} dB RMS)",
            max_abs_diff(got, want),
            rms_diff_db(got, want)
        );
    }
}

/// Every chunk of `renderer` at `chunk_seconds`, rendered alone and joined.
pub fn render_all(renderer: &auralis_core::Renderer, chunk_seconds: f64) -> Vec<f32> {
    let plan = renderer.plan(chunk_seconds).unwrap();
    plan.chunks()
        .flat_map(|c| renderer.render_chunk(&plan, c.index).unwrap())
        .collect()
}

/// Reads `extra` ranges plus random ones (up to `max_len` frames) through one reader, in that
/// order, and checks each against the linear decode and against a fresh reader.
pub fn assert_ranges_match_linear(
    source: &auralis_core::Source,
    linear: &[f32],
    seed: u64,
    max_len: u64,
    extra: &[(u64, u64)],
) {
    use rand::{Rng, SeedableRng};
    let info = source.info();
    let (frames, ch) = (info.frames, info.channels as usize);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ranges = extra.to_vec();
    ranges.extend([
        (0, 1),
        (frames - 1, frames),
        (0, frames),
        (frames / 2, frames),
    ]);
    for _ in 0..16 {
        let a = rng.gen_range(0..frames);
        ranges.push((a, rng.gen_range(a..=frames.min(a + max_len))));
    }
    let mut reader = source.reader().unwrap();
    for (a, b) in ranges {
        let mut got = Vec::new();
        reader
            .read(a, b, |block| got.extend_from_slice(block))
            .unwrap();
        let want = &linear[a as usize * ch..b as usize * ch];
        assert_same_audio(&format!("{a}..{b}"), &info.codec, &got, want);
        let mut again = Vec::new();
        source
            .reader()
            .unwrap()
            .read(a, b, |block| again.extend_from_slice(block))
            .unwrap();
        assert!(
            again == got,
            "{a}..{b} depends on what the reader read before"
        );
    }
}

pub use auralis_testkit::decode_packets as decode_opus_packets;
