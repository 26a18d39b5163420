"""The streaming server: auralis_core behind the backend's unified streaming endpoints (FastAPI).

    GET /api/tracks                                   the library: [{"id", "name", "title", "artist",
                                                      "album", "track", "disc"}] (from the tags),
                                                      albums first, by disc and track
    POST /api/queue  {"tracks": [ids], "joins": "gapless" | seconds | [...], "preset", "intensity",
                      "album_gain", "container",      a queue: its id, timeline, items (titles,
                      "layout", "replaces"}
                                                      durations, what the mastering did), chunks;
                                                      with "replaces" (the id of the queue it
                                                      edits), "unchanged_chunks": how many leading
                                                      chunks are the same bytes in both
    GET /api/queue/{queue_id}/init                    the queue's init segment
    GET /api/queue/{queue_id}/chunk/{i}?transition_from={other_id}
                                                      chunk i of the queue's timeline (X-Cache);
                                                      with transition_from (the same queue under
                                                      another preset: A/B), crossfading from it
    GET /api/queue/{queue_id}/playlist.m3u8           an MP4 queue as an HLS media playlist
    GET /api/queue/{queue_id}/item/{i}/after          what the mastering made of item i, measured
                                                      (loudness, range, true peak of its output)
    GET /api/stream/{track_id}/metadata               duration, total_chunks, chunk_duration, mime,
                                                      mimes (each container's types), ...
    GET /api/stream/{track_id}/init                   the init segment
    GET /api/stream/{track_id}/chunk/{i}?preset=&intensity=&transition_from=&bitrate=
                                                      chunk i's media segment, streamed cluster by
                                                      cluster (X-Cache: MISS / HIT-MEMORY / ...)
    GET /api/stream/{track_id}/playlist.m3u8          an HLS media playlist over the fMP4 init
                                                      and chunk URLs (container=mp4 implied)
    GET /api/health                                   {"status": "ok", "version", "tracks"}: the
                                                      server is up and its engine loads
    GET /                                             the web player (auralis_core/web/)

Every stream request takes ``container=webm|mp4`` (default webm): the init segment, the chunks
and the metadata's ``mime`` follow it. A chunk is encoded once and served in either container
(the cache keeps one form), so a Safari client asking MP4 after a Chrome client asked WebM costs
no encode. ``bitrate`` (bit/s, default 128000) may change from one chunk to the next: the init
segment does not depend on it, so a player switches bitrate at a chunk boundary without a gap.
``transition_from`` is ``preset`` or ``preset:intensity``: the chunk starts as that setting's
audio and crossfades into the requested one (a preset switch at a chunk boundary).

HTTP caching (for browsers and CDNs): the init and chunk responses carry a strong ``ETag`` made
from the chunk's cache key (the file's content signature, every setting, the index, the
container; computed without rendering), answer ``If-None-Match`` with ``304`` before any work,
and serve byte ranges (``Range``, ``206``; ``If-Range`` honoured; ``Accept-Ranges: bytes``). The
metadata gives the file's content ``version``; URLs that carry it (``&v=VERSION``, as the web
player sends them) name their content and are served ``Cache-Control: public,
max-age=31536000, immutable``, so any cache may keep them for good (a ``v`` that is no longer
the file's gets ``410``: fetch the metadata again); URLs without it get ``no-cache`` (revalidate
with the ETag). Equal URLs give equal bytes from any worker process or machine with this
library version.

Errors are JSON: 404 unknown track (or file gone), 416 chunk index past the end (or a byte
range past the end), 422 bad parameters or an unreadable file, 409 a file that changed while
open, 410 a content version that is no longer the file's. DSP never runs on the
event loop: every call into the engine runs on a thread (the engine releases the GIL). Calls
that may wait for a computation elsewhere (opening a stream, claiming a chunk another request
or another process is rendering) run on one pool, and the calls that advance a response being
streamed on another, so that waiting requests can never take every thread from the request
whose progress they wait for.

Run: ``auralis-core serve [--library DIR ...] [--cache-dir DIR] [--chunk-seconds S]
[--host 127.0.0.1] [--port 8000] [--workers N]`` (or ``python -m auralis_core serve``), after
``pip install 'auralis-core[server]'``, then open http://127.0.0.1:8000/. The library is the
built-in demo plus every audio file directly in each DIR, by file name without its extension. With
``--workers N`` uvicorn runs N processes; give them one ``--cache-dir`` and a chunk is rendered
once whichever worker is asked (the engine's cross-process single flight), and every worker
serves the same bytes. From Python: ``create_app(library, cache_dir, chunk_seconds)`` returns the
ASGI app for any ASGI server.

The modules: ``app`` (the endpoints), ``http`` (ETags, byte ranges, queue ids), ``library``
(finding tracks), ``cli`` (the command line and the worker processes' start).
"""

from .app import create_app
from .cli import app_from_environment, limit_malloc_arenas, main
from .library import default_library, demo_file, scan

__all__ = [
    "create_app", "main", "app_from_environment", "limit_malloc_arenas", "default_library",
    "demo_file", "scan",
]
