"""A drop-in for the FastAPI backend's ``chunked_processor`` module.

``ChunkedAudioProcessor`` keeps the original's constructor, attributes and methods, backed by
the Rust engine: chunks are exact (no overlap head, no lost audio at the end), any chunk can be
asked for first, the same chunk is computed once however many threads ask, results are cached
in memory and on disk (checksummed), files are written atomically, and the ``async`` methods
never block the event loop (the work runs in a thread with the GIL released).

Differences from the original, on purpose:

* ``process_chunk(i)`` returns a WAV with exactly chunk ``i``'s audio (32-bit float, 48 kHz);
  the original's chunks ``i >= 1`` began with a 3 s overlap. ``OVERLAP_DURATION`` is kept for
  code that reads it.
* ``sample_rate`` is 48000: every output is at the Opus rate.
* ``fast_start`` is accepted and ignored: there is no slow path to skip.
* ``chunk_rms_history`` / ``chunk_gain_history`` record each chunk's RMS (dBFS) and the gain
  applied at its start, in the order chunks were processed. The gain is the track-level loudness
  gain (the same for every chunk), since levels are set once per track rather than smoothed
  chunk to chunk.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, MutableMapping, Optional, Tuple, Union

import numpy as np

from ._native import Stream, crossfade_between_chunks

CHUNK_DURATION = 30.0
"""Seconds of audio per chunk."""
OVERLAP_DURATION = 3.0
"""The original's overlap between chunks; our chunks do not overlap (kept for compatibility)."""
CONTEXT_DURATION = 5.0
"""Seconds of context ``load_chunk(with_context=True)`` adds on each side."""
MAX_LEVEL_CHANGE_DB = 1.5
"""The original's largest level step between chunks; our levels are set per track."""


def apply_crossfade_between_chunks(
    chunk1: np.ndarray, chunk2: np.ndarray, overlap_samples: int
) -> np.ndarray:
    """Joins two chunks with a linear crossfade of ``overlap_samples`` frames, as the original.

    ``overlap_samples`` is clipped to both lengths; 0 or less concatenates. The result has
    ``len(chunk1) + len(chunk2) - overlap`` frames; 1-D inputs give a 1-D result.
    """
    a = np.asarray(chunk1, dtype=np.float32)
    b = np.asarray(chunk2, dtype=np.float32)
    one_d = a.ndim == 1 and b.ndim == 1
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if b.ndim == 1:
        b = b.reshape(-1, 1)
    out = crossfade_between_chunks(
        np.ascontiguousarray(a), np.ascontiguousarray(b), int(overlap_samples)
    )
    return out.reshape(-1) if one_d else out


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes under a temporary name in the same directory, syncs, renames."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class ChunkedAudioProcessor:
    """One track, one preset and intensity, served in 30 s chunks.

    ``chunk_cache`` is the caller's dict when given (the same object is kept and filled with
    key -> file path, as the original did). Files go under ``chunk_dir`` (default
    ``<tempdir>/auralis_chunks``); the engine's checksummed cache lives in its ``cache``
    subdirectory, so a fresh processor, in this process or another, reuses earlier work.
    ``preset=None`` serves the original audio.
    """

    def __init__(
        self,
        track_id: Union[int, str],
        filepath: Union[str, "os.PathLike[str]"],
        preset: Optional[str] = "adaptive",
        intensity: float = 1.0,
        chunk_cache: Optional[MutableMapping[str, Any]] = None,
        *,
        chunk_dir: Union[str, "os.PathLike[str]", None] = None,
    ) -> None:
        self.track_id = track_id
        self.filepath = str(filepath)
        self.preset = preset
        self.intensity = float(intensity)
        self.chunk_cache: MutableMapping[str, Any] = (
            chunk_cache if chunk_cache is not None else {}
        )
        self.chunk_dir = Path(
            chunk_dir if chunk_dir is not None else Path(tempfile.gettempdir()) / "auralis_chunks"
        )
        self.chunk_dir.mkdir(parents=True, exist_ok=True)
        self._stream = Stream(
            self.filepath,
            preset=preset,
            intensity=self.intensity,
            chunk_seconds=CHUNK_DURATION,
            cache_dir=str(self.chunk_dir / "cache"),
        )
        info = self._stream.info
        self.sample_rate: int = info["sample_rate"]
        self.channels: int = info["channels"]
        self.total_duration: float = info["duration"]
        self.duration: float = self.total_duration
        self.total_chunks: int = info["total_chunks"]
        self.chunk_duration: float = CHUNK_DURATION
        self.file_signature: str = info["signature"]
        self.chunk_rms_history: List[float] = []
        self.chunk_gain_history: List[float] = []
        self._lock = threading.Lock()
        self._levelled: set = set()

    # -- naming ------------------------------------------------------------------------------

    @property
    def stream(self) -> Stream:
        """The underlying native stream."""
        return self._stream

    def _stem(self) -> str:
        return f"{self.track_id}_{self.file_signature[:16]}_{self.preset}_{self.intensity}"

    def _check(self, chunk_index: int) -> int:
        index = int(chunk_index)
        if not 0 <= index < self.total_chunks:
            # The engine raises the same error with the same message.
            self._stream.chunk_range(index if index >= 0 else 2**63)
        return index

    def _record(self, key: str, path: Path, index: int) -> str:
        with self._lock:
            self.chunk_cache[key] = str(path)
            first = index not in self._levelled
            self._levelled.add(index)
        if first:
            rms_db, gain_db = self._stream.chunk_level(index)
            with self._lock:
                self.chunk_rms_history.append(rms_db)
                self.chunk_gain_history.append(gain_db)
        return str(path)

    def _cached(self, key: str) -> Optional[str]:
        with self._lock:
            path = self.chunk_cache.get(key)
        return path if path is not None and os.path.exists(path) else None

    # -- the original's interface ----------------------------------------------------------

    def load_chunk(
        self, chunk_index: int, with_context: bool = True
    ) -> Tuple[np.ndarray, float, float]:
        """The unmastered audio of chunk ``chunk_index`` (float32, (frames, channels), 48 kHz),
        with ``CONTEXT_DURATION`` on each side when ``with_context`` (clamped to the track),
        and the (start, end) seconds it covers."""
        index = self._check(chunk_index)
        start, end = self._stream.chunk_range(index)
        if with_context:
            start = max(0.0, start - CONTEXT_DURATION)
            end = min(self.total_duration, end + CONTEXT_DURATION)
        return self._stream.original_pcm(start, end), start, end

    def process_chunk(self, chunk_index: int, fast_start: bool = False) -> str:
        """Path of a WAV file holding exactly chunk ``chunk_index``'s mastered audio."""
        return self._chunk_file(chunk_index, "chunk", "wav", self._stream.chunk_wav)

    def get_webm_chunk_path(self, chunk_index: int) -> str:
        """Path of chunk ``chunk_index`` as a standalone WebM (Opus) file for MSE."""
        return self._chunk_file(chunk_index, "webm", "webm", self._stream.chunk_webm)

    def _chunk_file(self, chunk_index: int, kind: str, suffix: str, produce) -> str:
        """The file of one chunk: from ``chunk_cache`` if recorded and present, else made
        (through the engine's cache) and written atomically."""
        index = self._check(chunk_index)
        key = f"{self._stem()}_{kind}_{index}"
        path = self._cached(key)
        if path is not None:
            return path
        target = self.chunk_dir / f"track_{self._stem()}_chunk_{index}.{suffix}"
        _write_atomic(target, produce(index))
        return self._record(key, target, index)

    def get_full_processed_audio_path(self) -> str:
        """Path of a WAV file of the whole mastered track (exact length, 32-bit float)."""
        key = f"{self._stem()}_full"
        path = self._cached(key)
        if path is not None:
            return path
        target = self.chunk_dir / f"track_{self._stem()}_full.wav"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self._stream.write_full_wav(str(tmp))
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        with self._lock:
            self.chunk_cache[key] = str(target)
        return str(target)

    async def process_chunk_safe(self, chunk_index: int, fast_start: bool = False) -> str:
        """``process_chunk`` in a worker thread: the event loop keeps running."""
        return await asyncio.to_thread(self.process_chunk, chunk_index, fast_start)

    async def process_all_chunks_async(self) -> None:
        """Processes every chunk in a worker thread, one after the other, without blocking the
        event loop."""
        for index in range(self.total_chunks):
            await asyncio.to_thread(self.process_chunk, index)

    def get_chunk_levels(self) -> Dict[int, Tuple[float, float]]:
        """(rms_db, gain_db) of every chunk (computed where not yet processed)."""
        return {i: self._stream.chunk_level(i) for i in range(self.total_chunks)}

    def __repr__(self) -> str:
        return (
            f"ChunkedAudioProcessor(track_id={self.track_id!r}, filepath={self.filepath!r}, "
            f"preset={self.preset!r}, intensity={self.intensity}, chunks={self.total_chunks})"
        )
