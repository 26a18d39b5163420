"""The native Stream: outputs agree with each other, errors are typed, threads are safe."""

import threading
import time

import numpy as np
import pytest

import auralis_core as ac


def test_info_chunks_and_bytes_agree(make_wav):
    s = ac.Stream(str(make_wav(12.3)), preset="warm", intensity=0.7, chunk_seconds=5.0)
    info = s.info
    assert info["sample_rate"] == 48_000 and info["channels"] == 2
    assert info["frames"] == round(12.3 * 48_000) and info["total_chunks"] == 3
    assert info["mime"] == 'audio/webm; codecs="opus"' == ac.MIME
    assert info["preset"] == "warm" and info["intensity"] == 0.7
    init = s.init_segment()
    assert init[:4] == b"\x1a\x45\xdf\xa3"
    frames = 0
    for i in range(3):
        segment, origin = s.media_segment(i)
        assert origin in ("MISS", "HIT-MEMORY", "HIT-SHARED")
        assert s.chunk_file(i) == init + segment
        clusters = list(s.iter_chunk(i))
        assert b"".join(clusters) == segment
        assert all(c[:4] == b"\x1f\x43\xb6\x75" for c in clusters)  # Cluster IDs
        pcm = s.chunk_pcm(i)
        assert pcm.dtype == np.float32 and pcm.ndim == 2 and pcm.shape[1] == 2
        start, end = s.chunk_range(i)
        assert pcm.shape[0] == round((end - start) * 48_000)
        frames += pcm.shape[0]
    assert frames == info["frames"]
    assert s.media_segment(1)[1] == "HIT-MEMORY"
    assert '"integrated_lufs"' in s.analysis_json and '"gain_db"' in s.mastering_json


def test_mp4_serves_the_webm_chunks_packets_without_encoding_again(make_wav):
    s = ac.Stream(str(make_wav(12.3)), chunk_seconds=5.0, cache_dir=None)
    webm = [s.media_segment(i) for i in range(3)]
    assert [origin for _, origin in webm] == ["MISS"] * 3
    m = s.with_container("mp4")
    assert m.info["container"] == "mp4" and m.info["mime"] == ac.MIME_MP4 == 'audio/mp4; codecs="opus"'
    assert ac.MIME_MP4_SAFARI == 'audio/mp4; codecs="Opus"'
    init = m.init_segment()
    assert init[4:8] == b"ftyp" and init == s.with_bitrate(64_000).with_container("mp4").init_segment()
    computed = s.stats()["computed"]
    for i in range(3):
        segment, origin = m.media_segment(i)
        # Served from the WebM entry: a cache hit, nothing computed.
        assert origin == "HIT-MEMORY" and segment[4:8] == b"moof"
        assert m.chunk_file(i) == init + segment
        fragments = list(m.iter_chunk(i))
        assert b"".join(fragments) == segment and all(f[4:8] == b"moof" for f in fragments)
    assert s.stats()["computed"] == computed
    playlist = m.hls_playlist("init.mp4", "chunk/{index}.m4s")
    assert "#EXT-X-MAP:URI=\"init.mp4\"" in playlist and "chunk/2.m4s" in playlist
    assert [line for line in playlist.splitlines() if line.startswith("#EXTINF")] == [
        "#EXTINF:5.000000,", "#EXTINF:5.000000,", "#EXTINF:2.300000,"]
    full = m.full_file()
    assert full[4:8] == b"ftyp" and b"moov" in full[:4096]
    with pytest.raises(ac.InvalidArgumentError, match="container"):
        ac.Stream(str(make_wav(1.0)), container="ogg")
    with pytest.raises(ac.InvalidArgumentError):
        s.with_bitrate(1)


def test_transition_chunks_differ_from_plain_ones_and_are_cached(make_wav):
    s = ac.Stream(str(make_wav(11.0)), preset="bright", chunk_seconds=5.0)
    plain, _ = s.media_segment(1)
    switched, origin = s.media_segment(1, transition_from=("warm", 1.0))
    assert origin == "MISS" and switched != plain
    assert s.media_segment(1, transition_from=("warm", 1.0)) == (switched, "HIT-MEMORY")
    # From its own settings: the plain chunk.
    assert s.media_segment(1, transition_from=("bright", 1.0))[0] == plain


def test_switch_clusters_serves_the_transition_of_the_two_step_switch(make_wav):
    path = make_wav(11.0)
    s = ac.Stream(str(path), preset="warm", intensity=0.6, chunk_seconds=5.0, cache_dir=None)
    s.media_segment(0)
    new, clusters = s.switch_clusters(1, "bright", 0.8)
    assert clusters.origin == "MISS"
    parts = list(clusters)
    assert parts and all(c[:4] == b"\x1f\x43\xb6\x75" for c in parts)  # Cluster IDs
    assert new.info["preset"] == "bright" and new.info["intensity"] == 0.8
    assert s.info["preset"] == "warm"
    # Oracle: the two-step switch on an engine of its own (another thread count, so nothing
    # is shared with the first), whose bytes are the same for any thread count.
    ref = ac.Stream(str(path), preset="warm", intensity=0.6, chunk_seconds=5.0, cache_dir=None,
                    render_threads=1)
    expected, origin = ref.with_mastering("bright", 0.8).media_segment(
        1, transition_from=("warm", 0.6))
    assert origin == "MISS" and b"".join(parts) == expected
    # The switched stream keeps the transition: served again, it is a cache hit.
    assert new.media_segment(1, transition_from=("warm", 0.6)) == (expected, "HIT-MEMORY")
    # A switch to the stream's own settings is its plain chunk.
    same, plain = s.switch_clusters(2, "warm", 0.6)
    assert b"".join(plain) == s.media_segment(2)[0] and same.info["preset"] == "warm"
    with pytest.raises(ac.InvalidArgumentError):
        s.switch_clusters(1, "no-such-preset")
    with pytest.raises(ac.InvalidArgumentError):
        s.switch_clusters(1, "bright", -1.0)
    with pytest.raises(ac.IndexOutOfRangeError):
        s.switch_clusters(3, "bright")


def test_a_switch_at_the_playhead_serves_the_rest_of_the_chunk_from_its_frame(make_wav):
    path = make_wav(11.0)
    old = ac.Stream(str(path), preset="warm", chunk_seconds=5.0, cache_dir=None)
    new = old.with_mastering("bright", 1.0)
    at = 7 * 48000 + 13 * 960  # 7.26 s, inside chunk 1 (5 s chunks)
    body, origin = new.media_segment_at(at, transition_from=("warm", 1.0))
    assert origin == "MISS" and body[:4] == b"\x1f\x43\xb6\x75"  # a Cluster
    # Oracle: the Rust engine's own segment of a fresh stream (another thread count).
    ref = ac.Stream(str(path), preset="bright", chunk_seconds=5.0, cache_dir=None,
                    render_threads=1)
    assert ref.media_segment_at(at, ("warm", 1.0))[0] == body
    assert new.media_segment_at(at, ("warm", 1.0)) == (body, "HIT-MEMORY")
    assert b"".join(new.iter_chunk_at(at, ("warm", 1.0))) == body
    # Shorter than the chunk by the frames before the switch; not the plain rest of the chunk.
    whole, _ = new.media_segment(1, transition_from=("warm", 1.0))
    assert 0 < len(body) < len(whole)
    assert new.media_segment_at(at)[0] != body
    # Its ETag names the bytes without rendering; at a chunk's first frame it is the chunk's.
    assert new.chunk_etag_at(at, ("warm", 1.0)) == ref.chunk_etag_at(at, ("warm", 1.0))
    assert new.chunk_etag_at(5 * 48000, ("warm", 1.0)) == new.chunk_etag(1, ("warm", 1.0))
    assert new.media_segment_at(5 * 48000, ("warm", 1.0))[0] == whole
    with pytest.raises(ac.InvalidArgumentError, match="packet grid"):
        new.media_segment_at(at + 1, ("warm", 1.0))
    with pytest.raises(ac.IndexOutOfRangeError):
        new.media_segment_at(11 * 48000, ("warm", 1.0))
    with pytest.raises(ac.InvalidArgumentError):
        new.iter_chunk_at(at, ("warm", 7.0))


def test_errors_form_one_hierarchy_and_missing_files_are_file_not_found(make_wav, tmp_path):
    good = str(make_wav(3.0))
    with pytest.raises(FileNotFoundError):
        ac.Stream(str(tmp_path / "missing.wav"))
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"\x55" * 4096)
    with pytest.raises(ac.UnsupportedFormatError):
        ac.Stream(str(garbage))
    with pytest.raises(ac.InvalidArgumentError, match="unknown preset"):
        ac.Stream(good, preset="loud")
    with pytest.raises(ac.InvalidArgumentError, match="intensity"):
        ac.Stream(good, intensity=2.0)
    with pytest.raises(ac.InvalidArgumentError, match="chunk length"):
        ac.Stream(good, chunk_seconds=0.03)
    s = ac.Stream(good, chunk_seconds=1.0)
    with pytest.raises(ac.IndexOutOfRangeError, match="invalid chunk index 3"):
        s.chunk_file(3)
    with pytest.raises(OverflowError):
        s.chunk_pcm(-1)
    for cls in (ac.DecodeError, ac.UnsupportedFormatError, ac.InvalidArgumentError,
                ac.IndexOutOfRangeError, ac.SourceChangedError, ac.EncodeError, ac.IoError):
        assert issubclass(cls, ac.AuralisError)


def test_a_changed_file_raises_source_changed(make_wav):
    path = make_wav(4.0)
    s = ac.Stream(str(path), chunk_seconds=2.0)
    s.chunk_file(0)
    time.sleep(0.02)
    path.write_bytes(path.read_bytes()[:-4000])
    with pytest.raises(ac.SourceChangedError):
        s.chunk_file(1)


def test_many_threads_share_one_stream(make_wav):
    s = ac.Stream(str(make_wav(12.0)), chunk_seconds=2.0)
    # The same audio in another file (another signature, so computed apart), one thread.
    copy = ac.Stream(str(make_wav(12.0, name="copy.wav")), chunk_seconds=2.0)
    reference = [copy.chunk_file(i) for i in range(6)]
    before = s.stats()
    results, errors = {}, []

    def work(t):
        try:
            for n in range(12):
                i = (n * 5 + t) % 6
                results[(t, n)] = (i, s.chunk_file(i))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(reference[i] == b for i, b in results.values())
    after = s.stats()
    delta = {k: after[k] - before[k] for k in ("computed", "memory_hits", "shared", "disk_hits")}
    # 96 requests for 6 chunks: each computed exactly once (single flight), every other
    # request served by the computation it waited for or from memory.
    assert delta["computed"] == 6, delta
    assert delta["memory_hits"] + delta["shared"] == 96 - 6 and delta["disk_hits"] == 0, delta


def test_rendering_releases_the_gil_so_python_threads_overlap(make_wav):
    # Oracle without timing thresholds: thread A enters a render; thread B, started once A is
    # about to call it, records when it runs Python code. Were the GIL held for the whole
    # native call, B could not run before A's call returned; released, B runs inside it.
    path = str(make_wav(40.0))
    stream = ac.Stream(path, preset="live", intensity=0.7, chunk_seconds=20.0, render_threads=1)
    entering = threading.Event()
    marks = {}

    def a():
        entering.set()
        marks["a_start"] = time.perf_counter()
        stream.chunk_file(0)
        marks["a_end"] = time.perf_counter()

    def b():
        entering.wait()
        while "a_start" not in marks:
            pass
        marks["b_ran"] = time.perf_counter()
        stream.chunk_file(1)  # and a second render runs beside the first

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert marks["a_start"] <= marks["b_ran"] < marks["a_end"], marks
    # The same bytes as one thread alone.
    assert stream.chunk_file(1) == ac.Stream(
        path, preset="live", intensity=0.7, chunk_seconds=20.0).chunk_file(1)


def test_crossfade_between_chunks_curves():
    a = np.ones((4, 1), np.float32)
    b = np.full((3, 1), 3.0, np.float32)
    np.testing.assert_array_equal(ac.crossfade_between_chunks(a, b, 3)[:, 0], [1, 1, 2, 3])
    out = ac.crossfade_between_chunks(a, b, 3, curve="equal_power")
    assert out.shape == (4, 1) and out[2, 0] == pytest.approx(np.cos(np.pi / 4) + 3 * np.sin(np.pi / 4))
    with pytest.raises(ac.InvalidArgumentError):
        ac.crossfade_between_chunks(a, b, 1, curve="cubic")
    with pytest.raises(ac.InvalidArgumentError):
        ac.crossfade_between_chunks(a, np.ones((3, 2), np.float32), 1)


def test_prefetch_ahead_is_bounded_by_the_track_and_releases_the_gil(make_wav):
    s = ac.Stream(str(make_wav(5.0)), chunk_seconds=2.0)  # 3 chunks
    queued = s.stats()["prefetch_queued"]
    t0 = time.perf_counter()
    s.prefetch_ahead(0, 2**63)  # once spun for ever with the GIL held
    s.prefetch_ahead(2**64 - 1, 5)  # once overflowed
    s.prefetch_ahead(2, 10)  # after the last chunk: nothing
    elapsed = time.perf_counter() - t0
    assert s.stats()["prefetch_queued"] - queued == 2  # chunks 1 and 2, nothing else
    print(f"three prefetch_ahead calls: {elapsed * 1e3:.2f} ms")


def test_engines_are_released_with_their_last_stream(tmp_path, make_wav):
    import gc
    import time

    path = str(make_wav(1.0))
    # Earlier tests' streams may still be held by prefetch jobs running on the workers (a job
    # holds its stream until it ends, then lets it go): wait for them to end, so that the
    # count below changes only by this test's streams.
    deadline = time.monotonic() + 30
    while True:
        gc.collect()
        base = ac.shared_engine_count()
        if base == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert base <= 14, base
    streams = [ac.Stream(path, cache_dir=str(tmp_path / f"c{i}")) for i in range(2)]
    assert ac.shared_engine_count() == base + 2
    same = ac.Stream(path, cache_dir=str(tmp_path / "c0"))  # the same engine as streams[0]
    assert ac.shared_engine_count() == base + 2
    del streams[1:]
    gc.collect()
    assert ac.shared_engine_count() == base + 1
    del streams, same
    gc.collect()
    assert ac.shared_engine_count() == base
    # A process-wide cap: at most 16 alive at once; one more is a clear error, not a leak.
    held = [ac.Stream(path, cache_dir=str(tmp_path / f"d{i}")) for i in range(16 - base)]
    assert ac.shared_engine_count() == 16
    with pytest.raises(ac.InvalidArgumentError, match="at most 16"):
        ac.Stream(path, cache_dir=str(tmp_path / "one-too-many"))
    held.pop()
    assert ac.Stream(path, cache_dir=str(tmp_path / "one-too-many")).info["frames"] == 48_000
    del held
    gc.collect()
    assert ac.shared_engine_count() == base


def test_ogg_opus_and_webm_sources_stream_like_any_other(make_wav, tmp_path):
    """Issue 16: `.opus` and Matroska/WebM files open and stream (made by ffmpeg here)."""
    import os
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is required in CI")
        pytest.skip("ffmpeg not found (CI installs it)")
    wav = make_wav(7.5)
    for name, codec in (("t.opus", "libopus"), ("t.webm", "libopus"), ("t.mka", "flac")):
        path = tmp_path / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", codec, str(path)],
                       check=True)
        s = ac.Stream(str(path), preset="warm", chunk_seconds=5.0)
        info = s.info
        # Opus decodes at 48 kHz exactly; FLAC keeps its 44.1 kHz length, resampled.
        assert info["frames"] == round(7.5 * 48_000), name
        assert info["total_chunks"] == 2
        frames = sum(s.chunk_pcm(i).shape[0] for i in range(2))
        assert frames == info["frames"]
        segment, _ = s.media_segment(1)
        assert segment[:4] == b"\x1f\x43\xb6\x75"


def test_stream_and_queue_share_one_naming_scheme_and_the_old_names_warn(make_wav):
    """``chunk_file`` and ``iter_chunk`` on both classes; the old names (``chunk_webm``,
    ``Stream.iter_chunk_webm``) still work, give the same bytes, and raise a
    ``DeprecationWarning`` naming the new one."""
    path = str(make_wav(12.0))
    s = ac.Stream(path, chunk_seconds=5.0)
    q = ac.Queue([path, path], chunk_seconds=5.0)
    for obj, old, new, args in (
        (s, "chunk_webm", "chunk_file", (1,)),
        (s, "iter_chunk_webm", "iter_chunk", (1,)),
        (q, "chunk_webm", "chunk_file", (2,)),
    ):
        with pytest.warns(DeprecationWarning, match=new):
            before = getattr(obj, old)(*args)
        after = getattr(obj, new)(*args)
        if not isinstance(before, bytes):
            before, after = b"".join(before), b"".join(after)
        assert before == after and len(after) > 1000, (old, new)
    assert hasattr(ac.Queue, "iter_chunk") and hasattr(ac.Stream, "iter_chunk")
