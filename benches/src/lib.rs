//! Inputs for the benches: the corpus, and long MP3 files made from it.
//!
//! Criterion benches live in `benches/*.rs`; `examples/make_long_mp3.rs` writes the long files
//! for the memory measurement (see BENCHMARKS in the README).

use std::path::{Path, PathBuf};

/// The corpus directory (`$AURALIS_CORPUS` or `../shared/corpus` beside the project).
pub fn corpus() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("AURALIS_CORPUS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("README.md").is_file())
}

/// The MPEG audio frames of an MP3 file, without ID3 tags and without the Xing/Info frame.
fn mp3_audio_frames(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    if bytes.starts_with(b"ID3") && bytes.len() > 10 {
        let size = bytes[6..10]
            .iter()
            .fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7f));
        start = 10 + size;
    }
    let mut end = bytes.len();
    if end >= 128 && &bytes[end - 128..end - 125] == b"TAG" {
        end -= 128;
    }
    // Skip the first frame if it is the Xing/Info header frame.
    let header = &bytes[start..start + 4];
    const BITRATES: [usize; 16] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
    ];
    const RATES: [usize; 4] = [44_100, 48_000, 32_000, 0];
    let bitrate = BITRATES[usize::from(header[2] >> 4)] * 1000;
    let rate = RATES[usize::from((header[2] >> 2) & 3)];
    let padding = usize::from((header[2] >> 1) & 1);
    let frame_len = 144 * bitrate / rate + padding;
    let first = &bytes[start..(start + frame_len).min(end)];
    if first.windows(4).any(|w| w == b"Xing" || w == b"Info") {
        start += frame_len;
    }
    &bytes[start..end]
}

/// Writes an MP3 of about `minutes` minutes: the audio frames of `seed` repeated, with no
/// length header (as many CBR files are), so opening it exercises the demuxing pass.
pub fn make_long_mp3(seed: &Path, minutes: f64, out: &Path) -> std::io::Result<PathBuf> {
    let bytes = std::fs::read(seed)?;
    let frames = mp3_audio_frames(&bytes);
    let seed_s = 44.4;
    let copies = (minutes * 60.0 / seed_s).ceil() as usize;
    let mut data = Vec::with_capacity(frames.len() * copies);
    for _ in 0..copies {
        data.extend_from_slice(frames);
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, data)?;
    Ok(out.to_path_buf())
}

/// A long MP3 in `target/bench-data`, made once.
pub fn long_mp3(minutes: u32) -> Option<PathBuf> {
    let seed = corpus()?.join("sad_44s.mp3");
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/bench-data/long_{minutes}min.mp3"));
    if out.is_file() {
        return Some(out);
    }
    make_long_mp3(&seed, f64::from(minutes), &out).ok()
}

/// VmHWM (peak resident set) of this process.
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
