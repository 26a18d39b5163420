"""The live probe of Auralis 1.5.1's WebSocket stream (run by scripts/backend_v1_5.sh).

Run from the root of a 1.5.1 checkout (the original module, or the one-line swap): streams a
synthesized 47 s, 44.1 kHz stereo WAV through the backend's own ``AudioStreamController`` into a
mock socket, then
  1. the whole track: frames delivered, error messages, time from the call to the first binary
     frame (first audio);
  2. a seek to 31 s: where the delivered audio lands, found by correlating its first 0.5 s with
     the whole stream's audio (the seek's offset in seconds);
  3. a preset switch as the player does it: a restart at 20 s with another preset, uncached
     (first audio again), then the same with another preset at another intensity (settings no
     earlier stream of the track can have prepared);
  4. the backend's proactive buffering: files present of 3 chunks x 5 presets.
Prints one JSON object. Nothing is downloaded; the track goes to a temporary directory, given to
the backend as its music directory (XDG_MUSIC_DIR).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import wave
from pathlib import Path
from unittest.mock import Mock

import numpy as np

ROOT = Path.cwd()
sys.path[:0] = [str(ROOT / "auralis-web" / "backend"), str(ROOT)]
logging.basicConfig(level=logging.WARNING)

RATE, SECONDS, TRACK_ID = 44_100, 47.0, int(time.time()) % 1_000_000


def write_track(path: Path) -> None:
    """Deterministic music-like stereo: partials with vibrato, a beat, quiet noise."""
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(5)
    beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95).astype(np.float64)
    left = (0.3 * np.sin(2 * np.pi * 220 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t)) * t)
            + 0.15 * np.sin(2 * np.pi * 660 * t) + 0.2 * beat * np.sin(2 * np.pi * 60 * t)
            + 0.03 * rng.standard_normal(n))
    right = np.roll(left, 37) * 0.9 + 0.02 * rng.standard_normal(n)
    pcm = np.clip(np.stack([left, right], axis=1), -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())


class Socket:
    """Records what the controller sends, with the time of each send."""

    def __init__(self) -> None:
        self.client_state = Mock()
        self.client_state.name = "CONNECTED"
        self.texts: list = []
        self.frames: list = []
        self.t0 = time.perf_counter()

    async def send_text(self, message: str) -> None:
        self.texts.append((time.perf_counter() - self.t0, json.loads(message)))

    async def send_json(self, message: dict) -> None:
        self.texts.append((time.perf_counter() - self.t0, message))

    async def send_bytes(self, data: bytes) -> None:
        self.frames.append((time.perf_counter() - self.t0, data))

    def audio(self, channels: int) -> np.ndarray:
        joined = b"".join(d for _, d in self.frames)
        return np.frombuffer(joined, dtype="<f4").reshape(-1, channels)

    def first_audio_s(self) -> float:
        return self.frames[0][0] if self.frames else float("nan")

    def errors(self) -> list:
        return [m for _, m in self.texts if "error" in str(m.get("type", ""))]


def seek_offset_s(whole: np.ndarray, sought: np.ndarray, near_s: float) -> float:
    """Where the first 0.5 s of ``sought`` sits in ``whole``, in seconds (searched within 1 s
    of ``near_s``, by normalised correlation of the channel mean)."""
    probe = sought[: RATE // 2].mean(axis=1).astype(np.float64)
    ref = whole.mean(axis=1).astype(np.float64)
    lo = max(0, int((near_s - 1.0) * RATE))
    hi = min(len(ref) - len(probe), int((near_s + 1.0) * RATE))
    best, best_k = -2.0, lo
    norm_p = np.linalg.norm(probe) + 1e-12
    for k in range(lo, hi + 1):
        seg = ref[k:k + len(probe)]
        c = float(seg @ probe) / (np.linalg.norm(seg) * norm_p + 1e-12)
        if c > best:
            best, best_k = c, k
    return best_k / RATE


async def main() -> None:
    from core.audio_stream_controller import AudioStreamController
    import core.chunked_processor as cp
    # What a running server has imported at start-up, before any stream: the stream loop's
    # first `from routers.system import ...` otherwise adds its one-time import (about 0.15 s
    # here) to the first stream's time, whatever the processor.
    import routers.system  # noqa: F401

    # The backend streams only files under its allowed directories (XDG_MUSIC_DIR, ~/Music).
    music = Path(tempfile.mkdtemp(prefix="auralis-probe-"))
    os.environ["XDG_MUSIC_DIR"] = str(music)
    work = music
    track = work / "probe.wav"
    write_track(track)
    factory = Mock(spec=["tracks", "fingerprints"])
    row = Mock()
    row.id, row.filepath = TRACK_ID, str(track)
    factory.tracks.get_by_id = Mock(return_value=row)
    factory.fingerprints.exists = Mock(return_value=False)
    factory.fingerprints.get_by_track_id = Mock(return_value=None)
    out: dict = {"module": cp.ChunkedAudioProcessor.__module__}

    def controller() -> AudioStreamController:
        return AudioStreamController(
            chunked_processor_class=cp.ChunkedAudioProcessor,
            get_repository_factory=lambda: factory,
        )

    ws = Socket()
    await controller().stream_enhanced_audio(TRACK_ID, "adaptive", 1.0, ws)
    whole = ws.audio(2)
    out["whole"] = {
        "delivered_s": round(len(whole) / RATE, 4),
        "track_s": SECONDS,
        "errors": ws.errors(),
        "first_audio_s": round(ws.first_audio_s(), 4),
    }

    # A listener seeks or switches while the track plays; the mock socket takes the whole track
    # in a fraction of a second, so each later step waits a second first (far less than the
    # playback it stands for), the same for both modules.
    await asyncio.sleep(1.0)
    ws_seek = Socket()
    await controller().stream_enhanced_audio_from_position(TRACK_ID, "adaptive", 1.0, ws_seek, 31.0)
    sought = ws_seek.audio(2)
    out["seek_31"] = {
        "delivered_s": round(len(sought) / RATE, 4),
        "errors": ws_seek.errors(),
        "lands_at_s": round(seek_offset_s(whole, sought, 31.0), 5) if len(sought) else None,
        "first_audio_s": round(ws_seek.first_audio_s(), 4),
    }

    async def switch(preset: str, intensity: float) -> dict:
        """A restart at 20 s with other settings, as the player does a preset switch."""
        await asyncio.sleep(1.0)
        ws = Socket()
        await controller().stream_enhanced_audio_from_position(
            TRACK_ID, preset, intensity, ws, 20.0
        )
        return {
            "delivered_s": round(len(ws.audio(2)) / RATE, 4),
            "errors": ws.errors(),
            "first_audio_s": round(ws.first_audio_s(), 4),
        }

    out["switch_at_20_to_punchy"] = await switch("punchy", 1.0)
    # The same switch to settings nothing has prepared: another preset at another intensity.
    out["switch_at_20_to_warm_0_7"] = await switch("warm", 0.7)

    from core.proactive_buffer import AVAILABLE_PRESETS, PRELOAD_CHUNKS, buffer_presets_for_track

    buffered_id = TRACK_ID + 1
    await buffer_presets_for_track(buffered_id, str(track), 1.0, None)
    present = 0
    for preset in AVAILABLE_PRESETS:
        p = cp.ChunkedAudioProcessor(buffered_id, str(track), preset, 1.0)
        n = min(PRELOAD_CHUNKS, p.total_chunks)
        present += sum(p._get_chunk_path(i).exists() for i in range(n))
        for i in range(n):
            p._get_chunk_path(i).unlink(missing_ok=True)
    out["proactive_buffering"] = {"present": present, "expected": len(AVAILABLE_PRESETS) * 3}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
