//! Fixtures shared by the C library's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root (the C sources, the header and the Makefile are found from it).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `seconds` of a stereo chord at 44.1 kHz, 16-bit WAV.
pub fn wav(path: &Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..seconds * 44_100 {
        let t = f64::from(i) / 44_100.0;
        for f in [220.0, 330.0] {
            let x = 0.3 * (std::f64::consts::TAU * f * t).sin()
                + 0.1 * (std::f64::consts::TAU * 2_500.0 * t).sin();
            w.write_sample((x * 32_000.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// The library's soname version (build.rs): the major version, or `0.MINOR` while it is 0.
pub fn soversion() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => major.to_string(),
    }
}
