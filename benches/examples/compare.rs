//! The comparison run of BENCHMARKS.md: Auralis Core against the equivalent ffmpeg pipeline on
//! the same input, interleaved, several repetitions each; prints medians, ratios and peak RSS.
//!
//! `cargo run --release -p auralis-benches --example compare -- [--reps N] [--long-minutes M]
//! [--input FILE]`
//!
//! Measured per repetition, in this order (so that machine noise spreads over every figure):
//! - (d) time to first cluster: a fresh engine (nothing cached) opens the file and yields the
//!   first 1 s Cluster of chunk 0; analysis and calibration included;
//! - (e) track analysis alone (`analysis::analyze`);
//! - (a) a cold 30 s chunk at a pseudo-random index, analysis known (memory cache cleared);
//! - (b) ffmpeg doing the same chunk: input seek, decode, DC high-pass, 5 equalizer bands,
//!   acompressor, volume, alimiter, aresample to 48 kHz, libopus at the same bitrate and
//!   complexity, WebM; (b') the same with one equalizer band and no high-pass (the chain as
//!   the issue lists it);
//! - (c) the whole track: a fresh engine, open, init segment and every chunk's media segment,
//!   against ffmpeg's same filter chain over the whole file into one WebM;
//! - (f) libopus alone, the limit (c) is held to: the same track's mastered 48 kHz audio (the
//!   engine's own chunk PCM, made once before the runs), cut into the same 30 s chunks and
//!   encoded with the engine's settings (complexity, bitrate, VBR, 20 ms packets) on as many
//!   threads as the engine uses, each thread taking the next chunk; nothing else is timed;
//! - (g) time to first cluster from a fresh engine whose disk cache holds the file's analysis
//!   and mastering (primed by an open alone);
//! - (h) an uncached preset switch at a pseudo-random chunk of the open stream: the new
//!   preset's calibration and the transition chunk's first Cluster, through
//!   `Stream::switch_clusters` (calibration overlapped with the chunk's first part); (h') the
//!   same preset at another intensity switched in two steps (`with_mastering`, then
//!   `chunk_clusters`), for comparison;
//! - (i) decoding and resampling alone: every chunk of the track read to 48 kHz by a fresh
//!   reader, no mastering warm-up, on the same threads taking the next chunk;
//! - (j) the mastering chain alone, once over each chunk's 48 kHz audio (made before the runs),
//!   no warm-up, on the same threads.
//!
//! (f) + (i) + (j) is the floor of the work a whole-track render cannot avoid for this source
//! and chain on these threads; (f) over that floor is the share of the libopus-alone limit an
//! engine with no restart points (warm-ups, encoder pre-roll), no muxing and no idle core
//! would reach.
//!
//! Then, in a child process (so its peak RSS is its own), the whole-track render of a long file
//! (`--long-minutes`, default 60) with the default engine configuration but a 32 MiB memory
//! cache and a disk cache in a temporary directory, as a pre-rendering backend would run it.
//!
//! Input: a 4-minute MP3 made from the corpus (`sad_44s.mp3` repeated), or `--input`. Without
//! the corpus and `--input`, the 2-minute built-in demo (WAV) is used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use auralis_benches::peak_rss;
use auralis_core::parallel::{map_indexed, map_owned};
use auralis_core::stream::{Engine, EngineConfig, Stream, StreamSettings};
use auralis_core::{analysis, CacheConfig, MasteringSettings, Preset, Source};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        let path = PathBuf::from(args.get(i + 1).expect("--rss-child FILE"));
        rss_child(&path);
        return;
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let reps: usize = value("--reps").map_or(5, |v| v.parse().expect("--reps N"));
    let long_minutes: u32 = value("--long-minutes").map_or(60, |v| v.parse().expect("minutes"));
    let input = match value("--input") {
        Some(p) => PathBuf::from(p),
        None => default_input(),
    };
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!("error: ffmpeg is needed for the comparison (apt-get install ffmpeg)");
        std::process::exit(1);
    }
    describe_machine(&input);

    let settings = StreamSettings::default();
    let out_dir = std::env::temp_dir().join(format!("auralis-compare-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temporary directory");

    // One engine whose stream knows its analysis and mastering: cold chunks are computed
    // after clearing its memory cache (no disk cache).
    let warm_engine = memory_engine();
    let warm = warm_engine.open(&input, settings).expect("open input");
    let info = warm.info().clone();
    let params = warm.mastering().clone();
    let filters = ffmpeg_filters(&params);
    println!(
        "input: {} ({:.1} s, {} Hz, {} ch, {} chunks of {} s); preset {}, {} kbit/s, complexity {}",
        input.display(),
        info.duration_s,
        info.source_sample_rate,
        info.channels,
        info.total_chunks,
        settings.chunk_seconds,
        settings.mastering.preset.name(),
        settings.opus.bitrate_bps / 1000,
        settings.opus.complexity
    );
    // The chain as the issue lists it, one equalizer band: ffmpeg's biquads cost about 0.13 s
    // each per 30 s chunk here, so this is the cheapest honest ffmpeg equivalent.
    let minimal = format!(
        "equalizer=f=1500:t=q:w=0.7:g={:.2},{}",
        params.eq_db[2],
        filters
            .split(',')
            .filter(|f| !f.contains("pass=")
                && !f.contains("shelf=")
                && !f.starts_with("equalizer"))
            .collect::<Vec<_>>()
            .join(",")
    );
    println!("ffmpeg filter chain: {filters}");
    println!("ffmpeg minimal chain: {minimal}\n");

    let mut rows: Vec<(&str, Vec<Duration>)> = [
        "(d) ours: first cluster of chunk 0, uncached file",
        "(d) of which: open (probe, analysis, calibration)",
        "(e) ours: track analysis",
        "(a) ours: cold 30 s chunk, random index, analysis known",
        "(b) ffmpeg: the same chunk",
        "(b') ffmpeg: the same chunk, minimal chain",
        "(c) ours: whole track, all chunks",
        "(c) ffmpeg: whole track",
        "(f) libopus alone: the whole track's mastered audio, same threads and settings",
        "(g) ours: first cluster of chunk 0, analysis and mastering stored",
        "(h) ours: uncached preset switch, switch_clusters (calibration overlapped)",
        "(h') ours: uncached preset switch, two steps (with_mastering, then chunk_clusters)",
        "(i) decoding and resampling alone: the whole track to 48 kHz, same chunks and threads",
        "(j) the mastering chain alone: the whole track's 48 kHz audio once, same chunks and threads",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();

    // (f)'s input: every chunk's mastered PCM, made once, untimed.
    let chunk_pcm: Vec<Vec<f32>> = (0..info.total_chunks)
        .map(|k| warm.chunk_pcm(k).expect("chunk PCM"))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // (j)'s input: every chunk's unmastered 48 kHz audio, made once, untimed.
    let renderer = auralis_core::Renderer::new(Source::open(&input).expect("open"));
    let ranges: Vec<(u64, u64)> = (0..info.total_chunks)
        .map(|k| {
            let c = warm.plan().chunk(k).expect("chunk");
            (c.start_frame, c.start_frame + c.frames)
        })
        .collect();
    // Chunk `k` read to 48 kHz by a fresh reader, as the engine reads it: (i)'s work.
    let read_chunk = |k: usize| {
        let mut reader = renderer.source().reader().expect("reader");
        renderer
            .render_range(&mut reader, ranges[k].0, ranges[k].1)
            .expect("48 kHz audio")
    };
    let chunk_input: Vec<Vec<f32>> =
        map_indexed(ranges.len(), threads, || (), |(), k| read_chunk(k));

    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for rep in 0..reps {
        // (d)
        let t = Instant::now();
        let engine = memory_engine();
        let stream = engine.open(&input, settings).expect("open");
        let opened = t.elapsed();
        let mut clusters = stream.chunk_clusters(0, None).expect("clusters");
        let first = clusters.next().expect("a cluster").expect("first cluster");
        rows[0].1.push(t.elapsed());
        rows[1].1.push(opened);
        assert!(!first.is_empty());
        // Untimed: the rest of the chunk, so that no segment still rendering on a worker
        // thread overlaps the next figure (dropping the clusters lets a worker finish the
        // segment in hand: an earlier version measured (e) beside that work).
        for cluster in clusters {
            cluster.expect("cluster");
        }
        drop(stream);
        drop(engine);

        // (e)
        let t = Instant::now();
        let source = Source::open(&input).expect("open");
        std::hint::black_box(analysis::analyze(&source, 0).expect("analysis"));
        rows[2].1.push(t.elapsed());

        // (a), (b): the same chunk.
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let k = (seed >> 33) % info.total_chunks;
        warm_engine.cache().clear_memory();
        let t = Instant::now();
        std::hint::black_box(warm.chunk_media_segment(k).expect("chunk"));
        rows[3].1.push(t.elapsed());
        let start_s = k as f64 * settings.chunk_seconds;
        let out = out_dir.join(format!("chunk{rep}.webm"));
        let t = Instant::now();
        ffmpeg(
            &input,
            Some((start_s, settings.chunk_seconds)),
            &filters,
            &settings,
            &out,
        );
        rows[4].1.push(t.elapsed());
        let t = Instant::now();
        ffmpeg(
            &input,
            Some((start_s, settings.chunk_seconds)),
            &minimal,
            &settings,
            &out,
        );
        rows[5].1.push(t.elapsed());

        // (c)
        let t = Instant::now();
        let engine = memory_engine();
        let stream = engine.open(&input, settings).expect("open");
        let mut bytes = stream.init_segment().len();
        for k in 0..stream.info().total_chunks {
            bytes += stream.chunk_media_segment(k).expect("chunk").bytes.len();
        }
        rows[6].1.push(t.elapsed());
        assert!(bytes > 0);
        drop(stream);
        drop(engine);
        let out = out_dir.join("whole.webm");
        let t = Instant::now();
        ffmpeg(&input, None, &filters, &settings, &out);
        rows[7].1.push(t.elapsed());

        // (f)
        let t = Instant::now();
        std::hint::black_box(libopus_alone(
            &chunk_pcm,
            u32::from(info.channels),
            &settings,
            threads,
        ));
        rows[8].1.push(t.elapsed());

        // (g): prime a fresh disk cache with the open alone, then time a fresh engine on it.
        let disk = out_dir.join(format!("stored{rep}"));
        drop(disk_engine(&disk).open(&input, settings).expect("open"));
        let t = Instant::now();
        let engine = disk_engine(&disk);
        let stream = engine.open(&input, settings).expect("open");
        let mut clusters = stream.chunk_clusters(0, None).expect("clusters");
        std::hint::black_box(clusters.next().expect("a cluster").expect("first cluster"));
        rows[9].1.push(t.elapsed());
        assert_eq!(
            engine.stats().cache.computed,
            0,
            "analysis and mastering came from disk"
        );
        for cluster in clusters {
            cluster.expect("cluster");
        }
        drop(stream);
        drop(engine);
        let _ = std::fs::remove_dir_all(&disk);

        // (h)
        let presets = [
            Preset::Gentle,
            Preset::Warm,
            Preset::Bright,
            Preset::Punchy,
            Preset::Live,
        ];
        let to = MasteringSettings::new(presets[rep % presets.len()], 0.95 - 0.01 * rep as f64);
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let k = 1 + (seed >> 33) % (info.total_chunks - 1);
        let t = Instant::now();
        let (_switched, mut clusters) = warm.switch_clusters(k, to).expect("switch");
        std::hint::black_box(clusters.next().expect("a cluster").expect("first cluster"));
        rows[10].1.push(t.elapsed());
        for cluster in clusters {
            cluster.expect("cluster");
        }
        // (h'): the same preset at another intensity (so nothing of it is cached either),
        // switched the way a caller without `switch_clusters` does it.
        let to = MasteringSettings::new(presets[rep % presets.len()], 0.45 - 0.01 * rep as f64);
        let t = Instant::now();
        let switched = warm.with_mastering(to).expect("switch");
        let mut clusters = switched
            .chunk_clusters(k, Some(warm.settings().mastering()))
            .expect("transition clusters");
        std::hint::black_box(clusters.next().expect("a cluster").expect("first cluster"));
        rows[11].1.push(t.elapsed());
        for cluster in clusters {
            cluster.expect("cluster");
        }

        // (i): what any engine does before mastering, each chunk read by a fresh reader as
        // the engine reads it (no warm-up, no roll beyond the resampler's own).
        let t = Instant::now();
        std::hint::black_box(map_indexed(
            ranges.len(),
            threads,
            || (),
            |(), k| read_chunk(k).len(),
        ));
        rows[12].1.push(t.elapsed());

        // (j): the chain once over each chunk's audio (no 3 s warm-up, no post-roll), in place
        // on copies made before the clock starts.
        let copies: Vec<(u64, Vec<f32>)> = ranges
            .iter()
            .zip(&chunk_input)
            .map(|(&(start, _), audio)| (start, audio.clone()))
            .collect();
        let t = Instant::now();
        std::hint::black_box(map_owned(copies, threads, |(start, buf)| {
            auralis_core::mastering::process(
                &mut buf[..],
                usize::from(info.channels),
                auralis_core::OUTPUT_RATE_HZ,
                *start,
                &params,
                auralis_core::mastering::Stages::All,
            );
        }));
        rows[13].1.push(t.elapsed());
        eprintln!("repetition {} of {reps} done", rep + 1);
    }

    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    let m: Vec<f64> = rows.iter_mut().map(|(_, v)| median(v)).collect();
    println!("\n| figure | median ms | all runs (ms) |");
    println!("|---|---:|---|");
    for ((name, runs), med) in rows.iter().zip(&m) {
        let all: Vec<String> = runs
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
            .collect();
        println!("| {name} | {med:.1} | {} |", all.join(", "));
    }
    println!();
    println!(
        "cold chunk: ffmpeg / ours = {:.2}x (minimal chain: {:.2}x); whole track: ffmpeg / ours \
         = {:.2}x",
        m[4] / m[3],
        m[5] / m[3],
        m[7] / m[6]
    );
    println!(
        "whole track: ours at {:.1} % of the libopus-alone limit ({:.1} ms / {:.1} ms, {threads} \
         threads)",
        100.0 * m[8] / m[6],
        m[8],
        m[6]
    );
    let floor = m[8] + m[12] + m[13];
    println!(
        "whole track: the floor of the work itself, (f) + (i) + (j) = {floor:.1} ms: an engine \
         with no warm-up, roll, muxing or idle core would run at {:.1} % of the limit",
        100.0 * m[8] / floor
    );
    println!(
        "whole track: ours {:.0}x real time, ffmpeg {:.0}x real time",
        info.duration_s * 1000.0 / m[6],
        info.duration_s * 1000.0 / m[7]
    );
    println!(
        "peak RSS of this process (every figure above): {}",
        peak_rss()
    );
    let _ = std::fs::remove_dir_all(&out_dir);

    if long_minutes > 0 {
        long_file_rss(long_minutes);
    }
}

/// Encodes every chunk's PCM with libopus alone, as the engine configures its encoder, on
/// `threads` threads taking chunks in turn; returns the bytes of all packets.
fn libopus_alone(
    chunks: &[Vec<f32>],
    channels: u32,
    settings: &StreamSettings,
    threads: usize,
) -> usize {
    let layout = if channels == 1 {
        ::opus::Channels::Mono
    } else {
        ::opus::Channels::Stereo
    };
    let packet = auralis_core::units::PACKET_FRAMES * channels as usize;
    map_indexed(
        chunks.len(),
        threads,
        || (vec![0u8; 4000], vec![0f32; packet]),
        |(out, tail), k| {
            let pcm = &chunks[k];
            let mut enc =
                ::opus::Encoder::new(48_000, layout, ::opus::Application::Audio).expect("encoder");
            enc.set_bitrate(::opus::Bitrate::Bits(settings.opus.bitrate_bps as i32))
                .expect("bitrate");
            enc.set_vbr(true).expect("vbr");
            enc.set_complexity(i32::from(settings.opus.complexity))
                .expect("complexity");
            let whole = pcm.chunks_exact(packet);
            // libopus takes whole 20 ms packets: the last one is padded with silence.
            let rest = whole.remainder();
            let mut bytes: usize = whole
                .map(|frame| enc.encode_float(frame, out).expect("encode"))
                .sum();
            if !rest.is_empty() {
                tail.fill(0.0);
                tail[..rest.len()].copy_from_slice(rest);
                bytes += enc.encode_float(tail, out).expect("encode");
            }
            bytes
        },
    )
    .into_iter()
    .sum()
}

/// Engine with a disk cache in `dir` and no prefetching.
fn disk_engine(dir: &Path) -> Engine {
    Engine::new(&EngineConfig {
        prefetch_workers: 0,
        cache: CacheConfig {
            disk_dir: Some(dir.to_path_buf()),
            ..CacheConfig::default()
        },
        ..EngineConfig::default()
    })
}

/// Engine with a memory-only cache and no prefetching (so nothing runs beside the timed work).
fn memory_engine() -> Engine {
    Engine::new(&EngineConfig {
        prefetch_workers: 0,
        ..EngineConfig::default()
    })
}

fn default_input() -> PathBuf {
    if let Some(p) = auralis_benches::long_mp3(4) {
        return p;
    }
    println!("corpus absent: using the 2-minute built-in demo (WAV)");
    let p = bench_data().join("demo.wav");
    std::fs::create_dir_all(bench_data()).expect("target/bench-data");
    std::fs::write(&p, auralis_core::demo::demo_wav()).expect("write demo");
    p
}

fn bench_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data")
}

fn describe_machine(input: &Path) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ffmpeg = Command::new("ffmpeg")
        .args(["-hide_banner", "-version"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_default();
    println!(
        "machine: {cpu}, {cores} cores available; auralis-core {}; {ffmpeg}",
        env!("CARGO_PKG_VERSION")
    );
    println!("input file: {}", input.display());
}

/// The ffmpeg filter chain equivalent to a mastering: the same stages and values.
fn ffmpeg_filters(p: &auralis_core::MasteringParams) -> String {
    let bands = [
        (100.0, "l"),
        (400.0, "q"),
        (1500.0, "q"),
        (5000.0, "q"),
        (10000.0, "h"),
    ];
    let mut f = vec!["highpass=f=10".to_string()];
    for ((freq, kind), g) in bands.iter().zip(p.eq_db) {
        f.push(match *kind {
            "l" => format!("lowshelf=f={freq}:g={g:.2}"),
            "h" => format!("highshelf=f={freq}:g={g:.2}"),
            _ => format!("equalizer=f={freq}:t=q:w=0.7:g={g:.2}"),
        });
    }
    f.push(format!(
        "acompressor=threshold={:.1}dB:ratio={:.2}:attack={:.0}:release={:.0}",
        p.threshold_db,
        p.ratio.max(1.0),
        p.attack_ms.max(0.01),
        p.release_ms.max(0.01)
    ));
    f.push(format!("volume={:.2}dB", p.gain_db));
    f.push(format!(
        "alimiter=limit={:.4}:attack=1:release=80:level=disabled",
        10f64.powf(p.ceiling_dbtp / 20.0).clamp(0.0625, 1.0)
    ));
    f.push("aresample=48000".into());
    f.join(",")
}

fn ffmpeg(
    input: &Path,
    range: Option<(f64, f64)>,
    filters: &str,
    settings: &StreamSettings,
    out: &Path,
) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    if let Some((start, len)) = range {
        cmd.args(["-ss", &format!("{start:.3}"), "-t", &format!("{len:.3}")]);
    }
    cmd.arg("-i").arg(input);
    cmd.args(["-af", filters, "-c:a", "libopus"]);
    cmd.args(["-b:a", &settings.opus.bitrate_bps.to_string()]);
    cmd.args([
        "-compression_level",
        &settings.opus.complexity.to_string(),
        "-frame_duration",
        "20",
        "-f",
        "webm",
    ]);
    cmd.arg(out);
    let status = cmd.status().expect("run ffmpeg");
    assert!(status.success(), "ffmpeg failed: {cmd:?}");
}

fn long_file_rss(minutes: u32) {
    let Some(path) = auralis_benches::long_mp3(minutes) else {
        println!("corpus absent: no {minutes}-minute file, peak RSS of a long render not measured");
        return;
    };
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg("--rss-child")
        .arg(&path)
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

/// Child: renders every chunk of a long file as a backend would pre-render it, then prints its
/// own peak RSS.
fn rss_child(path: &Path) {
    let dir = std::env::temp_dir().join(format!("auralis-compare-rss-{}", std::process::id()));
    let engine = Engine::new(&EngineConfig {
        cache: CacheConfig {
            memory_bytes: 32 << 20,
            disk_dir: Some(dir.clone()),
            ..CacheConfig::default()
        },
        prefetch_workers: 0,
        ..EngineConfig::default()
    });
    let t = Instant::now();
    let stream: Stream = engine.open(path, StreamSettings::default()).expect("open");
    let total = stream.info().total_chunks;
    let mut bytes = 0usize;
    for k in 0..total {
        bytes += stream.chunk_media_segment(k).expect("chunk").bytes.len();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "long file: {:.1} min, {total} chunks, {:.1} MB of WebM in {secs:.1} s ({:.0}x real time); \
         peak RSS {}",
        stream.info().duration_s / 60.0,
        bytes as f64 / 1e6,
        stream.info().duration_s / secs,
        peak_rss()
    );
    drop(stream);
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}
