//! The `render` example as a user runs it: manifest contract, WAV outputs, error exits.

mod common;

use auralis_core::pipeline;
use auralis_core::Container;
use std::process::Command;

use common::render_bin;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(render_bin())
        .args(args)
        .output()
        .expect("the render example runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_render_writes_the_manifest_contract_and_exact_wavs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&["--out", out, "--chunks", "0,4", "--wav"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("rendered 2 of 5 chunks"), "{stdout}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let keys: Vec<&str> = manifest
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = [
        "format_version",
        "source",
        "sample_rate",
        "channels",
        "frames",
        "duration_s",
        "chunk_seconds",
        "total_chunks",
        "chunks",
        "preset",
        "intensity",
        "analysis",
        "target_lufs",
        "mastering",
        "container",
        "mime",
        "chunk_files_include_init",
        "hls",
        "bitrate",
        "wav_format",
        "init",
    ];
    assert_eq!(keys, expected);
    assert_eq!(manifest["preset"], "adaptive");
    assert_eq!(manifest["intensity"], 1.0);
    let analysis: auralis_core::analysis::TrackAnalysis =
        serde_json::from_value(manifest["analysis"].clone()).unwrap();
    assert!(
        analysis.integrated_lufs < -5.0 && analysis.integrated_lufs > -40.0,
        "{analysis:?}"
    );
    assert_eq!(
        manifest["target_lufs"],
        manifest["mastering"]["target_lufs"]
    );
    assert_eq!(manifest["mime"], "audio/webm; codecs=\"opus\"");
    assert_eq!(manifest["wav_format"], "float32");
    assert_eq!(manifest["init"]["file"], "init.webm");
    let init = std::fs::read(dir.path().join("init.webm")).unwrap();
    assert_eq!(manifest["init"]["bytes"], init.len());
    assert_eq!(manifest["format_version"], 2);
    assert_eq!(manifest["container"], "webm");
    assert_eq!(manifest["chunk_files_include_init"], true);
    assert_eq!(manifest["hls"], serde_json::Value::Null);
    assert_eq!(manifest["source"]["path"], serde_json::Value::Null);
    assert_eq!(manifest["source"]["sample_rate"], 44_100);
    assert_eq!(manifest["source"]["frames"], 61 * 2 * 44_100);
    assert_eq!(manifest["sample_rate"], 48_000);
    assert_eq!(manifest["frames"], 61 * 2 * 48_000);
    assert_eq!(manifest["duration_s"], 122.0);
    assert_eq!(manifest["total_chunks"], 5);
    let chunks = manifest["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 5);
    let total: u64 = chunks.iter().map(|c| c["frames"].as_u64().unwrap()).sum();
    assert_eq!(total, 61 * 2 * 48_000);
    for (i, chunk) in chunks.iter().enumerate() {
        let keys: Vec<&str> = chunk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec!["index", "start_frame", "frames", "start_s", "duration_s"];
        if i == 0 || i == 4 {
            expected.extend(["wav", "file", "bytes", "webm", "webm_bytes"]);
            let webm_name = chunk["webm"].as_str().unwrap();
            assert_eq!(webm_name, format!("chunk_{i:05}.webm"));
            let file = std::fs::read(dir.path().join(webm_name)).unwrap();
            assert_eq!(chunk["webm_bytes"], file.len());
            assert!(
                file.starts_with(&init),
                "chunk {i}: a chunk file starts with the init segment"
            );
            let parsed = auralis_testkit::webm::parse(&file).unwrap();
            let frames = chunk["frames"].as_u64().unwrap();
            assert_eq!(parsed.blocks.len() as u64, frames.div_ceil(960));
            let name = chunk["wav"].as_str().unwrap();
            assert_eq!(name, format!("chunk_{i:05}.wav"));
            let reader = hound::WavReader::open(dir.path().join(name)).unwrap();
            let spec = reader.spec();
            assert_eq!(
                (spec.sample_rate, spec.channels, spec.bits_per_sample),
                (48_000, 2, 32)
            );
            assert_eq!(spec.sample_format, hound::SampleFormat::Float);
            assert_eq!(
                u64::from(reader.duration()),
                chunk["frames"].as_u64().unwrap()
            );
        } else {
            assert!(!dir.path().join(format!("chunk_{i:05}.wav")).exists());
            assert!(!dir.path().join(format!("chunk_{i:05}.webm")).exists());
        }
        assert_eq!(keys, expected);
    }
    assert_eq!(chunks[4]["frames"], 96_000);
    assert_eq!(chunks[4]["start_s"], 120.0);
    // No temporary file is left behind.
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .path()
        .to_string_lossy()
        .ends_with(".partial")));
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("missing.flac");
    let garbage = dir.path().join("garbage.mp3");
    std::fs::write(&garbage, vec![0x5au8; 10_000]).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![missing.to_str().unwrap(), "--out", out],
            "file not found",
        ),
        (
            vec![garbage.to_str().unwrap(), "--out", out],
            "unsupported format",
        ),
        (
            vec![dir.path().to_str().unwrap(), "--out", out],
            "not a regular file",
        ),
        (
            vec!["--out", out, "--chunks", "9"],
            "invalid chunk index 9 (track has 5 chunks: 0..=4)",
        ),
        (
            vec!["--out", out, "--chunk-seconds", "0.03"],
            "must be a positive multiple of 0.02 s",
        ),
        (
            vec!["--out", out, "--container", "ogg"],
            "invalid container ogg: webm or mp4",
        ),
    ];
    for (args, message) in cases {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(message),
            "{args:?}: {stderr}"
        );
    }
    assert!(!dir.path().join("out").join("manifest.json").exists());
}

#[test]
fn a_chunk_rendered_in_another_process_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(&["--out", out, "--chunks", "3", "--wav"]);
    assert_eq!(code, 0, "{stderr}");
    let mut reader = hound::WavReader::open(dir.path().join("chunk_00003.wav")).unwrap();
    let from_process: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    let source = auralis_core::demo::demo_source().unwrap();
    let renderer = auralis_core::Renderer::new(source.clone());
    let mastering =
        auralis_core::Mastering::prepare(&source, auralis_core::Preset::Adaptive, None, 0).unwrap();
    let plan = renderer.plan(30.0).unwrap();
    // Render two other chunks first: history must not matter either.
    pipeline::mastered_pcm(&renderer, &plan, 4, &mastering.params).unwrap();
    pipeline::mastered_pcm(&renderer, &plan, 0, &mastering.params).unwrap();
    let here = pipeline::mastered_pcm(&renderer, &plan, 3, &mastering.params).unwrap();
    let first = from_process.iter().zip(&here).position(|(a, b)| a != b);
    let max = from_process
        .iter()
        .zip(&here)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        from_process == here,
        "chunk 3 differs between processes: first at sample {first:?}, max {max}"
    );
    // The chunk file too: the same bytes from the other process.
    let webm = std::fs::read(dir.path().join("chunk_00003.webm")).unwrap();
    let settings = auralis_core::opus::OpusSettings::default();
    assert!(
        webm == pipeline::chunk_file(
            &renderer,
            &plan,
            3,
            &mastering.params,
            &settings,
            Container::Webm
        )
        .unwrap(),
        "chunk 3 WebM differs between processes"
    );
}

#[test]
fn intensity_zero_writes_the_unmastered_audio() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(&[
        "--out",
        out,
        "--chunks",
        "1",
        "--wav",
        "--preset",
        "warm",
        "--intensity",
        "0",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mut reader = hound::WavReader::open(dir.path().join("chunk_00001.wav")).unwrap();
    let written: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    let renderer = auralis_core::Renderer::new(auralis_core::demo::demo_source().unwrap());
    let plan = renderer.plan(30.0).unwrap();
    assert!(written == renderer.render_chunk(&plan, 1).unwrap());
}

#[test]
fn the_command_and_the_engine_write_the_same_bytes_for_every_chunk() {
    // Two faces, one path: every chunk file the command writes (the last one, which signals
    // its padding, included) and its 16-bit WAVs are the engine's bytes for the same settings.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(&[
        "--out",
        out,
        "--chunk-seconds",
        "25",
        "--preset",
        "bright",
        "--intensity",
        "0.7",
        "--bitrate",
        "96000",
        "--wav",
        "--wav-format",
        "pcm16",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let engine = auralis_core::stream::Engine::new(&auralis_core::stream::EngineConfig {
        prefetch_workers: 0,
        ..Default::default()
    });
    let settings = auralis_core::stream::StreamSettings {
        mastering: auralis_core::MasteringSettings::new(auralis_core::Preset::Bright, 0.7),
        chunk_seconds: 25.0,
        opus: auralis_core::opus::OpusSettings {
            bitrate_bps: 96_000,
            complexity: 10,
        },
        ..Default::default()
    };
    let stream = engine
        .open_bytes(auralis_core::demo::demo_wav(), Some("wav"), settings)
        .unwrap();
    let total = stream.plan().total_chunks();
    assert!(total >= 5);
    for k in 0..total {
        let webm = std::fs::read(dir.path().join(format!("chunk_{k:05}.webm"))).unwrap();
        assert!(
            webm == stream.chunk_file(k, None).unwrap(),
            "chunk {k} of {total}: the command's WebM differs from the engine's"
        );
        let wav = std::fs::read(dir.path().join(format!("chunk_{k:05}.wav"))).unwrap();
        assert!(
            wav == stream
                .chunk_wav(k, auralis_core::stream::WavFormat::Pcm16)
                .unwrap(),
            "chunk {k}: the command's 16-bit WAV differs from the engine's"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["wav_format"], "pcm16");
}

#[test]
fn container_mp4_writes_init_media_segments_and_an_hls_playlist_of_the_same_packets() {
    let dir = tempfile::tempdir().unwrap();
    let (webm_dir, mp4_dir) = (dir.path().join("webm"), dir.path().join("mp4"));
    for (d, c) in [(&webm_dir, "webm"), (&mp4_dir, "mp4")] {
        let args = [
            "--out",
            d.to_str().unwrap(),
            "--chunk-seconds",
            "25",
            "--chunks",
            "0,4",
            "--container",
            c,
        ];
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 0, "{stderr}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mp4_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["container"], "mp4");
    assert_eq!(manifest["mime"], "audio/mp4; codecs=\"opus\"");
    assert_eq!(manifest["chunk_files_include_init"], false);
    assert_eq!(manifest["init"]["file"], "init.mp4");
    assert_eq!(manifest["hls"], "playlist.m3u8");
    let init = std::fs::read(mp4_dir.join("init.mp4")).unwrap();
    let movie = auralis_testkit::mp4::parse_init(&init).unwrap();
    assert_eq!(movie.fragment_duration, manifest["frames"].as_u64());
    for index in [0usize, 4] {
        let entry = &manifest["chunks"][index];
        assert_eq!(entry["file"], format!("chunk_{index:05}.m4s"));
        let segment = std::fs::read(mp4_dir.join(entry["file"].as_str().unwrap())).unwrap();
        assert_eq!(entry["bytes"], segment.len());
        let (first, frames, packets) = auralis_testkit::mp4::contiguous_packets(&segment).unwrap();
        assert_eq!(first, entry["start_frame"].as_u64().unwrap());
        assert_eq!(frames, entry["frames"].as_u64().unwrap());
        // The WebM render of the same chunk holds the same packets.
        let webm = std::fs::read(webm_dir.join(format!("chunk_{index:05}.webm"))).unwrap();
        let webm_init = std::fs::read(webm_dir.join("init.webm")).unwrap();
        let webm_packets =
            auralis_testkit::webm::media_segment_packets(&webm[webm_init.len()..]).unwrap();
        assert_eq!(packets, webm_packets.packets, "chunk {index}");
    }
    // Chunks not rendered have no file in the manifest.
    assert!(manifest["chunks"][1].get("file").is_none());
    let playlist = std::fs::read_to_string(mp4_dir.join("playlist.m3u8")).unwrap();
    let durations: Vec<f64> = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse().unwrap())
        .collect();
    let want: Vec<f64> = manifest["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["duration_s"].as_f64().unwrap())
        .collect();
    assert_eq!(durations.len(), want.len());
    for (d, w) in durations.iter().zip(&want) {
        assert!((d - w).abs() < 1e-6, "{d} vs {w}");
    }
    assert!(playlist.contains("#EXT-X-MAP:URI=\"init.mp4\""));
}

#[test]
fn ffmpegs_hls_client_plays_the_playlist_to_the_tracks_frames() {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_err()
    {
        auralis_testkit::skip("ffmpeg (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    // 25 s chunks of the 122 s demo: the last chunk is 22 s.
    let (code, _, stderr) = run(&["--out", out, "--container", "mp4", "--chunk-seconds", "25"]);
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(dir.path().join("playlist.m3u8"))
        .args(["-f", "f32le", "-acodec", "pcm_f32le", "-"])
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    // The demo ends on a packet boundary: ffmpeg's decode is exactly the track (no padding to
    // leave undropped).
    let frames = manifest["frames"].as_u64().unwrap();
    assert_eq!(auralis_core::units::padding_frames(frames), 0);
    assert_eq!(decoded.stdout.len() as u64 / 8, frames);
}

#[test]
fn a_queue_in_mp4_is_continuous_with_a_playlist_and_bad_layouts_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("demo.wav");
    std::fs::write(&wav, auralis_core::demo::demo_wav()).unwrap();
    let w = wav.to_str().unwrap();
    let list = format!("{w},{w}");
    let out = dir.path().join("q");
    let o = out.to_str().unwrap();
    let (code, _, stderr) = run(&[
        "--queue",
        &list,
        "--crossfade",
        "2",
        "--container",
        "mp4",
        "--chunk-seconds",
        "10",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["layout"], "continuous");
    assert_eq!(manifest["container"], "mp4");
    assert_eq!(manifest["init"]["file"], "init.mp4");
    assert_eq!(manifest["hls"], "playlist.m3u8");
    let frames = manifest["frames"].as_u64().unwrap();
    let total = manifest["total_chunks"].as_u64().unwrap();
    assert_eq!(total, frames.div_ceil(480_000));
    // The segments follow one another on the queue's frames, whatever item they hold.
    let mut next = 0;
    for (k, c) in manifest["chunks"].as_array().unwrap().iter().enumerate() {
        assert_eq!(c["file"], format!("chunk_{k:05}.m4s"));
        let bytes = std::fs::read(out.join(c["file"].as_str().unwrap())).unwrap();
        let (first, n, _) = auralis_testkit::mp4::contiguous_packets(&bytes).unwrap();
        assert_eq!(first, next);
        next += n;
    }
    assert_eq!(next, frames);
    let playlist = std::fs::read_to_string(out.join("playlist.m3u8")).unwrap();
    assert_eq!(playlist.matches("#EXTINF:").count() as u64, total);
    for (args, message) in [
        (
            vec![
                "--queue",
                &list,
                "--container",
                "mp4",
                "--layout",
                "shared",
                "--out",
                o,
            ],
            "invalid queue layout",
        ),
        (
            vec!["--queue", &list, "--layout", "sideways", "--out", o],
            "invalid queue layout sideways",
        ),
        (
            vec![w, "--layout", "continuous", "--out", o],
            "options of --queue",
        ),
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
