//! The render output in a real browser: headless Chromium (Debian's `chromium`) loads
//! `examples/web/check.html` from a server on 127.0.0.1, appends the chunk files to one
//! SourceBuffer in order and out of order, and plays to the end.
//!
//! Under CI (`CI` set) Chromium is required; elsewhere the test is skipped with a printed
//! reason when it is not installed. `AURALIS_CHROMIUM` names another binary.

mod common;

use auralis_core::chunk;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    let candidate = std::env::var_os("AURALIS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    if candidate.is_file() {
        return Some(candidate);
    }
    auralis_core::testing::skip(&format!(
        "chromium at {} (CI installs Debian's chromium)",
        candidate.display()
    ));
    None
}

/// Serves files under `root` on 127.0.0.1 from a background thread. A request for
/// `/result?JSON` is the check page reporting, and goes to `results`; the body of a POST to
/// `/capture` (the recorded audio, little-endian f32) goes to `captures`.
fn serve(
    root: PathBuf,
    results: std::sync::mpsc::Sender<String>,
    captures: std::sync::mpsc::Sender<Vec<f32>>,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let target = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            if let Some(query) = target.strip_prefix("/result?") {
                let _ = results.send(percent_decode(query));
            }
            let path = target.split('?').next().unwrap().to_owned();
            let mut content_length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            if request.starts_with("POST /capture") {
                let mut body = vec![0u8; content_length];
                if std::io::Read::read_exact(&mut reader, &mut body).is_ok() {
                    let samples = body
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect();
                    let _ = captures.send(samples);
                }
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                continue;
            }
            let file = root.join(path.trim_start_matches('/'));
            let mut stream = stream;
            let ok = !path.contains("..") && file.is_file();
            let body = if ok {
                std::fs::read(&file).unwrap()
            } else {
                b"not found".to_vec()
            };
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html",
                Some("js") => "text/javascript",
                Some("json") => "application/json",
                Some("webm") => "audio/webm",
                _ => "application/octet-stream",
            };
            let status = if ok { "200 OK" } else { "404 Not Found" };
            let head = format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(&body));
        }
    });
    port
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Loads `url` in headless Chromium and returns the JSON the check page reports.
fn run_page(
    chromium: &Path,
    url: &str,
    results: &std::sync::mpsc::Receiver<String>,
) -> serde_json::Value {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let result = results.recv_timeout(Duration::from_secs(90));
    let _ = child.kill();
    let _ = child.wait();
    let json = result.expect("the check page reported within 90 s");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("result is not JSON ({e}): {json}"))
}

fn ranges(append: &serde_json::Value) -> Vec<(f64, f64)> {
    append["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_f64().unwrap(), r[1].as_f64().unwrap()))
        .collect()
}

#[test]
fn chromium_buffers_chunk_files_as_one_range_in_any_order_and_plays_to_the_end() {
    let Some(chromium) = chromium() else { return };
    let root = tempfile::tempdir().unwrap();
    // A 12.3 s excerpt of the demo: three 5 s chunks, the last one ending inside a packet.
    let pcm = auralis_core::demo::synthesize();
    let frames = 44_100 * 12 + 13_230;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav = root.path().join("excerpt.wav");
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    for x in &pcm[44_100 * 2 * 20..44_100 * 2 * 20 + frames * 2] {
        writer.write_sample((x * 32767.0).round() as i16).unwrap();
    }
    writer.finalize().unwrap();
    let out = root.path().join("out");
    let status = Command::new(common::render_bin())
        .arg(&wav)
        .args(["--out", out.to_str().unwrap(), "--chunk-seconds", "5"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    std::fs::create_dir(root.path().join("web")).unwrap();
    for name in ["check.html", "check.js", "capture.js"] {
        std::fs::copy(web.join(name), root.path().join("web").join(name)).unwrap();
    }
    let (report, results) = std::sync::mpsc::channel();
    let (capture_tx, captures) = std::sync::mpsc::channel();
    let port = serve(root.path().to_path_buf(), report, capture_tx);
    let duration = frames as f64 / 44_100.0;
    let chunk_end = |i: usize| ((i + 1) as f64 * 5.0).min(duration);

    let in_order = run_page(
        &chromium,
        &format!("http://127.0.0.1:{port}/web/check.html?dir=../out&order=0,1,2"),
        &results,
    );
    assert_eq!(in_order["supported"], true, "{in_order}");
    assert!(
        in_order["errors"].as_array().unwrap().is_empty(),
        "{in_order}"
    );
    for (i, append) in in_order["appends"].as_array().unwrap().iter().enumerate() {
        let r = ranges(append);
        assert_eq!(r.len(), 1, "after chunk {i}: {r:?}");
        assert!(
            r[0].0.abs() < 0.001 && (r[0].1 - chunk_end(i)).abs() <= 0.001,
            "after chunk {i}: {r:?}"
        );
    }
    assert_eq!(in_order["advanced"], true);
    let ended = in_order["ended_at"].as_f64().expect("ended fired");
    assert!(
        (ended - duration).abs() <= 0.020,
        "ended at {ended}, track is {duration} s"
    );

    println!("in order: {in_order}");
    // A seek: the last chunk first, then the first, then the middle one: one range at the end.
    let shuffled = run_page(
        &chromium,
        &format!("http://127.0.0.1:{port}/web/check.html?dir=../out&order=2,0,1"),
        &results,
    );
    assert!(
        shuffled["errors"].as_array().unwrap().is_empty(),
        "{shuffled}"
    );
    let last = ranges(shuffled["appends"].as_array().unwrap().last().unwrap());
    assert!(
        last.len() == 1 && last[0].0.abs() < 0.001 && (last[0].1 - duration).abs() <= 0.001,
        "{last:?}"
    );
    println!("out of order: {shuffled}");
    let ended = shuffled["ended_at"].as_f64().expect("ended fired");
    assert!(
        (ended - duration).abs() <= 0.020,
        "ended at {ended}, track is {duration} s"
    );

    // Heard through Web Audio at normal speed: aligned to the mastered PCM, the joins must be as
    // clean as the rest (the round-trip test's criterion). The page records on the audio thread
    // (an AudioWorklet), so a busy page loses nothing; a starved audio thread could still damage
    // a recording, which shows as one that does not match the track at all (error near 0 dB).
    // Such a recording is taken once more, and the checks below stay as strict for the one that
    // is used.
    let source = auralis_core::Source::open(&wav).unwrap();
    let renderer = auralis_core::Renderer::new(source.clone());
    let mastering =
        auralis_core::Mastering::prepare(&source, auralis_core::Preset::Adaptive, 1.0, None, 0)
            .unwrap();
    let plan = renderer.plan(5.0).unwrap();
    let reference = chunk::mastered_track(&renderer, &plan, &mastering.params).unwrap();
    let joins: Vec<usize> = plan
        .chunks()
        .skip(1)
        .map(|c| c.start_frame as usize)
        .collect();
    let last_join = *joins.last().unwrap();
    for attempt in 1..=2 {
        let heard = run_page(
            &chromium,
            &format!("http://127.0.0.1:{port}/web/check.html?dir=../out&order=0,1,2&capture=1"),
            &results,
        );
        assert!(heard["errors"].as_array().unwrap().is_empty(), "{heard}");
        let captured = captures
            .recv_timeout(Duration::from_secs(10))
            .expect("the page sent its recording");
        let offset = align(&captured, &reference);
        let heard_aligned =
            &captured[offset * 2..(offset * 2 + reference.len()).min(captured.len())];
        let n = heard_aligned.len().min(reference.len());
        // The alignment must be real: heard against the reference, the whole track's error is
        // codec noise, far below the signal (a misaligned comparison is near 0 dB everywhere).
        let overall =
            auralis_core::joins::nsr_db(&heard_aligned[..n], &reference[..n], 2, 0, n / 2).unwrap();
        let excess = auralis_core::joins::worst_join_excess_db(
            &heard_aligned[..n],
            &reference[..n],
            2,
            &joins,
        );
        println!(
            "attempt {attempt}: captured {} frames, aligned at {offset}; error {overall:.1} dB re \
             signal; worst join {excess:.2} dB above the median",
            captured.len() / 2
        );
        // The recording must cover every join and a second after the last (its very end may be
        // cut when the page's last audio callbacks come late on a loaded machine).
        let complete = heard_aligned.len() >= 2 * (last_join + 48_000);
        if attempt == 1 && !(complete && overall < -15.0) {
            println!("the recording was incomplete or damaged: taking it again");
            continue;
        }
        assert!(
            complete,
            "the recording ({} frames) does not reach past the last join",
            heard_aligned.len() / 2
        );
        assert!(
            overall < -15.0,
            "the recording does not match the track ({overall:.1} dB): misaligned?"
        );
        assert!(
            excess <= 3.0,
            "a join is {excess:.2} dB above the median error in the browser"
        );
        break;
    }
}

/// The frame offset of `reference` in `captured` (channel 0): the lag in 0..1 s that maximizes
/// the normalized correlation of three 2048-frame stretches of the reference (1, 4 and 8 s in).
fn align(captured: &[f32], reference: &[f32]) -> usize {
    let heard: Vec<f32> = captured.iter().step_by(2).copied().collect();
    let mono: Vec<f32> = reference.iter().step_by(2).copied().collect();
    let correlation = |at: usize, lag: usize| -> f64 {
        let (probe, window) = (&mono[at..at + 2048], &heard[at + lag..at + lag + 2048]);
        let dot: f64 = probe
            .iter()
            .zip(window)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        let energy = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        dot / (energy(probe) * energy(window)).sqrt().max(1e-12)
    };
    let probes = [48_000, 192_000, 384_000];
    (0..48_000usize)
        .filter(|lag| probes.iter().all(|&at| at + lag + 2048 <= heard.len()))
        .max_by(|&a, &b| {
            let score = |lag| probes.iter().map(|&at| correlation(at, lag)).sum::<f64>();
            score(a).total_cmp(&score(b))
        })
        .expect("the recording is long enough to align")
}
