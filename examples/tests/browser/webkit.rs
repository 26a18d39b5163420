//! The WebKitGTK test: MiniBrowser driven by WebKitWebDriver under Xvfb, what it plays recorded
//! at a private PulseAudio (WebKitGTK's Web Audio path is no faithful recorder of an MSE
//! element). It shares the fixture, the pages and the measurement of `browser.rs`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::sound::{Killed, SoundServer};
use super::{continuous_queue, fixture, queue_tracks, Expected, Fixture};

/// What the WebKitGTK test needs: `WebKitWebDriver`, `MiniBrowser`, `Xvfb` and `pulseaudio`
/// (Debian: webkit2gtk-driver, xvfb, pulseaudio and the GStreamer plugins). Under CI they are
/// required; elsewhere the test is skipped with the reason.
fn webkit_tools() -> Option<PathBuf> {
    let browser = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|arch| {
            ["webkit2gtk-4.1", "webkit2gtk-4.0"].map(|v| arch.path().join(v).join("MiniBrowser"))
        })
        .find(|p| p.is_file());
    let missing: Vec<&str> = [
        (
            "/usr/bin/WebKitWebDriver",
            "WebKitWebDriver (webkit2gtk-driver)",
        ),
        ("/usr/bin/Xvfb", "Xvfb (xvfb)"),
        ("/usr/bin/pulseaudio", "pulseaudio"),
    ]
    .into_iter()
    .filter(|(path, _)| !Path::new(path).is_file())
    .map(|(_, name)| name)
    .chain(browser.is_none().then_some("MiniBrowser (libwebkit2gtk)"))
    .collect();
    if missing.is_empty() {
        return browser;
    }
    auralis_testkit::skip(&format!(
        "{} (CI installs webkit2gtk-driver, xvfb, pulseaudio and the GStreamer plugins)",
        missing.join(", ")
    ));
    None
}

/// One WebDriver command over HTTP/1.1 to WebKitWebDriver on 127.0.0.1:`port`; the JSON answer.
fn webdriver(port: u16, method: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
    use std::io::Read;
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // Chunked: hex size line, data, repeated.
        let mut out = String::new();
        let mut at = rest;
        while let Some((size, tail)) = at.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            at = &tail[n + 2..];
        }
        out
    } else {
        rest.to_owned()
    };
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("WebDriver answer ({e}): {text}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// MiniBrowser under Xvfb, driven by WebKitWebDriver, its sound going to a private PulseAudio
/// whose only sink writes what it plays to a pipe as 48 kHz stereo float32, read by a thread
/// (WebKitGTK's Web Audio path is no faithful recorder of an MSE element; the sound server
/// hears what a listener hears). Everything stops when it is dropped.
struct WebKit {
    driver_port: u16,
    session: String,
    // Dropped after the session is closed (fields drop in order).
    _driver: Killed,
    _xvfb: Killed,
    sound: SoundServer,
    _work: tempfile::TempDir,
}

impl WebKit {
    /// Starts it all, or `None` (said, and a failure under CI) when a tool is missing.
    fn start() -> Option<WebKit> {
        let mini_browser = webkit_tools()?;
        let work = tempfile::tempdir().unwrap();
        // WebKit's sandboxed processes look for the sound server at
        // $XDG_RUNTIME_DIR/pulse/native.
        let sound = SoundServer::start(work.path());
        let runtime = sound.runtime.clone();
        // A display no X server holds: an Xvfb that was killed outright leaves its lock file,
        // and a new one on that display would not start.
        let first = 100 + free_port() % 800;
        let number = (first..first + 1000)
            .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .unwrap();
        let display = format!(":{number}");
        let xvfb = Killed(
            Command::new("Xvfb")
                .args([
                    display.as_str(),
                    "-screen",
                    "0",
                    "1024x768x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let driver_port = free_port();
        let driver = Killed(
            Command::new("WebKitWebDriver")
                .arg(format!("--port={driver_port}"))
                .env("DISPLAY", &display)
                .env("XDG_RUNTIME_DIR", &runtime)
                .env_remove("PULSE_SERVER")
                .env("HOME", work.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Wait for the driver, then open a session on MiniBrowser.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", driver_port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "WebKitWebDriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let answer = webdriver(
            driver_port,
            "POST",
            "/session",
            &serde_json::json!({"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {
                "binary": mini_browser,
                "args": ["--automation", "--autoplay-policy=allow", "--media-playback-requires-user-gesture=false"]}}}}),
        );
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        println!(
            "WebKitGTK {}",
            answer["value"]["capabilities"]["browserVersion"]
        );
        Some(WebKit {
            sound,
            driver_port,
            session,
            _driver: driver,
            _xvfb: xvfb,
            _work: work,
        })
    }

    /// Opens `web/QUERY` of the fixture's server, waits for the page's report and returns it
    /// with what the sound server played meanwhile, from 100 ms before the first sound (it
    /// writes silence while nothing plays).
    fn play(&self, f: &Fixture, label: &str, query: &str) -> (serde_json::Value, Vec<f32>) {
        let before = self.sound.mark();
        let url = format!("http://127.0.0.1:{}/web/{query}", f.port);
        webdriver(
            self.driver_port,
            "POST",
            &format!("/session/{}/url", self.session),
            &serde_json::json!({ "url": url }),
        );
        let json = f
            .results
            .recv_timeout(Duration::from_secs(120))
            .expect("the check page reported within 120 s");
        let result: serde_json::Value = serde_json::from_str(&json).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        (result, self.sound.since(before, "WebKitGTK", label))
    }
}

impl Drop for WebKit {
    fn drop(&mut self) {
        webdriver(
            self.driver_port,
            "DELETE",
            &format!("/session/{}", self.session),
            &serde_json::json!({}),
        );
    }
}

/// What every WebKitGTK run must report: no errors, the MSE object asked for, MP4, `ended` at
/// the stream's end (within 20 ms).
fn assert_page(label: &str, result: &serde_json::Value, mse: &str, duration: f64) {
    assert!(
        result["errors"].as_array().unwrap().is_empty(),
        "{label}: {result}"
    );
    assert_eq!(result["mse"], mse);
    assert_eq!(
        result["mime"], "audio/mp4; codecs=\"opus\"",
        "{label}: {result}"
    );
    let ended = result["ended_at"].as_f64().expect("ended fired");
    assert!(
        (ended - duration).abs() <= 0.020,
        "{label}: ended at {ended}, the stream is {duration} s"
    );
}

#[test]
fn webkitgtk_plays_mp4_segments_through_mse_and_managed_media_source_gaplessly() {
    let Some(webkit) = WebKit::start() else {
        return;
    };
    let f = fixture(&[("mp4", &["--container", "mp4"])]);
    let expected = Expected::new(&f, &["mp4", "mp4", "mp4"]);
    for mse in ["", "&mms=1"] {
        let label = if mse.is_empty() {
            "MediaSource"
        } else {
            "ManagedMediaSource"
        };
        let query = format!("check.html?dir=../mp4&order=0,1,2&normal=1{mse}");
        let (result, samples) = webkit.play(&f, label, &query);
        assert_page(label, &result, label, f.duration);
        let heard = expected.measure(&samples);
        println!("WebKitGTK, {label}: at the sound server: {heard}");
        heard.assert_gapless(label, expected.excess_limit);
    }
}

/// Safari's engine (WebKit; its GStreamer backend here) plays a gapless queue of three real
/// tracks in MP4, the continuous layout: 0 samples of drift at every chunk and track join,
/// every join within the limit of a continuous encode of the same audio.
#[test]
fn webkitgtk_plays_a_gapless_mp4_queue_of_three_tracks_without_drift() {
    let Some(webkit) = WebKit::start() else {
        return;
    };
    let f = fixture(&[]);
    let paths = queue_tracks(&f);
    let (queue, expected, order) = continuous_queue(
        &f,
        &paths,
        "queue-mp4",
        &["--container", "mp4"],
        auralis_core::Container::Mp4,
    );
    let track_joins: Vec<u64> = queue.places()[1..].iter().map(|p| p.start_frame).collect();
    println!(
        "MP4 queue: {} frames in {} chunks, track joins at {track_joins:?}",
        queue.frames(),
        queue.total_chunks()
    );
    for (mse, kind) in [("", "MediaSource"), ("&mms=1", "ManagedMediaSource")] {
        let label = format!("MP4 queue, {kind}");
        let label = label.as_str();
        let query = format!("check.html?dir=../queue-mp4&order={order}&normal=1{mse}");
        let (result, samples) = webkit.play(&f, label, &query);
        assert_page(label, &result, kind, queue.duration_s());
        let heard = expected.measure(&samples);
        println!("WebKitGTK, {label}: at the sound server: {heard}");
        heard.assert_gapless(label, expected.excess_limit);
    }
}
