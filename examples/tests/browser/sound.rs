//! A private PulseAudio for the browsers that play through the sound server (WebKitGTK,
//! Firefox): its only sink writes what it plays to a pipe as 48 kHz stereo float32, which a
//! thread reads. What a listener hears, after every buffer of the browser's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// A child process killed when dropped.
pub(super) struct Killed(pub(super) std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) struct SoundServer {
    recording: Arc<Mutex<Vec<u8>>>,
    /// `$XDG_RUNTIME_DIR` for a child that plays here (the socket is `pulse/native` in it).
    pub(super) runtime: PathBuf,
    _pulse: Killed,
}

impl SoundServer {
    /// Starts it in `work` (a private folder).
    pub(super) fn start(work: &Path) -> SoundServer {
        let runtime = work.join("runtime");
        std::fs::create_dir_all(runtime.join("pulse")).unwrap();
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let pipe = work.join("sink.pipe");
        let socket = runtime.join("pulse").join("native");
        let status = Command::new("mkfifo").arg(&pipe).status().unwrap();
        assert!(status.success());
        let pulse = Killed(
            Command::new("pulseaudio")
                .args([
                    "-n",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--use-pid-file=no",
                ])
                .args(["--disallow-exit", "-F", "/dev/null"])
                .arg(format!(
                    "--load=module-native-protocol-unix socket={} auth-anonymous=1",
                    socket.display()
                ))
                .arg(format!(
                    "--load=module-pipe-sink file={} format=float32le rate=48000 channels=2 \
                     sink_name=recorder use_system_clock_for_timing=yes",
                    pipe.display()
                ))
                .env("HOME", work)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let recording = Arc::new(Mutex::new(Vec::<u8>::new()));
        {
            let recording = recording.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut file = std::fs::File::open(pipe).unwrap();
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = file.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    recording.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        SoundServer {
            recording,
            runtime,
            _pulse: pulse,
        }
    }

    /// How many bytes it has played so far (a mark for `since`).
    pub(super) fn mark(&self) -> usize {
        self.recording.lock().unwrap().len()
    }

    /// What it played since `mark`, from 100 ms before the first sound (it writes silence
    /// while nothing plays), as interleaved stereo samples.
    pub(super) fn since(&self, mark: usize, who: &str, label: &str) -> Vec<f32> {
        let bytes = self.recording.lock().unwrap()[mark..].to_vec();
        let samples: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let first = samples
            .chunks(960)
            .position(|w| w.iter().map(|x| x * x).sum::<f32>() / 960.0 > 1e-6)
            .map(|w| w * 960);
        println!(
            "{who}, {label}: {} frames from the sound server, first sound at {first:?}",
            samples.len() / 2
        );
        let first = first.unwrap_or(0) / 2;
        samples[first.saturating_sub(4800) * 2..].to_vec()
    }
}
