"""The web player in headless Chromium, through the FastAPI server: a corpus track (the demo
when the corpus is absent) plays, switches preset mid-track at a chunk boundary through a
transition chunk, seeks, and plays to the end, with no media error; the audio recorded through
Web Audio has no click at the switch (the join criterion of the WebM tests) and is the new
preset's after it.

In CI (``CI`` set) Chromium is required; elsewhere the test is skipped with a reason when it
is not installed. ``AURALIS_CHROMIUM`` names another binary."""

import contextlib
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi import Request

import auralis_core as ac
from auralis_core.server import create_app

CORPUS_TRACK = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "sad_44s.mp3"
CHUNK = 5.0
HALF = 2400  # ±50 ms windows at 48 kHz


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
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not web.started and time.time() < deadline:
        time.sleep(0.05)
    assert web.started
    child = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={tmp_path / 'profile'}",
         f"http://127.0.0.1:{port}{page}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        child.kill()
        child.wait()
        web.should_exit = True
        thread.join(timeout=10)
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)

def nsr_db(heard, ref, a, b):
    signal = float(np.sum(ref[a:b].astype(np.float64) ** 2))
    if signal < 1e-6 * (b - a):
        return None
    noise = float(np.sum((heard[a:b].astype(np.float64) - ref[a:b]) ** 2))
    return 10 * np.log10(max(noise, 1e-20) / signal)


def align(captured: np.ndarray, reference: np.ndarray) -> int:
    """Offset of the reference's start in the capture (mono cross-correlation by FFT)."""
    c, r = captured.mean(axis=1), reference[: 3 * 48_000].mean(axis=1)
    n = 1 << int(np.ceil(np.log2(len(c) + len(r))))
    corr = np.fft.irfft(np.fft.rfft(c, n) * np.conj(np.fft.rfft(r, n)), n)[: len(c)]
    return int(np.argmax(corr))


@pytest.mark.parametrize("prefer", ["webm", "mp4"])
def test_player_switches_preset_and_seeks_through_the_server(tmp_path, demo_path, prefer):
    browser = chromium()
    if CORPUS_TRACK.is_file():
        track = CORPUS_TRACK
    else:
        if os.environ.get("CI"):
            pytest.fail(f"the corpus is required in CI ({CORPUS_TRACK} not found)")
        print(f"corpus absent ({CORPUS_TRACK}): playing the built-in demo")
        track = demo_path
    app = create_app({"song": track}, cache_dir=None, chunk_seconds=CHUNK)
    reports, captures = queue.Queue(), queue.Queue()

    @app.post("/report")
    async def report(request: Request) -> dict:
        reports.put(await request.json())
        return {}

    @app.post("/report/capture")
    async def capture(request: Request) -> dict:
        captures.put(np.frombuffer(await request.body(), dtype="<f4").reshape(-1, 2))
        return {}

    page = f"/web/index.html?api=/api&track=song&preset=adaptive&test=1&switch_to=bright&prefer={prefer}"
    with served_in_chromium(app, browser, tmp_path, page):
        result = reports.get(timeout=120)
        captured = captures.get(timeout=10)

    print({k: v for k, v in result.items() if k != "appended"})
    for a in result["appended"]:
        print(a)
    assert result["errors"] == []
    assert result["ended"] is True
    # The container asked for: WebM first by default, MP4 first with prefer=mp4 (Chromium
    # accepts both spellings of the MP4 type; the player tries Safari's first).
    wanted = (ac.MIME_MP4_SAFARI, ac.MIME_MP4) if prefer == "mp4" else (ac.MIME,)
    assert result["mime"] in wanted, result["mime"]
    assert result["mse"] == "MediaSource"
    # Chunk 0, evicted after the end, was fetched again when the play head came back to it.
    assert result["evicted"] == [0] and result["refetched"] is True
    old = ac.Stream(str(track), preset="adaptive", chunk_seconds=CHUNK)
    duration = old.info["duration"]
    assert result["ended_at"] == pytest.approx(duration, abs=0.05)
    # Chunk 1 was re-appended as a transition from adaptive to bright, right after chunk 0.
    switch = [a for a in result["appended"] if a["index"] == 1 and a["preset"] == "bright"]
    assert switch and switch[0]["from"] == "adaptive"
    assert switch[0]["ranges"][0][0] == pytest.approx(0.0, abs=0.03)
    assert switch[0]["ranges"][0][1] >= 2 * CHUNK - 0.03
    # The last chunk was appended after the seek, with the new preset.
    last = old.info["total_chunks"] - 1
    assert any(a["index"] == last and a["preset"] == "bright" for a in result["appended"])

    # What was heard: adaptive chunk 0, the transition chunk 1, bright chunk 2.
    new = old.with_mastering("bright", 1.0)
    old1, new1 = old.chunk_pcm(1), new.chunk_pcm(1)
    t = np.arange(HALF) / HALF
    g_in = np.sin(np.pi / 2 * t)[:, None] ** 2
    trans1 = new1.copy()
    trans1[:HALF] = old1[:HALF] * (1 - g_in) + new1[:HALF] * g_in
    reference = np.concatenate([old.chunk_pcm(0), trans1, new.chunk_pcm(2)])
    offset = align(captured, reference)
    heard = captured[offset:]
    n = min(len(heard), len(reference))
    heard, reference = heard[:n], reference[:n]
    join = int(CHUNK * 48_000)
    assert n > join + 20 * HALF, f"recorded only {n / 48_000:.2f} s after alignment"
    at_join = nsr_db(heard, reference, join - HALF, join + HALF)
    elsewhere = [nsr_db(heard, reference, a, a + 2 * HALF) for a in range(0, n - 2 * HALF, 2 * HALF)
                 if abs(a + HALF - join) > 2 * HALF]
    median = float(np.median([x for x in elsewhere if x is not None]))
    # The switch really happened: after it, the audio is bright's, not adaptive's.
    after = slice(join + 10 * HALF, min(n, join + 30 * HALF))
    old_ref = np.concatenate([old.chunk_pcm(0), old1, old.chunk_pcm(2)])[:n]
    as_new = nsr_db(heard[after], reference[after], 0, after.stop - after.start)
    as_old = nsr_db(heard[after], old_ref[after], 0, after.stop - after.start)
    print(f"offset {offset}, join {at_join:.2f} dB vs median {median:.2f} dB; "
          f"after the switch: {as_new:.2f} dB against bright, {as_old:.2f} dB against adaptive")
    assert median < -12, "the recording does not match the stream"
    assert at_join - median <= 3.0, "a click or gap at the preset switch"
    assert as_new < as_old - 6


@pytest.mark.parametrize("prefer", ["webm", "mp4"])
def test_the_queue_player_plays_a_queue_to_its_end_and_switches_a_b_at_a_chunk_boundary(tmp_path, make_wav, prefer):
    """The web player's queue.html (auralis_core/web/) in Chromium against the server: three tracks posted as a gapless
    queue, played (4x, muted) to the end through one SourceBuffer; A/B to ``none`` once the
    second track plays takes effect at the next chunk (the chunks after it come from the
    ``none`` queue, those before stay; the first of them crossfades from the preset's). In WebM (the shared layout) and in MP4 (Safari's
    container, the continuous layout, ``?prefer=mp4``)."""
    browser = chromium()
    library = {name: make_wav(seconds, name=f"{name}.wav", seed=i)
               for i, (name, seconds) in enumerate([("a", 5.3), ("b", 4.7), ("c", 5.1)])}
    app = create_app(library, cache_dir=None, chunk_seconds=2.0)
    reports = queue.Queue()

    @app.post("/report")
    async def report(request: Request) -> dict:
        reports.put(await request.json())
        return {}

    page = f"/web/queue.html?api=/api&tracks=a,b,c&play=1&muted=1&rate=4&report=1&prefer={prefer}"
    with served_in_chromium(app, browser, tmp_path, page):
        result = reports.get(timeout=120)
    for a in result["appended"]:
        print(a)
    print({k: v for k, v in result.items() if k not in ("appended", "meta")})
    assert result["errors"] == []
    assert result["ended"] is True
    meta = result["meta"]
    assert (meta["container"], meta["layout"]) == (
        ("webm", "shared") if prefer == "webm" else ("mp4", "continuous"))
    assert result["ended_at"] == pytest.approx(meta["duration"], abs=0.05)
    # Every chunk appended; those after the switch from the `none` queue, none before it.
    last = {}
    for a in result["appended"]:
        last[a["index"]] = a["variant"]
    assert sorted(last) == list(range(meta["total_chunks"]))
    switched = result["switched_at"]
    assert 0 < switched < meta["total_chunks"]
    assert all(v == "preset" for i, v in last.items() if i < switched), last
    assert all(v == "none" for i, v in last.items() if i >= switched), last
    # The first chunk after the switch crossfades from the preset's queue; no other does.
    transitions = [a["index"] for a in result["appended"] if a.get("transition")]
    assert transitions == [switched], transitions
