"""The browsers the page tests drive, the three engines this machine runs: headless Chromium
(started on the page's URL), WebKitGTK (MiniBrowser under Xvfb, driven by WebKitWebDriver) and
headless Firefox (started on the page's URL with a throwaway profile whose ``user.js`` lets media
play without a gesture); WebKitGTK's and Firefox's sound is recorded at a private PulseAudio. In
CI (``CI`` set) each is required; elsewhere a test that needs a missing one is skipped with the
reason. ``AURALIS_CHROMIUM`` and ``AURALIS_FIREFOX`` name other binaries."""

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import uvicorn


def chromium() -> str:
    path = os.environ.get("AURALIS_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"chromium is required in CI ({path} not found)")
        pytest.skip(f"{path} not found (CI installs Debian's chromium)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



@contextlib.contextmanager
def served_in_chromium(app, browser: str, tmp_path, page: str):
    """Serves ``app`` on a free port and opens ``page`` (a path and query) in headless Chromium
    for the body of the ``with``; then closes both."""
    with serving(app) as port, open(tmp_path / "chromium.log", "wb") as log:
        child = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--autoplay-policy=no-user-gesture-required", "--enable-logging=stderr",
             f"--user-data-dir={tmp_path / 'profile'}",
             f"http://127.0.0.1:{port}{page}"],
            stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            yield
        except BaseException:
            # A page that never reported: say whether Chromium was still running, and what it
            # wrote last (the failing test's captured output).
            code = child.poll()
            print("Chromium " + (f"had exited ({code})" if code is not None else "was still running") +
                  "; the end of its log:")
            log.flush()
            print("\n".join((tmp_path / "chromium.log").read_text(errors="replace").splitlines()[-30:]))
            raise
        finally:
            child.kill()
            child.wait()
            shutil.rmtree(tmp_path / "profile", ignore_errors=True)


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
def sound_server(work: Path):
    """A private PulseAudio whose only sink writes to a pipe, for a browser that plays through
    the sound server: yields the environment a child needs to reach it (``HOME``,
    ``XDG_RUNTIME_DIR``) and a function that returns what it has played so far (48 kHz stereo
    float32); stops it afterwards."""
    runtime = work / "runtime"
    (runtime / "pulse").mkdir(parents=True)
    runtime.chmod(0o700)
    pipe = work / "sink.pipe"
    os.mkfifo(pipe)
    env = {**os.environ, "HOME": str(work), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PULSE_SERVER", None)
    recorded = bytearray()
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
         "--disallow-exit", "-F", "/dev/null",
         f"--load=module-native-protocol-unix socket={runtime / 'pulse' / 'native'} auth-anonymous=1",
         f"--load=module-pipe-sink file={pipe} format=float32le rate=48000 channels=2 "
         "sink_name=recorder use_system_clock_for_timing=yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def read():
        with open(pipe, "rb") as f:
            while True:
                data = f.read(1 << 16)
                if not data:
                    return
                recorded.extend(data)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield env, lambda: np.frombuffer(bytes(recorded[: len(recorded) // 8 * 8]), dtype="<f4").reshape(-1, 2)
    finally:
        server.kill()
        server.wait()


@contextlib.contextmanager
def serving(app):
    """``app`` served on a free port of the loopback for the body of the ``with``; yields the
    port."""
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not web.started and time.time() < deadline:
        time.sleep(0.05)
    assert web.started
    try:
        yield port
    finally:
        web.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def served_in_webkit(app, tmp_path, page: str):
    """Serves ``app``, opens ``page`` in MiniBrowser and yields a function that returns what the
    sound server has played so far (48 kHz stereo float32); stops everything afterwards."""
    browser = mini_browser()
    work = tmp_path / "webkit"
    with sound_server(work) as (env, recorded), serving(app) as port:
        children = []
        # Xvfb picks a free display and writes its number once it accepts clients.
        ready_r, ready_w = os.pipe()
        children.append(subprocess.Popen(["Xvfb", "-displayfd", str(ready_w), "-screen", "0", "1024x768x24",
                                          "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=env, pass_fds=(ready_w,)))
        os.close(ready_w)
        with os.fdopen(ready_r) as ready:
            number = ready.readline().strip()
        assert number.isdigit(), "Xvfb did not start"
        display = f":{number}"
        driver_port = free_port()
        children.append(subprocess.Popen(["WebKitWebDriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env={**env, "DISPLAY": display}))
        session = None
        try:
            deadline = time.time() + 60
            while True:
                try:
                    answer = webdriver(driver_port, "POST", "/session", {"capabilities": {"alwaysMatch": {
                        "webkitgtk:browserOptions": {"binary": browser, "args": [
                            "--automation", "--autoplay-policy=allow",
                            "--media-playback-requires-user-gesture=false"]}}}})
                    break
                except urllib.error.HTTPError as e:
                    # The driver answered but made no session (MiniBrowser did not start).
                    why = f"HTTP {e.code}: {e.read()[:300]!r}"
                except OSError as e:
                    why = str(e)  # not listening yet
                assert time.time() < deadline, f"no WebKitWebDriver session in 60 s: {why}"
                time.sleep(0.2)
            session = answer["value"]["sessionId"]
            print(f"WebKitGTK {answer['value']['capabilities'].get('browserVersion')}")
            webdriver(driver_port, "POST", f"/session/{session}/url", {"url": f"http://127.0.0.1:{port}{page}"})
            yield recorded
        finally:
            if session is not None:
                with contextlib.suppress(OSError):
                    webdriver(driver_port, "DELETE", f"/session/{session}", {})
            for child in reversed(children):
                # Asked to stop first: Xvfb killed outright leaves its display's lock file.
                child.terminate()
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def firefox() -> str:
    path = os.environ.get("AURALIS_FIREFOX", "/usr/bin/firefox-esr")
    missing = [name for path_, name in [(path, f"{path} (firefox-esr)"), ("/usr/bin/pulseaudio", "pulseaudio")]
               if not Path(path_).is_file()]
    if missing:
        why = f"{', '.join(missing)} not found (CI installs Debian's firefox-esr and pulseaudio)"
        if os.environ.get("CI"):
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)
    return path


# Preferences of the throwaway profile: media may play without a gesture, and nothing is
# fetched or shown at start that is not the page.
FIREFOX_PREFS = {
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
}


@contextlib.contextmanager
def served_in_firefox(app, tmp_path, page: str):
    """Serves ``app`` and opens ``page`` in headless Firefox (a throwaway profile, its sound
    through a private PulseAudio); yields a function that returns what the sound server has
    played so far (48 kHz stereo float32)."""
    browser = firefox()
    work = tmp_path / "firefox"
    profile = work / "profile"
    profile.mkdir(parents=True)
    (profile / "user.js").write_text("".join(
        f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items()))
    with sound_server(work) as (env, recorded), serving(app) as port:
        child = subprocess.Popen([browser, "--headless", "--no-remote", "--profile", str(profile),
                                  f"http://127.0.0.1:{port}{page}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env={**env, "MOZ_HEADLESS": "1"})
        try:
            yield recorded
        finally:
            child.kill()
            child.wait()


@contextlib.contextmanager
def served_in(browser: str, app, tmp_path, page: str):
    """``app`` served and ``page`` open in ``browser`` ("chromium", "webkit" or "firefox") for the body of
    the ``with``."""
    if browser == "chromium":
        with served_in_chromium(app, chromium(), tmp_path, page):
            yield
    elif browser == "firefox":
        with served_in_firefox(app, tmp_path, page):
            yield
    else:
        with served_in_webkit(app, tmp_path, page):
            yield
