"""The drop-in ``auralis_core.compat``: the interface the Auralis backend (2025-10-31) uses,
point by point (issue 15), with oracles: the original's recipes recomputed here, exact sample
counts and file sizes, content equality with the engine, cache identity and reuse, the
backend's own flows (proactive buffering, the player's instant path, the streaming routers)
re-expressed against fresh processors."""

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

import auralis_core as ac
from auralis_core import compat

from conftest import read_wav, read_wav_float, write_wav


def processor(path, chunk_dir, **kw):
    return ac.ChunkedAudioProcessor("t1", str(path), chunk_dir=chunk_dir, **kw)


def md5_8(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:8]


def written_files(chunk_dir: Path):
    """The files a backend sees in chunk_dir (not the engine's cache, not stamps)."""
    return sorted(p for p in chunk_dir.iterdir() if p.is_file() and not p.name.startswith("."))


# -- 1. the module's names ----------------------------------------------------------------


def test_star_import_gives_the_originals_names_and_int_constants():
    ns: dict = {}
    exec("from auralis_core.compat import *", ns)
    names = {k for k in ns if not k.startswith("__")}
    assert names == {
        "CHUNK_DURATION", "OVERLAP_DURATION", "CONTEXT_DURATION", "MAX_LEVEL_CHANGE_DB",
        "ChunkedAudioProcessor", "apply_crossfade_between_chunks",
    }
    for name, value in (("CHUNK_DURATION", 30), ("OVERLAP_DURATION", 3), ("CONTEXT_DURATION", 5)):
        assert type(ns[name]) is int and ns[name] == value, name
    assert type(ns["MAX_LEVEL_CHANGE_DB"]) is float and ns["MAX_LEVEL_CHANGE_DB"] == 1.5
    assert ns["ChunkedAudioProcessor"] is ac.ChunkedAudioProcessor
    assert ac.apply_crossfade_between_chunks is compat.apply_crossfade_between_chunks


# -- 2. the constructor ---------------------------------------------------------------------


def test_constructor_runs_the_hooks_in_the_originals_order_and_opens_nothing_else(tmp_path):
    seen = []

    def sig(self):
        seen.append(("sig", self.track_id, self.filepath, self.preset, self.intensity,
                     self.chunk_cache, hasattr(self, "sample_rate")))
        return "abcd1234"

    def meta(self):
        seen.append(("meta", self.file_signature, hasattr(self, "chunk_dir")))
        self.sample_rate, self.total_duration, self.total_chunks = 44100, 60.0, 2

    missing = str(tmp_path / "no" / "such.mp3")
    cache = {"existing": 1}
    with patch.object(ac.ChunkedAudioProcessor, "_generate_file_signature", sig), \
            patch.object(ac.ChunkedAudioProcessor, "_load_metadata", meta):
        p = ac.ChunkedAudioProcessor(5, missing, "warm", 0.5, cache, chunk_dir=tmp_path / "c")
    assert seen == [("sig", 5, missing, "warm", 0.5, cache, False), ("meta", "abcd1234", False)]
    assert p.chunk_cache is cache and p.file_signature == "abcd1234"
    assert (p.sample_rate, p.total_duration, p.total_chunks) == (44100, 60.0, 2)
    assert p.chunk_dir.is_dir() and p.chunk_rms_history == [] and p.chunk_gain_history == []
    assert p.previous_chunk_tail is None
    assert p._stream is None  # the engine is opened on first use, not by the constructor
    # Names follow the patched signature.
    assert p._get_chunk_path(1) == tmp_path / "c" / "track_5_abcd1234_warm_0.5_chunk_1.wav"


def test_constructor_probes_only(make_wav, chunk_dir):
    path = make_wav(65.0)
    p = ac.ChunkedAudioProcessor(7, path, "warm", 0.5, chunk_dir=chunk_dir)
    assert p._stream is None  # nothing analysed, nothing rendered
    assert p.sample_rate == 48_000 and p.source_sample_rate == 44_100 and p.channels == 2
    assert isinstance(p.total_duration, float) and p.total_duration == p.duration == 65.0
    assert isinstance(p.total_chunks, int) and p.total_chunks == 3
    assert p.filepath == path  # kept as given, as the original
    # Default directory: <tempdir>/auralis_chunks.
    q = ac.ChunkedAudioProcessor("t2", str(make_wav(1.0, name="short.wav")))
    assert q.chunk_dir.name == "auralis_chunks" and q.chunk_dir.is_dir()


def test_file_signature_is_the_originals_recipe_and_never_raises(make_wav, tmp_path, chunk_dir):
    path = str(make_wav(2.0))
    st = os.stat(path)
    p = processor(path, chunk_dir)
    assert p.file_signature == md5_8(f"{st.st_mtime}_{st.st_size}_{path}")
    time.sleep(0.02)
    os.utime(path)
    assert processor(path, chunk_dir).file_signature != p.file_signature
    missing = str(tmp_path / "missing.mp3")
    with patch.object(ac.ChunkedAudioProcessor, "_load_metadata", lambda self: None):
        q = ac.ChunkedAudioProcessor(1, missing, chunk_dir=chunk_dir)
    assert q.file_signature == md5_8(missing)


def test_bad_inputs_are_typed_errors_at_construction(make_wav, tmp_path, chunk_dir):
    with pytest.raises(FileNotFoundError):
        processor(tmp_path / "missing.wav", chunk_dir)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(ac.AuralisError):
        processor(junk, chunk_dir)
    good = make_wav(2.0)
    with pytest.raises(ac.InvalidArgumentError, match="unknown preset"):
        processor(good, chunk_dir, preset="loud")
    for bad in (-0.1, 1.5, float("nan"), "x"):
        with pytest.raises(ac.InvalidArgumentError, match="intensity"):
            processor(good, chunk_dir, intensity=bad)
    with pytest.raises(ac.InvalidArgumentError, match="WAV format"):
        processor(good, chunk_dir, wav_format="mp3")
    assert written_files(chunk_dir) == []


# -- 3. keys and names ----------------------------------------------------------------------


def test_keys_and_paths_are_the_originals_and_every_file_uses_file_signature(make_wav, chunk_dir):
    path = make_wav(65.0)
    shared: dict = {}
    p = ac.ChunkedAudioProcessor(123, str(path), "warm", 0.8, shared, chunk_dir=chunk_dir)
    sig = p.file_signature
    assert len(sig) == 8
    assert p._get_cache_key(5) == f"123_{sig}_warm_0.8_chunk_5"
    assert p._get_chunk_path(0) == chunk_dir / f"track_123_{sig}_warm_0.8_chunk_0.wav"
    assert p._get_track_fingerprint_cache_key() == f"fingerprint_123_{sig}"
    # process_chunk writes exactly _get_chunk_path and records it under _get_cache_key.
    for i in (2, 0):
        out = p.process_chunk(i)
        assert out == str(p._get_chunk_path(i)) and shared[p._get_cache_key(i)] == out
    webm = p.get_webm_chunk_path(1)
    assert webm == str(chunk_dir / f"track_123_{sig}_warm_0.8_chunk_1.webm")
    assert shared[f"123_{sig}_warm_0.8_webm_1"] == webm
    full = p.get_full_processed_audio_path()
    assert full == str(chunk_dir / f"track_123_{sig}_warm_0.8_full.wav")
    files = written_files(chunk_dir)
    assert [f.name for f in files] == sorted([
        f"track_123_{sig}_warm_0.8_chunk_0.wav", f"track_123_{sig}_warm_0.8_chunk_2.wav",
        f"track_123_{sig}_warm_0.8_chunk_1.webm", f"track_123_{sig}_warm_0.8_full.wav",
    ])
    # Nothing half-written is left behind.
    assert not [f for f in chunk_dir.iterdir() if f.name.endswith(".tmp")]


def test_the_mp4_chunk_file_holds_the_webm_chunks_packets_beside_it(make_wav, chunk_dir):
    path = make_wav(65.0)
    shared: dict = {}
    p = ac.ChunkedAudioProcessor(7, str(path), "warm", 0.8, shared, chunk_dir=chunk_dir,
                                 container="mp4")
    assert p.container == "mp4" and p.mime == ac.MIME_MP4
    sig = p.file_signature
    webm = p.get_webm_chunk_path(1)
    computed = p.processor.stats()["computed"]
    mp4 = p.get_chunk_file_path(1)
    assert mp4 == p.get_mp4_chunk_path(1) == str(chunk_dir / f"track_7_{sig}_warm_0.8_chunk_1.mp4")
    assert shared[f"7_{sig}_warm_0.8_mp4_1"] == mp4
    data = Path(mp4).read_bytes()
    assert data[4:8] == b"ftyp" and b"moof" in data
    # Served from the chunk the .webm came from: nothing was encoded again.
    stats = p.processor.stats()
    assert stats["computed"] == computed, stats
    native = ac.Stream(str(path), preset="warm", intensity=0.8, container="mp4")
    assert data == native.chunk_file(1)
    assert ac.ChunkedAudioProcessor(7, str(path), chunk_dir=chunk_dir).get_chunk_file_path(0).endswith(".webm")
    with pytest.raises(ac.InvalidArgumentError, match="container"):
        ac.ChunkedAudioProcessor(7, str(path), chunk_dir=chunk_dir, container="ogg")
    assert webm.endswith(".webm")


def test_the_engines_key_not_the_8_digit_signature_decides_what_is_served(tmp_path, chunk_dir):
    """The source is replaced by other audio of the same size and mtime: the original's
    signature (mtime, size, path) does not change, so its files would be served stale."""
    path = write_wav(tmp_path / "t.wav", 31.0, seed=1)
    p = processor(path, chunk_dir)
    old = read_wav(p.process_chunk(0))[0].copy()
    old_full = Path(p.get_full_processed_audio_path()).read_bytes()
    st = os.stat(path)
    write_wav(tmp_path / "t.wav", 31.0, seed=2, channels=2, rate=44_100)  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size
    q = processor(path, chunk_dir)
    assert q.file_signature == p.file_signature  # the original's name cannot tell
    new = read_wav(q.process_chunk(0))[0]
    want = read_wav(q._get_chunk_path(0))[0]
    fresh = ac.Stream(str(path), chunk_seconds=30.0).chunk_wav(0, "pcm16")
    assert Path(q._get_chunk_path(0)).read_bytes() == fresh
    assert not np.array_equal(new, old) and np.array_equal(new, want)
    assert Path(q.get_full_processed_audio_path()).read_bytes() != old_full
    # The processor opened before the change refuses rather than serving two versions.
    p.chunk_cache.clear()
    with pytest.raises(ac.SourceChangedError):
        p.get_webm_chunk_path(1)


# -- 4. the rest of the class -----------------------------------------------------------------


def test_load_chunk_returns_the_chunks_own_bounds_and_context_audio(make_wav, chunk_dir):
    p = processor(make_wav(70.0), chunk_dir)
    for bad in (-1, 3, 99):
        for call in (p.process_chunk, p.load_chunk, p.get_webm_chunk_path):
            with pytest.raises(ac.IndexOutOfRangeError):
                call(bad)
    audio, start, end = p.load_chunk(1)  # with_context=True by default
    assert (start, end) == (30.0, 60.0) and audio.shape == (40 * 48_000, 2)
    audio, start, end = p.load_chunk(0, with_context=True)
    assert (start, end) == (0.0, 30.0) and audio.shape[0] == 35 * 48_000
    audio, start, end = p.load_chunk(2, with_context=True)
    assert (start, end) == (60.0, 70.0) and audio.shape[0] == 15 * 48_000
    assert audio.dtype == np.float32
    plain, start, end = p.load_chunk(2, with_context=False)
    assert (start, end) == (60.0, 70.0) and plain.shape[0] == 10 * 48_000
    np.testing.assert_array_equal(plain, audio[5 * 48_000 :])


def test_level_helpers_keep_the_originals_meaning(make_wav, chunk_dir):
    p = processor(make_wav(95.0), chunk_dir)
    x = np.full((100, 2), 0.5)
    assert p._calculate_rms(x) == pytest.approx(20 * np.log10(0.5 + 1e-10))
    assert p._calculate_rms(np.zeros(10)) == pytest.approx(-200.0)
    chunk = np.random.default_rng(0).standard_normal((1000, 2)).astype(np.float32)
    out = p._smooth_level_transition(chunk, 3)
    assert out is chunk and p.chunk_gain_history == [0.0]
    assert p.chunk_rms_history == [pytest.approx(p._calculate_rms(chunk))]
    assert p.apply_crossfade(chunk, 1, is_last=True) is chunk
    # process_chunk records each chunk once, in the order processed, with its RMS.
    q = processor(make_wav(95.0, name="b.wav"), chunk_dir)
    for i in (2, 0, 3):
        q.process_chunk(i, fast_start=(i == 0))
    q.process_chunk(2)
    assert len(q.chunk_rms_history) == 3 and q.chunk_gain_history == [0.0] * 3
    rms = [q._calculate_rms(q.stream.chunk_pcm(i)) for i in (2, 0, 3)]
    np.testing.assert_allclose(q.chunk_rms_history, rms, atol=1e-6)


def test_fingerprint_cache_is_the_shared_dict(make_wav, chunk_dir):
    shared: dict = {}
    p = ac.ChunkedAudioProcessor(9, str(make_wav(2.0)), chunk_cache=shared, chunk_dir=chunk_dir)
    assert p.get_cached_fingerprint() is None
    fp = {"lufs": -14.0}
    p.cache_fingerprint(fp)
    assert shared[f"fingerprint_9_{p.file_signature}"] is fp
    q = ac.ChunkedAudioProcessor(9, p.filepath, "warm", chunk_cache=shared, chunk_dir=chunk_dir)
    assert q.get_cached_fingerprint() is fp


@pytest.mark.parametrize(
    "seconds, chunks",
    [(0.1, 1), (5.0, 1), (30.0, 1), (30.02, 2), (62.0, 3), (65.5, 3)],
)
def test_chunks_tile_the_track_exactly(make_wav, chunk_dir, seconds, chunks):
    path = make_wav(seconds)
    p = processor(path, chunk_dir, wav_format="float32")
    frames = round(seconds * 48_000)
    assert p.total_chunks == chunks
    wavs = [read_wav_float(p.process_chunk(i)) for i in range(chunks)]
    assert sum(w.shape[0] for w in wavs) == frames  # exact, no overlap head, nothing lost
    ranges = [p.load_chunk(i, with_context=False)[1:] for i in range(chunks)]
    assert ranges[0][0] == 0.0 and ranges[-1][1] == pytest.approx(p.total_duration)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    for i, w in enumerate(wavs):
        np.testing.assert_array_equal(w, p.stream.chunk_pcm(i))
    full = read_wav_float(p.get_full_processed_audio_path())
    np.testing.assert_array_equal(full, np.concatenate(wavs))


def test_preset_none_serves_the_original_audio(make_wav, chunk_dir):
    p = processor(make_wav(8.0), chunk_dir, preset=None, wav_format="float32")
    wav = read_wav_float(p.process_chunk(0))
    original, _, _ = p.load_chunk(0, with_context=False)
    np.testing.assert_array_equal(wav, original)


def test_crossfade_math_matches_the_original():
    ones, zeros = np.ones((10, 2), np.float32), np.zeros((10, 2), np.float32)
    out = ac.apply_crossfade_between_chunks(ones, zeros, 4)
    assert out.shape == (16, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[6:10, 0], np.linspace(1, 0, 4), atol=1e-7)
    np.testing.assert_array_equal(ac.apply_crossfade_between_chunks(ones, zeros, 0),
                                  np.concatenate([ones, zeros]))
    assert ac.apply_crossfade_between_chunks(ones, zeros, 100).shape == (10, 2)
    mono = ac.apply_crossfade_between_chunks(np.ones(5), np.zeros(5), 2)
    assert mono.shape == (8,)


# -- 5. 16-bit WAV by default -------------------------------------------------------------------


def test_wavs_are_16_bit_dithered_by_default_and_float_on_request(make_wav, chunk_dir, monkeypatch):
    path = make_wav(65.0)
    p = processor(path, chunk_dir)
    frames = [30 * 48_000, 30 * 48_000, 5 * 48_000]
    chunks = []
    for i, n in enumerate(frames):
        out = p.process_chunk(i)
        samples, fmt, bits, rate = read_wav(out)
        assert (fmt, bits, rate) == (1, 16, 48_000) and samples.shape == (n, 2)
        assert os.path.getsize(out) == 44 + n * 2 * 2  # canonical header + 16-bit stereo
        # Within the dither of the engine's float samples (TPDF: at most 1 LSB + rounding).
        exact = p.stream.chunk_pcm(i).astype(np.float64) * 32768
        err = samples.astype(np.float64) - exact
        assert np.abs(err).max() <= 1.5 and abs(err.mean()) < 0.01
        assert err.std() == pytest.approx(np.sqrt(1 / 6 + 1 / 12), rel=0.05)  # TPDF + rounding
        chunks.append(samples)
    full = p.get_full_processed_audio_path()
    assert os.path.getsize(full) == 44 + sum(frames) * 4
    # The dither is a function of the position: the chunks joined are the full file, bit for bit.
    np.testing.assert_array_equal(read_wav(full)[0], np.concatenate(chunks))
    # The same bytes from another processor (another dict, another file write).
    again = processor(path, chunk_dir.parent / "other").process_chunk(1)
    assert Path(again).read_bytes() == Path(p.process_chunk(1)).read_bytes()
    # Float on request: the keyword, or the module setting. Same names, files replaced.
    f = processor(path, chunk_dir, wav_format="float32")
    out = f.process_chunk(0)
    assert out == p._get_chunk_path(0).__str__() and read_wav(out)[2] == 32
    assert Path(out).read_bytes() == f.stream.chunk_wav(0, "float32")
    np.testing.assert_array_equal(read_wav_float(out), f.stream.chunk_pcm(0))
    monkeypatch.setattr(compat, "WAV_FORMAT", "float32")
    g = processor(path, chunk_dir)
    assert g.wav_format == "float32" and read_wav(g.process_chunk(2))[2] == 32
    # And back: the 16-bit default replaces the float file it finds under its name.
    monkeypatch.setattr(compat, "WAV_FORMAT", "pcm16")
    assert read_wav(processor(path, chunk_dir).process_chunk(0))[2] == 16


# -- 6. the backend's flows ----------------------------------------------------------------------

PRESETS = ["adaptive", "gentle", "warm", "bright", "punchy"]


async def buffer_presets(track_id, filepath, chunk_dir, intensity=1.0, total_chunks=None):
    """The backend's proactive buffering, re-expressed: for each preset a fresh processor,
    the first 3 chunks, skipping what ``_get_chunk_path`` says exists."""
    done, skipped = [], []
    n = 3 if total_chunks is None else min(3, total_chunks)
    for preset in PRESETS:
        proc = ac.ChunkedAudioProcessor(track_id=track_id, filepath=filepath, preset=preset,
                                        intensity=intensity, chunk_dir=chunk_dir)
        for i in range(n):
            if proc._get_chunk_path(i).exists():
                skipped.append((preset, i))
                continue
            await asyncio.to_thread(proc.process_chunk, i)
            done.append((preset, i))
    return done, skipped


def test_proactive_buffering_buffers_every_preset_then_skips_them(make_wav, chunk_dir):
    path = str(make_wav(65.0))
    done, skipped = asyncio.run(buffer_presets(4, path, chunk_dir, total_chunks=3))
    assert done == [(p, i) for p in PRESETS for i in range(3)] and skipped == []
    names = {f.name for f in written_files(chunk_dir)}
    sig = ac.ChunkedAudioProcessor(4, path, chunk_dir=chunk_dir).file_signature
    assert names == {f"track_4_{sig}_{p}_1.0_chunk_{i}.wav" for p in PRESETS for i in range(3)}
    # The presets really differ (each file is its own preset's audio).
    firsts = {p: Path(chunk_dir / f"track_4_{sig}_{p}_1.0_chunk_0.wav").read_bytes() for p in PRESETS}
    assert len(set(firsts.values())) == len(PRESETS)
    done, skipped = asyncio.run(buffer_presets(4, path, chunk_dir, total_chunks=3))
    assert done == [] and len(skipped) == 15
    # A switch to any buffered preset: a fresh processor serves the buffered file as it is.
    before = os.stat(chunk_dir / f"track_4_{sig}_warm_1.0_chunk_1.wav").st_mtime_ns
    warm = ac.ChunkedAudioProcessor(4, path, "warm", chunk_dir=chunk_dir)
    assert warm.process_chunk(1) == str(chunk_dir / f"track_4_{sig}_warm_1.0_chunk_1.wav")
    assert os.stat(warm.process_chunk(1)).st_mtime_ns == before
    assert warm._stream is None  # served from the file: the engine was not even opened


def test_the_players_instant_path_hits_after_one_full_render(make_wav, chunk_dir):
    path = str(make_wav(40.0))
    track_id, preset, intensity = 11, "punchy", 1.0

    def player_check():
        processor = ac.ChunkedAudioProcessor(track_id=track_id, filepath=path, preset=preset,
                                             intensity=intensity, chunk_dir=chunk_dir)
        full = processor.chunk_dir / (
            f"track_{track_id}_{processor.file_signature}_{preset}_{intensity}_full.wav")
        return processor, full

    processor, full = player_check()
    assert not full.exists()
    served = processor.get_full_processed_audio_path()
    assert served == str(full)
    processor2, full2 = player_check()
    assert full2.exists() and full2 == full  # the instant path hits on the next play
    samples, _, bits, _ = read_wav(str(full2))
    assert bits == 16 and samples.shape[0] == 40 * 48_000


def test_the_streaming_routers_calls_on_fresh_processors_in_any_order(make_wav, chunk_dir):
    """The unified and MSE routers make a processor per request and ask for chunks in the
    order listeners seek: every answer is that chunk's bytes, whatever came before."""
    path = str(make_wav(95.0))
    cache: dict = {}

    def fresh():
        return ac.ChunkedAudioProcessor(3, path, "bright", 0.7, cache, chunk_dir=chunk_dir)

    order = [3, 1, 0, 2, 1]
    for i in order:
        wav = fresh().process_chunk(i, fast_start=(i == 0))
        webm = fresh().get_webm_chunk_path(i)
        stream = fresh().stream
        assert Path(wav).read_bytes() == stream.chunk_wav(i, "pcm16")
        assert Path(webm).read_bytes() == stream.chunk_file(i)
    full = fresh().get_full_processed_audio_path()
    joined = np.concatenate([read_wav(fresh().process_chunk(i))[0] for i in range(4)])
    np.testing.assert_array_equal(read_wav(full)[0], joined)


# -- the engine behind it ----------------------------------------------------------------------


def test_a_fresh_process_reuses_the_disk_cache(make_wav, chunk_dir):
    path = make_wav(35.0)
    p = processor(path, chunk_dir)
    webm = Path(p.get_webm_chunk_path(1)).read_bytes()
    Path(p.get_webm_chunk_path(1)).unlink()
    code = f"""
import sys, auralis_core as ac
p = ac.ChunkedAudioProcessor("t1", {str(path)!r}, chunk_dir={str(chunk_dir)!r})
sys.stdout.buffer.write(open(p.get_webm_chunk_path(1), "rb").read())
s = p.stream.stats()
sys.stderr.write(f"{{s['computed']}} {{s['disk_hits']}}")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    computed, disk_hits = map(int, run.stderr.split())
    assert run.stdout == webm
    assert computed == 0 and disk_hits >= 2  # the mastering and the chunk, nothing rendered


def test_the_event_loop_keeps_ticking_while_a_chunk_renders(make_wav, chunk_dir):
    p = processor(make_wav(35.0), chunk_dir, preset="bright")

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                await asyncio.sleep(0.005)
                ticks += 1

        task = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        path = await p.process_chunk_safe(0)
        elapsed = time.perf_counter() - t0
        stop.set()
        await task
        return path, ticks, elapsed

    path, ticks, elapsed = asyncio.run(main())
    assert Path(path).is_file()
    per_100ms = ticks / (elapsed / 0.1)
    print(f"render {elapsed*1e3:.0f} ms, {per_100ms:.1f} ticks per 100 ms")
    assert elapsed > 0.1 and per_100ms >= 5


def test_process_all_chunks_async_processes_what_is_missing(make_wav, chunk_dir):
    p = processor(make_wav(61.0), chunk_dir)
    p.process_chunk(1)
    asyncio.run(p.process_all_chunks_async())
    assert set(p.chunk_cache) == {p._get_cache_key(i) for i in range(3)}
    assert len(p.chunk_rms_history) == 3
    assert all(p._get_chunk_path(i).is_file() for i in range(3))
