"""A drop-in for the FastAPI backend's ``chunked_processor`` module.

A backend that replaces its ``chunked_processor.py`` with one line::

    from auralis_core.compat import *

keeps working unchanged: the module has the original's names (``__all__``), constants (ints, as
the original's), class, constructor order, attributes, file names and methods, backed by the Rust
engine. Chunks are exact (no overlap head, no lost audio at the end), any chunk can be asked for
first and by a fresh processor, the same chunk is computed once however many threads ask,
results are cached in memory and on disk (checksummed), files are written atomically, and the
``async`` methods never block the event loop (the work runs in a thread with the GIL released).

What the original's callers rely on, kept as it was:

* The constructor sets ``track_id``, ``filepath``, ``preset``, ``intensity`` and
  ``chunk_cache`` (the dict given, the same object), then ``file_signature =
  self._generate_file_signature()`` (the original's recipe: 8 hex digits of the MD5 of
  ``f"{st_mtime}_{st_size}_{filepath}"``, of the path alone when ``stat`` fails), then
  ``self._load_metadata()``, the one place that opens the file (a probe: nothing is decoded or
  analysed until the first chunk), then ``chunk_dir`` (``<tempdir>/auralis_chunks``, created),
  ``chunk_rms_history``, ``chunk_gain_history``, ``previous_chunk_tail`` and ``processor``.
  Patching ``_generate_file_signature`` or ``_load_metadata`` on the class works as it did.
* Every file name is the original's, built with the same ``file_signature`` string the
  attribute holds: ``_get_chunk_path(i)`` (``track_{id}_{sig}_{preset}_{intensity}_chunk_{i}.wav``,
  what ``process_chunk(i)`` writes and what the backend's proactive buffering checks),
  the ``.webm`` beside it, and ``track_{id}_{sig}_{preset}_{intensity}_full.wav`` (what the
  player's instant path looks for).
* WAV outputs are 16-bit PCM with TPDF dither (the bytes the original's clients received), at
  48 kHz. ``wav_format="float32"`` (a keyword of the constructor) or the module setting
  ``WAV_FORMAT = "float32"`` gives 32-bit float instead; the engine's cache is the same for both.

What decides what is served is the engine's own key, not the 8-digit signature: each file
written here has a stamp beside it (``.{name}.key``: the source's content signature, the
settings, the format, and the written file's size and modification time). A file is served
as it is only when its stamp matches the source as it is now; otherwise (the track was
replaced, another format was asked for, a file was left by something else) it is made again
from the engine and replaced atomically.

Differences from the original, on purpose (its behaviour there was a bug):

* Chunk ``i`` is exactly ``[30 i, min(30 (i + 1), T))`` seconds: the original's chunks
  ``i >= 1`` began with a 3 s overlap, its full file was crossfaded over it, and a track with
  ``0 < T mod 30 < 5`` lost its last seconds. ``OVERLAP_DURATION`` is kept for code that reads
  it.
* Levels are set once per track by the mastering, not per chunk: the original's per-chunk
  normalisation and its 1.5 dB clamp (``MAX_LEVEL_CHANGE_DB``) made level steps at chunk joins.
  ``_smooth_level_transition`` records the chunk's RMS and a 0 dB adjustment and changes nothing.
* A fresh processor serves any chunk first (the original's raised ``IndexError`` for a chunk
  ``>= 1`` before chunk 0 had been processed).
* ``sample_rate`` is 48000, the rate of every output (``load_chunk``'s arrays, every file);
  the source's rate is ``source_sample_rate``.
* ``fast_start`` is accepted and ignored: there is no slow path to skip.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Tuple, Union

import numpy as np

from ._files import file_state, replace_atomic, stamp_path, write_bytes
from .._native import (
    MIME,
    MIME_MP4,
    InvalidArgumentError,
    SourceChangedError,
    Stream,
    crossfade_between_chunks,
    file_signature,
    presets,
    probe,
)

__all__ = [
    "CHUNK_DURATION",
    "OVERLAP_DURATION",
    "CONTEXT_DURATION",
    "MAX_LEVEL_CHANGE_DB",
    "ChunkedAudioProcessor",
    "apply_crossfade_between_chunks",
]

logger = logging.getLogger(__name__)

CHUNK_DURATION = 30
"""Seconds of audio per chunk."""
OVERLAP_DURATION = 3
"""The original's overlap between chunks; our chunks do not overlap (kept for compatibility)."""
CONTEXT_DURATION = 5
"""Seconds of context ``load_chunk(with_context=True)`` adds on each side."""
MAX_LEVEL_CHANGE_DB = 1.5
"""The original's largest level step between chunks; our levels are set per track."""

WAV_FORMAT = "pcm16"
"""The default sample format of the WAV files written: ``"pcm16"`` (16-bit, TPDF dither) or
``"float32"``. Read when a processor is made; its ``wav_format`` keyword overrides it."""

_WAV_FORMATS = ("pcm16", "float32")


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


def _stamp_line(what: str, path: Path) -> str:
    return f"{what}|{file_state(path)}"


_CONTAINERS = {"webm": MIME, "mp4": MIME_MP4}


class ChunkedAudioProcessor:
    """One track, one preset and intensity, served in 30 s chunks (see the module docs).

    ``chunk_dir`` (keyword) overrides the directory of the files (default
    ``<tempdir>/auralis_chunks``); the engine's checksummed cache lives in its ``cache``
    subdirectory, so a fresh processor, in this process or another, reuses earlier work.
    ``wav_format`` (keyword): ``"pcm16"`` or ``"float32"`` (default: the module's
    ``WAV_FORMAT``). ``container`` (keyword): ``"webm"`` (default) or ``"mp4"``, the
    container of ``get_chunk_file_path`` and of ``mime`` (``get_webm_chunk_path`` and
    ``get_mp4_chunk_path`` name theirs). ``preset=None`` serves the original audio.
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
        wav_format: Optional[str] = None,
        container: str = "webm",
    ) -> None:
        self.track_id = track_id
        self.filepath = filepath
        self.preset = preset
        self.intensity = intensity
        self.chunk_cache: MutableMapping[str, Any] = (
            chunk_cache if chunk_cache is not None else {}
        )
        fmt = WAV_FORMAT if wav_format is None else wav_format
        if fmt not in _WAV_FORMATS:
            raise InvalidArgumentError(
                f"unknown WAV format {fmt!r} (valid: {', '.join(_WAV_FORMATS)})"
            )
        if preset is not None and preset not in presets():
            raise InvalidArgumentError(
                f"unknown preset {preset!r} (valid: {', '.join(presets())})"
            )
        try:
            level = float(intensity)
        except (TypeError, ValueError):
            level = float("nan")
        if not 0.0 <= level <= 1.0:
            raise InvalidArgumentError(f"invalid intensity {intensity!r}: must be in 0..=1")
        self.wav_format: str = fmt
        if container not in _CONTAINERS:
            raise InvalidArgumentError(
                f"invalid container {container!r} (valid: {', '.join(_CONTAINERS)})"
            )
        self.container: str = container
        self.mime: str = _CONTAINERS[container]

        # As the original: the signature, then the metadata (the one place the file is opened).
        self.file_signature = self._generate_file_signature()
        self.sample_rate: Optional[int] = None
        self.total_duration: Optional[float] = None
        self.total_chunks: Optional[int] = None
        self._load_metadata()

        self.chunk_dir = Path(
            chunk_dir if chunk_dir is not None else Path(tempfile.gettempdir()) / "auralis_chunks"
        )
        self.chunk_dir.mkdir(parents=True, exist_ok=True)

        self.chunk_rms_history: List[float] = []
        self.chunk_gain_history: List[float] = []
        self.previous_chunk_tail: Optional[np.ndarray] = None
        self._stream: Optional[Stream] = None
        self._lock = threading.Lock()
        self._levelled: set = set()
        self.chunk_duration = CHUNK_DURATION
        logger.info(
            "ChunkedAudioProcessor initialized: track_id=%s, chunks=%s, preset=%s, intensity=%s",
            track_id,
            self.total_chunks,
            preset,
            intensity,
        )

    # -- the original's hooks ----------------------------------------------------------------

    def _generate_file_signature(self) -> str:
        """8 hex digits of the MD5 of ``f"{st_mtime}_{st_size}_{filepath}"`` (of the path alone
        when ``stat`` fails): the original's recipe, so names agree with its callers'. Never
        raises. What is served is decided by the engine's content signature, not by this."""
        path = str(self.filepath)
        try:
            st = os.stat(path)
            text = f"{st.st_mtime}_{st.st_size}_{path}"
        except Exception as e:  # noqa: BLE001 - the original's fallback, on any failure
            logger.warning("Failed to generate file signature: %s, using fallback", e)
            text = path
        return hashlib.md5(text.encode()).hexdigest()[:8]

    def _load_metadata(self) -> None:
        """Probes the file (no decoding past the probe, no analysis): ``sample_rate`` (48000,
        the rate of every output), ``source_sample_rate``, ``total_duration`` and ``duration``
        (seconds), ``channels`` (1 or 2), ``total_chunks``. Raises the library's typed errors
        (``FileNotFoundError``, ``UnsupportedFormatError``, ``DecodeError``) for a file it
        cannot read."""
        info = probe(os.fspath(self.filepath), float(CHUNK_DURATION))
        self.sample_rate = int(info["sample_rate"])
        self.source_sample_rate = int(info["source_sample_rate"])
        self.total_duration = float(info["duration"])
        self.duration = self.total_duration
        self.channels = int(info["channels"])
        self.total_chunks = int(info["total_chunks"])

    def _get_cache_key(self, chunk_index: int) -> str:
        """The original's key of chunk ``chunk_index`` in ``chunk_cache``."""
        return (
            f"{self.track_id}_{self.file_signature}_{self.preset}_{self.intensity}"
            f"_chunk_{chunk_index}"
        )

    def _get_chunk_path(self, chunk_index: int) -> Path:
        """Where ``process_chunk(chunk_index)`` writes its WAV (the original's name)."""
        return self.chunk_dir / f"{self._stem()}_chunk_{chunk_index}.wav"

    def _get_track_fingerprint_cache_key(self) -> str:
        """The original's ``chunk_cache`` key of the track's fingerprint."""
        return f"fingerprint_{self.track_id}_{self.file_signature}"

    def get_cached_fingerprint(self) -> Optional[dict]:
        """The fingerprint stored by ``cache_fingerprint``, or ``None``."""
        return self.chunk_cache.get(self._get_track_fingerprint_cache_key())

    def cache_fingerprint(self, fingerprint: dict) -> None:
        """Stores a track-level fingerprint in ``chunk_cache`` (for the backend's own use: the
        engine keeps its analysis in its own cache)."""
        self.chunk_cache[self._get_track_fingerprint_cache_key()] = fingerprint

    # -- the engine --------------------------------------------------------------------------

    @property
    def processor(self) -> Stream:
        """The engine's stream of this track and settings (the original's ``processor``),
        opened on first use: the analysis runs then, or is read from the cache."""
        with self._lock:
            if self._stream is None:
                self._stream = Stream(
                    os.fspath(self.filepath),
                    preset=self.preset,
                    intensity=float(self.intensity),
                    chunk_seconds=float(CHUNK_DURATION),
                    cache_dir=str(self.chunk_dir / "cache"),
                )
            return self._stream

    @property
    def stream(self) -> Stream:
        """The underlying native stream (the same as ``processor``)."""
        return self.processor

    def _stem(self) -> str:
        return f"track_{self.track_id}_{self.file_signature}_{self.preset}_{self.intensity}"

    def _check(self, chunk_index: int) -> int:
        index = int(chunk_index)
        if not 0 <= index < int(self.total_chunks or 0):
            # The engine raises IndexOutOfRangeError with its message.
            self.processor.chunk_range(index if index >= 0 else 2**63)
        return index

    def _what(self, kind: str, index: Optional[int]) -> Tuple[str, str]:
        """The source's content signature now, and the engine's identity of an output: that
        signature, the settings, the kind and format, the chunk."""
        signature = file_signature(os.fspath(self.filepath))
        what = "/".join(
            [signature, str(self.preset), repr(float(self.intensity)), kind,
             self.wav_format if kind not in _CONTAINERS else "opus", str(index)]
        )
        return signature, what

    def _current_stamp(self, path: Path, what: str) -> Optional[str]:
        """The extra field of ``path``'s stamp when the stamp names ``what`` and the file's
        size and modification time as they are now, else ``None``."""
        try:
            text = stamp_path(path).read_text()
            head, extra = text.rsplit("|", 1)
            return extra if head == _stamp_line(what, path) else None
        except (OSError, ValueError):
            return None

    def _serve(
        self,
        path: Path,
        kind: str,
        index: Optional[int],
        write: Callable[[Path], None],
    ) -> Tuple[str, Optional[float]]:
        """``path`` as it is when its stamp matches the source and settings now, else made by
        ``write`` (atomically), then stamped. With the chunk's RMS (dBFS) for chunk WAVs, kept
        in the stamp so a file served as it is needs no engine at all."""
        signature, what = self._what(kind, index)
        extra = self._current_stamp(path, what)
        if extra is None:
            stream = self.processor
            if stream.info["signature"] != signature:
                # Replaced under the same size and modification time (which the engine's own
                # check, a stat, cannot see): never serve a mix of the two versions.
                raise SourceChangedError(
                    f"{os.fspath(self.filepath)} changed since this processor opened it; "
                    "make a new processor"
                )
            replace_atomic(path, write)
            extra = repr(stream.chunk_level(index)[0]) if kind == "wav" else "-"
            stamp = f"{_stamp_line(what, path)}|{extra}"
            replace_atomic(stamp_path(path), write_bytes(stamp.encode()))
        return str(path), (float(extra) if kind == "wav" else None)

    def _record_level(self, index: int, rms_db: float) -> None:
        with self._lock:
            if index not in self._levelled:
                self._levelled.add(index)
                self.chunk_rms_history.append(rms_db)
                self.chunk_gain_history.append(0.0)

    # -- the original's interface ----------------------------------------------------------

    def load_chunk(
        self, chunk_index: int, with_context: bool = True
    ) -> Tuple[np.ndarray, float, float]:
        """``(audio, chunk_start, chunk_end)``: the unmastered audio of chunk ``chunk_index``
        (float32, ``(frames, channels)``, 48 kHz), with ``CONTEXT_DURATION`` seconds on each
        side when ``with_context`` (clamped to the track), and the chunk's own bounds in
        seconds, as the original returned them (not widened by the context). The bounds are
        exact and do not overlap: chunk ``i >= 1`` starts at ``30 i``, not ``30 i - 3`` (the
        original's overlap head, see the module docs)."""
        index = self._check(chunk_index)
        start, end = self.processor.chunk_range(index)
        load_start, load_end = start, end
        if with_context:
            load_start = max(0.0, start - CONTEXT_DURATION)
            load_end = min(float(self.total_duration), end + CONTEXT_DURATION)
        return self.processor.original_pcm(load_start, load_end), start, end

    def _calculate_rms(self, audio: np.ndarray) -> float:
        """RMS level of ``audio`` in dB (the original's formula, 1e-10 added before the log)."""
        a = np.asarray(audio, dtype=np.float64)
        rms = np.sqrt(np.mean(a**2)) if a.size else 0.0
        return float(20 * np.log10(rms + 1e-10))

    def _smooth_level_transition(self, chunk: np.ndarray, chunk_index: int) -> np.ndarray:
        """Records the chunk's RMS in ``chunk_rms_history`` and a 0 dB adjustment in
        ``chunk_gain_history`` and returns the chunk unchanged: levels are set once per track
        by the mastering, so there is no step between chunks to clamp (the original scaled
        whole chunks to stay within ``MAX_LEVEL_CHANGE_DB``, which made steps at the joins)."""
        with self._lock:
            self.chunk_rms_history.append(self._calculate_rms(chunk))
            self.chunk_gain_history.append(0.0)
        return chunk

    def apply_crossfade(
        self, chunk: np.ndarray, chunk_index: int, is_last: bool = False
    ) -> np.ndarray:
        """Returns ``chunk`` unchanged, as the original did (its crossfade moved to the
        concatenation; here chunks join exactly and need none)."""
        return chunk

    def process_chunk(self, chunk_index: int, fast_start: bool = False) -> str:
        """Path of ``_get_chunk_path(chunk_index)``: a WAV of exactly chunk ``chunk_index``'s
        mastered audio (48 kHz, ``wav_format``), written atomically; recorded in
        ``chunk_cache`` under ``_get_cache_key(chunk_index)``. ``fast_start`` is accepted and
        ignored.

        Kept from this library where the original was wrong: the chunk has no 3 s overlap
        head (the original's chunks ``i >= 1`` began 3 s early), its level is the track's
        mastering, not a per-chunk peak normalisation clamped to ``MAX_LEVEL_CHANGE_DB``, and
        any chunk may come first (the original raised ``IndexError`` for a chunk ``>= 1`` on a
        fresh processor)."""
        index = self._check(chunk_index)
        fmt = self.wav_format
        path, rms_db = self._serve(
            self._get_chunk_path(index),
            "wav",
            index,
            lambda tmp: tmp.write_bytes(self.processor.chunk_wav(index, fmt)),
        )
        self.chunk_cache[self._get_cache_key(index)] = path
        self._record_level(index, float(rms_db))
        return path

    async def process_chunk_safe(self, chunk_index: int, fast_start: bool = False) -> str:
        """``process_chunk`` in a worker thread: the event loop keeps running."""
        return await asyncio.to_thread(self.process_chunk, chunk_index, fast_start)

    def _encoded_chunk_path(self, chunk_index: int, container: str) -> str:
        """Chunk ``chunk_index`` as a standalone file in ``container`` beside the chunk's WAV,
        written atomically and recorded in ``chunk_cache`` under the original's key shape."""
        index = self._check(chunk_index)
        stream = self.processor if container == "webm" else self.processor.with_container(container)
        path, _ = self._serve(
            self.chunk_dir / f"{self._stem()}_chunk_{index}.{container}",
            container,
            index,
            lambda tmp: tmp.write_bytes(stream.chunk_file(index)),
        )
        self.chunk_cache[
            f"{self.track_id}_{self.file_signature}_{self.preset}_{self.intensity}"
            f"_{container}_{index}"
        ] = path
        return path

    def get_webm_chunk_path(self, chunk_index: int) -> str:
        """Path of chunk ``chunk_index`` as a standalone WebM (Opus) file for MSE (the
        original's name, ``.webm`` beside the chunk's WAV), written atomically."""
        return self._encoded_chunk_path(chunk_index, "webm")

    def get_mp4_chunk_path(self, chunk_index: int) -> str:
        """Path of chunk ``chunk_index`` as a standalone fragmented MP4 (Opus) file for MSE in
        Safari and iOS (``.mp4`` beside the chunk's WAV: init segment + the chunk's fragments),
        written atomically. The same Opus packets as the ``.webm``: a chunk encoded for one
        container is not encoded again for the other."""
        return self._encoded_chunk_path(chunk_index, "mp4")

    def get_chunk_file_path(self, chunk_index: int) -> str:
        """``get_webm_chunk_path`` or ``get_mp4_chunk_path``, as the ``container`` keyword
        says; its MIME type is ``mime``."""
        if self.container == "mp4":
            return self.get_mp4_chunk_path(chunk_index)
        return self.get_webm_chunk_path(chunk_index)

    def get_full_processed_audio_path(self) -> str:
        """Path of ``track_{id}_{sig}_{preset}_{intensity}_full.wav`` in ``chunk_dir``: the
        whole mastered track (exact length, ``wav_format``), written chunk by chunk through the
        engine's cache (chunks made before are not made again; memory stays at one chunk) and
        atomically. Its samples are exactly the chunks' samples joined.

        Kept from this library where the original was wrong: the original crossfaded 3 s
        overlaps into a file whose length drifted from the track's, and lost the end of a
        track with ``0 < T mod 30 < 5``; this file has the track's exact length."""
        fmt = self.wav_format
        path, _ = self._serve(
            self.chunk_dir / f"{self._stem()}_full.wav",
            "full",
            None,
            lambda tmp: self.processor.write_full_wav(str(tmp), fmt),
        )
        return path

    async def process_all_chunks_async(self) -> None:
        """Processes every chunk not yet in ``chunk_cache``, in order, each in a worker thread
        (the event loop keeps running). As the original, a chunk that fails is logged and the
        others go on."""
        for index in range(int(self.total_chunks or 0)):
            if self._get_cache_key(index) in self.chunk_cache:
                continue
            try:
                await asyncio.to_thread(self.process_chunk, index)
            except Exception as e:  # noqa: BLE001 - the original logged and went on
                logger.error("Failed to process chunk %s: %s", index, e)

    def get_chunk_levels(self) -> Dict[int, Tuple[float, float]]:
        """(rms_db, gain_db) of every chunk as the engine measures them (computed where not yet
        processed); gain_db is the track's static loudness gain."""
        return {i: self.processor.chunk_level(i) for i in range(int(self.total_chunks or 0))}

    def __repr__(self) -> str:
        return (
            f"ChunkedAudioProcessor(track_id={self.track_id!r}, filepath={self.filepath!r}, "
            f"preset={self.preset!r}, intensity={self.intensity}, chunks={self.total_chunks})"
        )
