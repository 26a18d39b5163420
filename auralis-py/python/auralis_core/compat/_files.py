"""Files the drop-ins write beside the host's cache: atomic replacement (a reader sees the
old file or the whole new one, never a part), the stamps that say what a file holds, and
16-bit WAV chunks written and read back."""

import io
import os
import threading
import wave
from pathlib import Path
from typing import Callable

import numpy as np


def tmp_name(path: Path) -> Path:
    """A temporary name beside ``path``, unique to this process and thread."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def replace_atomic(path: Path, write: Callable[[Path], None], sync: bool = True) -> None:
    """Runs ``write`` on a temporary name in the same directory, syncs it (``sync``), renames it
    over ``path``."""
    tmp = tmp_name(path)
    try:
        write(tmp)
        if sync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(data: bytes) -> Callable[[Path], None]:
    """A ``write`` for :func:`replace_atomic` that writes ``data``."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return write


def replace_atomic_bytes(path: Path, data: bytes) -> None:
    """``data`` written over ``path`` atomically (not synced: a lost write is made again)."""
    replace_atomic(path, write_bytes(data), sync=False)


def stamp_path(path: Path) -> Path:
    """Where the stamp of ``path`` lives: a hidden file beside it."""
    return path.with_name(f".{path.name}.key")


def file_state(path: Path) -> str:
    """``size|mtime_ns`` of ``path``: what a stamp records of the file it describes."""
    st = os.stat(path)
    return f"{st.st_size}|{st.st_mtime_ns}"


def pcm16_wav(audio: np.ndarray, rate: int) -> bytes:
    """``audio`` (frames, channels) as a 16-bit PCM WAV (rounded, clipped), as the original's
    ``subtype='PCM_16'`` files."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    scaled = a * np.float32(32768.0)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    np.rint(scaled, out=scaled)
    ints = scaled.astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(int(a.shape[1]))
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(ints.tobytes())
    return buf.getvalue()


def rms(audio: np.ndarray) -> float:
    """The RMS of all samples (a float32 dot product: about a millisecond for a 15 s chunk)."""
    flat = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    if not flat.size:
        return 0.0
    return float(np.sqrt(max(float(np.dot(flat, flat)), 0.0) / flat.size))


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit WAV written here, as float32 (frames, channels)."""
    with wave.open(str(path), "rb") as w:
        ch, width, frames = w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(frames)
    if width != 2:
        raise ValueError(f"{path}: not a 16-bit WAV")
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).reshape(-1, ch)
