"""The server's library: the built-in demo and the audio files of the folders it is given."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, Iterable

import auralis_core as ac

AUDIO_EXTENSIONS = {
    ".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aif", ".aiff", ".webm", ".mka",
}


def demo_file() -> Path:
    """The built-in demo as a WAV file in the temporary directory (written once, atomically)."""
    path = Path(tempfile.gettempdir()) / f"auralis_demo_{ac.__version__}.wav"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(ac.demo_wav())
        os.replace(tmp, path)
    return path


def scan(directory: Path) -> Dict[str, Path]:
    """The audio files directly in ``directory`` (not its subfolders), by name without the
    extension; an empty dict when it is not a folder."""
    if not directory.is_dir():
        return {}
    return {
        f.stem: f
        for f in sorted(directory.iterdir())
        if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file()
    }


def default_library(folders: Iterable[Path] = ()) -> Dict[str, Path]:
    """The demo (as ``demo``) and the tracks of each folder; a later folder's file wins a name."""
    tracks = {"demo": demo_file()}
    for folder in folders:
        tracks.update(scan(Path(folder)))
    return tracks
