"""A drop-in for Auralis 1.5.1's ``core/chunked_processor.py`` (the backend its users run today).

A backend that replaces that file with one line::

    from auralis_core.compat.v1_5 import *

keeps working unchanged: its WebSocket controller, seek path, proactive buffering, worker cache,
enhancement and processing routes and recommendation service call this module's class and names
as they called the original's. (``auralis_core.compat`` stays the 1.0.0-beta.7 contract.)

The chunk model is 1.5.1's, at the **source's own sample rate**: chunk 0 is ``[0, 15)`` s, chunk
``i >= 1`` is ``[10 i + 5, 10 i + 15)`` s, the last one ends at the track's end, and there are
``max(1, ceil((T - 5) / 10))`` of them, so the chunks tile the track frame for frame (positions
are rounded to the nearest frame). Each chunk is the engine's mastering of the file's own samples
at their rate (no resampling anywhere, see ``Stream.pcm_range``), computed from rest 3 s before the
chunk, so a chunk is the same samples whichever chunks came before, in which order, in which
process: any chunk can be asked for first, a seek costs one chunk, and a preset switch one
chunk. What a first chunk and a switch wait for is kept short: the constructor starts opening
the engine's stream (the track's analysis and calibration) on a thread of its own while the
caller sets up, and once a track's first chunk is out the other presets' mastering decisions
(a calibration each, no audio) are made in the background, so a switch to any of them computes
only its chunk.

Where the original's contract is identity with one of the host backend's own modules (the chunk
geometry constants of ``core.chunk_boundaries``, ``MAX_LEVEL_CHANGE_DB`` of
``core.level_manager``, the fingerprint-registry helpers, the content-profile store the
``/api/processing/parameters`` route reads, ``ChunkOperations`` and ``AudioProcessingPipeline``
that its tests patch, ``FileSignatureService``, the dedicated stream executor), this module takes
the host's object when the host provides it, and its own equivalent otherwise (this module also
works outside that backend).

Kept from the original because callers rely on it: ``process_chunk(i, fast_start, locked)`` and
``async process_chunk_safe(i, fast_start)`` return ``(path, audio)`` with ``audio`` float32 of
shape ``(frames, channels)``; ``process_chunk`` goes through ``_process_chunk_core(i,
fast_start)`` (which tests patch) and ``locked=True`` holds ``_processor_lock`` (an ``RLock``);
a bad index is a ``ValueError`` saying "out of range" before any work; files are 16-bit WAVs named
``v3_track_{id}_{sig}_{preset}_{intensity}_chunk_{i}.wav`` in ``<tmp>/auralis_chunks``, written
atomically; the logger is ``core.chunked_processor`` and a processed chunk logs
"Chunk {i} processed and saved to {name}".

Different on purpose: a WAV file is served as cached only when the stamp beside it
(``.{name}.key``) names this source as it is now and these settings; anything else (a truncated
file, a replaced track, a file left by the original processor, whose levels were normalised per
chunk) is made again. Levels are set once per track by the engine's mastering, so
``_smooth_level_transition`` records the chunk's level and changes nothing (the original's
per-chunk clamp made level steps at the joins). ``fast_start`` is accepted and ignored: the first
chunk is the fast path already.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Tuple, Union

import numpy as np

from .._native import SourceChangedError, Stream, file_signature, presets, probe
from .._native import InvalidArgumentError
from ._files import file_state, pcm16_wav, read_wav, replace_atomic_bytes, rms, stamp_path
from ._fingerprint import content_profile, fingerprint_fields

__all__ = [
    "CHUNK_DURATION",
    "CHUNK_INTERVAL",
    "OVERLAP_DURATION",
    "CONTEXT_DURATION",
    "MAX_LEVEL_CHANGE_DB",
    "ChunkedAudioProcessor",
    "apply_crossfade_between_chunks",
    "get_last_content_profile",
    "_last_content_profiles",
    "_last_content_profiles_lock",
    "_default_get_fingerprints_repository",
    "_reset_registry_miss_warning",
    "ChunkOperations",
    "AudioProcessingPipeline",
    "FileSignatureService",
]

# The original's logger name: the host's log-capture tests and its operators read it.
logger = logging.getLogger("core.chunked_processor")


def _host(module: str) -> Any:
    """The host backend's module ``module`` when this runs inside it, else ``None``. Only
    modules of the backend's ``core`` package (and its ``auralis`` package) are looked for, and
    only an ``ImportError`` means "not there": anything else raised by a host module is the
    host's to see."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None


_boundaries = _host("core.chunk_boundaries")
_level_manager = _host("core.level_manager")
_registry = _host("core.chunk_fingerprint_registry")
_profiles = _host("core.chunk_content_profile")
_operations = _host("core.chunk_operations")
_pipeline = _host("core.audio_processing_pipeline")
_signature_service = _host("core.file_signature")
_executors = _host("core.executors")
_targets = _host("core.mastering_target_service")

# -- chunk geometry (core.chunk_boundaries) ------------------------------------------------------

if _boundaries is not None:
    CHUNK_DURATION = _boundaries.CHUNK_DURATION
    CHUNK_INTERVAL = _boundaries.CHUNK_INTERVAL
    OVERLAP_DURATION = _boundaries.OVERLAP_DURATION
    CONTEXT_DURATION = _boundaries.CONTEXT_DURATION
else:
    CHUNK_DURATION = 15.0
    """Seconds of audio chunk 0 emits (and each chunk's render window in the original)."""
    CHUNK_INTERVAL = 10.0
    """Seconds of audio every chunk after the first emits."""
    OVERLAP_DURATION = 5.0
    """``CHUNK_DURATION - CHUNK_INTERVAL``: where chunk ``i >= 1`` starts past ``10 i``."""
    CONTEXT_DURATION = 5.0
    """Seconds of context ``load_chunk(with_context=True)`` adds on each side."""

MAX_LEVEL_CHANGE_DB = _level_manager.MAX_LEVEL_CHANGE_DB if _level_manager is not None else 1.5
"""The original's largest level step between chunks (levels here are set per track)."""


def content_chunk_count(total_duration: float) -> int:
    """``max(1, ceil((T - 5) / 10))``: the chunks that carry audio for a track of ``T`` s."""
    return max(1, int(math.ceil((float(total_duration) - OVERLAP_DURATION) / CHUNK_INTERVAL)))


def emitted_chunk_bounds(chunk_index: int, total_duration: float) -> Tuple[float, float]:
    """The seconds chunk ``chunk_index`` emits: ``[0, 15)`` for chunk 0, ``[10 i + 5, 10 i +
    15)`` after, the end clamped to the track."""
    start = 0.0 if chunk_index <= 0 else chunk_index * CHUNK_INTERVAL + OVERLAP_DURATION
    length = CHUNK_DURATION if chunk_index <= 0 else CHUNK_INTERVAL
    return start, min(start + length, float(total_duration))


# -- names the host's other modules read here ---------------------------------------------------

if _registry is not None:
    _default_get_fingerprints_repository = _registry._default_get_fingerprints_repository
    _reset_registry_miss_warning = _registry._reset_registry_miss_warning
else:

    def _default_get_fingerprints_repository() -> Any:
        """The host's fingerprint repository; outside the backend there is none."""
        return None

    def _reset_registry_miss_warning() -> None:
        """Re-arms the host's once-only registry warning; outside the backend, nothing to do."""


if _profiles is not None:
    _last_content_profiles = _profiles._last_content_profiles
    _last_content_profiles_lock = _profiles._last_content_profiles_lock
    get_last_content_profile = _profiles.get_last_content_profile
else:
    _last_content_profiles: Dict[str, Any] = {}
    _last_content_profiles_lock = threading.Lock()

    def get_last_content_profile(preset: str) -> Optional[Dict[str, Any]]:
        """The profile of the last chunk processed with ``preset`` (see
        ``ChunkedAudioProcessor.content_profile``), or ``None``."""
        with _last_content_profiles_lock:
            value = _last_content_profiles.get(str(preset).lower())
        return value if isinstance(value, dict) else None


def _store_content_profile(preset: str, profile: Dict[str, Any]) -> None:
    with _last_content_profiles_lock:
        _last_content_profiles[str(preset).lower()] = profile


ChunkOperations: Any = _operations.ChunkOperations if _operations is not None else None
"""The host's ``ChunkOperations`` (re-exported for its tests' patch targets; not used here)."""
AudioProcessingPipeline: Any = (
    _pipeline.AudioProcessingPipeline if _pipeline is not None else None
)
"""The host's ``AudioProcessingPipeline`` (re-exported likewise; the engine masters here)."""


class _OwnSignatureService:
    """The original's signature recipe: 8 hex digits of the MD5 of
    ``f"{st_mtime}_{st_size}_{filepath}"``, of the path alone when ``stat`` fails."""

    @staticmethod
    def generate(filepath: str) -> str:
        try:
            st = os.stat(filepath)
            text = f"{st.st_mtime}_{st.st_size}_{filepath}"
        except OSError as e:
            logger.warning("Failed to stat file %s: %s. Using path-only signature.", filepath, e)
            text = str(filepath)
        return hashlib.md5(text.encode()).hexdigest()[:8]


FileSignatureService: Any = (
    _signature_service.FileSignatureService if _signature_service is not None
    else _OwnSignatureService
)


def apply_crossfade_between_chunks(
    chunk1: np.ndarray, chunk2: np.ndarray, overlap_samples: int
) -> np.ndarray:
    """Joins two chunks, mixing the last ``overlap_samples`` frames of ``chunk1`` with the first
    of ``chunk2`` under an equal-power (``cos²``/``sin²``) fade: ``len(chunk1) + len(chunk2) -
    overlap`` frames, nothing lost; 0 or less concatenates. The result keeps the inputs' dtype.
    """
    a, b = np.asarray(chunk1), np.asarray(chunk2)
    n = min(int(overlap_samples), len(a), len(b))
    if n <= 0:
        return np.concatenate([a, b], axis=0)
    t = np.linspace(0.0, np.pi / 2, n)
    fade_out, fade_in = np.cos(t) ** 2, np.sin(t) ** 2
    if a.ndim == 2:
        fade_out, fade_in = fade_out[:, None], fade_in[:, None]
    mixed = (a[-n:] * fade_out + b[:n] * fade_in).astype(np.result_type(a, b), copy=False)
    return np.concatenate([a[:-n], mixed, b[n:]], axis=0)


# -- files -------------------------------------------------------------------------------------

_CACHE_VERSION = 3  # the original's WAV name prefix: v3_


_alternatives_lock = threading.Lock()
# Tracks whose other presets were prepared (most recent last, at most _ALTERNATIVES_KEPT): a
# track seen again after it fell out is prepared again, which costs a cache look-up per preset.
_alternatives_prepared: "OrderedDict[Tuple[str, str, str], None]" = OrderedDict()
_ALTERNATIVES_KEPT = 4096


class _PathCache:
    """The in-memory tier of chunk paths, over the processor's ``chunk_cache`` dict (the
    original's ``_cache_manager`` surface)."""

    def __init__(self, chunk_cache: MutableMapping[str, Any], cache_dir: Path) -> None:
        self.chunk_cache = chunk_cache
        self.cache_dir = cache_dir

    def get_cached_chunk_path(self, key: str) -> Optional[Path]:
        value = self.chunk_cache.get(key)
        return Path(value) if value is not None else None

    def cache_chunk_path(self, key: str, path: Path) -> None:
        self.chunk_cache[key] = path


# -- the processor -----------------------------------------------------------------------------


class ChunkedAudioProcessor:
    """One track with one preset and intensity, served in 1.5.1's chunks at the source rate.

    Thread-safe: the backend calls it from its stream executor and its event loop at once; the
    engine underneath computes each chunk once however many threads ask.
    """

    def __init__(
        self,
        track_id: int,
        filepath: str,
        preset: Optional[str] = "adaptive",
        intensity: float = 1.0,
        chunk_cache: Optional[MutableMapping[str, Any]] = None,
    ) -> None:
        self.track_id = track_id
        self.filepath = filepath
        self.preset = preset
        self.intensity = intensity
        self.chunk_cache: MutableMapping[str, Any] = chunk_cache if chunk_cache is not None else {}
        if preset is not None and str(preset).lower() not in presets():
            raise ValueError(f"unknown preset {preset!r} (valid: {', '.join(presets())})")
        try:
            level = float(intensity)
        except (TypeError, ValueError):
            level = float("nan")
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"invalid intensity {intensity!r}: must be in 0..=1")

        self.file_signature = FileSignatureService.generate(filepath)

        self.sample_rate: Optional[int] = None
        self.total_duration: Optional[float] = None
        self.total_chunks: Optional[int] = None
        self.channels: Optional[int] = None
        self.total_frames: Optional[int] = None
        self._load_metadata()

        self.chunk_interval: float = float(CHUNK_INTERVAL)
        self.chunk_dir = Path(tempfile.gettempdir()) / "auralis_chunks"
        self.chunk_dir.mkdir(parents=True, exist_ok=True)

        self._processor_lock = threading.RLock()
        self._sync_cache_lock = threading.Lock()
        self._stream_lock = threading.Lock()
        self._stream: Optional[Stream] = None

        self.mastering_recommendation: Any = None
        self.adaptive_mastering_engine: Any = None
        self.fingerprint: Any = None
        self.mastering_targets: Any = None
        # The original's shared HybridProcessor; here the engine's stream once opened.
        self.processor: Any = None

        self.chunk_rms_history: List[float] = []
        self.chunk_gain_history: List[float] = []
        self.previous_chunk_tail: Optional[np.ndarray] = None
        self.content_profile: Optional[Dict[str, Any]] = None
        # The host's collaborators where its callers reach for them: its level history (levels
        # are recorded there, never adjusted), its shared mastering-target service.
        self._level_manager: Any = (
            _level_manager.LevelManager() if hasattr(_level_manager, "LevelManager") else None
        )
        self._mastering_target_service: Any = (
            _targets.get_mastering_target_service()
            if hasattr(_targets, "get_mastering_target_service") else None
        )
        self._cache_manager = _PathCache(self.chunk_cache, self.chunk_dir)
        # The engine's stream opens (its analysis and calibration, or their cached copies) on a
        # thread of its own from here, while the caller gets on with its own set-up: the first
        # chunk waits only for what is left of it. A failure is left for the first real call.
        threading.Thread(target=self._open_ahead, name="auralis-open", daemon=True).start()

        logger.info(
            f"ChunkedAudioProcessor initialized: track_id={track_id}, "
            f"duration={self.total_duration:.1f}s, chunks={self.total_chunks}, "
            f"preset={preset}, intensity={intensity}"
        )

    # -- metadata and geometry -----------------------------------------------------------------

    @property
    def duration(self) -> Optional[float]:
        """``total_duration`` (seconds at the source rate)."""
        return self.total_duration

    @property
    def chunk_duration(self) -> float:
        """``CHUNK_DURATION`` (15 s)."""
        return CHUNK_DURATION

    def _load_metadata(self) -> None:
        """Probes the file (nothing decoded past the probe): ``sample_rate`` (the source's),
        ``channels``, ``total_duration``, ``total_chunks``. A file that cannot be read raises the
        library's typed errors (``FileNotFoundError``, ``UnsupportedFormatError``,
        ``DecodeError``)."""
        info = probe(os.fspath(self.filepath), float(CHUNK_DURATION))
        self.sample_rate = int(info["source_sample_rate"])
        self.channels = int(info["channels"])
        self.total_frames = int(info["source_frames"])
        self.total_duration = self.total_frames / self.sample_rate
        self.total_chunks = content_chunk_count(self.total_duration)

    def _validate_chunk_index(self, chunk_index: int) -> None:
        """``ValueError`` ("out of range") for an index outside the track's chunks."""
        if self.total_chunks is None:
            raise RuntimeError("Processor metadata missing: total_chunks is None")
        if not isinstance(chunk_index, (int, np.integer)) or isinstance(chunk_index, bool):
            raise ValueError(f"chunk_index {chunk_index!r} out of range: not an integer")
        if chunk_index < 0 or chunk_index >= self.total_chunks:
            raise ValueError(
                f"chunk_index {chunk_index} out of range (valid: 0..{self.total_chunks - 1})"
            )

    def chunk_frames(self, chunk_index: int) -> Tuple[int, int]:
        """The source-rate frames ``[start, end)`` chunk ``chunk_index`` emits: positions rounded
        to the nearest frame, the last chunk ending at the track's last frame, so the chunks
        tile the track."""
        self._validate_chunk_index(chunk_index)
        assert self.sample_rate is not None
        total = self._frames()
        start_s, end_s = emitted_chunk_bounds(int(chunk_index), float(self.total_duration or 0))
        start = min(int(round(start_s * self.sample_rate)), total)
        end = (
            total
            if chunk_index == (self.total_chunks or 1) - 1
            else min(int(round(end_s * self.sample_rate)), total)
        )
        return start, end

    def _frames(self) -> int:
        """The track's frames at the source rate (from the duration when the metadata came from
        somewhere else than ``_load_metadata``)."""
        frames = getattr(self, "total_frames", None)
        if frames is None:
            frames = int(round(float(self.total_duration or 0.0) * int(self.sample_rate or 0)))
        return int(frames)

    # -- the engine ----------------------------------------------------------------------------

    def _prepare_alternatives(self) -> None:
        """Once per track and intensity, after its first chunk is out: the mastering decisions
        of the other presets (their calibration, a few tens of milliseconds each) are made on a
        background thread and kept in the engine's cache, so a switch to any preset computes
        only its chunk. Decisions, not audio: no chunk of another preset is made here."""
        stream = getattr(self, "_stream", None)
        if stream is None or self.preset is None:
            return
        key = (os.fspath(self.filepath), self.file_signature, repr(float(self.intensity)))
        with _alternatives_lock:
            if key in _alternatives_prepared:
                _alternatives_prepared.move_to_end(key)
                return
            _alternatives_prepared[key] = None
            while len(_alternatives_prepared) > _ALTERNATIVES_KEPT:
                _alternatives_prepared.popitem(last=False)
        others = [p for p in presets() if p not in ("none", str(self.preset).lower())]

        def prepare() -> None:
            for preset in others:
                try:
                    stream.with_mastering(preset, float(self.intensity))
                except Exception as e:  # noqa: BLE001 - a switch computes it then, and says why
                    logger.debug(f"preset {preset} not prepared: {e}")
                    return

        threading.Thread(target=prepare, name="auralis-presets", daemon=True).start()

    def _open_ahead(self) -> None:
        try:
            self.stream
        except Exception:  # noqa: BLE001 - the first call that needs the stream raises it
            pass

    @property
    def stream(self) -> Stream:
        """The engine's stream of this track and settings, opened on first use (the analysis
        runs then, or is read from the cache in ``chunk_dir``)."""
        with self.__dict__.setdefault("_stream_lock", threading.Lock()):
            if getattr(self, "_stream", None) is None:
                self._stream = Stream(
                    os.fspath(self.filepath),
                    preset=self.preset,
                    intensity=float(self.intensity),
                    chunk_seconds=10.0,
                    cache_dir=str(self.chunk_dir / "cache"),
                )
                self.processor = self._stream
            return self._stream

    def _stem(self) -> str:
        return f"track_{self.track_id}_{self.file_signature}_{self.preset}_{self.intensity}"

    def _what(self, chunk_index: int) -> str:
        """What a chunk file must be: the source's content signature now, the settings, the
        chunk's frames and the format."""
        start, end = self.chunk_frames(chunk_index)
        return "|".join([
            "v1_5", file_signature(os.fspath(self.filepath)), str(self.preset),
            repr(float(self.intensity)), f"{start}-{end}@{self.sample_rate}", "pcm16",
        ])

    # -- paths and the cache -------------------------------------------------------------------

    def _get_cache_key(self, chunk_index: int) -> str:
        """The original's ``chunk_cache`` key of chunk ``chunk_index``."""
        return (
            f"{self.track_id}_{self.file_signature}_{self.preset}_{self.intensity}"
            f"_chunk_{chunk_index}"
        )

    def _get_chunk_path(self, chunk_index: int) -> Path:
        """The chunk's WAV: ``v3_track_{id}_{sig}_{preset}_{intensity}_chunk_{i}.wav``."""
        return self.chunk_dir / f"v{_CACHE_VERSION}_{self._stem()}_chunk_{chunk_index}.wav"

    def _get_wav_chunk_path(self, chunk_index: int) -> Path:
        """Alias of ``_get_chunk_path``."""
        return self._get_chunk_path(chunk_index)

    def _stamped(self, path: Path, chunk_index: int) -> Optional[str]:
        """The level stored in ``path``'s stamp when the stamp names this chunk as it must be
        now and the file as it is, else ``None``."""
        try:
            head, level = stamp_path(path).read_text().rsplit("|", 1)
            if head == f"{self._what(chunk_index)}|{file_state(path)}":
                return level
        except (OSError, ValueError):
            pass
        return None

    def _lookup_cached_chunk(self, chunk_index: int) -> Optional[Path]:
        """The chunk's WAV when it is this chunk as it must be now (its stamp matches the source
        and settings), recorded in ``chunk_cache``; ``None`` when it must be made."""
        path = self._get_chunk_path(chunk_index)
        if self._stamped(path, chunk_index) is None:
            if path.exists():
                logger.warning(
                    f"Discarding unverified WAV chunk {chunk_index} at {path.name}; regenerating"
                )
            return None
        self.chunk_cache[self._get_cache_key(chunk_index)] = path
        return path

    def _save_chunk(self, chunk_index: int, audio: np.ndarray) -> Path:
        """Writes ``audio`` as the chunk's 16-bit WAV, atomically, then its stamp. Empty or
        non-finite audio is a ``ValueError`` and nothing is written."""
        a = np.asarray(audio)
        if a.size == 0:
            raise ValueError(f"chunk {chunk_index} is empty: nothing to write")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"chunk {chunk_index} has non-finite samples: not written")
        path = self._get_chunk_path(chunk_index)
        replace_atomic_bytes(path, pcm16_wav(audio, int(self.sample_rate or 0)))
        rms_db = self._calculate_rms(audio)
        stamp = f"{self._what(chunk_index)}|{file_state(path)}|{rms_db!r}"
        replace_atomic_bytes(stamp_path(path), stamp.encode())
        self.chunk_cache[self._get_cache_key(chunk_index)] = path
        return path

    # -- audio ---------------------------------------------------------------------------------

    def load_chunk(
        self, chunk_index: int, with_context: bool = True
    ) -> Tuple[np.ndarray, float, float]:
        """``(audio, chunk_start, chunk_end)`` as the original: the unmastered source-rate audio
        of the chunk's render window (``[0, 15)`` for chunk 0, ``[10 i, 10 i + 15)`` after,
        clamped to the track), widened by ``CONTEXT_DURATION`` on each side when
        ``with_context``; float32 ``(frames, channels)``."""
        self._validate_chunk_index(chunk_index)
        total = float(self.total_duration or 0.0)
        chunk_start = 0.0 if chunk_index == 0 else chunk_index * CHUNK_INTERVAL
        chunk_end = min(chunk_start + CHUNK_DURATION, total)
        load_start, load_end = chunk_start, chunk_end
        if with_context:
            load_start = max(0.0, chunk_start - CONTEXT_DURATION)
            load_end = min(total, chunk_end + CONTEXT_DURATION)
        frames = self._frames()
        a = min(int(round(load_start * (self.sample_rate or 0))), frames)
        b = min(int(round(load_end * (self.sample_rate or 0))), frames)
        audio = self.stream.original_range(a, max(a, b), "source")
        return audio, chunk_start, chunk_end

    def _calculate_rms(self, audio: np.ndarray) -> float:
        """RMS of ``audio`` in dB (1e-10 added before the log, as the original)."""
        level = rms(audio)
        return float(20 * np.log10(level + 1e-10))

    def _record_level(
        self, chunk: np.ndarray, chunk_index: int, rms_db: float, gain_db: float
    ) -> None:
        with self._processor_lock:
            manager = getattr(self, "_level_manager", None)
            if manager is not None:
                manager.record_cached_level(chunk=chunk, chunk_index=chunk_index, gain_db=gain_db)
                self.chunk_rms_history = list(manager.history)
                self.chunk_gain_history = list(manager.gain_adjustments)
            else:
                self.chunk_rms_history.append(float(rms_db))
                self.chunk_gain_history.append(float(gain_db))

    def _smooth_level_transition(self, chunk: np.ndarray, chunk_index: int) -> np.ndarray:
        """Records the chunk's RMS and a 0 dB adjustment and returns it unchanged: the levels
        are the track's mastering, with no step between chunks to clamp."""
        rms_db = self._calculate_rms(chunk)
        self._record_level(chunk, chunk_index, rms_db, 0.0)
        logger.info(f"Chunk {chunk_index}: Level transition OK (RMS: {rms_db:.1f} dB)")
        return chunk

    def note_cached_chunk_level(
        self, chunk: np.ndarray, chunk_index: int, gain_db: float = 0.0
    ) -> None:
        """Records the level of a chunk the caller served from its own cache (and the gain it
        was stored with), without touching the audio."""
        self._record_level(chunk, chunk_index, self._calculate_rms(chunk), gain_db)

    def _process_chunk_core(self, chunk_index: int, fast_start: bool = False) -> np.ndarray:
        """Chunk ``chunk_index`` mastered by the engine: exactly the frames it emits, float32
        ``(frames, channels)`` at the source rate (its level recorded)."""
        self._validate_chunk_index(chunk_index)
        start, end = self.chunk_frames(chunk_index)
        audio = self.stream.pcm_range(start, end, "source")
        self._note_profile(audio)
        return self._smooth_level_transition(audio, chunk_index)

    def process_chunk(
        self, chunk_index: int, fast_start: bool = False, locked: bool = False
    ) -> Tuple[str, np.ndarray]:
        """``(path, audio)``: chunk ``chunk_index`` mastered, as a float32 ``(frames,
        channels)`` array at the source rate and as its 16-bit WAV at ``path``. ``locked`` holds
        ``_processor_lock`` for the whole chunk (``process_chunk_safe`` does)."""
        if locked:
            with self._processor_lock:
                return self.process_chunk(chunk_index, fast_start, locked=False)
        self._validate_chunk_index(chunk_index)
        cached = self._lookup_cached_chunk(chunk_index)
        if cached is not None:
            logger.info(f"Serving cached chunk {chunk_index}/{self.total_chunks}")
            return str(cached), read_wav(cached)
        logger.info(
            f"Processing chunk {chunk_index}/{self.total_chunks} "
            f"(preset: {self.preset}, fast_start: {fast_start})"
        )
        audio = self._process_chunk_core(chunk_index, fast_start)
        path = self._save_chunk(chunk_index, audio)
        logger.info(f"Chunk {chunk_index} processed and saved to {path.name}")
        self._prepare_alternatives()
        return str(path), audio

    async def process_chunk_safe(
        self, chunk_index: int, fast_start: bool = False
    ) -> Tuple[str, np.ndarray]:
        """``process_chunk(chunk_index, fast_start, locked=True)`` off the event loop (on the
        host's stream executor when it has one)."""
        if _executors is not None and hasattr(_executors, "run_in_stream_executor"):
            return await _executors.run_in_stream_executor(
                self.process_chunk, chunk_index, fast_start, True
            )
        return await asyncio.to_thread(self.process_chunk, chunk_index, fast_start, True)

    def get_wav_chunk_path(self, chunk_index: int) -> str:
        """Path of chunk ``chunk_index``'s WAV, made if needed (one maker per chunk at a time)."""
        self._validate_chunk_index(chunk_index)
        with self._sync_cache_lock:
            cached = self._lookup_cached_chunk(chunk_index)
            if cached is not None:
                logger.info(f"Serving cached WAV chunk {chunk_index}")
                return str(cached)
            logger.info(f"Processing chunk {chunk_index} directly to WAV")
            audio = self._process_chunk_core(chunk_index, fast_start=False)
            path = self._save_chunk(chunk_index, audio)
            logger.info(f"Chunk {chunk_index} encoded to WAV: {path.name}")
        return str(path)

    async def process_all_chunks_async(self) -> None:
        """Processes every chunk after the first not yet in ``chunk_cache``, in order, off the
        event loop; a chunk that fails is logged and the rest go on."""
        total = int(self.total_chunks or 0)
        logger.info(f"Starting background processing of {total - 1} remaining chunks")
        for index in range(1, total):
            if self._get_cache_key(index) in self.chunk_cache:
                continue
            try:
                await self.process_chunk_safe(index)
            except Exception as e:  # noqa: BLE001 - the original logged and went on
                logger.error(f"Failed to process chunk {index}: {e}")
        logger.info("Background chunk processing complete")

    async def get_full_processed_audio_path(self) -> str:
        """``track_{id}_{sig}_{preset}_{intensity}_full.wav`` in ``chunk_dir``: the chunks
        joined (exactly the track's frames), 16-bit, written atomically; served as it is when its
        stamp matches the source and settings."""
        path = self.chunk_dir / f"{self._stem()}_full.wav"
        what: Optional[str] = None
        try:
            what = "|".join([
                "full", "v1_5", file_signature(os.fspath(self.filepath)), str(self.preset),
                repr(float(self.intensity)), str(self.sample_rate), str(self.total_chunks),
            ])
            if stamp_path(path).read_text() == f"{what}|{file_state(path)}":
                return str(path)
        except OSError:
            pass  # no stamp (or no source to sign): made below
        parts = []
        for index in range(int(self.total_chunks or 0)):
            _, audio = await self.process_chunk_safe(index, fast_start=(index == 0))
            parts.append(np.asarray(audio))
        full = np.concatenate(parts, axis=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(
            replace_atomic_bytes, path, pcm16_wav(full, int(self.sample_rate or 0))
        )
        if what is not None:
            replace_atomic_bytes(stamp_path(path), f"{what}|{file_state(path)}".encode())
        logger.info(f"Full audio saved to {path.name}")
        return str(path)

    def close(self) -> None:
        """Lets this processor's handle on the engine's stream go (the stream and its cache
        stay for whoever shares them, ``processor`` included). Idempotent."""
        self._stream = None

    # -- analysis for the UI -------------------------------------------------------------------

    def _note_profile(self, audio: np.ndarray) -> None:
        """Stores the content profile of the chunk just processed for
        ``get_last_content_profile(preset)`` (the ``/api/processing/parameters`` route's shape:
        ``coordinates`` and ``parameters``)."""
        if self.preset is None:
            return
        try:
            analysis, params = self.__dict__.get("_decisions") or self.__dict__.setdefault(
                "_decisions",
                (json.loads(self.stream.analysis_json), json.loads(self.stream.mastering_json)),
            )
        except Exception as e:  # noqa: BLE001 - the UI's profile never fails a chunk
            logger.debug(f"no content profile: {e}")
            return
        profile = content_profile(analysis, params, audio)
        self.content_profile = profile
        _store_content_profile(self.preset, profile)

    def get_mastering_recommendation(self, confidence_threshold: float = 0.4) -> Any:
        """A mastering recommendation for the track from the engine's analysis, in the host's
        ``MasteringRecommendation`` type when the backend provides it (its engine weighs its
        profiles against a fingerprint made from this engine's measurements); ``None`` when the
        track cannot be analysed or the host has no recommender."""
        if self.mastering_recommendation is not None:
            return self.mastering_recommendation
        try:
            engine_module = _host("auralis.analysis.adaptive_mastering_engine")
            fingerprint_module = _host("auralis.analysis.mastering_fingerprint")
            if engine_module is None or fingerprint_module is None:
                return None
            if self.adaptive_mastering_engine is None:
                self.adaptive_mastering_engine = engine_module.AdaptiveMasteringEngine()
            if self.fingerprint is None:
                self.fingerprint = fingerprint_module.MasteringFingerprint(
                    **fingerprint_fields(json.loads(self.stream.analysis_json),
                                          int(self.sample_rate or 48000))
                )
            self.mastering_recommendation = self.adaptive_mastering_engine.recommend_weighted(
                self.fingerprint, confidence_threshold=confidence_threshold
            )
            return self.mastering_recommendation
        except Exception as e:  # noqa: BLE001 - as the original: a failed analysis is None
            logger.error(f"Failed to generate mastering recommendation: {e}")
            return None

    def __repr__(self) -> str:
        return (
            f"ChunkedAudioProcessor(track_id={self.track_id!r}, filepath={self.filepath!r}, "
            f"preset={self.preset!r}, intensity={self.intensity}, chunks={self.total_chunks}, "
            f"sample_rate={self.sample_rate})"
        )
