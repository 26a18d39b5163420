"""Auralis Core: progressive streaming of mastered music.

``Stream`` is one track with one set of settings (preset, intensity, chunk length, bitrate):
chunks as WebM for Media Source Extensions, as numpy arrays or WAV, cached in memory and
optionally on disk, thread-safe, with the GIL released for all heavy work.

``Queue`` is tracks on one timeline (gapless or crossfaded), served as one stream of chunks.

``ChunkedAudioProcessor`` is a drop-in for the FastAPI backend's ``chunked_processor``
class of the same name (see ``auralis_core.compat``).
"""

from ._native import (
    MIME,
    MIME_MP4,
    MIME_MP4_SAFARI,
    AuralisError,
    Clusters,
    DecodeError,
    EncodeError,
    IndexOutOfRangeError,
    InternalError,
    InvalidArgumentError,
    IoError,
    Queue,
    SourceChangedError,
    Stream,
    UnsupportedFormatError,
    __version__,
    crossfade_between_chunks,
    demo_wav,
    presets,
    read_tags,
    shared_engine_count,
)
from .compat import (
    CHUNK_DURATION,
    CONTEXT_DURATION,
    MAX_LEVEL_CHANGE_DB,
    OVERLAP_DURATION,
    ChunkedAudioProcessor,
    apply_crossfade_between_chunks,
)

__all__ = [
    "MIME",
    "MIME_MP4",
    "MIME_MP4_SAFARI",
    "AuralisError",
    "CHUNK_DURATION",
    "CONTEXT_DURATION",
    "ChunkedAudioProcessor",
    "Clusters",
    "DecodeError",
    "EncodeError",
    "IndexOutOfRangeError",
    "InternalError",
    "InvalidArgumentError",
    "IoError",
    "MAX_LEVEL_CHANGE_DB",
    "OVERLAP_DURATION",
    "Queue",
    "SourceChangedError",
    "Stream",
    "UnsupportedFormatError",
    "__version__",
    "apply_crossfade_between_chunks",
    "crossfade_between_chunks",
    "demo_wav",
    "presets",
    "read_tags",
    "shared_engine_count",
]
