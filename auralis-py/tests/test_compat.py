"""The drop-in ChunkedAudioProcessor: the original backend's test intents (research/auralis.md
§8), re-expressed against our module and tightened: exact sample counts, content equality,
cache identity and reuse, a non-blocking event loop."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import auralis_core as ac
from auralis_core import compat

from conftest import read_wav_float


def processor(path, chunk_dir, **kw):
    return ac.ChunkedAudioProcessor("t1", str(path), chunk_dir=chunk_dir, **kw)


def test_constants_are_exported_once_and_sane():
    assert ac.CHUNK_DURATION == compat.CHUNK_DURATION == 30.0
    assert 0 < ac.OVERLAP_DURATION < ac.CHUNK_DURATION / 2
    assert 1 <= ac.CONTEXT_DURATION <= 10
    assert 0.5 <= ac.MAX_LEVEL_CHANGE_DB <= 3
    assert ac.apply_crossfade_between_chunks is compat.apply_crossfade_between_chunks


def test_attributes_and_cache_identity(make_wav, chunk_dir):
    shared = {}
    p = ac.ChunkedAudioProcessor(7, str(make_wav(65.0)), "warm", 0.5, shared, chunk_dir=chunk_dir)
    assert p.chunk_cache is shared
    assert (p.track_id, p.preset, p.intensity) == (7, "warm", 0.5)
    assert p.sample_rate == 48_000 and p.channels == 2
    assert p.total_duration == p.duration == pytest.approx(65.0)
    assert p.total_chunks == 3 and p.chunk_duration == 30.0
    assert isinstance(p.file_signature, str) and len(p.file_signature) > 16
    assert p.chunk_dir == chunk_dir
    path = p.process_chunk(1)
    assert Path(path).parent == chunk_dir and path.endswith(".wav")
    assert path in shared.values() and any(
        "7" in k and "warm" in k and "0.5" in k and k.endswith("_1") for k in shared
    )
    assert p.process_chunk(1) == path  # same key, same file
    webm = p.get_webm_chunk_path(1)
    assert webm.endswith(".webm") and Path(webm).read_bytes()[:4] == b"\x1a\x45\xdf\xa3"
    assert len(shared) == 2
    # The default directory is <tempdir>/auralis_chunks.
    q = ac.ChunkedAudioProcessor("t2", str(make_wav(1.0, name="short.wav")))
    assert q.chunk_dir.name == "auralis_chunks" and q.chunk_dir.is_dir()


@pytest.mark.parametrize(
    "seconds, chunks",
    [(0.1, 1), (0.5, 1), (5.0, 1), (30.0, 1), (30.02, 2), (60.0, 2), (62.0, 3), (65.5, 3)],
)
def test_chunks_tile_the_track_exactly(make_wav, chunk_dir, seconds, chunks):
    path = make_wav(seconds)
    p = processor(path, chunk_dir)
    frames = round(seconds * 48_000)
    assert p.total_chunks == chunks
    wavs = [read_wav_float(p.process_chunk(i)) for i in range(chunks)]
    assert sum(w.shape[0] for w in wavs) == frames  # exact, no overlap head, nothing lost
    # Boundaries tile: chunk k starts where k-1 ended; the first at 0, the last at T.
    ranges = [p.load_chunk(i, with_context=False)[1:] for i in range(chunks)]
    assert ranges[0][0] == 0.0 and ranges[-1][1] == pytest.approx(p.total_duration)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    # Content: each WAV is exactly that chunk's mastered audio.
    for i, w in enumerate(wavs):
        np.testing.assert_array_equal(w, p.stream.chunk_pcm(i))
    full = read_wav_float(p.get_full_processed_audio_path())
    np.testing.assert_array_equal(full, np.concatenate(wavs))


def test_index_checks_and_context(make_wav, chunk_dir):
    p = processor(make_wav(70.0), chunk_dir)
    for bad in (-1, 3, 99):
        with pytest.raises(ac.IndexOutOfRangeError):
            p.process_chunk(bad)
        with pytest.raises(ac.IndexOutOfRangeError):
            p.load_chunk(bad)
        with pytest.raises(ac.IndexOutOfRangeError):
            p.get_webm_chunk_path(bad)
    audio, start, end = p.load_chunk(1, with_context=True)
    assert (start, end) == (25.0, 65.0) and audio.shape == (40 * 48_000, 2)
    audio, start, end = p.load_chunk(0, with_context=True)
    assert (start, end) == (0.0, 35.0)
    audio, start, end = p.load_chunk(2, with_context=True)
    assert (start, end) == (55.0, 70.0) and audio.dtype == np.float32
    audio, start, end = p.load_chunk(2, with_context=False)
    assert audio.shape[0] == 10 * 48_000


def test_preset_none_serves_the_original_audio(make_wav, chunk_dir):
    p = processor(make_wav(8.0), chunk_dir, preset=None)
    wav = read_wav_float(p.process_chunk(0))
    original, _, _ = p.load_chunk(0, with_context=False)
    np.testing.assert_array_equal(wav, original)


def test_histories_record_each_processed_chunk_in_order(make_wav, chunk_dir):
    p = processor(make_wav(95.0), chunk_dir)
    for i in (2, 0, 3):  # any chunk first: a fresh processor never fails
        p.process_chunk(i)
    p.process_chunk(2)  # a cache hit adds nothing
    assert len(p.chunk_rms_history) == len(p.chunk_gain_history) == 3
    levels = p.get_chunk_levels()
    assert p.chunk_rms_history == [levels[i][0] for i in (2, 0, 3)]
    # Track-level gain: the same for every chunk, and what the mastering applied.
    assert len(set(p.chunk_gain_history)) == 1
    rms = [20 * np.log10(np.sqrt(np.mean(read_wav_float(p.process_chunk(i)).astype(np.float64) ** 2)))
           for i in (2, 0, 3)]
    np.testing.assert_allclose(p.chunk_rms_history, rms, atol=1e-6)


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


def test_signature_changes_on_touch(make_wav, chunk_dir):
    path = make_wav(3.0)
    a = processor(path, chunk_dir).file_signature
    assert processor(path, chunk_dir).file_signature == a
    time.sleep(0.02)
    os.utime(path)
    assert processor(path, chunk_dir).file_signature != a


def test_a_fresh_process_reuses_the_disk_cache(make_wav, chunk_dir):
    path = make_wav(35.0)
    p = processor(path, chunk_dir)
    webm = Path(p.get_webm_chunk_path(1)).read_bytes()
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


def test_process_all_chunks_async(make_wav, chunk_dir):
    p = processor(make_wav(61.0), chunk_dir)
    asyncio.run(p.process_all_chunks_async())
    assert len(p.chunk_cache) == 3 and len(p.chunk_rms_history) == 3
