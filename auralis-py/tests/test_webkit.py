"""The web player in WebKitGTK (Safari's engine, its GStreamer backend here), through the FastAPI
server: preset switches at random points of a track are heard at the play head. What it plays
is recorded at a private PulseAudio whose only sink writes to a pipe (WebKitGTK's Web Audio
path is no faithful recorder of an MSE element: the sound server hears what a listener hears).

MiniBrowser runs under Xvfb, driven by WebKitWebDriver. In CI (``CI`` set) the tools are
required (``.ci/run`` installs webkit2gtk-driver, xvfb, pulseaudio and the GStreamer plugins);
elsewhere the test is skipped with the reason when one is missing."""

import contextlib
import glob
import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from auralis_core.server import create_app

from test_browser import CHUNK, CORPUS_TRACK, HALF, align, free_port, nsr_db, reporting, switched_reference

TOOLS = {
    "/usr/bin/WebKitWebDriver": "WebKitWebDriver (webkit2gtk-driver)",
    "/usr/bin/Xvfb": "Xvfb (xvfb)",
    "/usr/bin/pulseaudio": "pulseaudio",
}


def mini_browser() -> str:
    found = sorted(glob.glob("/usr/lib/*/webkit2gtk-4.*/MiniBrowser"))
    missing = [name for path, name in TOOLS.items() if not Path(path).is_file()]
    if not found:
        missing.append("MiniBrowser (libwebkit2gtk)")
    if missing:
        why = f"{', '.join(missing)} (CI installs webkit2gtk-driver, xvfb, pulseaudio and the GStreamer plugins)"
        if os.environ.get("CI"):
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)
    return found[-1]


def webdriver(port: int, method: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


@contextlib.contextmanager
def served_in_webkit(app, tmp_path, page: str):
    """Serves ``app``, opens ``page`` in MiniBrowser and yields a function that returns what the
    sound server has played so far (48 kHz stereo float32); stops everything afterwards."""
    browser = mini_browser()
    work = tmp_path / "webkit"
    runtime = work / "runtime"
    (runtime / "pulse").mkdir(parents=True)
    runtime.chmod(0o700)
    pipe = work / "sink.pipe"
    os.mkfifo(pipe)
    env = {**os.environ, "HOME": str(work), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PULSE_SERVER", None)
    children = []
    recorded = bytearray()

    def spawn(args, **kw):
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, **kw)
        children.append(child)
        return child

    spawn(["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
           "--disallow-exit", "-F", "/dev/null",
           f"--load=module-native-protocol-unix socket={runtime / 'pulse' / 'native'} auth-anonymous=1",
           f"--load=module-pipe-sink file={pipe} format=float32le rate=48000 channels=2 "
           "sink_name=recorder use_system_clock_for_timing=yes"])

    def read():
        with open(pipe, "rb") as f:
            while True:
                data = f.read(1 << 16)
                if not data:
                    return
                recorded.extend(data)

    threading.Thread(target=read, daemon=True).start()
    display = f":{100 + free_port() % 800}"
    spawn(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
    driver_port = free_port()
    driver = subprocess.Popen(["WebKitWebDriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**env, "DISPLAY": display})
    children.append(driver)
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    session = None
    try:
        deadline = time.time() + 20
        while True:
            try:
                answer = webdriver(driver_port, "POST", "/session", {"capabilities": {"alwaysMatch": {
                    "webkitgtk:browserOptions": {"binary": browser, "args": [
                        "--automation", "--autoplay-policy=allow",
                        "--media-playback-requires-user-gesture=false"]}}}})
                break
            except OSError:
                assert time.time() < deadline, "WebKitWebDriver did not start"
                time.sleep(0.1)
        session = answer["value"]["sessionId"]
        print(f"WebKitGTK {answer['value']['capabilities'].get('browserVersion')}")
        while not web.started:
            time.sleep(0.05)
        webdriver(driver_port, "POST", f"/session/{session}/url", {"url": f"http://127.0.0.1:{port}{page}"})
        yield lambda: np.frombuffer(bytes(recorded[: len(recorded) // 8 * 8]), dtype="<f4").reshape(-1, 2)
    finally:
        if session is not None:
            with contextlib.suppress(OSError):
                webdriver(driver_port, "DELETE", f"/session/{session}", {})
        web.should_exit = True
        thread.join(timeout=10)
        for child in reversed(children):
            child.kill()
            child.wait()


def test_preset_switches_at_random_points_are_heard_at_the_play_head_in_webkitgtk(tmp_path, demo_path):
    """Ten switches at random points of a track in WebKitGTK (MP4, as Safari plays it): no
    error, each switch made at a frame past the play head, and from 60 ms after that frame the
    sound server's recording is the new preset's audio (a switch heard late would still be the
    old one's). Click to audio and where the recording's alignment moved are printed."""
    track = CORPUS_TRACK if CORPUS_TRACK.is_file() else demo_path
    if track == demo_path and os.environ.get("CI"):
        pytest.fail(f"the corpus is required in CI ({CORPUS_TRACK} not found)")
    app = create_app({"song": track}, cache_dir=None, chunk_seconds=CHUNK)
    reports, _ = reporting(app)

    presets = ["bright", "warm", "punchy", "adaptive"]
    page = (f"/web/index.html?api=/api&track=song&preset=adaptive&test=switches&n=10&seed=7"
            f"&presets={','.join(presets)}&prefer=mp4&capture=0")
    with served_in_webkit(app, tmp_path, page) as recording:
        result = reports.get(timeout=180)
        time.sleep(0.7)
        captured = recording()
    assert result["errors"] == [], result["errors"]
    switches = result["switches"]
    assert len(switches) == 10 and all(s is not None for s in switches), switches
    for s in switches:
        print(f"{s['from']:>8} -> {s['to']:<8} clicked {s['clicked_at']:6.3f} s, heard from "
              f"{s['at']:6.3f} s: {s['media_ms']:5.0f} ms of media, {s['heard_ms']:5.0f} ms on the page's "
              f"clock (first unit appended after {s['first_appended_ms']:4.0f} ms, {s['cache']})")
    media_ms = [s["media_ms"] for s in switches]
    print(f"WebKitGTK: click to the new preset's audio: median {np.median(media_ms):.0f} ms, "
          f"worst {max(media_ms):.0f} ms")
    reference, points, audio = switched_reference(track, switches)
    offset = align(captured, reference)
    print(f"{len(captured) / 48_000:.2f} s recorded, the track from {offset / 48_000:.3f} s")

    def shift_at(a: int, length: int = 9_600) -> int:
        """Where reference frames [a, a + length) lie in the recording, near `offset`: the
        recording may have gained a few ms of silence where the sound server ran dry (this
        machine's two cores also render the switches)."""
        ref = reference[a:a + length].mean(axis=1)
        best = None
        for s in range(-4_800, 4_801, 8):
            at = offset + a + s
            if at < 0 or at + length > len(captured):
                continue
            err = float(np.sum((captured[at:at + length].mean(axis=1) - ref) ** 2))
            best = (err, s) if best is None or err < best[0] else best
        coarse = best[1]
        for s in range(coarse - 8, coarse + 9):
            at = offset + a + s
            err = float(np.sum((captured[at:at + length].mean(axis=1) - ref) ** 2))
            best = (err, s) if err < best[0] else best
        return best[1]

    skips = []
    for k, (s, at) in enumerate(zip(switches, points)):
        # Aligned just after the fade: from 60 ms after the switch's frame, 100 ms of the
        # recording must be the new preset's audio (a switch heard late would still be the
        # old one's there), closer to it than to the old preset's by 3 dB or more.
        before, after = shift_at(at - 14_400), shift_at(at + 4_800)
        a = at + HALF + 480
        heard = captured[offset + after + a: offset + after + a + 4_800]
        as_new = nsr_db(heard, reference[a:a + 4_800], 0, 4_800)
        as_old = nsr_db(heard, audio[s["from"]][a:a + 4_800], 0, 4_800)
        print(f"switch at {at / 48_000:6.3f} s: 60-160 ms after it {as_new:.2f} dB against the new "
              f"preset, {as_old:.2f} dB against the old; the recording's shift {before} frames "
              f"before it, {after} after")
        assert as_new < -12 and as_new < as_old - 3, f"the switch at {at / 48_000:.3f} s is not heard there"
        if before != after:
            skips.append((round(at / 48_000, 3), after - before))
    # Not asserted (see the closing note of issue 37): WebKitGTK's output here sometimes skips
    # or inserts about 10 ms (a sound-server period) near a switch or elsewhere.
    print(f"WebKitGTK: the recording's alignment changed across {len(skips)} of 10 switches: {skips}")
