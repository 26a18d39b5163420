//! Decoding synthesized WAV and FLAC: exact lengths, exact samples, exact range reads.

mod common;

use auralis_core::units::output_frames;
use auralis_core::{Renderer, Source};
use common::*;

const RATES: [u32; 5] = [22_050, 44_100, 48_000, 88_200, 96_000];

#[test]
fn wav_and_flac_decode_to_the_exact_samples_at_every_rate_and_width() {
    let dir = tempfile::tempdir().unwrap();
    for rate in RATES {
        for channels in [1u16, 2] {
            let frames = (rate as usize * 3) / 2 + 17; // 1.5 s and change: not a block multiple
            let signal = music_like(
                rate,
                channels as usize,
                frames,
                u64::from(rate) + u64::from(channels),
            );
            let mut cases: Vec<(String, Vec<u8>, Vec<f32>)> = Vec::new();
            for bits in [16u16, 24, 32] {
                let ints = quantize(&signal, u32::from(bits));
                let scale = 2f64.powi(i32::from(bits) - 1);
                let expect = ints
                    .iter()
                    .map(|&x| (f64::from(x) / scale) as f32)
                    .collect();
                cases.push((
                    format!("s{bits}.wav"),
                    wav_int(rate, channels, bits, &ints),
                    expect,
                ));
            }
            let floats: Vec<f32> = signal.iter().map(|&x| x as f32).collect();
            cases.push((
                "f32.wav".into(),
                wav_float(rate, channels, &floats),
                floats.clone(),
            ));
            for bits in [16usize, 24] {
                let ints = quantize(&signal, bits as u32);
                let scale = 2f64.powi(bits as i32 - 1);
                let expect = ints
                    .iter()
                    .map(|&x| (f64::from(x) / scale) as f32)
                    .collect();
                cases.push((
                    format!("s{bits}.flac"),
                    flac(rate, channels as usize, bits, &ints),
                    expect,
                ));
            }
            for (name, bytes, expect) in cases {
                let path = write_temp(&dir, &format!("{rate}_{channels}_{name}"), &bytes);
                let source = Source::open(&path).unwrap();
                let info = source.info();
                assert_eq!(info.frames, frames as u64, "{}", path.display());
                assert_eq!(
                    (info.sample_rate, info.channels),
                    (rate, channels),
                    "{}",
                    path.display()
                );
                let linear = source.read_range(0, info.frames).unwrap();
                let err = max_abs_diff(&linear, &expect);
                assert!(
                    err <= 1.0 / (1u64 << 31) as f32 * 2.0,
                    "{}: max error {err}",
                    path.display()
                );
                assert_ranges_match_linear(&source, &linear, u64::from(rate), 50_000, &[]);
                let renderer = Renderer::new(source);
                let plan = renderer.plan(0.5).unwrap();
                let sum: u64 = plan.chunks().map(|c| c.frames).sum();
                assert_eq!(
                    sum,
                    output_frames(frames as u64, rate),
                    "{}",
                    path.display()
                );
                let rendered: usize = plan
                    .chunks()
                    .map(|c| renderer.render_chunk(&plan, c.index).unwrap().len())
                    .sum();
                assert_eq!(
                    rendered as u64,
                    sum * u64::from(channels),
                    "{}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn more_than_two_channels_fold_down_to_stereo() {
    let dir = tempfile::tempdir().unwrap();
    // 6 channels (WAV's default mask for 6 is 5.1): FL FR FC LFE BL BR; only FL carries signal.
    let frames = 4800;
    let mut samples = vec![0i32; frames * 6];
    for f in 0..frames {
        samples[f * 6] = 16_000;
        samples[f * 6 + 3] = 30_000; // LFE: dropped
    }
    let path = write_temp(&dir, "six.wav", &wav_int(48_000, 6, 16, &samples));
    let source = Source::open(&path).unwrap();
    assert_eq!(
        (source.info().source_channels, source.info().channels),
        (6, 2)
    );
    let pcm = source.read_range(0, frames as u64).unwrap();
    let left = 16_000.0 / 32_768.0 / (1.0 + 2.0 * std::f32::consts::FRAC_1_SQRT_2);
    assert!(
        (pcm[0] - left).abs() < 1e-6 && pcm[1] == 0.0,
        "{:?}",
        &pcm[..2]
    );
}

/// Converts a WAV fixture with ffmpeg (lossless codecs only).
fn ffmpeg_convert(
    dir: &tempfile::TempDir,
    wav: &std::path::Path,
    name: &str,
    codec_args: &[&str],
) -> std::path::PathBuf {
    let out = dir.path().join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(wav)
        .args(codec_args)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg failed to write {name}");
    out
}

#[test]
fn alac_in_m4a_and_aiff_decode_to_the_exact_samples() {
    if !required_in_ci("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (rate, channels) in [(44_100u32, 2u16), (48_000, 1), (96_000, 2)] {
        let frames = rate as usize * 2 + 333;
        let ints = quantize(&music_like(rate, channels as usize, frames, 9), 16);
        let wav = write_temp(
            &dir,
            &format!("{rate}_{channels}.wav"),
            &wav_int(rate, channels, 16, &ints),
        );
        let expect: Vec<f32> = ints.iter().map(|&x| x as f32 / 32_768.0).collect();
        for (name, args) in [
            (format!("{rate}_{channels}.m4a"), vec!["-c:a", "alac"]),
            (format!("{rate}_{channels}.aiff"), vec!["-c:a", "pcm_s16be"]),
        ] {
            let path = ffmpeg_convert(&dir, &wav, &name, &args);
            let source = Source::open(&path).unwrap();
            assert_eq!(source.info().frames, frames as u64, "{name}");
            let linear = source.read_range(0, frames as u64).unwrap();
            assert!(
                linear == expect,
                "{name}: max diff {}",
                max_abs_diff(&linear, &expect)
            );
            assert_ranges_match_linear(&source, &linear, 5, 50_000, &[]);
        }
    }
}

#[test]
fn lowest_and_highest_rates_resample_to_the_exact_length() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [8_000u32, 11_025, 192_000] {
        let frames = rate as usize + 7;
        let ints = quantize(&music_like(rate, 2, frames, 2), 16);
        let path = write_temp(&dir, &format!("{rate}.wav"), &wav_int(rate, 2, 16, &ints));
        let renderer = Renderer::open(&path).unwrap();
        assert_eq!(renderer.frames(), output_frames(frames as u64, rate));
        let joined = render_all(&renderer, 0.2);
        assert_eq!(joined.len() as u64, renderer.frames() * 2, "{rate} Hz");
        let reference = continuous_resample(
            &renderer.source().read_range(0, frames as u64).unwrap(),
            2,
            rate,
        );
        assert!(
            joined == reference,
            "{rate} Hz: chunks differ from one continuous pass"
        );
    }
}
