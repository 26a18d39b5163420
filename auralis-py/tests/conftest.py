"""Fixtures: synthesized WAV files (no corpus needed), the demo, a chunk directory."""

import wave
from pathlib import Path

import numpy as np
import pytest

import auralis_core


def write_wav(path: Path, seconds: float, rate: int = 44_100, channels: int = 2, seed: int = 0) -> Path:
    """Music-like 16-bit PCM: two partials with vibrato and a little noise per channel."""
    frames = int(round(seconds * rate))
    t = np.arange(frames) / rate
    rng = np.random.default_rng(seed)
    cols = []
    for c in range(channels):
        f0 = 110.0 * (1 + 0.5 * c) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        x = 0.4 * np.sin(2 * np.pi * f0 * t) + 0.15 * np.sin(2 * np.pi * 3.1 * 110 * t)
        x += 0.05 * rng.standard_normal(frames)
        cols.append(x)
    pcm = np.clip(np.stack(cols, axis=1), -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: str) -> tuple:
    """A WAV as the library writes it: ``(samples, format_tag, bits, rate)``, samples as
    (frames, channels): float32 for IEEE float files, int16 for 16-bit PCM ones."""
    data = Path(path).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    pos, channels, body, fmt, bits, rate = 12, None, None, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            fmt = int.from_bytes(data[pos + 8 : pos + 10], "little")
            channels = int.from_bytes(data[pos + 10 : pos + 12], "little")
            rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
            bits = int.from_bytes(data[pos + 22 : pos + 24], "little")
        elif cid == b"data":
            body = data[pos + 8 : pos + 8 + size]
            assert len(body) == size
        pos += 8 + size + (size & 1)
    assert channels is not None and body is not None
    if bits == 32:
        assert fmt in (3, 0xFFFE)  # IEEE float (or extensible)
        return np.frombuffer(body, dtype="<f4").reshape(-1, channels), fmt, bits, rate
    assert fmt in (1, 0xFFFE) and bits == 16, (fmt, bits)
    return np.frombuffer(body, dtype="<i2").reshape(-1, channels), fmt, bits, rate


def read_wav_float(path: str) -> np.ndarray:
    """A 32-bit float WAV (as the library writes) as (frames, channels) float32."""
    samples, _fmt, bits, _rate = read_wav(path)
    assert bits == 32
    return samples


@pytest.fixture
def make_wav(tmp_path):
    def make(seconds: float, name: str = "t.wav", **kw) -> Path:
        return write_wav(tmp_path / name, seconds, **kw)

    return make


@pytest.fixture
def chunk_dir(tmp_path) -> Path:
    d = tmp_path / "chunks"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.wav"
    path.write_bytes(auralis_core.demo_wav())
    return path


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, process, seconds: float = 60.0) -> None:
    """Waits until ``url`` answers 200, failing with the server's stderr (when piped) if its
    process ends first, or after ``seconds``."""
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            err = process.communicate()[1]
            raise AssertionError(f"the server exited: {err.decode() if err else process.returncode}")
        assert time.monotonic() < deadline, f"{url} did not answer within {seconds} s"
        time.sleep(0.2)


def stop_process_group(process, seconds: float = 30.0) -> None:
    """Stops a server started with ``start_new_session=True`` and everything it started
    (uvicorn's worker processes): SIGTERM, then SIGKILL to the group if it is still there after
    ``seconds``; reaps it and closes its pipes."""
    import os
    import signal
    import subprocess

    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
