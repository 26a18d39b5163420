"""``Queue``: tracks on one timeline from Python. Oracles: the tracks' own lengths and streams
(a queue's chunks inside a track carry the track's own packets), the Rust core's errors, and the
same bytes from concurrent async callers as from one thread."""

import asyncio

import numpy as np
import pytest

import auralis_core as ac


def packets(segment: bytes) -> list:
    """The Opus packets of a WebM media segment as this library writes it (SimpleBlocks and
    BlockGroups in Clusters), without timestamps."""
    out = []

    def vint(buf, at, mask=True):
        first = buf[at]
        length = 1
        while length <= 8 and not first & (0x80 >> (length - 1)):
            length += 1
        value = first & ((0x80 >> (length - 1)) - 1) if mask else first
        for b in buf[at + 1 : at + length]:
            value = (value << 8) | b
        return value, at + length

    def walk(buf, start, end):
        at = start
        while at < end:
            ident, body = vint(buf, at, mask=False)
            size, body = vint(buf, body)
            if ident in (0x1F43B675, 0xA0):  # Cluster, BlockGroup
                walk(buf, body, body + size)
            elif ident in (0xA3, 0xA1):  # SimpleBlock, Block
                out.append(bytes(buf[body + 4 : body + size]))
            at = body + size

    walk(segment, 0, len(segment))
    return out


def test_a_gapless_queue_lays_the_tracks_back_to_back_and_shares_their_chunks(make_wav):
    paths = [
        make_wav(7.3, name="a.wav", seed=1),
        make_wav(6.1, name="b.wav", seed=2),
        make_wav(5.55, name="c.wav", seed=3),
    ]
    q = ac.Queue([str(p) for p in paths], chunk_seconds=2.0)
    streams = [ac.Stream(str(p), chunk_seconds=2.0) for p in paths]
    frames = [s.info["frames"] for s in streams]
    assert q.info["frames"] == sum(frames)
    assert q.info["items"] == 3
    starts = [item["start_frame"] for item in q.items]
    assert starts == [0, frames[0], frames[0] + frames[1]]
    assert q.init_segment() == streams[0].init_segment()
    # The chunks tile the timeline; inside a track they carry its own packets.
    at = 0
    for k in range(q.info["total_chunks"]):
        c = q.chunk(k)
        assert c["start_frame"] == at
        at += c["frames"]
        segment, origin = q.media_segment(k)
        assert origin in ("MISS", "HIT-MEMORY", "HIT-SHARED", "HIT-DISK")
        if not c["boundary"]:
            own, _ = streams[c["item"]].media_segment(c["item_chunk"])
            assert packets(segment) == packets(own), k
    assert at == q.info["frames"]
    assert q.chunk_at(q.items[1]["start"] + 0.001) == q.items[1]["first_chunk"]
    pcm = q.pcm(0.0, 1.0)
    assert pcm.shape == (48_000, 2) and pcm.dtype == np.float32


def test_crossfades_shorten_the_timeline_and_album_gain_shares_one_gain(make_wav):
    paths = [str(make_wav(8.0, name="a.wav", seed=1)), str(make_wav(8.0, name="b.wav", seed=2))]
    q = ac.Queue(paths, joins=3.0, chunk_seconds=2.0)
    assert q.items[1]["fade_in_frames"] == 144_000
    assert q.info["frames"] == q.items[0]["frames"] + q.items[1]["frames"] - 144_000
    album = ac.Queue(paths, joins=["gapless"], album_gain=True, albums=["x", "x"])
    gains = [item["gain_db"] for item in album.items]
    assert gains[0] == gains[1]


def test_async_callers_get_the_same_bytes(make_wav):
    paths = [str(make_wav(5.3, name="a.wav", seed=1)), str(make_wav(4.1, name="b.wav", seed=2))]
    q = ac.Queue(paths, chunk_seconds=2.0)
    n = q.info["total_chunks"]
    want = [ac.Queue(paths, chunk_seconds=2.0).chunk_file(k) for k in range(n)]

    async def main():
        return await asyncio.gather(
            *[asyncio.to_thread(q.chunk_file, k) for k in reversed(range(n)) for _ in range(2)]
        )

    got = asyncio.run(main())
    expected = [want[k] for k in reversed(range(n)) for _ in range(2)]
    assert got == expected


def test_bad_queues_raise_typed_errors(make_wav, tmp_path):
    a = str(make_wav(3.0, name="a.wav"))
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue([])
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue([a, a], joins=13.0)
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue([a, a], joins="sideways")
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue([a, a, a], joins=["gapless"])
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue([a, a], presets=["adaptive"])
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue([a], presets="loudest")
    with pytest.raises(FileNotFoundError):
        ac.Queue([a, str(tmp_path / "missing.flac")])
    q = ac.Queue([a])
    with pytest.raises(ac.IndexOutOfRangeError):
        q.media_segment(q.info["total_chunks"])


def mdat_payloads(segment: bytes) -> bytes:
    """The concatenated `mdat` payloads of an MP4 media segment (its packets back to back),
    checking that it is `moof` + `mdat` pairs."""
    out, at, kinds = b"", 0, []
    while at < len(segment):
        size = int.from_bytes(segment[at : at + 4], "big")
        kind = segment[at + 4 : at + 8]
        kinds.append(kind)
        if kind == b"mdat":
            out += segment[at + 8 : at + size]
        at += size
    assert kinds == [b"moof", b"mdat"] * (len(kinds) // 2) and kinds, kinds
    return out


def test_an_mp4_queue_is_continuous_and_carries_the_packets_of_the_continuous_webm_queue(make_wav):
    paths = [str(make_wav(4.3, name="a.wav", seed=1)), str(make_wav(3.1, name="b.wav", seed=2))]
    mp4 = ac.Queue(paths, chunk_seconds=2.0, container="mp4")
    assert mp4.info["container"] == "mp4" and mp4.info["layout"] == "continuous"
    assert mp4.info["mime"] == 'audio/mp4; codecs="opus"'
    assert mp4.init_segment()[4:8] == b"ftyp"
    webm = ac.Queue(paths, chunk_seconds=2.0, layout="continuous")
    assert webm.info["layout"] == "continuous"
    assert ac.Queue(paths, chunk_seconds=2.0).info["layout"] == "shared"
    n = mp4.info["total_chunks"]
    assert n == webm.info["total_chunks"] == -(-mp4.info["frames"] // 96_000)
    for k in range(n):
        assert mp4.chunk(k)["start_frame"] == k * 96_000
        segment, _ = mp4.media_segment(k)
        same, _ = webm.media_segment(k)
        assert mdat_payloads(segment) == b"".join(packets(same)), k
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue(paths, container="ogg")
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue(paths, container="mp4", layout="shared")
    with pytest.raises(ac.InvalidArgumentError):
        ac.Queue(paths, layout="sideways")


def test_an_a_b_switch_crossfades_from_the_other_queue(make_wav):
    paths = [str(make_wav(4.3, name="a.wav", seed=1)), str(make_wav(3.1, name="b.wav", seed=2))]
    preset = ac.Queue(paths, chunk_seconds=2.0)
    plain = ac.Queue(paths, chunk_seconds=2.0, presets="none")
    k = 2
    transition, origin = plain.media_segment(k, transition_from=preset)
    assert origin == "MISS"
    assert transition != plain.media_segment(k)[0] != preset.media_segment(k)[0]
    # The same bytes again (cached), and the plain chunk from the queue itself.
    assert plain.media_segment(k, transition_from=preset) == (transition, "HIT-MEMORY")
    assert plain.media_segment(k, transition_from=plain)[0] == plain.media_segment(k)[0]
    with pytest.raises(ac.InvalidArgumentError):
        plain.media_segment(k, transition_from=ac.Queue(paths, joins=1.0, chunk_seconds=2.0))


def test_iter_chunk_gives_the_media_segment_unit_by_unit(make_wav):
    paths = [str(make_wav(4.3, name="a.wav", seed=1)), str(make_wav(3.1, name="b.wav", seed=2))]
    for container in ("webm", "mp4"):
        q = ac.Queue(paths, chunk_seconds=2.0, container=container)
        want = ac.Queue(paths, chunk_seconds=2.0, container=container)
        for k in range(q.info["total_chunks"]):
            units = q.iter_chunk(k)
            assert units.origin == "MISS"
            assert b"".join(units) == want.media_segment(k)[0], (container, k)
        plain = ac.Queue(paths, chunk_seconds=2.0, container=container, presets="none")
        assert b"".join(plain.iter_chunk(2, transition_from=q)) == plain.media_segment(2, transition_from=q)[0]


def test_an_ab_switch_at_the_playhead_serves_the_rest_of_the_chunk(make_wav):
    paths = [str(make_wav(3.3, name=f"{i}.wav", seed=i)) for i in range(2)]
    for kw in ({}, {"container": "mp4"}):
        a = ac.Queue(paths, chunk_seconds=2.0, presets="warm", **kw)
        b = ac.Queue(paths, chunk_seconds=2.0, presets="none", **kw)
        at = 48000 + 10 * 960  # 1.2 s, inside chunk 0 of the first track (2 s chunks)
        body, origin = b.media_segment_at(at, transition_from=a)
        assert origin == "MISS" and 0 < len(body) < len(b.media_segment(0, transition_from=a)[0])
        assert b"".join(b.iter_chunk_at(at, a)) == body
        assert b.media_segment_at(at, a) == (body, "HIT-MEMORY")
        with pytest.raises(ac.InvalidArgumentError, match="packet grid"):
            b.media_segment_at(at + 480, a)
        with pytest.raises(ac.IndexOutOfRangeError):
            b.media_segment_at(48000 * 60, a)
