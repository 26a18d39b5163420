//! The Firefox tests: headless Firefox (Debian's firefox-esr) started on the check page with a
//! throwaway profile whose `user.js` lets media play without a gesture, what it plays recorded
//! at a private PulseAudio (as WebKitGTK's is). No WebDriver: the page reports by itself, as
//! it does in Chromium. It shares the fixture, the pages and the measurement of `browser.rs`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::sound::{Killed, SoundServer};
use super::{continuous_queue, fixture, queue_tracks, Expected, Fixture};

/// Firefox and `pulseaudio` (Debian: firefox-esr, pulseaudio); `AURALIS_FIREFOX` names another
/// binary. Under CI they are required; elsewhere the test is skipped with the reason.
fn firefox_binary() -> Option<String> {
    let binary = std::env::var("AURALIS_FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into());
    let missing: Vec<String> = [
        (binary.as_str(), format!("{binary} (firefox-esr)")),
        ("/usr/bin/pulseaudio", "pulseaudio".to_owned()),
    ]
    .into_iter()
    .filter(|(path, _)| !Path::new(path).is_file())
    .map(|(_, name)| name)
    .collect();
    if missing.is_empty() {
        return Some(binary);
    }
    auralis_testkit::skip(&format!(
        "{} (CI installs firefox-esr and pulseaudio)",
        missing.join(", ")
    ));
    None
}

/// The profile's preferences: media plays without a gesture; nothing is fetched or shown at
/// start that is not the page.
const PREFS: &[(&str, &str)] = &[
    ("media.autoplay.default", "0"),
    ("media.autoplay.blocking_policy", "0"),
    ("browser.shell.checkDefaultBrowser", "false"),
    ("browser.startup.homepage_override.mstone", "\"ignore\""),
    ("browser.aboutwelcome.enabled", "false"),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("toolkit.telemetry.reportingpolicy.firstRun", "false"),
    ("app.update.disabledForTesting", "true"),
    ("network.captive-portal-service.enabled", "false"),
    ("network.connectivity-service.enabled", "false"),
    ("browser.safebrowsing.update.enabled", "false"),
    ("extensions.update.enabled", "false"),
];

struct Firefox {
    binary: String,
    sound: SoundServer,
    work: tempfile::TempDir,
}

impl Firefox {
    /// The sound server, ready for a page; `None` (said, and a failure under CI) when a tool is
    /// missing.
    fn start() -> Option<Firefox> {
        let binary = firefox_binary()?;
        let work = tempfile::tempdir().unwrap();
        let sound = SoundServer::start(work.path());
        Some(Firefox {
            binary,
            sound,
            work,
        })
    }

    /// Opens `web/QUERY` of the fixture's server in a new headless Firefox (a new profile),
    /// waits for the page's report and returns it with what the sound server played
    /// meanwhile, from 100 ms before the first sound.
    fn play(&self, f: &Fixture, label: &str, query: &str) -> (serde_json::Value, Vec<f32>) {
        let profile = tempfile::tempdir_in(self.work.path()).unwrap();
        let prefs: String = PREFS
            .iter()
            .map(|(k, v)| format!("user_pref(\"{k}\", {v});\n"))
            .collect();
        std::fs::write(profile.path().join("user.js"), prefs).unwrap();
        let before = self.sound.mark();
        let browser = Killed(
            Command::new(&self.binary)
                .args(["--headless", "--no-remote", "--profile"])
                .arg(profile.path())
                .arg(format!("http://127.0.0.1:{}/web/{query}", f.port))
                .env("HOME", self.work.path())
                .env("XDG_RUNTIME_DIR", &self.sound.runtime)
                .env("MOZ_HEADLESS", "1")
                .env_remove("PULSE_SERVER")
                .env_remove("DISPLAY")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let json = f
            .results
            .recv_timeout(Duration::from_secs(120))
            .expect("the check page reported within 120 s");
        let result: serde_json::Value = serde_json::from_str(&json).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        drop(browser);
        println!("Firefox, {label}: {result}");
        (result, self.sound.since(before, "Firefox", label))
    }
}

/// What every Firefox run must report: no errors, MediaSource, the MIME type asked for,
/// `ended` at the stream's end (within 20 ms).
fn assert_page(label: &str, result: &serde_json::Value, mime: &str, duration: f64) {
    assert!(
        result["errors"].as_array().unwrap().is_empty(),
        "{label}: {result}"
    );
    assert_eq!(result["mse"], "MediaSource", "{label}: {result}");
    assert_eq!(result["mime"], mime, "{label}: {result}");
    let ended = result["ended_at"].as_f64().expect("ended fired");
    assert!(
        (ended - duration).abs() <= 0.020,
        "{label}: ended at {ended}, the stream is {duration} s"
    );
}

const WEBM: &str = "audio/webm; codecs=\"opus\"";
const MP4: &str = "audio/mp4; codecs=\"opus\"";

/// A track's chunks in WebM and in MP4 play in Firefox as the packets decode: 0 samples of
/// drift at every chunk join, every join within the limit.
#[test]
fn firefox_plays_webm_and_mp4_chunks_gaplessly() {
    let Some(firefox) = Firefox::start() else {
        return;
    };
    let f = fixture(&[("webm", &[]), ("mp4", &["--container", "mp4"])]);
    for (dir, mime) in [("webm", WEBM), ("mp4", MP4)] {
        let expected = Expected::new(&f, &[dir, dir, dir]);
        let query = format!("check.html?dir=../{dir}&order=0,1,2&normal=1");
        let (result, samples) = firefox.play(&f, dir, &query);
        assert_page(dir, &result, mime, f.duration);
        let heard = expected.measure(&samples);
        println!("Firefox, {dir}: at the sound server: {heard}");
        heard.assert_gapless(dir, expected.excess_limit);
    }
}

/// A gapless queue of three real tracks in Firefox, in WebM (the continuous layout: Firefox
/// refuses the shared one's mid-stream DiscardPadding) and in MP4: 0 samples of drift at every
/// chunk and track join, every join within the limit of a continuous encode of the same audio.
#[test]
fn firefox_plays_a_gapless_queue_of_three_tracks_without_drift() {
    let Some(firefox) = Firefox::start() else {
        return;
    };
    let f = fixture(&[]);
    let paths = queue_tracks(&f);
    for (name, extra, container, mime) in [
        (
            "queue-webm",
            &["--layout", "continuous"][..],
            auralis_core::Container::Webm,
            WEBM,
        ),
        (
            "queue-mp4",
            &["--container", "mp4"][..],
            auralis_core::Container::Mp4,
            MP4,
        ),
    ] {
        let (queue, expected, order) = continuous_queue(&f, &paths, name, extra, container);
        let query = format!("check.html?dir=../{name}&order={order}&normal=1");
        let (result, samples) = firefox.play(&f, name, &query);
        assert_page(name, &result, mime, queue.duration_s());
        let heard = expected.measure(&samples);
        println!("Firefox, {name}: at the sound server: {heard}");
        heard.assert_gapless(name, expected.excess_limit);
    }
}
