"""The packaged server (``auralis_core.server``) under TestClient: endpoints, bytes equal the
native stream's, errors map to 404 / 416 / 422 with JSON bodies; and ``auralis-core serve`` as a
process."""

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import auralis_core as ac

from auralis_core.server import app as server_app
from auralis_core.server import cli as server_cli

# The server as a process, as a user starts it (``auralis-core serve``).
SERVE = [sys.executable, "-m", "auralis_core", "serve"]


@pytest.fixture
def client(make_wav, tmp_path):
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"\x55" * 4096)
    library = {"song": make_wav(65.0), "garbage": garbage, "gone": tmp_path / "gone.wav"}
    with TestClient(server_app.create_app(library, cache_dir=str(tmp_path / "cache"))) as c:
        yield c, library


def test_metadata_init_and_chunks_equal_the_native_stream(client):
    c, library = client
    listed = c.get("/api/tracks").json()
    assert [t["id"] for t in listed] == ["song", "garbage", "gone"]
    # The library lists each track's duration (None for a file the decoder cannot open).
    assert [t["duration"] for t in listed] == [pytest.approx(65.0), None, None]
    meta = c.get("/api/stream/song/metadata", params={"preset": "warm", "intensity": 0.5})
    assert meta.status_code == 200
    m = meta.json()
    assert m["total_chunks"] == 3 and m["chunk_duration"] == 30.0
    assert m["duration"] == pytest.approx(65.0) and m["mime"] == ac.MIME
    assert (m["preset"], m["intensity"]) == ("warm", 0.5)
    native = ac.Stream(str(library["song"]), preset="warm", intensity=0.5)
    init = c.get("/api/stream/song/init", params={"preset": "warm", "intensity": 0.5})
    assert init.status_code == 200 and init.content == native.init_segment()
    for i in range(3):
        r = c.get(f"/api/stream/song/chunk/{i}", params={"preset": "warm", "intensity": 0.5})
        assert r.status_code == 200 and r.headers["content-type"] == "audio/webm"
        assert r.headers["x-cache"] in ("MISS", "HIT-MEMORY", "HIT-DISK", "HIT-SHARED")
        assert init.content + r.content == native.chunk_file(i)
    again = c.get("/api/stream/song/chunk/1", params={"preset": "warm", "intensity": 0.5})
    assert again.headers["x-cache"] == "HIT-MEMORY"
    switched = c.get("/api/stream/song/chunk/1",
                     params={"preset": "bright", "transition_from": "warm:0.5"})
    assert switched.status_code == 200
    bright = ac.Stream(str(library["song"]), preset="bright")
    assert switched.content == bright.media_segment(1, transition_from=("warm", 0.5))[0]
    # A switch at the playhead: the rest of chunk 1 from 41.5 s, bright from warm.
    at = 41 * 48000 + 25 * 960
    tail = c.get(f"/api/stream/song/switch/{at}", params={"preset": "bright", "transition_from": "warm:0.5"})
    assert tail.status_code == 200 and tail.headers["x-chunk"] == "1"
    assert tail.content == bright.media_segment_at(at, ("warm", 0.5))[0]
    assert tail.headers["etag"] == bright.chunk_etag_at(at, ("warm", 0.5))
    assert c.get(f"/api/stream/song/switch/{at}", params={"preset": "bright", "transition_from": "warm:0.5"},
                 headers={"If-None-Match": tail.headers["etag"]}).status_code == 304
    off = c.get(f"/api/stream/song/switch/{at + 1}", params={"preset": "bright", "transition_from": "warm"})
    assert off.status_code == 422 and "packet grid" in off.text
    assert c.get(f"/api/stream/song/switch/{70 * 48000}", params={"preset": "bright"}).status_code == 416


def test_containers_and_bitrates_are_negotiated_per_request(client):
    c, library = client
    m = c.get("/api/stream/song/metadata", params={"container": "mp4"}).json()
    assert m["container"] == "mp4" and m["mime"] == ac.MIME_MP4
    assert [x["mime"] for x in m["mimes"]] == [ac.MIME, ac.MIME_MP4_SAFARI, ac.MIME_MP4]
    webm = c.get("/api/stream/song/chunk/1")
    assert webm.headers["x-cache"] == "MISS"
    # The same chunk in MP4: from the WebM entry, nothing encoded.
    mp4 = c.get("/api/stream/song/chunk/1", params={"container": "mp4"})
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "audio/mp4"
    assert mp4.headers["x-cache"] == "HIT-MEMORY" and mp4.content[4:8] == b"moof"
    native = ac.Stream(str(library["song"]), container="mp4")
    init = c.get("/api/stream/song/init", params={"container": "mp4"})
    assert init.headers["content-type"] == "audio/mp4" and init.content == native.init_segment()
    assert init.content + mp4.content == native.chunk_file(1)
    # Another bitrate for one chunk: its own entry, the same init segment.
    low = c.get("/api/stream/song/chunk/2", params={"container": "mp4", "bitrate": 64000})
    assert low.status_code == 200 and low.headers["x-bitrate"] == "64000"
    assert low.content == native.with_bitrate(64000).media_segment(2)[0]
    assert c.get("/api/stream/song/init", params={"container": "mp4", "bitrate": 64000}).content == init.content
    playlist = c.get("/api/stream/song/playlist.m3u8")
    assert playlist.status_code == 200
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    lines = playlist.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert '#EXT-X-MAP:URI="init?preset=adaptive&intensity=1.0&container=mp4"' in lines
    # Each segment URI, resolved against the playlist's URL, serves that chunk's MP4 segment.
    uris = [line for line in lines if line.startswith("chunk/")]
    assert len(uris) == 3
    assert c.get("/api/stream/song/" + uris[1]).content == mp4.content


@pytest.mark.parametrize(
    "url, params, status",
    [
        ("/api/stream/nope/metadata", {}, 404),
        ("/api/stream/gone/metadata", {}, 404),
        ("/api/stream/song/chunk/3", {}, 416),
        ("/api/stream/song/chunk/99999", {}, 416),
        ("/api/stream/song/chunk/-1", {}, 422),
        ("/api/stream/song/chunk/x", {}, 422),
        ("/api/stream/song/metadata", {"preset": "loud"}, 422),
        ("/api/stream/song/metadata", {"intensity": 2}, 422),
        ("/api/stream/song/metadata", {"intensity": "NaN"}, 422),
        ("/api/stream/song/switch/961", {"transition_from": "warm"}, 422),
        ("/api/queue/nope/metadata", {}, 404),
        ("/api/stream/song/chunk/0", {"transition_from": "loud"}, 422),
        ("/api/stream/song/chunk/0", {"transition_from": "warm:abc"}, 422),
        ("/api/stream/garbage/metadata", {}, 422),
        ("/api/stream/song/init", {"container": "ogg"}, 422),
        ("/api/stream/song/chunk/0", {"container": "ogg"}, 422),
        ("/api/stream/song/chunk/0", {"bitrate": 1}, 422),
        ("/api/stream/song/chunk/0", {"bitrate": "fast"}, 422),
    ],
)
def test_bad_requests_get_documented_status_codes_with_json(client, url, params, status):
    c, _ = client
    r = c.get(url, params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    # One shape for every error: a name and one readable line.
    body = r.json()
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["detail"], str) and body["detail"] and "\n" not in body["detail"], body


def test_the_player_is_served(client):
    c, _ = client
    r = c.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"].startswith("/web/index.html")
    assert c.get("/web/index.html").status_code == 200
    assert c.get("/web/player.js").status_code == 200


def test_stats_report_the_shared_engine_counters(client):
    c, _ = client
    assert c.get("/api/stats").json() == {"open_streams": 0}
    params = {"preset": "warm"}
    assert c.get("/api/stream/song/chunk/0", params=params).status_code == 200
    first = c.get("/api/stats").json()
    assert first["open_streams"] == 1 and first["computed"] >= 1, first
    assert first["memory_bytes"] > 0, first
    again = c.get("/api/stream/song/chunk/0", params=params)
    assert again.headers["x-cache"] == "HIT-MEMORY"
    second = c.get("/api/stats").json()
    assert second["memory_hits"] >= first["memory_hits"] + 1, (first, second)


def test_open_streams_are_bounded_least_recently_used_first(make_wav, tmp_path, monkeypatch):
    monkeypatch.setattr(server_app, "MAX_OPEN_STREAMS", 3)
    library = {"song": make_wav(5.0)}
    app = server_app.create_app(library, cache_dir=str(tmp_path / "cache"))
    with TestClient(app) as c:
        for intensity in (0.1, 0.2, 0.3, 0.1, 0.4, 0.5):
            r = c.get("/api/stream/song/metadata", params={"intensity": intensity})
            assert r.status_code == 200
    # 0.1 was used again after 0.2 and 0.3, so those two were the ones dropped.
    assert [k[2] for k in app.state.streams] == [0.1, 0.4, 0.5]


def test_malloc_arenas_are_capped_unless_the_environment_says_otherwise(monkeypatch):
    import platform

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    # mallopt returns 1 on success: glibc takes the cap; elsewhere there is nothing to cap.
    assert server_cli.limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert server_cli.limit_malloc_arenas() is False


def test_chunks_and_init_are_cacheable_by_content_with_etags_304_and_ranges(client):
    c, library = client
    q = {"preset": "warm", "intensity": 0.5}
    meta = c.get("/api/stream/song/metadata", params=q).json()
    native = ac.Stream(str(library["song"]), preset="warm", intensity=0.5)
    assert meta["version"] == native.signature == ac._native.file_signature(str(library["song"]))
    v = {**q, "v": meta["version"]}

    # Content-named URLs: immutable; plain ones revalidate. Strong ETags, equal to the native's.
    full = c.get("/api/stream/song/chunk/1", params=v)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = full.headers["etag"]
    assert etag == native.chunk_etag(1) and etag.startswith('"') and not etag.startswith('W/')
    assert full.content == native.media_segment(1)[0]
    plain = c.get("/api/stream/song/chunk/1", params=q)
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"] == etag
    # Tags differ wherever bytes differ: index, settings, container, transition.
    tags = {
        etag,
        native.chunk_etag(0),
        native.with_mastering("bright").chunk_etag(1),
        native.with_container("mp4").chunk_etag(1),
        native.with_bitrate(96000).chunk_etag(1),
        native.chunk_etag(1, transition_from=("bright", 1.0)),
    }
    assert len(tags) == 6

    # 304 before any work: a fresh chunk (index 2, never rendered) is not rendered for it.
    before = c.get("/api/stats").json()["computed"]
    tag2 = native.chunk_etag(2)
    r = c.get("/api/stream/song/chunk/2", params=v, headers={"If-None-Match": f'W/"x", {tag2}'})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == tag2
    assert c.get("/api/stats").json()["computed"] == before
    r = c.get("/api/stream/song/chunk/1", params=v, headers={"If-None-Match": '"other"'})
    assert r.status_code == 200 and r.content == full.content

    # Byte ranges of a chunk and of the init segment.
    body = full.content
    for header, (start, end) in [("bytes=0-99", (0, 99)), ("bytes=100-", (100, len(body) - 1)),
                                 ("bytes=-50", (len(body) - 50, len(body) - 1)),
                                 (f"bytes=10-{10 * len(body)}", (10, len(body) - 1))]:
        r = c.get("/api/stream/song/chunk/1", params=v, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == body[start:end + 1]
        assert r.headers["content-range"] == f"bytes {start}-{end}/{len(body)}"
        assert r.headers["etag"] == etag
    r = c.get("/api/stream/song/chunk/1", params=v, headers={"Range": f"bytes={len(body)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(body)}"
    r = c.get("/api/stream/song/chunk/1", params=v, headers={"Range": "bytes=0-9,20-29"})
    assert r.status_code == 200 and r.content == body  # several ranges: the whole body
    r = c.get("/api/stream/song/chunk/1", params=v, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert r.status_code == 200 and r.content == body  # If-Range names other bytes: the whole
    r = c.get("/api/stream/song/chunk/1", params=v, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert r.status_code == 206 and r.content == body[:10]
    init = c.get("/api/stream/song/init", params=v)
    assert init.headers["etag"] == native.init_etag()
    assert init.headers["cache-control"] == "public, max-age=31536000, immutable"
    r = c.get("/api/stream/song/init", params=v, headers={"Range": "bytes=4-7"})
    assert r.status_code == 206 and r.content == init.content[4:8]
    r = c.get("/api/stream/song/init", params=v, headers={"If-None-Match": init.headers["etag"]})
    assert r.status_code == 304

    # A version that is no longer the file's: 410, never the new bytes under the old name.
    r = c.get("/api/stream/song/chunk/1", params={**q, "v": "0" * len(meta["version"])})
    assert r.status_code == 410 and r.json()["error"] == "StaleVersion"


def test_four_worker_processes_on_one_cache_render_each_chunk_once_and_serve_equal_bytes(make_wav, tmp_path):
    """``auralis-core serve --workers 4`` (uvicorn's worker processes) on one cache directory: concurrent
    requests for the same chunks (60 at once) land on different workers; each chunk is rendered by exactly
    one of them (one ``MISS`` per chunk, the others wait and read it) and every response has
    the bytes of the native stream."""
    import concurrent.futures
    import subprocess

    import httpx

    from conftest import free_port, stop_process_group, wait_for_server

    library = tmp_path / "library"
    library.mkdir()
    song = make_wav(125.0, name="song.wav")
    (library / "song.wav").write_bytes(song.read_bytes())
    port = free_port()
    server = subprocess.Popen(
        [*SERVE, "--workers", "4", "--port", str(port),
         "--library", str(library), "--cache-dir", str(tmp_path / "cache")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        wait_for_server(f"{base}/tracks", server)

        def fetch(index: int):
            # A new connection each time, so that requests spread over the workers.
            r = httpx.get(f"{base}/stream/song/chunk/{index}", timeout=60)
            assert r.status_code == 200, r.text
            return index, r.headers["x-cache"], r.content

        # More requests at once than a worker has threads: a server whose waiting requests
        # could take every thread from the one streaming the chunk they wait for deadlocks here
        # (one did, before its two thread pools).
        jobs = [i for i in range(5) for _ in range(12)]
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(fetch, jobs))
    finally:
        stop_process_group(server)
    native = ac.Stream(str(library / "song.wav"))
    for index in range(5):
        mine = [(origin, body) for i, origin, body in results if i == index]
        want = native.media_segment(index)[0]
        assert all(body == want for _, body in mine), f"chunk {index}: differing bytes"
        origins = [origin for origin, _ in mine]
        assert origins.count("MISS") == 1, f"chunk {index}: {origins}"
    # Which worker accepts which connection is the kernel's choice (all of them may land on one),
    # so the cross-process path is pinned by the next test, whose two servers are asked directly.


def test_two_server_processes_on_one_cache_render_each_chunk_once(make_wav, tmp_path):
    """Two separate server processes on one cache directory, each asked for the same chunks at
    the same time: each chunk is rendered once in all (one ``MISS``), and the server that did not
    render it read it from the disk (``HIT-DISK``) after waiting for the other, with equal bytes."""
    import concurrent.futures
    import subprocess

    import httpx

    from conftest import free_port, stop_process_group, wait_for_server

    library = tmp_path / "library"
    library.mkdir()
    song = make_wav(65.0, name="song.wav")
    (library / "song.wav").write_bytes(song.read_bytes())
    servers, bases = [], []
    try:
        for _ in range(2):
            port = free_port()
            servers.append(subprocess.Popen(
                [*SERVE, "--port", str(port),
                 "--library", str(library), "--cache-dir", str(tmp_path / "cache")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
            ))
            bases.append(f"http://127.0.0.1:{port}/api")
        for base, server in zip(bases, servers):
            wait_for_server(f"{base}/tracks", server)

        def fetch(job):
            which, index = job
            r = httpx.get(f"{bases[which]}/stream/song/chunk/{index}", timeout=60)
            assert r.status_code == 200, r.text
            return which, index, r.headers["x-cache"], r.content

        jobs = [(which, i) for i in range(3) for which in (0, 1) for _ in range(4)]
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(fetch, jobs))
    finally:
        for server in servers:
            stop_process_group(server)
    native = ac.Stream(str(library / "song.wav"))
    for index in range(3):
        want = native.media_segment(index)[0]
        mine = [(which, origin, body) for which, i, origin, body in results if i == index]
        assert all(body == want for _, _, body in mine), f"chunk {index}: differing bytes"
        origins = [(which, origin) for which, origin, _ in mine]
        misses = [which for which, origin in origins if origin == "MISS"]
        assert len(misses) == 1, f"chunk {index}: {origins}"
        other = 1 - misses[0]
        assert any(w == other and o == "HIT-DISK" for w, o in origins), f"chunk {index}: {origins}"


def test_a_queue_is_created_by_post_and_served_on_its_timeline(make_wav, tmp_path):
    """``POST /api/queue`` gives a self-describing id, the timeline, the items (titles from the
    tags or the file names, what the mastering did) and the chunks; the init and chunk endpoints
    serve the bytes of the native ``Queue``, from any server that knows the library."""
    library = {"a": make_wav(7.3, name="a.wav", seed=1), "b": make_wav(6.1, name="b.wav", seed=2)}
    app = server_app.create_app(library, cache_dir=str(tmp_path / "cache"), chunk_seconds=2.0)
    with TestClient(app) as c:
        tracks = c.get("/api/tracks").json()
        assert [t["title"] for t in tracks] == ["a", "b"]
        r = c.post("/api/queue", json={"tracks": ["a", "b"], "joins": 1.5, "preset": "gentle"})
        assert r.status_code == 200, r.text
        q = r.json()
        native = ac.Queue([str(library["a"]), str(library["b"])], joins=1.5, presets="gentle",
                          chunk_seconds=2.0)
        assert q["total_chunks"] == native.info["total_chunks"]
        assert q["duration"] == pytest.approx(native.info["duration"])
        assert [i["title"] for i in q["items"]] == ["a", "b"]
        assert q["items"][1]["start"] == pytest.approx(7.3 - 1.5, abs=1e-4)
        assert q["items"][0]["before"]["loudness_lufs"] < 0
        assert q["items"][0]["target"]["loudness_lufs"] is not None
        # What the mastering made of each item, measured on its output.
        for i in range(2):
            after = c.get(f"/api/queue/{q['queue_id']}/item/{i}/after").json()
            want = json.loads(native.item_output_analysis_json(i))
            assert after["loudness_lufs"] == pytest.approx(want["integrated_lufs"])
            assert after["true_peak_dbtp"] <= q["items"][i]["target"]["true_peak_ceiling_dbtp"] + 0.2
        assert c.get(f"/api/queue/{q['queue_id']}/item/2/after").status_code == 416
        assert q["chunks"][0]["start"] == 0.0 and q["chunks"][-1]["end"] == pytest.approx(q["duration"])
        qid = q["queue_id"]
        init = c.get(f"/api/queue/{qid}/init")
        assert init.status_code == 200 and init.content == native.init_segment()
        for k in range(q["total_chunks"]):
            chunk = c.get(f"/api/queue/{qid}/chunk/{k}")
            assert chunk.status_code == 200 and chunk.headers["x-cache"] in (
                "MISS", "HIT-MEMORY", "HIT-DISK", "HIT-SHARED")
            assert chunk.content == native.media_segment(k)[0], k
        # A/B: the same queue with preset none, its chunk 2 crossfading from the gentle one.
        plain = c.post("/api/queue", json={"tracks": ["a", "b"], "joins": 1.5, "preset": "none"}).json()
        native_plain = ac.Queue([str(library["a"]), str(library["b"])], joins=1.5, presets="none",
                                chunk_seconds=2.0)
        switched = c.get(f"/api/queue/{plain['queue_id']}/chunk/2?transition_from={qid}")
        assert switched.status_code == 200
        assert switched.content == native_plain.media_segment(2, transition_from=native)[0]
        assert switched.content != native_plain.media_segment(2)[0]
        assert c.get(f"/api/queue/{plain['queue_id']}/chunk/2?transition_from=nope").status_code == 404
        # A/B at the playhead: the rest of the chunk from frame 5.5 s on.
        at = 5 * 48000 + 25 * 960
        ab = c.get(f"/api/queue/{plain['queue_id']}/switch/{at}?transition_from={qid}")
        assert ab.status_code == 200
        assert ab.content == native_plain.media_segment_at(at, transition_from=native)[0]
        assert c.get(f"/api/queue/{plain['queue_id']}/switch/{at + 7}?transition_from={qid}").status_code == 422
        # An edit (the second track removed): the first chunks stay the same bytes.
        edit = c.post("/api/queue", json={"tracks": ["a", "a"], "joins": 1.5, "preset": "gentle",
                                          "replaces": qid}).json()
        edited = ac.Queue([str(library["a"])] * 2, joins=1.5, presets="gentle", chunk_seconds=2.0)
        assert edit["unchanged_chunks"] == native.unchanged_chunks(edited) > 0
        # Another server (another worker) serves the id without having seen the POST.
    with TestClient(server_app.create_app(library, chunk_seconds=2.0)) as other:
        assert other.get(f"/api/queue/{qid}/chunk/0").content == native.media_segment(0)[0]
        # Bad requests: JSON errors, nothing served.
        assert other.get(f"/api/queue/{qid}/chunk/{q['total_chunks']}").status_code == 416
        assert other.get("/api/queue/not-a-queue/init").status_code == 404
        assert other.post("/api/queue", json={"tracks": []}).status_code == 422
        assert other.post("/api/queue", json={"tracks": ["a", "nope"]}).status_code == 404
        assert other.post("/api/queue", json={"tracks": ["a", "b"], "joins": 20}).status_code == 422
        assert other.post("/api/queue", json={"tracks": ["a", "b"], "joins": ["gapless", 1]}).status_code == 422
        assert other.post("/api/queue", json={"tracks": ["a"], "preset": "loudest"}).status_code == 422


def test_an_mp4_queue_for_safari_is_served_as_fmp4_and_as_an_hls_playlist(make_wav, tmp_path):
    """``"container": "mp4"`` gives Safari's queue: the continuous layout, the native MP4
    ``Queue``'s bytes as audio/mp4, and an HLS playlist over its chunks (iPhones without MSE);
    a WebM queue has no playlist, a shared MP4 queue and an unknown container are refused."""
    library = {"a": make_wav(4.3, name="a.wav", seed=1), "b": make_wav(3.1, name="b.wav", seed=2)}
    app = server_app.create_app(library, cache_dir=str(tmp_path / "cache"), chunk_seconds=2.0)
    with TestClient(app) as c:
        r = c.post("/api/queue", json={"tracks": ["a", "b"], "container": "mp4"})
        assert r.status_code == 200, r.text
        q = r.json()
        assert (q["container"], q["layout"], q["mime"]) == ("mp4", "continuous", 'audio/mp4; codecs="opus"')
        native = ac.Queue([str(library["a"]), str(library["b"])], chunk_seconds=2.0, container="mp4")
        qid = q["queue_id"]
        init = c.get(f"/api/queue/{qid}/init")
        assert init.headers["content-type"] == "audio/mp4" and init.content == native.init_segment()
        for k in range(q["total_chunks"]):
            chunk = c.get(f"/api/queue/{qid}/chunk/{k}")
            assert chunk.headers["content-type"] == "audio/mp4"
            assert chunk.content == native.media_segment(k)[0], k
        playlist = c.get(f"/api/queue/{qid}/playlist.m3u8")
        assert playlist.status_code == 200
        lines = playlist.text.splitlines()
        assert '#EXT-X-MAP:URI="init"' in lines
        assert [l for l in lines if l.startswith("chunk/")] == [f"chunk/{k}" for k in range(q["total_chunks"])]
        durations = [float(l[8:].rstrip(",")) for l in lines if l.startswith("#EXTINF:")]
        assert sum(durations) == pytest.approx(q["duration"], abs=1e-5)
        firefox = c.post("/api/queue", json={"tracks": ["a", "b"], "layout": "continuous"}).json()
        assert (firefox["container"], firefox["layout"]) == ("webm", "continuous")
        webm = c.post("/api/queue", json={"tracks": ["a", "b"]}).json()
        assert webm["layout"] == "shared"
        assert c.get(f"/api/queue/{webm['queue_id']}/playlist.m3u8").status_code == 422
        assert c.post("/api/queue", json={"tracks": ["a"], "container": "ogg"}).status_code == 422
        assert c.post("/api/queue", json={"tracks": ["a"], "container": "mp4", "layout": "shared"}).status_code == 422
        assert c.post("/api/queue", json={"tracks": ["a"], "layout": 3}).status_code == 422


def test_serve_starts_the_packaged_server_with_its_player_and_refuses_bad_arguments(make_wav, tmp_path):
    """``python -m auralis_core serve`` as a user runs it: the library folder's files are the
    tracks beside the demo, the health check answers with the package's version, ``/`` leads to
    the player shipped in the package, whose files are served; a missing folder or a bad worker
    count is refused with a line and exit status 2, before any port is taken."""
    import subprocess

    import httpx

    from conftest import free_port, stop_process_group, wait_for_server

    library = tmp_path / "library"
    library.mkdir()
    (library / "song.wav").write_bytes(make_wav(3.0, name="song.wav").read_bytes())
    (library / "notes.txt").write_text("not audio")
    port = free_port()
    server = subprocess.Popen(
        [*SERVE, "--port", str(port), "--library", str(library)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/api/health", server)
        health = httpx.get(f"{base}/api/health").json()
        assert health == {"status": "ok", "version": ac.__version__, "tracks": 2}
        assert sorted(t["id"] for t in httpx.get(f"{base}/api/tracks").json()) == ["demo", "song"]
        root = httpx.get(f"{base}/", follow_redirects=True)
        assert root.status_code == 200 and "<audio" in root.text
        web = Path(ac.__file__).parent / "web"
        assert httpx.get(f"{base}/web/player.js").content == (web / "player.js").read_bytes()
        assert httpx.get(f"{base}/api/stream/song/chunk/0").status_code == 200
    finally:
        stop_process_group(server)
    for bad, says in (
        (["--library", str(tmp_path / "nowhere")], "not a folder"),
        (["--workers", "0"], "at least 1"),
    ):
        run = subprocess.run([*SERVE, *bad], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and says in run.stderr, (bad, run.stderr)
    version = subprocess.run([sys.executable, "-m", "auralis_core", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"auralis-core {ac.__version__}"


def test_the_mastering_figures_of_a_track_are_its_analysis_before_and_after(client):
    """``/api/stream/{id}/mastering``: the source's figures (the stream's own analysis), the
    chain's target, and the output measured over the same excerpts, which lands on the target
    loudness; with ``none`` the output is the source. Bad settings get the one error shape."""
    c, library = client
    r = c.get("/api/stream/song/mastering", params={"preset": "warm", "intensity": 1.0})
    assert r.status_code == 200, r.text
    f = r.json()
    native = ac.Stream(str(library["song"]), preset="warm")
    analysis = json.loads(native.analysis_json)
    assert f["before"]["loudness_lufs"] == pytest.approx(analysis["integrated_lufs"])
    assert f["before"]["true_peak_dbtp"] == pytest.approx(analysis["true_peak_dbtp"])
    assert f["target"]["loudness_lufs"] == pytest.approx(json.loads(native.mastering_json)["target_lufs"])
    assert f["after"]["loudness_lufs"] == pytest.approx(f["target"]["loudness_lufs"], abs=1.0)
    assert f["after"]["true_peak_dbtp"] <= f["target"]["true_peak_ceiling_dbtp"] + 0.1
    plain = c.get("/api/stream/song/mastering", params={"preset": "none"}).json()
    assert plain["after"]["loudness_lufs"] == pytest.approx(plain["before"]["loudness_lufs"], abs=0.05)
    for params, status in (({"preset": "nosuch"}, 422), ({"intensity": 2}, 422)):
        bad = c.get("/api/stream/song/mastering", params=params)
        assert bad.status_code == status and set(bad.json()) == {"error", "detail"}, bad.text
    assert c.get("/api/stream/nosuch/mastering").status_code == 404
