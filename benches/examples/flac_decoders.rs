//! How fast the engine decodes FLAC against the other decoders at hand, on the same files.
//!
//! `cargo run --release -p auralis-benches --example flac_decoders -- [--reps N] FILE.flac...`
//!
//! Every row decodes the whole file on one thread into interleaved `f32`, as the engine needs
//! it (stereo kept stereo), a block at a time into a buffer that is reused (so that the figures
//! are the decoders', not the page faults of one 184 MB buffer):
//! - `engine`: the engine's own reader ([`auralis_core::Source`], symphonia's FLAC decoder, with
//!   the copy into the interleaved buffer it hands to the resampler);
//! - `claxon`: the `claxon` crate, the other pure-Rust FLAC decoder, with the same conversion;
//! - `ffmpeg`: `ffmpeg -threads 1 -i FILE -f null -` (libavcodec's decoder), where ffmpeg is on
//!   the PATH. Its process start is included: it is timed on its own first and printed.
//!
//! Before timing, the claxon samples are compared with the engine's: the rows only count if both
//! decoded the same audio (the largest difference is printed; it must be 0).
//! Medians of `--reps` runs (5 unless told), all runs printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use auralis_core::Source;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut reps = 5usize;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--reps" {
            reps = it
                .next()
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| usage());
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        usage();
    }
    let have_ffmpeg = Command::new("ffmpeg").arg("-version").output().is_ok();
    if have_ffmpeg {
        let mut runs: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                run_ffmpeg(&["-f", "lavfi", "-i", "anullsrc", "-t", "0.01"]);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        println!(
            "ffmpeg's start (10 ms of generated silence to null): median {:.1} ms",
            runs[runs.len() / 2]
        );
    }
    println!("| file | frames | decoder | median ms | × real time | all runs (ms) |");
    println!("|---|---:|---|---:|---:|---|");
    for file in &files {
        let source = Source::open(file).unwrap_or_else(|e| fail(file, &e.to_string()));
        let info = source.info();
        let seconds = info.frames as f64 / f64::from(info.sample_rate);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        engine_decode(&source, |block| ours.extend_from_slice(block));
        claxon_decode(file, |block| theirs.extend_from_slice(block));
        if ours.len() != theirs.len() {
            fail(file, "the engine and claxon decoded different lengths");
        }
        let diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!(
            "{}: largest engine/claxon difference {diff}",
            file.display()
        );
        if diff != 0.0 {
            fail(file, "the engine and claxon decoded different samples");
        }
        let mut rows: Vec<(Decoder, Vec<f64>)> =
            vec![(Decoder::Engine, vec![]), (Decoder::Claxon, vec![])];
        if have_ffmpeg {
            rows.push((Decoder::Ffmpeg, vec![]));
        }
        for _ in 0..reps {
            for (decoder, runs) in rows.iter_mut() {
                let t = Instant::now();
                match decoder {
                    Decoder::Engine => engine_decode(&source, |block| {
                        std::hint::black_box(block);
                    }),
                    Decoder::Claxon => claxon_decode(file, |block| {
                        std::hint::black_box(block);
                    }),
                    Decoder::Ffmpeg => ffmpeg_decode(file),
                }
                runs.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        for (decoder, mut runs) in rows {
            let all: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
            runs.sort_by(f64::total_cmp);
            let median = runs[runs.len() / 2];
            println!(
                "| {name} ({} Hz) | {} | {} | {median:.1} | {:.0} | {} |",
                info.sample_rate,
                info.frames,
                decoder.name(),
                seconds / (median / 1e3),
                all.join(", ")
            );
        }
    }
}

/// The rows of a file's table.
#[derive(Debug, Clone, Copy)]
enum Decoder {
    Engine,
    Claxon,
    Ffmpeg,
}

impl Decoder {
    fn name(self) -> &'static str {
        match self {
            Decoder::Engine => "engine",
            Decoder::Claxon => "claxon",
            Decoder::Ffmpeg => "ffmpeg",
        }
    }
}

/// The whole file through the engine's reader, a block (a packet's worth) at a time.
fn engine_decode(source: &Source, sink: impl FnMut(&[f32])) {
    let mut reader = source.reader().expect("reader");
    reader.read(0, source.info().frames, sink).expect("decode");
}

/// The whole file through claxon, each block converted to interleaved `f32` in one buffer.
fn claxon_decode(file: &Path, mut sink: impl FnMut(&[f32])) {
    let mut reader = claxon::FlacReader::open(file).unwrap_or_else(|e| fail(file, &e.to_string()));
    let stream = reader.streaminfo();
    let scale = 1.0 / (1u64 << (stream.bits_per_sample - 1)) as f32;
    let channels = stream.channels as usize;
    let mut out = Vec::new();
    let mut blocks = reader.blocks();
    let mut buffer = Vec::new();
    while let Some(block) = blocks
        .read_next_or_eof(std::mem::take(&mut buffer))
        .unwrap_or_else(|e| fail(file, &e.to_string()))
    {
        // Channel by channel from claxon's planar slices (its per-sample accessor checks
        // bounds on every call, which would charge claxon for this harness).
        out.clear();
        out.resize(block.duration() as usize * channels, 0.0);
        for c in 0..channels {
            for (frame, &x) in out.chunks_exact_mut(channels).zip(block.channel(c as u32)) {
                frame[c] = x as f32 * scale;
            }
        }
        sink(&out);
        buffer = block.into_buffer();
    }
}

fn ffmpeg_decode(file: &Path) {
    run_ffmpeg(&["-threads", "1", "-i", &file.to_string_lossy()]);
}

fn run_ffmpeg(input: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input)
        .args(["-f", "null", "-"])
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg failed: {input:?}");
}

fn usage() -> ! {
    eprintln!("usage: flac_decoders [--reps N] FILE.flac...");
    std::process::exit(2);
}

fn fail(file: &Path, why: &str) -> ! {
    eprintln!("error: {}: {why}", file.display());
    std::process::exit(1);
}
