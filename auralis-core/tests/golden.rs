//! Every output byte, pinned: the XXH3-64 of the init segments, every chunk file (WebM, MP4,
//! float and 16-bit WAV), a transition chunk and the whole-track files, for several inputs, presets
//! and thread counts, against `tests/golden/hashes.txt`. The hashes were recorded before the
//! chunk path was restructured (issue 14) and must not change with it; any change to the
//! bytes of an output is a deliberate act: rerun with `AURALIS_GOLDEN_WRITE=1` and say why in
//! the commit.
//!
//! The thread counts 1, 2 and 4 share one set of hashes: bytes never depend on them.
//!
//! libopus's float encoder takes other SIMD paths on other processors (the same code and
//! PCM gave other Opus bytes on an Intel Xeon with AVX-512 than on the AMD EPYC the hashes were
//! recorded on), so the encoded outputs (WebM, MP4) of a processor whose encoder differs are
//! pinned in `tests/golden/opus-variants.txt`, under the XXH3-64 of a fixed 1 s encode (the
//! encoder's fingerprint); the PCM outputs (WAV) have one set of hashes everywhere. Record a
//! new processor's with `AURALIS_GOLDEN_WRITE_OPUS=1` (after checking that its WAVs pass).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use auralis_core::stream::{Engine, EngineConfig, StreamSettings, WavFormat};
use auralis_core::{Container, Preset};
use common::{music_like, quantize, wav_float, wav_int, write_temp};
use xxhash_rust::xxh3::xxh3_64;

const GOLDEN: &str = "tests/golden/hashes.txt";
const OPUS_VARIANTS: &str = "tests/golden/opus-variants.txt";

/// The libopus encoder's fingerprint on this processor: the XXH3-64 of the packets of a fixed
/// 1 s stereo chunk.
fn opus_fingerprint() -> String {
    use auralis_core::opus::{encode_chunk, OpusSettings};
    use auralis_core::units::{LOOKAHEAD_FRAMES, PRE_ROLL_FRAMES};
    let frames = 48_000;
    let input: Vec<f32> = music_like(48_000, 2, PRE_ROLL_FRAMES + frames + LOOKAHEAD_FRAMES, 7)
        .iter()
        .map(|&x| x as f32 * 0.5)
        .collect();
    let chunk = encode_chunk(&input, 2, 0, frames as u64, &OpusSettings::default()).unwrap();
    format!("{:016x}", xxh3_64(&chunk.packets.concat()))
}

/// Whether `label` is an Opus-encoded output (its bytes depend on the processor's encoder).
fn encoded(label: &str) -> bool {
    !label.ends_with(".wav")
}

/// The recorded hashes of the encoded outputs for `fingerprint`, if that encoder was recorded.
fn read_variants(fingerprint: &str) -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(OPUS_VARIANTS);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split(' ');
            let (f, label, hash) = (it.next()?, it.next()?, it.next()?);
            (f == fingerprint).then(|| (label.to_owned(), hash.to_owned()))
        })
        .collect()
}

fn inputs(dir: &tempfile::TempDir) -> Vec<(&'static str, PathBuf)> {
    let a = music_like(44_100, 2, 44_100 * 9 + 123, 1);
    let b = music_like(22_050, 1, 22_050 * 7, 2);
    let c: Vec<f32> = music_like(48_000, 2, 48_000 * 5 + 7, 3)
        .iter()
        .map(|&x| x as f32 * 0.5)
        .collect();
    vec![
        (
            "stereo44k16",
            write_temp(dir, "a.wav", &wav_int(44_100, 2, 16, &quantize(&a, 16))),
        ),
        (
            "mono22k24",
            write_temp(dir, "b.wav", &wav_int(22_050, 1, 24, &quantize(&b, 24))),
        ),
        (
            "stereo48kf32",
            write_temp(dir, "c.wav", &wav_float(48_000, 2, &c)),
        ),
    ]
}

fn engine(threads: usize) -> Engine {
    Engine::new(&EngineConfig {
        render_threads: threads,
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

/// label -> hash of every output of one input with one setting.
fn outputs(
    engine: &Engine,
    name: &str,
    path: &Path,
    preset: Preset,
    intensity: f64,
) -> Vec<(String, u64)> {
    let settings = StreamSettings {
        mastering: (preset, intensity).into(),
        chunk_seconds: 4.0,
        ..StreamSettings::default()
    };
    let stream = engine.open(path, settings).unwrap();
    let tag = format!("{name}/{}/{intensity}", preset.name());
    let mut out = vec![(format!("{tag}/init"), xxh3_64(&stream.init_segment()))];
    for c in stream.plan().chunks() {
        let i = c.index;
        out.push((
            format!("{tag}/chunk{i}.webm"),
            xxh3_64(&stream.chunk_file(i, None).unwrap()),
        ));
        out.push((
            format!("{tag}/chunk{i}.f32.wav"),
            xxh3_64(&stream.chunk_wav(i, WavFormat::Float32).unwrap()),
        ));
        out.push((
            format!("{tag}/chunk{i}.s16.wav"),
            xxh3_64(&stream.chunk_wav(i, WavFormat::Pcm16).unwrap()),
        ));
    }
    let last = stream.plan().total_chunks() - 1;
    out.push((
        format!("{tag}/transition-from-none{last}.webm"),
        xxh3_64(
            &stream
                .chunk_file(last, Some((Preset::None, 1.0).into()))
                .unwrap(),
        ),
    ));
    out.push((
        format!("{tag}/full.webm"),
        xxh3_64(&stream.full_webm().unwrap()),
    ));
    out.push((
        format!("{tag}/full.f32.wav"),
        xxh3_64(&stream.full_wav(WavFormat::Float32).unwrap()),
    ));
    // The same chunks in fragmented MP4 (added with issue 17; the WebM hashes above are
    // unchanged by it).
    let mp4 = stream.with_container(Container::Mp4).unwrap();
    out.push((format!("{tag}/init.mp4"), xxh3_64(&mp4.init_segment())));
    for c in mp4.plan().chunks() {
        out.push((
            format!("{tag}/chunk{}.mp4", c.index),
            xxh3_64(&mp4.chunk_file(c.index, None).unwrap()),
        ));
    }
    out.push((
        format!("{tag}/transition-from-none{last}.mp4"),
        xxh3_64(
            &mp4.chunk_file(last, Some((Preset::None, 1.0).into()))
                .unwrap(),
        ),
    ));
    out.push((
        format!("{tag}/full.m4a"),
        xxh3_64(&mp4.full_file().unwrap()),
    ));
    out
}

fn all_outputs(threads: usize) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(threads);
    let mut map = BTreeMap::new();
    for (name, path) in inputs(&dir) {
        for (preset, intensity) in [
            (Preset::Adaptive, 1.0),
            (Preset::Warm, 0.6),
            (Preset::None, 1.0),
        ] {
            for (label, hash) in outputs(&engine, name, &path, preset, intensity) {
                map.insert(label, format!("{hash:016x}"));
            }
        }
    }
    map
}

fn read_golden() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN))
        .expect("tests/golden/hashes.txt (write it with AURALIS_GOLDEN_WRITE=1)");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (label, hash) = l.split_once(' ').expect("label hash");
            (label.to_owned(), hash.to_owned())
        })
        .collect()
}

#[test]
fn every_output_byte_is_as_recorded_for_one_two_and_four_threads() {
    let one = all_outputs(1);
    if std::env::var_os("AURALIS_GOLDEN_WRITE").is_some() {
        let mut text = String::from("# label xxh3-64 (tests/golden.rs)\n");
        for (label, hash) in &one {
            text += &format!("{label} {hash}\n");
        }
        std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN), text).unwrap();
    }
    let fingerprint = opus_fingerprint();
    if std::env::var_os("AURALIS_GOLDEN_WRITE_OPUS").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(OPUS_VARIANTS);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| "# fingerprint label xxh3-64 (tests/golden.rs)\n".into());
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{fingerprint} ")))
            .collect();
        let mut text = kept.join("\n") + "\n";
        for (label, hash) in one.iter().filter(|(l, _)| encoded(l)) {
            text += &format!("{fingerprint} {label} {hash}\n");
        }
        std::fs::write(path, text).unwrap();
    }
    let mut golden = read_golden();
    assert_eq!(golden.len(), one.len(), "the set of outputs changed");
    let variants = read_variants(&fingerprint);
    if !variants.is_empty() {
        assert_eq!(
            variants.len(),
            golden.keys().filter(|l| encoded(l)).count(),
            "the encoded outputs of encoder {fingerprint} are not all recorded"
        );
        golden.extend(variants);
    }
    for threads in [1, 2, 4] {
        let got = if threads == 1 {
            one.clone()
        } else {
            all_outputs(threads)
        };
        let differ: Vec<&String> = golden
            .iter()
            .filter(|(label, hash)| got.get(*label) != Some(hash))
            .map(|(label, _)| label)
            .collect();
        assert!(
            differ.is_empty(),
            "{} of {} outputs differ from the recorded bytes with {threads} threads (libopus \
             fingerprint {fingerprint}; see the module docs): {differ:?}",
            differ.len(),
            golden.len()
        );
    }
}
