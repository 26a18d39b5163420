//! `render`: the main job end to end, from a file (or the built-in demo) to 48 kHz chunks.
//!
//! ```text
//! cargo run --release --example render -- [INPUT] --out DIR [--chunk-seconds S] [--chunks 0,3,7] [--wav]
//!     [--wav-format float32|pcm16] [--preset NAME] [--intensity X] [--bitrate BPS] [--complexity N]
//!     [--container webm|mp4] [--full]
//! cargo run --release --example render -- --queue A,B,C [--gapless | --crossfade S] [--album]
//!     [--layout shared|continuous] --out DIR [the options above but --full]
//! ```
//!
//! Writes `DIR/manifest.json` describing the whole track, its mastering and its chunk plan, the
//! stream's init segment and, for every rendered chunk, its file and, with `--wav`,
//! `DIR/chunk_NNNNN.wav` (48 kHz float32, or 16-bit with `--wav-format pcm16`, exactly the
//! chunk's mastered frames). With `--container webm` (the default) the init segment is
//! `DIR/init.webm` and each chunk file `DIR/chunk_NNNNN.webm` (init segment + media segment: a
//! standalone WebM); with `--container mp4` they are `DIR/init.mp4` and `DIR/chunk_NNNNN.m4s`
//! (the media segment alone, CMAF-style: a player appends the init segment first), plus
//! `DIR/playlist.m3u8`, an HLS media playlist over them. The manifest names them (`init.file`,
//! each chunk's `file`) with the container's `mime`. Chunks come from
//! [`auralis_core::pipeline::ChunkRender`], the path the engine, C and Python use too, so a chunk
//! file is the bytes a server sends. With `--full`, also `DIR/full.webm` (or `DIR/full.m4a`),
//! the whole track as one file.
//! With `--queue`, the files play as one stream (see [`auralis_core::Queue`]): gapless joins
//! (the default) or crossfades of `S` seconds, the chunks on the queue's timeline in the same
//! layout, and the manifest also lists the `items` (each file, where it starts, its gain) and
//! the `joins`. `--album` treats the queue as one album (one shared loudness gain). A WebM
//! queue's layout is `shared` (chunks inside a track are the track's own; Chromium) unless
//! `--layout continuous` (one grid over the queue; any browser); an MP4 queue's is always
//! `continuous` (see [`auralis_core::QueueLayout`]), with an HLS playlist as for one track.
//! Every file is written under a temporary name and renamed when complete, so a reader never
//! sees a partial file. Errors print one line and exit with status 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use auralis_core::format::wav::WavFormat;
use auralis_core::opus::OpusSettings;
use auralis_core::pipeline;
use auralis_core::{
    demo, Container, Mastering, MasteringSettings, Preset, Renderer, Source, OUTPUT_RATE_HZ,
};
use auralis_core::{ChunkPlan, DEFAULT_CHUNK_SECONDS};
use auralis_examples::{peak_rss_mb, write_atomically};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

/// Render a track into 48 kHz chunks and write their manifest.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Audio file to render (WAV, AIFF, FLAC, MP3, Ogg Vorbis, Ogg Opus, AAC/ALAC in MP4,
    /// Opus/Vorbis/FLAC in WebM or Matroska). Without it,
    /// renders the built-in demo piece.
    input: Option<PathBuf>,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Chunk length in seconds, a multiple of 0.02.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SECONDS)]
    chunk_seconds: f64,
    /// Render only these chunks (comma-separated indices); the manifest still describes all.
    #[arg(long, value_delimiter = ',')]
    chunks: Option<Vec<u64>>,
    /// Write each rendered chunk as DIR/chunk_NNNNN.wav (48 kHz).
    #[arg(long)]
    wav: bool,
    /// Sample format of those WAVs: float32 (the engine's samples) or pcm16 (16-bit with TPDF
    /// dither).
    #[arg(long, default_value = "float32")]
    wav_format: String,
    /// Mastering preset: adaptive, gentle, warm, bright, punchy, live, or none.
    #[arg(long, default_value_t = MasteringSettings::DEFAULT.preset.name().to_owned())]
    preset: String,
    /// Mastering intensity from 0 (the original audio) to 1.
    #[arg(long, default_value_t = MasteringSettings::DEFAULT.intensity)]
    intensity: f64,
    /// Opus bitrate in bit/s (32000 to 512000).
    #[arg(long, default_value_t = OpusSettings::DEFAULT.bitrate_bps)]
    bitrate: u32,
    /// Opus encoder complexity (0 to 10).
    #[arg(long, default_value_t = OpusSettings::DEFAULT.complexity)]
    complexity: u8,
    /// Container of the init segment and the chunks: webm (chunk files init + media segment)
    /// or mp4 (fragmented MP4 media segments after init.mp4, and an HLS playlist).
    #[arg(long, default_value = "webm")]
    container: String,
    /// Also write DIR/full.webm (DIR/full.m4a with --container mp4), the whole track as one
    /// file.
    #[arg(long)]
    full: bool,
    /// Render a queue of files (comma-separated) as one stream instead of INPUT.
    #[arg(long, value_delimiter = ',', conflicts_with = "input")]
    queue: Option<Vec<PathBuf>>,
    /// Queue joins: each file starts at the sample after the previous one ends (the default).
    #[arg(long, conflicts_with = "crossfade")]
    gapless: bool,
    /// Queue joins: crossfades of this many seconds (0 to 12).
    #[arg(long)]
    crossfade: Option<f64>,
    /// Queue: the files are one album and share one loudness gain (album gain); without it each
    /// file is brought to its preset's target (track gain).
    #[arg(long)]
    album: bool,
    /// Queue: how its chunks lie on its timeline, shared (WebM's default: chunks inside a track
    /// are the track's own) or continuous (MP4's only layout: one grid over the whole queue).
    #[arg(long)]
    layout: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.queue.is_some() {
        return run_queue(args);
    }
    if args.gapless || args.crossfade.is_some() || args.album || args.layout.is_some() {
        return Err("--gapless, --crossfade, --album and --layout are options of --queue".into());
    }
    let started = Instant::now();
    // Settings are checked before any file is read.
    let preset = Preset::from_name(&args.preset).map_err(|e| e.to_string())?;
    auralis_core::mastering::presets::check_intensity(args.intensity).map_err(|e| e.to_string())?;
    let opus = OpusSettings {
        bitrate_bps: args.bitrate,
        complexity: args.complexity,
    };
    opus.validate().map_err(|e| e.to_string())?;
    let (wav_format, container) = formats(args)?;
    let source = match &args.input {
        Some(path) => Source::open(path),
        None => demo::demo_source(),
    }
    .map_err(|e| e.to_string())?;
    let renderer = Renderer::new(source);
    let plan = renderer
        .plan(args.chunk_seconds)
        .map_err(|e| e.to_string())?;
    let selected: Vec<u64> = match &args.chunks {
        Some(list) => {
            for &index in list {
                plan.check_index(index).map_err(|e| e.to_string())?;
            }
            list.clone()
        }
        None => (0..plan.total_chunks()).collect(),
    };
    let mastering = Mastering::prepare(renderer.source(), (preset, args.intensity), None, 0)
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let progress = ProgressBar::new(selected.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} chunks  {elapsed_precise}  {msg}")
            .expect("valid template"),
    );
    let init = pipeline::init_segment(&renderer, container);
    let init_name = format!("init.{}", container.extension());
    write_atomically(&args.out.join(&init_name), &init)?;
    let mut written = std::collections::BTreeMap::new();
    let mut rendered_frames = 0u64;
    for &index in &selected {
        progress.set_message(format!("chunk {index}"));
        // The one path to a chunk's bytes (the engine's, C's and Python's too): its clusters
        // and its PCM from one render.
        let (media_segment, samples) = pipeline::ChunkRender::start(
            &renderer,
            &plan,
            index,
            &mastering.params,
            None,
            Some(&opus),
        )
        .map(|r| r.in_container(container))
        .and_then(pipeline::ChunkRender::finish)
        .map_err(|e| e.to_string())?;
        // WebM chunk files stand alone (init + media segment); MP4 ones are media segments.
        let (chunk_file, file_name) = match container {
            Container::Webm => (
                [init.as_slice(), &media_segment].concat(),
                format!("chunk_{index:05}.webm"),
            ),
            Container::Mp4 => (media_segment, format!("chunk_{index:05}.m4s")),
        };
        write_atomically(&args.out.join(&file_name), &chunk_file)?;
        let chunk = plan.chunk(index).map_err(|e| e.to_string())?;
        debug_assert_eq!(
            samples.len() as u64,
            chunk.frames * u64::from(renderer.channels())
        );
        rendered_frames += chunk.frames;
        let wav_name = if args.wav {
            let name = format!("chunk_{index:05}.wav");
            let wav = auralis_core::format::wav::wav_bytes(
                renderer.channels(),
                wav_format,
                chunk.start_frame,
                samples,
            )
            .map_err(|e| e.to_string())?;
            write_atomically(&args.out.join(&name), &wav)?;
            Some(name)
        } else {
            None
        };
        written.insert(
            index,
            Written {
                file: file_name,
                bytes: chunk_file.len(),
                wav: wav_name,
            },
        );
        progress.inc(1);
    }
    progress.finish_and_clear();
    if args.full {
        progress.set_message("whole track");
        // Written as it is made (memory bounded whatever the length), to a partial file
        // renamed when complete.
        let path = args
            .out
            .join(format!("full.{}", container.whole_file_extension()));
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        let written = pipeline::write_whole_track_file(
            &renderer,
            &mastering.params,
            &opus,
            container,
            &mut writer,
        )
        .map_err(|e| e.to_string())
        .and_then(|_| {
            std::io::Write::flush(&mut writer).map_err(|e| format!("{}: {e}", tmp.display()))
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let playlist = (container == Container::Mp4).then(|| {
        let text = auralis_core::format::hls::media_playlist(&plan, &init_name, |i| {
            format!("chunk_{i:05}.m4s")
        });
        ("playlist.m3u8", text)
    });
    if let Some((name, text)) = &playlist {
        write_atomically(&args.out.join(name), text.as_bytes())?;
    }

    let init_entry = (init_name.as_str(), init.len());
    let hls = playlist.as_ref().map(|(name, _)| *name);
    let manifest = manifest(
        args, container, &renderer, &plan, &mastering, init_entry, hls, &written,
    );
    let text = serde_json::to_string_pretty(&manifest).expect("JSON values serialize");
    write_atomically(&args.out.join("manifest.json"), text.as_bytes())?;

    let wall = started.elapsed().as_secs_f64();
    let audio_s = rendered_frames as f64 / f64::from(OUTPUT_RATE_HZ);
    let peak = peak_rss_mb().map_or(String::new(), |mb| format!(", peak RSS {mb:.0} MB"));
    println!(
        "rendered {} of {} chunks ({audio_s:.2} s of audio) in {wall:.3} s: {:.0}x real time{peak} -> {}",
        selected.len(),
        plan.total_chunks(),
        audio_s / wall.max(1e-9),
        args.out.join("manifest.json").display()
    );
    Ok(())
}

/// The WAV sample format and the container the arguments name, checked.
fn formats(args: &Args) -> Result<(WavFormat, Container), String> {
    let wav_format = WavFormat::from_name(&args.wav_format).ok_or_else(|| {
        format!(
            "unknown WAV format {:?} (valid: float32, pcm16)",
            args.wav_format
        )
    })?;
    let container = args
        .container
        .parse()
        .map_err(|e: auralis_core::Error| e.to_string())?;
    Ok((wav_format, container))
}

#[allow(clippy::too_many_arguments)]
fn manifest(
    args: &Args,
    container: Container,
    renderer: &Renderer,
    plan: &ChunkPlan,
    mastering: &Mastering,
    (init_file, init_bytes): (&str, usize),
    hls: Option<&str>,
    written: &std::collections::BTreeMap<u64, Written>,
) -> Value {
    let info = renderer.source().info();
    let chunks: Vec<Value> = plan
        .chunks()
        .map(|c| {
            let mut entry = json!({
                "index": c.index,
                "start_frame": c.start_frame,
                "frames": c.frames,
                "start_s": c.start_s(),
                "duration_s": c.duration_s(),
            });
            if let Some(w) = written.get(&c.index) {
                if let Some(name) = &w.wav {
                    entry["wav"] = json!(name);
                }
                entry["file"] = json!(w.file);
                entry["bytes"] = json!(w.bytes);
                // The container-named keys of format 1 (WebM only then), kept.
                entry[container.name()] = json!(w.file);
                entry[format!("{}_bytes", container.name())] = json!(w.bytes);
            }
            entry
        })
        .collect();
    json!({
        "format_version": 2,
        "source": {
            "path": args.input.as_ref().map(|p| p.display().to_string()),
            "codec": info.codec,
            "sample_rate": info.sample_rate,
            "channels": info.source_channels,
            "frames": info.frames,
        },
        "sample_rate": OUTPUT_RATE_HZ,
        "channels": renderer.channels(),
        "frames": plan.frames(),
        "duration_s": plan.duration_s(),
        "chunk_seconds": plan.chunk_seconds(),
        "total_chunks": plan.total_chunks(),
        "chunks": chunks,
        "preset": mastering.params.preset.name(),
        "intensity": mastering.params.intensity,
        "analysis": mastering.analysis,
        "target_lufs": mastering.params.target_lufs,
        "mastering": mastering.params,
        "container": container.name(),
        "mime": container.mime(),
        // Chunk files hold the init segment (WebM) or only the media segment (MP4): a player
        // appends init.file first either way.
        "chunk_files_include_init": container == Container::Webm,
        "hls": hls,
        "bitrate": args.bitrate,
        "wav_format": args.wav.then(|| args.wav_format.clone()),
        "init": {"file": init_file, "bytes": init_bytes},
    })
}

/// What was written for a chunk.
struct Written {
    file: String,
    bytes: usize,
    wav: Option<String>,
}

/// `--queue`: the files as one stream on the queue's timeline.
fn run_queue(args: &Args) -> Result<(), String> {
    use auralis_core::{
        Engine, EngineConfig, GainMode, Join, Queue, QueueItem, QueueLayout, StreamSettings,
    };
    let started = Instant::now();
    let files = args.queue.clone().unwrap_or_default();
    if args.full {
        return Err("--full is not available for a queue".into());
    }
    let preset = Preset::from_name(&args.preset).map_err(|e| e.to_string())?;
    let (wav_format, container) = formats(args)?;
    let layout = match &args.layout {
        Some(name) => name
            .parse::<QueueLayout>()
            .map_err(|e: auralis_core::Error| e.to_string())?,
        None => QueueLayout::for_container(container),
    };
    let settings = StreamSettings {
        mastering: MasteringSettings::new(preset, args.intensity),
        chunk_seconds: args.chunk_seconds,
        opus: OpusSettings {
            bitrate_bps: args.bitrate,
            complexity: args.complexity,
        },
        container,
        ..StreamSettings::default()
    };
    let join = match args.crossfade {
        Some(seconds) => Join::Crossfade { seconds },
        None => Join::Gapless,
    };
    let items: Vec<QueueItem> = files
        .iter()
        .map(|path| QueueItem {
            path: path.clone(),
            mastering: MasteringSettings::new(preset, args.intensity),
            album: args.album.then(|| "album".to_owned()),
        })
        .collect();
    let joins = vec![join; items.len().saturating_sub(1)];
    let gain = if args.album {
        GainMode::Album
    } else {
        GainMode::Track
    };
    let engine = Engine::new(&EngineConfig::default());
    let queue = Queue::open_with_layout(&engine, &items, &joins, settings, gain, layout)
        .map_err(|e| e.to_string())?;
    let selected: Vec<u64> = match &args.chunks {
        Some(list) => {
            for &index in list {
                queue.chunk(index).map_err(|e| e.to_string())?;
            }
            list.clone()
        }
        None => (0..queue.total_chunks()).collect(),
    };
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let init = queue.init_segment();
    let init_name = format!("init.{}", container.extension());
    write_atomically(&args.out.join(&init_name), &init)?;
    let mut written = std::collections::BTreeMap::new();
    let mut rendered_frames = 0u64;
    for &index in &selected {
        let chunk = queue.chunk(index).map_err(|e| e.to_string())?;
        // As for one track: WebM chunk files stand alone, MP4 ones are media segments.
        let (file, name) = match container {
            Container::Webm => (
                queue.chunk_file(index).map_err(|e| e.to_string())?,
                format!("chunk_{index:05}.webm"),
            ),
            Container::Mp4 => (
                queue
                    .chunk_media_segment(index)
                    .map_err(|e| e.to_string())?
                    .bytes
                    .to_vec(),
                format!("chunk_{index:05}.m4s"),
            ),
        };
        write_atomically(&args.out.join(&name), &file)?;
        let wav = if args.wav {
            let pcm = queue
                .pcm(
                    chunk.start_frame as i64,
                    (chunk.start_frame + chunk.frames) as i64,
                )
                .map_err(|e| e.to_string())?;
            let wav_name = format!("chunk_{index:05}.wav");
            let bytes = auralis_core::format::wav::wav_bytes(
                queue.channels(),
                wav_format,
                chunk.start_frame,
                pcm,
            )
            .map_err(|e| e.to_string())?;
            write_atomically(&args.out.join(&wav_name), &bytes)?;
            Some(wav_name)
        } else {
            None
        };
        rendered_frames += chunk.frames;
        written.insert(
            index,
            Written {
                file: name,
                bytes: file.len(),
                wav,
            },
        );
    }
    let seconds = |frames: u64| frames as f64 / f64::from(OUTPUT_RATE_HZ);
    let chunks: Vec<Value> = queue
        .chunks()
        .iter()
        .map(|c| {
            let mut entry = json!({
                "index": c.index,
                "item": c.item,
                "item_chunk": c.item_chunk,
                "boundary": c.boundary,
                "start_frame": c.start_frame,
                "frames": c.frames,
                "start_s": seconds(c.start_frame),
                "duration_s": seconds(c.frames),
            });
            if let Some(w) = written.get(&c.index) {
                if let Some(name) = &w.wav {
                    entry["wav"] = json!(name);
                }
                entry["file"] = json!(w.file);
                entry["bytes"] = json!(w.bytes);
                entry[container.name()] = json!(w.file);
                entry[format!("{}_bytes", container.name())] = json!(w.bytes);
            }
            entry
        })
        .collect();
    let places: Vec<Value> = queue
        .places()
        .iter()
        .zip(&files)
        .enumerate()
        .map(|(i, (p, path))| {
            let stream = queue.item_stream(i).expect("an item per place");
            json!({
                "path": path.display().to_string(),
                "start_frame": p.start_frame,
                "start_s": seconds(p.start_frame),
                "frames": p.frames,
                "played_frames": p.played_frames,
                "fade_in_frames": p.fade_in_frames,
                "first_chunk": p.first_chunk,
                "gain_db": p.gain_db,
                "analysis": stream.analysis(),
            })
        })
        .collect();
    let joins: Vec<Value> = queue
        .joins()
        .iter()
        .map(|j| match j {
            Join::Gapless => json!({"mode": "gapless"}),
            Join::Crossfade { seconds } => json!({"mode": "crossfade", "seconds": seconds}),
        })
        .collect();
    // The continuous layout's chunks are a track's plan over the queue's frames: the same HLS
    // playlist as for one track.
    let playlist = match (container, queue.layout()) {
        (Container::Mp4, QueueLayout::Continuous) => {
            let plan = auralis_core::ChunkPlan::new(queue.frames(), args.chunk_seconds)
                .map_err(|e| e.to_string())?;
            let text = auralis_core::format::hls::media_playlist(&plan, &init_name, |i| {
                format!("chunk_{i:05}.m4s")
            });
            write_atomically(&args.out.join("playlist.m3u8"), text.as_bytes())?;
            Some("playlist.m3u8")
        }
        _ => None,
    };
    let manifest = json!({
        "format_version": 2,
        "queue": true,
        "layout": queue.layout().name(),
        "items": places,
        "joins": joins,
        "gain_mode": if args.album { "album" } else { "track" },
        "sample_rate": OUTPUT_RATE_HZ,
        "channels": queue.channels(),
        "frames": queue.frames(),
        "duration_s": queue.duration_s(),
        "chunk_seconds": args.chunk_seconds,
        "total_chunks": queue.total_chunks(),
        "chunks": chunks,
        "preset": preset.name(),
        "intensity": args.intensity,
        "container": container.name(),
        "mime": queue.mime(),
        "chunk_files_include_init": container == Container::Webm,
        "bitrate": args.bitrate,
        "wav_format": args.wav.then(|| args.wav_format.clone()),
        "init": {"file": init_name, "bytes": init.len()},
        "hls": playlist,
    });
    let text = serde_json::to_string_pretty(&manifest).expect("JSON values serialize");
    write_atomically(&args.out.join("manifest.json"), text.as_bytes())?;
    let wall = started.elapsed().as_secs_f64();
    let audio_s = seconds(rendered_frames);
    println!(
        "rendered {} of {} queue chunks ({audio_s:.2} s of audio, {} items) in {wall:.3} s: {:.0}x real time -> {}",
        selected.len(),
        queue.total_chunks(),
        files.len(),
        audio_s / wall.max(1e-9),
        args.out.join("manifest.json").display()
    );
    Ok(())
}
