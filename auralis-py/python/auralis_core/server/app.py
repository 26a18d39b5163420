"""The server's endpoints (see the package docs): ``create_app`` builds the FastAPI app."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from fastapi import Body, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import auralis_core as ac

from .http import (
    StaleVersion, etag_matches, parse_range, parse_transition, queue_id_of, queue_request_of,
)
from .library import default_library

MAX_OPEN_STREAMS = 256
MAX_OPEN_QUEUES = 64
MAX_QUEUE_ITEMS = 500
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def measures(analysis: dict) -> dict:
    """The three figures a player shows of an analysis (its JSON as the engine writes it)."""
    return {
        "loudness_lufs": analysis.get("integrated_lufs"),
        "range_lu": analysis.get("loudness_range_lu"),
        "true_peak_dbtp": analysis.get("true_peak_dbtp"),
    }


def mastering_figures(analysis: dict, mastering: dict) -> dict:
    """The source's figures (``before``) and what the chain aims at (``target``)."""
    return {
        "before": measures(analysis),
        "target": {
            "loudness_lufs": mastering.get("target_lufs"),
            "true_peak_ceiling_dbtp": mastering.get("ceiling_dbtp"),
        },
    }


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

    # See the module docs: calls that may wait, and calls that stream (which never wait for
    # another request).
    waiting_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="auralis-wait")
    streaming_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="auralis-stream")

    async def may_wait(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(waiting_pool, functools.partial(fn, *args))

    async def streams_on(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(streaming_pool, functools.partial(fn, *args))

    async def units(clusters):
        """A chunk's Clusters (or MP4 fragments) as a response body, each encoded on the
        streaming pool and sent as soon as it is made."""
        while True:
            cluster = await streams_on(next, clusters, None)
            if cluster is None:
                return
            yield cluster

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

    @app.exception_handler(StaleVersion)
    async def _stale(_: Request, exc: Exception) -> JSONResponse:
        return error(410, exc)

    # Every error has one shape, {"error": name, "detail": one readable line}, including
    # FastAPI's own (an unknown id, a query that fails validation).
    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed"}
        return JSONResponse(status_code=exc.status_code, headers=getattr(exc, "headers", None),
                            content={"error": names.get(exc.status_code, "HTTPError"), "detail": str(exc.detail)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        def where(loc) -> str:
            return " ".join(str(x) for x in loc if x not in ("query", "path", "body"))

        detail = "; ".join(f"{where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"error": "InvalidRequest", "detail": detail})

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
        return await may_wait(open_stream, track_id, preset, intensity, container, bitrate)

    Preset = Query("adaptive", description="adaptive, gentle, warm, bright, punchy, live or none")
    Intensity = Query(1.0, ge=0.0, le=1.0)
    Container = Query("webm", pattern="^(webm|mp4)$", description="webm or mp4")
    Bitrate = Query(128000, description="Opus bitrate in bit/s (the engine checks its range)")
    media_types = {"webm": "audio/webm", "mp4": "audio/mp4"}

    @app.get("/api/tracks")
    async def list_tracks() -> list:
        entries = await may_wait(lambda: [track_entry(k) for k in tracks])
        # Albums together, in disc and track order; then the rest as the library lists them.
        return sorted(entries, key=lambda e: (e["album"] is None, e["album"] or "", e["disc"] or 0,
                                              e["track"] or 0))

    @app.get("/api/stream/{track_id}/metadata")
    async def metadata(
        track_id: str, preset: str = Preset, intensity: float = Intensity, container: str = Container
    ) -> dict:
        stream = await get_stream(track_id, preset, intensity, container)
        info = stream.info
        return {
            "track_id": track_id,
            # The file's content signature: add it to init and chunk URLs as ``v`` to make them
            # name their content (cacheable for good).
            "version": stream.signature,
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

    @app.get("/api/stream/{track_id}/mastering")
    async def mastering(track_id: str, preset: str = Preset, intensity: float = Intensity) -> dict:
        """What the mastering does to the track with these settings: the source's loudness,
        loudness range and true peak (``before``), what the chain aims at (``target``) and the
        same measures of its output over the same excerpts (``after``, about an analysis's
        time, so asked for apart from the metadata)."""
        stream = await get_stream(track_id, preset, intensity, "webm")
        figures = mastering_figures(json.loads(stream.analysis_json), json.loads(stream.mastering_json))
        figures["after"] = measures(json.loads(await may_wait(stream.output_analysis_json)))
        return {"track_id": track_id, "preset": stream.info["preset"],
                "intensity": stream.info["intensity"], **figures}

    def caching(stream: ac.Stream, v: Optional[str], etag: str) -> Dict[str, str]:
        """The validator and freshness headers of an init or chunk response."""
        if v is not None and v != stream.signature:
            raise StaleVersion(f"content version {v!r} is not the file's now: fetch the metadata again")
        return {"ETag": etag, "Cache-Control": IMMUTABLE if v is not None else REVALIDATE,
                "Accept-Ranges": "bytes"}

    def conditional(request: Request, headers: Dict[str, str]) -> Optional[Response]:
        """``304`` when the client's copy is current (before any work)."""
        inm = request.headers.get("if-none-match")
        if inm is not None and etag_matches(inm, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        return None

    def wants_range(request: Request, etag: str) -> Optional[str]:
        """The ``Range`` header to honour, if any (``If-Range`` must name the current bytes)."""
        rng = request.headers.get("range")
        if rng is None:
            return None
        if_range = request.headers.get("if-range")
        return rng if if_range is None or if_range.strip() == etag else None

    def ranged(body: bytes, rng: str, headers: Dict[str, str], media_type: str) -> Response:
        """The part of ``body`` a ``Range`` header asks for: ``206``, ``416`` or the whole."""
        part = parse_range(rng, len(body))
        if part is None:
            return Response(body, media_type=media_type, headers=headers)
        if part == "unsatisfiable":
            return JSONResponse(
                status_code=416,
                content={"error": "RangeNotSatisfiable", "detail": f"{rng!r} of {len(body)} bytes"},
                headers={"Content-Range": f"bytes */{len(body)}"},
            )
        start, end = part
        return Response(body[start:end + 1], status_code=206, media_type=media_type,
                        headers={**headers, "Content-Range": f"bytes {start}-{end}/{len(body)}"})

    Version = Query(None, description="the file's content version from the metadata: makes the URL name its content")

    @app.get("/api/stream/{track_id}/init")
    async def init(
        request: Request,
        track_id: str, preset: str = Preset, intensity: float = Intensity, container: str = Container,
        v: Optional[str] = Version,
    ) -> Response:
        stream = await get_stream(track_id, preset, intensity, container)
        headers = caching(stream, v, stream.init_etag())
        media_type = media_types[container]
        not_modified = conditional(request, headers)
        if not_modified is not None:
            return not_modified
        rng = wants_range(request, headers["ETag"])
        if rng is not None:
            return ranged(stream.init_segment(), rng, headers, media_type)
        return Response(stream.init_segment(), media_type=media_type, headers=headers)

    @app.get("/api/stream/{track_id}/playlist.m3u8")
    async def playlist(track_id: str, preset: str = Preset, intensity: float = Intensity,
                       bitrate: int = Bitrate) -> Response:
        stream = await get_stream(track_id, preset, intensity, "mp4", bitrate)
        q = f"preset={preset}&intensity={intensity}&container=mp4"
        text = stream.hls_playlist(f"init?{q}", f"chunk/{{index}}?{q}&bitrate={bitrate}")
        return Response(text, media_type="application/vnd.apple.mpegurl")

    @app.get("/api/stream/{track_id}/chunk/{index}")
    async def chunk(
        request: Request,
        track_id: str,
        index: int = PathParam(ge=0, le=2**31),
        preset: str = Preset,
        intensity: float = Intensity,
        transition_from: Optional[str] = Query(None, description="preset or preset:intensity"),
        container: str = Container,
        bitrate: int = Bitrate,
        v: Optional[str] = Version,
    ) -> Response:
        stream = await get_stream(track_id, preset, intensity, container, bitrate)
        transition = parse_transition(transition_from)
        extra = {"X-Preset": preset, "X-Intensity": str(intensity), "X-Bitrate": str(bitrate)}
        return await segment_response(request, stream, v, container, extra, stream.chunk_etag,
                                      stream.media_segment, stream.iter_chunk, index, transition)

    async def segment_response(request: Request, stream: ac.Stream, v: Optional[str], container: str,
                               extra: Dict[str, str], etag_of, whole, unit_by_unit, *args) -> Response:
        """A media segment's response (a chunk, or a switch at the playhead): checked and tagged
        without rendering (``etag_of(*args)``), ``304`` for a current copy, a byte range of the
        whole segment (``whole(*args)``), else sent unit by unit (``unit_by_unit(*args)``; on a
        miss the audio is rendered before the first byte, then each unit as it is encoded)."""
        etag = await may_wait(etag_of, *args)
        headers = {**caching(stream, v, etag), **extra}
        media_type = media_types[container]
        not_modified = conditional(request, headers)
        if not_modified is not None:
            return not_modified
        rng = wants_range(request, etag)
        if rng is not None:
            # A range needs the whole segment's length: render (or read) it whole.
            body, origin = await may_wait(whole, *args)
            return ranged(body, rng, {**headers, "X-Cache": origin}, media_type)
        clusters = await may_wait(unit_by_unit, *args)
        return StreamingResponse(units(clusters), media_type=media_type,
                                 headers={**headers, "X-Cache": clusters.origin})

    @app.get("/api/stream/{track_id}/switch/{at_frame}")
    async def switch(
        request: Request,
        track_id: str,
        at_frame: int = PathParam(ge=0, le=2**48, description="48 kHz frame on the 20 ms packet grid"),
        preset: str = Preset,
        intensity: float = Intensity,
        transition_from: Optional[str] = Query(None, description="preset or preset:intensity"),
        container: str = Container,
        bitrate: int = Bitrate,
        v: Optional[str] = Version,
    ) -> Response:
        """A switch at the playhead: from ``at_frame`` to the end of the chunk playing there,
        the new settings' audio crossfaded from ``transition_from``'s over the fade starting at
        that frame. The player removes what it buffered from ``at_frame / 48000`` s on and
        appends this, then the next chunks in the new settings (``X-Chunk`` names the chunk it
        ends). Sent unit by unit as a chunk is, the first as soon as it is encoded."""
        stream = await get_stream(track_id, preset, intensity, container, bitrate)
        transition = parse_transition(transition_from)
        chunk_frames = round(stream.info["chunk_duration"] * 48000)
        extra = {"X-Preset": preset, "X-Intensity": str(intensity), "X-Bitrate": str(bitrate),
                 "X-Chunk": str(at_frame // chunk_frames)}
        return await segment_response(request, stream, v, container, extra, stream.chunk_etag_at,
                                      stream.media_segment_at, stream.iter_chunk_at, at_frame, transition)

    app.state.streams = streams

    # ---- tags and queues ----

    tag_cache: Dict[Tuple[str, float], dict] = {}

    def tags_of(track_id: str) -> dict:
        path = tracks[track_id]
        try:
            key = (str(path), path.stat().st_mtime)
        except OSError:
            return {}  # a file gone: listed by its name (asking for it gives 404)
        if key not in tag_cache:
            try:
                tag_cache[key] = ac.read_tags(str(path))
            except ac.AuralisError:
                tag_cache[key] = {}
        return tag_cache[key]

    def track_entry(track_id: str) -> dict:
        t = tags_of(track_id)
        return {
            "id": track_id,
            "name": tracks[track_id].name,
            "title": t.get("title") or tracks[track_id].stem,
            "artist": t.get("artist"),
            "album": t.get("album"),
            "album_artist": t.get("album_artist"),
            "track": t.get("track"),
            "disc": t.get("disc"),
            # Seconds, from the file as the decoder opens it; None for a file it cannot open.
            "duration": t.get("duration"),
        }

    queues: "OrderedDict[str, ac.Queue]" = OrderedDict()
    app.state.queues = queues
    queues_lock = threading.Lock()

    def checked_queue_request(body: Dict[str, Any]) -> Dict[str, Any]:
        ids = body.get("tracks")
        if not isinstance(ids, list) or not ids or len(ids) > MAX_QUEUE_ITEMS:
            raise ac.InvalidArgumentError(f"tracks: a list of 1 to {MAX_QUEUE_ITEMS} track ids")
        for track_id in ids:
            if track_id not in tracks:
                raise HTTPException(status_code=404, detail=f"unknown track {track_id!r}")
        joins = body.get("joins", "gapless")
        if isinstance(joins, list):
            if len(joins) != len(ids) - 1:
                raise ac.InvalidArgumentError("joins: one per boundary (len(tracks) - 1)")
        elif not (joins == "gapless" or isinstance(joins, (int, float))):
            raise ac.InvalidArgumentError('joins: "gapless", a crossfade in seconds, or a list of them')
        intensity = body.get("intensity", 1.0)
        if not isinstance(intensity, (int, float)):
            raise ac.InvalidArgumentError("intensity: a number from 0 to 1")
        # "webm" (a "shared" layout unless "continuous", for Firefox) or "mp4" (Safari, iOS:
        # always "continuous"); checked by the engine when the queue opens.
        container = str(body.get("container", "webm"))
        layout = body.get("layout")
        if layout is not None and not isinstance(layout, str):
            raise ac.InvalidArgumentError('layout: "shared" or "continuous"')
        request = {
            "tracks": ids,
            "joins": joins,
            "preset": str(body.get("preset", "adaptive")),
            "intensity": float(intensity),
            "album_gain": bool(body.get("album_gain", False)),
        }
        # Only when not the defaults, so that the ids of WebM queues stay as they were.
        if container != "webm":
            request["container"] = container
        if layout is not None:
            request["layout"] = layout
        return request

    def open_queue(queue_id: str, request: Dict[str, Any]) -> ac.Queue:
        with queues_lock:
            queue = queues.get(queue_id)
            if queue is not None:
                queues.move_to_end(queue_id)
                return queue
        ids = request["tracks"]
        albums = None
        if request["album_gain"]:
            # The album of each track from its tags (the engine does the same when not told;
            # said here so that the server's grouping is visible in the metadata).
            albums = [tags_of(t).get("album") for t in ids]
        queue = ac.Queue(
            [str(tracks[t]) for t in ids],
            joins=request["joins"],
            presets=request["preset"],
            intensity=request["intensity"],
            chunk_seconds=chunk_seconds,
            cache_dir=cache_dir,
            album_gain=request["album_gain"],
            albums=albums,
            container=request.get("container", "webm"),
            layout=request.get("layout"),
        )
        with queues_lock:
            queue = queues.setdefault(queue_id, queue)
            while len(queues) > MAX_OPEN_QUEUES:
                queues.popitem(last=False)
        return queue

    def queue_media_type(queue: ac.Queue) -> str:
        return "audio/mp4" if queue.info["container"] == "mp4" else "audio/webm"

    async def get_queue(queue_id: str) -> ac.Queue:
        request = checked_queue_request(queue_request_of(queue_id))
        return await may_wait(open_queue, queue_id, request)

    def queue_metadata(queue_id: str, request: Dict[str, Any], queue: ac.Queue) -> dict:
        info = queue.info
        items = []
        for track_id, item in zip(request["tracks"], queue.items):
            analysis = json.loads(item["analysis_json"])
            mastering = json.loads(item["mastering_json"])
            items.append({
                **track_entry(track_id),
                "start": item["start"],
                "duration": item["duration"],
                "played": item["played_frames"] / info["sample_rate"],
                "first_chunk": item["first_chunk"],
                "gain_db": item["gain_db"],
                # What the mastering did: the source's measures, and what the chain aims at;
                # the measured output is /item/{i}/after.
                **mastering_figures(analysis, mastering),
            })
        chunks = [queue.chunk(k) for k in range(info["total_chunks"])]
        return {
            "queue_id": queue_id,
            "duration": info["duration"],
            "total_chunks": info["total_chunks"],
            "chunk_duration": info["chunk_duration"],
            "mime": info["mime"],
            "container": info["container"],
            "layout": info["layout"],
            "preset": request["preset"],
            "intensity": request["intensity"],
            "album_gain": request["album_gain"],
            "items": items,
            "chunks": [
                {"index": c["index"], "start": c["start"], "end": c["end"], "item": c["item"],
                 "boundary": c["boundary"]}
                for c in chunks
            ],
        }

    @app.post("/api/queue")
    async def create_queue(body: Dict[str, Any] = Body(...)) -> dict:
        request = checked_queue_request(body)
        queue_id = queue_id_of(request)
        queue = await may_wait(open_queue, queue_id, request)
        meta = queue_metadata(queue_id, request, queue)
        # An edit of a queue being played ("replaces": its id): how many leading chunks are the
        # same bytes in both, which the player keeps.
        replaces = body.get("replaces")
        if isinstance(replaces, str):
            old = await get_queue(replaces)
            meta["unchanged_chunks"] = old.unchanged_chunks(queue)
        return meta

    @app.get("/api/queue/{queue_id}/metadata")
    async def queue_info(queue_id: str) -> dict:
        request = checked_queue_request(queue_request_of(queue_id))
        queue = await may_wait(open_queue, queue_id, request)
        return queue_metadata(queue_id, request, queue)

    @app.get("/api/queue/{queue_id}/init")
    async def queue_init(queue_id: str) -> Response:
        queue = await get_queue(queue_id)
        return Response(queue.init_segment(), media_type=queue_media_type(queue),
                        headers={"Cache-Control": REVALIDATE})

    @app.get("/api/queue/{queue_id}/chunk/{index}")
    async def queue_chunk(queue_id: str, index: int = PathParam(ge=0, le=2**31),
                          transition_from: Optional[str] = None) -> Response:
        queue = await get_queue(queue_id)
        source = await get_queue(transition_from) if transition_from else None
        # As for a track's chunk: sent unit by unit, the first as soon as it is encoded.
        clusters = await may_wait(queue.iter_chunk, index, source)
        return StreamingResponse(units(clusters), media_type=queue_media_type(queue),
                                 headers={"X-Cache": clusters.origin, "Cache-Control": REVALIDATE})

    @app.get("/api/queue/{queue_id}/switch/{at_frame}")
    async def queue_switch(queue_id: str,
                           at_frame: int = PathParam(ge=0, le=2**48),
                           transition_from: Optional[str] = None) -> Response:
        """A switch at the playhead on the queue's timeline (A/B, a preset change): from queue
        frame ``at_frame`` to the end of the chunk playing there, this queue's audio crossfaded
        from ``transition_from``'s (another queue id on the same timeline)."""
        queue = await get_queue(queue_id)
        source = await get_queue(transition_from) if transition_from else None
        clusters = await may_wait(queue.iter_chunk_at, at_frame, source)
        return StreamingResponse(units(clusters), media_type=queue_media_type(queue),
                                 headers={"X-Cache": clusters.origin, "Cache-Control": REVALIDATE})

    @app.get("/api/queue/{queue_id}/item/{index}/after")
    async def queue_item_after(queue_id: str, index: int = PathParam(ge=0, le=2**31)) -> dict:
        """The analysis of item ``index``'s mastered output (with its gain in this queue) over
        the excerpts its source analysis measured: the "after" beside the metadata's "before"."""
        queue = await get_queue(queue_id)
        if index >= queue.info["items"]:
            raise ac.IndexOutOfRangeError(f"item {index} of {queue.info['items']}")
        return measures(json.loads(await may_wait(queue.item_output_analysis_json, index)))

    @app.get("/api/queue/{queue_id}/playlist.m3u8")
    async def queue_playlist(queue_id: str) -> Response:
        queue = await get_queue(queue_id)
        text = queue.hls_playlist("init", "chunk/{index}")
        return Response(text, media_type="application/vnd.apple.mpegurl")

    @app.get("/api/stats")
    async def stats() -> dict:
        """The engine's counters (every stream of this server shares one engine) and the
        number of open streams; the counters are empty before the first stream opens."""
        with streams_lock:
            any_stream = next(iter(streams.values()), None)
            open_streams = len(streams)
        counters = any_stream.stats() if any_stream is not None else {}
        return {"open_streams": open_streams, **counters}

    @app.get("/api/health")
    async def health() -> dict:
        """Up, with the library's version and size: for load balancers and install checks."""
        return {"status": "ok", "version": ac.__version__, "tracks": len(tracks)}

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/web/index.html?api=/api")

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
    return app
