"""A FastAPI streaming server over auralis_core: the backend's unified streaming endpoints.

    GET /api/tracks                                   the library: [{"id", "name"}]
    GET /api/stream/{track_id}/metadata               duration, total_chunks, chunk_duration, mime,
                                                      mimes (each container's types), ...
    GET /api/stream/{track_id}/init                   the init segment
    GET /api/stream/{track_id}/chunk/{i}?preset=&intensity=&transition_from=&bitrate=
                                                      chunk i's media segment, streamed cluster by
                                                      cluster (X-Cache: MISS / HIT-MEMORY / ...)
    GET /api/stream/{track_id}/playlist.m3u8          an HLS media playlist over the fMP4 init
                                                      and chunk URLs (container=mp4 implied)
    GET /                                             the web player (examples/web/)

Every stream request takes ``container=webm|mp4`` (default webm): the init segment, the chunks
and the metadata's ``mime`` follow it. A chunk is encoded once and served in either container
(the cache keeps one form), so a Safari client asking MP4 after a Chrome client asked WebM costs
no encode. ``bitrate`` (bit/s, default 128000) may change from one chunk to the next: the init
segment does not depend on it, so a player switches bitrate at a chunk boundary without a gap.
``transition_from`` is ``preset`` or ``preset:intensity``: the chunk starts as that setting's
audio and crossfades into the requested one (a preset switch at a chunk boundary).

Errors are JSON: 404 unknown track (or file gone), 416 chunk index past the end, 422 bad
parameters or an unreadable file, 409 a file that changed while open. DSP never runs on the
event loop: every call into the engine goes through ``asyncio.to_thread`` (the engine releases
the GIL).

Run: ``python examples/python/server.py [--library DIR] [--cache-dir DIR] [--chunk-seconds S]
[--port 8000]``, then open http://127.0.0.1:8000/; the
library is the built-in demo plus ``../shared/corpus`` when present, plus DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional, Tuple

from fastapi import FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

import auralis_core as ac

MAX_OPEN_STREAMS = 256
AUDIO_EXTENSIONS = {
    ".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aif", ".aiff", ".webm", ".mka",
}
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CORPUS_DIR = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def demo_file() -> Path:
    """The built-in demo as a WAV file in the temporary directory (written once, atomically)."""
    path = Path(tempfile.gettempdir()) / f"auralis_demo_{ac.__version__}.wav"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(ac.demo_wav())
        os.replace(tmp, path)
    return path


def scan(directory: Path) -> Dict[str, Path]:
    if not directory.is_dir():
        return {}
    return {
        f.stem: f
        for f in sorted(directory.iterdir())
        if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file()
    }


def default_library(extra: Optional[Path] = None) -> Dict[str, Path]:
    tracks = {"demo": demo_file()}
    tracks.update(scan(CORPUS_DIR))
    if extra is not None:
        tracks.update(scan(extra))
    return tracks


def parse_transition(value: Optional[str]) -> Optional[Tuple[Optional[str], float]]:
    if value is None or value == "":
        return None
    preset, _, intensity = value.partition(":")
    try:
        level = float(intensity) if intensity else 1.0
    except ValueError:
        raise ac.InvalidArgumentError(f"invalid transition_from {value!r}: use preset or preset:intensity")
    return (preset, level)


def create_app(
    library: Optional[Dict[str, Path]] = None,
    cache_dir: Optional[str] = None,
    chunk_seconds: float = 30.0,
) -> FastAPI:
    app = FastAPI(title="Auralis streaming", version=ac.__version__)
    tracks: Dict[str, Path] = dict(library if library is not None else default_library())
    # Open streams by (track, preset, intensity, container, bitrate), least recently used first:
    # bounded, since any client can ask for any intensity. A dropped stream's chunks stay in the
    # engine's cache.
    streams: "OrderedDict[Tuple[str, str, float, str, int], ac.Stream]" = OrderedDict()
    streams_lock = threading.Lock()

    def error(status: int, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": type(exc).__name__, "detail": str(exc)})

    @app.exception_handler(ac.IndexOutOfRangeError)
    async def _index(_: Request, exc: Exception) -> JSONResponse:
        return error(416, exc)

    @app.exception_handler(FileNotFoundError)
    async def _missing(_: Request, exc: Exception) -> JSONResponse:
        return error(404, exc)

    @app.exception_handler(ac.SourceChangedError)
    async def _changed(_: Request, exc: Exception) -> JSONResponse:
        return error(409, exc)

    for bad_input in (ac.InvalidArgumentError, ac.UnsupportedFormatError, ac.DecodeError):

        @app.exception_handler(bad_input)
        async def _bad(_: Request, exc: Exception) -> JSONResponse:
            return error(422, exc)

    def open_stream(
        track_id: str, preset: str, intensity: float, container: str = "webm", bitrate: int = 128000
    ) -> ac.Stream:
        key = (track_id, preset, intensity, container, bitrate)
        with streams_lock:
            stream = streams.get(key)
            if stream is not None:
                streams.move_to_end(key)
        if stream is None:
            stream = ac.Stream(
                str(tracks[track_id]),
                preset=preset,
                intensity=intensity,
                chunk_seconds=chunk_seconds,
                cache_dir=cache_dir,
                container=container,
                bitrate=bitrate,
            )
            with streams_lock:
                stream = streams.setdefault(key, stream)
                while len(streams) > MAX_OPEN_STREAMS:
                    streams.popitem(last=False)
        return stream

    async def get_stream(
        track_id: str, preset: str, intensity: float, container: str = "webm", bitrate: int = 128000
    ) -> ac.Stream:
        if track_id not in tracks:
            raise HTTPException(status_code=404, detail=f"unknown track {track_id!r}")
        return await asyncio.to_thread(open_stream, track_id, preset, intensity, container, bitrate)

    Preset = Query("adaptive", description="adaptive, gentle, warm, bright, punchy, live or none")
    Intensity = Query(1.0, ge=0.0, le=1.0)
    Container = Query("webm", pattern="^(webm|mp4)$", description="webm or mp4")
    Bitrate = Query(128000, description="Opus bitrate in bit/s (the engine checks its range)")
    media_types = {"webm": "audio/webm", "mp4": "audio/mp4"}

    @app.get("/api/tracks")
    async def list_tracks() -> list:
        return [{"id": k, "name": v.name} for k, v in tracks.items()]

    @app.get("/api/stream/{track_id}/metadata")
    async def metadata(
        track_id: str, preset: str = Preset, intensity: float = Intensity, container: str = Container
    ) -> dict:
        info = (await get_stream(track_id, preset, intensity, container)).info
        return {
            "track_id": track_id,
            "duration": info["duration"],
            "total_chunks": info["total_chunks"],
            "chunk_duration": info["chunk_duration"],
            "container": info["container"],
            "mime": info["mime"],
            # Every type a player may probe, in order of preference, with the container to ask
            # for: WebM, then MP4 as Safari spells it, then MP4 as Chromium and WebKitGTK do.
            "mimes": [
                {"container": "webm", "mime": ac.MIME},
                {"container": "mp4", "mime": ac.MIME_MP4_SAFARI},
                {"container": "mp4", "mime": ac.MIME_MP4},
            ],
            "preset": info["preset"],
            "intensity": info["intensity"],
            "sample_rate": info["sample_rate"],
            "channels": info["channels"],
        }

    @app.get("/api/stream/{track_id}/init")
    async def init(
        track_id: str, preset: str = Preset, intensity: float = Intensity, container: str = Container
    ) -> Response:
        stream = await get_stream(track_id, preset, intensity, container)
        return Response(stream.init_segment(), media_type=media_types[container])

    @app.get("/api/stream/{track_id}/playlist.m3u8")
    async def playlist(track_id: str, preset: str = Preset, intensity: float = Intensity,
                       bitrate: int = Bitrate) -> Response:
        stream = await get_stream(track_id, preset, intensity, "mp4", bitrate)
        q = f"preset={preset}&intensity={intensity}&container=mp4"
        text = stream.hls_playlist(f"init?{q}", f"chunk/{{index}}?{q}&bitrate={bitrate}")
        return Response(text, media_type="application/vnd.apple.mpegurl")

    @app.get("/api/stream/{track_id}/chunk/{index}")
    async def chunk(
        track_id: str,
        index: int = PathParam(ge=0, le=2**31),
        preset: str = Preset,
        intensity: float = Intensity,
        transition_from: Optional[str] = Query(None, description="preset or preset:intensity"),
        container: str = Container,
        bitrate: int = Bitrate,
    ) -> StreamingResponse:
        stream = await get_stream(track_id, preset, intensity, container, bitrate)
        # Checks (index, transition) and, on a miss, renders the audio before the first byte.
        clusters = await asyncio.to_thread(stream.iter_chunk_webm, index, parse_transition(transition_from))

        async def body():
            while True:
                cluster = await asyncio.to_thread(next, clusters, None)
                if cluster is None:
                    return
                yield cluster

        return StreamingResponse(
            body(),
            media_type=media_types[container],
            headers={"X-Cache": clusters.origin, "X-Preset": preset, "X-Intensity": str(intensity),
                     "X-Bitrate": str(bitrate)},
        )

    app.state.streams = streams

    @app.get("/api/stats")
    async def stats() -> dict:
        """The engine's counters (every stream of this server shares one engine) and the
        number of open streams; the counters are empty before the first stream opens."""
        with streams_lock:
            any_stream = next(iter(streams.values()), None)
            open_streams = len(streams)
        counters = any_stream.stats() if any_stream is not None else {}
        return {"open_streams": open_streams, **counters}

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/web/index.html?api=/api")

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
    return app


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Caps glibc's malloc arenas (``mallopt(M_ARENA_MAX)``), before the worker threads exist.

    glibc gives each thread that allocates under contention an arena of its own and keeps what
    is freed there; chunk renders on several threads then leave hundreds of MB resident. Two
    3-minute soak runs at the same request rate measured the server's RSS at 538-655 MB with
    the default and 360-430 MB with two arenas (RELIABILITY.md). The same as ``MALLOC_ARENA_MAX=2`` in
    the environment; an explicit ``MALLOC_ARENA_MAX`` wins. Returns whether the cap was set.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return libc.mallopt(-8, arenas) == 1  # -8 is M_ARENA_MAX in glibc's malloc.h
    except (OSError, AttributeError):
        return False  # not glibc


def main() -> None:
    import uvicorn

    limit_malloc_arenas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, help="a folder of audio files to add")
    parser.add_argument("--cache-dir", help="the engine's disk cache directory")
    parser.add_argument("--chunk-seconds", type=float, default=30.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app = create_app(default_library(args.library), args.cache_dir, args.chunk_seconds)
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
