//! The test kit of auralis-core: what the tests of every crate of the workspace, its
//! benchmarks, its examples' tests and its fuzz targets share, kept out of the library (this
//! crate is not published, and the library has no test feature):
//!
//! * [`skip`] and [`corpus`]: the corpus of real music, and a skip that is a failure under CI;
//! * [`joins`]: how audible chunk joins are (noise-to-signal around each join);
//! * [`webm`] and [`mp4`]: strict readers of what the library writes;
//! * [`true_peak_oversampled_dbtp`]: a finer true-peak meter than the library's 4x one;
//! * [`decode_packets`] and [`decode_segments`]: Opus packets and WebM media segments decoded
//!   one after the other, as a browser's buffer plays appended chunks.

pub mod joins;
pub mod mp4;
pub mod webm;

use std::io::Write;

/// Reports that a test cannot run here because `what` is missing (the corpus, a tool), and
/// returns so that the caller can skip its body.
///
/// Under CI (`CI` set) nothing may be skipped: this panics, so the test fails with the reason.
/// Elsewhere the reason is printed and, when `AURALIS_SKIP_LOG` names a file, appended to it
/// with the test's name, so the suite's summary lists every skip (cargo hides the output of
/// tests that pass).
pub fn skip(what: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: required in CI and missing: {what}"
    );
    println!("SKIP {test}: {what}");
    if let Some(log) = std::env::var_os("AURALIS_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            // One write of the whole line: appends of concurrent tests do not interleave.
            let _ = f.write_all(format!("SKIP {test}: {what}\n").as_bytes());
        }
    }
}

/// The corpus of real music excerpts: `AURALIS_CORPUS`, or `../shared/corpus` beside the
/// project (a directory holding its README.md), or `None` after [`skip`] (a failure under CI,
/// where it is required).
pub fn corpus() -> Option<std::path::PathBuf> {
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let found = [
        std::env::var_os("AURALIS_CORPUS").map(Into::into),
        Some(beside),
    ]
    .into_iter()
    .flatten()
    .find(|p: &std::path::PathBuf| p.join("README.md").is_file());
    if found.is_none() {
        skip("the corpus (set AURALIS_CORPUS or place ../shared/corpus beside the project)");
    }
    found
}

/// True peak in dBTP measured by oversampling `factor`x with rubato's FFT resampler: a finer
/// meter than the 4x one of ebur128 and of the library's limiter (which can read 0.44 dB low
/// near 19 kHz), for checking a limiter's ceiling. Allocates the oversampled signal.
pub fn true_peak_oversampled_dbtp(samples: &[f32], channels: usize, rate: u32, factor: u32) -> f64 {
    use rubato::{Fft, FixedSync, Resampler};
    let frames = samples.len() / channels;
    let adapter = audioadapter_buffers::direct::InterleavedSlice::new(samples, channels, frames)
        .expect("whole frames");
    let mut up = Fft::<f32>::new(
        rate as usize,
        (rate * factor) as usize,
        1024,
        channels,
        FixedSync::Both,
    )
    .expect("integer ratio");
    let out = up
        .process_all(&adapter, frames, None)
        .expect("sized by rubato")
        .take_data();
    let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    20.0 * f64::from(peak).max(1e-12).log10()
}

fn decoder(channels: usize) -> opus::Decoder {
    let layout = if channels == 1 {
        opus::Channels::Mono
    } else {
        opus::Channels::Stereo
    };
    opus::Decoder::new(48_000, layout).expect("a 48 kHz decoder")
}

/// Opus packets (20 ms each) decoded with one libopus decoder, one after the other, as a
/// browser's MSE buffer plays appended chunks: interleaved 48 kHz, every frame kept (the
/// encoder's look-ahead included).
pub fn decode_packets<P: AsRef<[u8]>>(packets: &[P], channels: usize) -> Vec<f32> {
    let mut decoder = decoder(channels);
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 5760 * channels];
    for p in packets {
        let n = decoder
            .decode_float(p.as_ref(), &mut buf, false)
            .expect("a packet the library wrote");
        assert_eq!(n, auralis_core::units::PACKET_FRAMES, "a 20 ms packet");
        out.extend_from_slice(&buf[..n * channels]);
    }
    out
}

/// WebM media segments decoded one after the other with one decoder, each block's
/// DiscardPadding honoured: what a browser plays of them, interleaved 48 kHz.
pub fn decode_segments<S: AsRef<[u8]>>(segments: &[S], channels: usize) -> Vec<f32> {
    let mut decoder = decoder(channels);
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 5760 * channels];
    for segment in segments {
        for b in webm::parse_clusters(segment.as_ref()).expect("a segment the library wrote") {
            let n = decoder
                .decode_float(&b.data, &mut buf, false)
                .expect("a packet the library wrote");
            out.extend_from_slice(&buf[..b.kept_frames(n) * channels]);
        }
    }
    out
}
