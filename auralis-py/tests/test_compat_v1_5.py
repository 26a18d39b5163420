"""The Auralis 1.5.1 drop-in (``auralis_core.compat.v1_5``): its contract, one test per point of
the issue, on synthesized files (the backend itself is run against it by
scripts/backend_v1_5.sh, outside CI). Oracles: the 1.5.1 chunk formulas, the file's own samples
read by ``wave`` (no resampling anywhere), the same chunk made by another processor in another
order, and the original's documented return shapes, names and errors."""

import asyncio
import json
import logging
import math
import sys
import tempfile
import threading
import types
import wave

import numpy as np
import pytest

import auralis_core
import auralis_core.compat as compat_1_0
from auralis_core.compat import v1_5
from conftest import write_wav

RATES = [44_100, 48_000, 88_200, 96_000, 192_000]


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path, monkeypatch):
    """Each test's chunk directory (<tmp>/auralis_chunks) is its own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    v1_5._last_content_profiles.clear()


def file_samples(path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        raw, ch = w.readframes(w.getnframes()), w.getnchannels()
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).reshape(-1, ch)


# 1. The module: a star import that stands in for 1.5.1's, beside the 1.0 contract, unchanged.


def test_the_star_import_has_the_original_names_and_the_1_0_drop_in_is_unchanged():
    names = {}
    exec("from auralis_core.compat.v1_5 import *", names)
    for name in ["CHUNK_DURATION", "CHUNK_INTERVAL", "OVERLAP_DURATION", "CONTEXT_DURATION",
                 "MAX_LEVEL_CHANGE_DB", "ChunkedAudioProcessor", "apply_crossfade_between_chunks",
                 "get_last_content_profile", "_last_content_profiles",
                 "_last_content_profiles_lock", "_default_get_fingerprints_repository",
                 "_reset_registry_miss_warning", "ChunkOperations", "AudioProcessingPipeline"]:
        assert name in names, name
    assert (names["CHUNK_DURATION"], names["CHUNK_INTERVAL"]) == (15.0, 10.0)
    assert (names["OVERLAP_DURATION"], names["CONTEXT_DURATION"]) == (5.0, 5.0)
    assert names["_default_get_fingerprints_repository"]() is None  # no host here
    # The 1.0.0-beta.7 contract: 30 s int constants, 48 kHz, a path from process_chunk.
    assert compat_1_0.CHUNK_DURATION == 30 and isinstance(compat_1_0.CHUNK_DURATION, int)
    assert compat_1_0.ChunkedAudioProcessor is not v1_5.ChunkedAudioProcessor


def test_host_modules_are_taken_for_identity_when_the_backend_provides_them(monkeypatch):
    """Inside the backend, the constants and stores are the host's own objects."""
    core = types.ModuleType("core")
    core.__path__ = []
    bounds = types.ModuleType("core.chunk_boundaries")
    bounds.CHUNK_DURATION, bounds.CHUNK_INTERVAL = 15.0, 10.0
    bounds.OVERLAP_DURATION, bounds.CONTEXT_DURATION = 5.0, 5.0
    levels = types.ModuleType("core.level_manager")
    levels.MAX_LEVEL_CHANGE_DB = object()
    profiles = types.ModuleType("core.chunk_content_profile")
    profiles._last_content_profiles = {}
    profiles._last_content_profiles_lock = threading.Lock()
    profiles.get_last_content_profile = lambda preset: profiles._last_content_profiles.get(preset)
    for m in (core, bounds, levels, profiles):
        monkeypatch.setitem(sys.modules, m.__name__, m)
    import importlib

    fresh = importlib.reload(v1_5)
    try:
        assert fresh.MAX_LEVEL_CHANGE_DB is levels.MAX_LEVEL_CHANGE_DB
        assert fresh._last_content_profiles is profiles._last_content_profiles
        assert fresh.get_last_content_profile is profiles.get_last_content_profile
    finally:
        monkeypatch.undo()
        importlib.reload(v1_5)


# 2. The chunk model, exactly, at every rate; chunks independent of order and process.


@pytest.mark.parametrize("rate", RATES)
def test_chunks_follow_the_15_10_5_model_and_tile_the_track_at_every_rate(tmp_path, rate):
    seconds = 37.3
    path = write_wav(tmp_path / f"t{rate}.wav", seconds, rate=rate)
    p = v1_5.ChunkedAudioProcessor(1, str(path), "warm", 0.7)
    frames = int(round(seconds * rate))
    assert p.sample_rate == rate and p.total_frames == frames
    assert p.total_chunks == max(1, math.ceil((frames / rate - 5) / 10)) == 4
    spans = [p.chunk_frames(i) for i in range(p.total_chunks)]
    assert spans[0] == (0, 15 * rate)
    for i in range(1, p.total_chunks - 1):
        assert spans[i] == ((10 * i + 5) * rate, (10 * i + 15) * rate)
    assert spans[-1] == (35 * rate, frames)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    if rate in (44_100, 96_000):  # the audio itself, at a CD and a hi-res rate
        chunks = [p.process_chunk(i)[1] for i in range(p.total_chunks)]
        assert [len(c) for c in chunks] == [b - a for a, b in spans]
        assert sum(len(c) for c in chunks) == frames


def test_the_chunk_count_follows_the_formula_at_the_edges(tmp_path):
    for seconds, want in [(3.0, 1), (15.0, 1), (15.01, 2), (25.0, 2), (45.0, 4), (47.0, 5)]:
        path = write_wav(tmp_path / f"e{seconds}.wav", seconds, rate=8_000, channels=1)
        p = v1_5.ChunkedAudioProcessor(2, str(path), "gentle", 1.0)
        assert p.total_chunks == want, seconds
        last = p.chunk_frames(p.total_chunks - 1)
        assert last[1] == p.total_frames


def test_a_chunk_is_the_same_whatever_came_before_and_whoever_makes_it(tmp_path):
    path = write_wav(tmp_path / "t.wav", 40.0, rate=44_100)
    a = v1_5.ChunkedAudioProcessor(3, str(path), "punchy", 1.0)
    forward = [a.process_chunk(i)[1] for i in range(a.total_chunks)]
    # Another processor, another chunk directory (nothing cached), the other order.
    tempfile.tempdir = str(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    b = v1_5.ChunkedAudioProcessor(3, str(path), "punchy", 1.0)
    backward = [b.process_chunk(i)[1] for i in reversed(range(b.total_chunks))][::-1]
    for i, (x, y) in enumerate(zip(forward, backward)):
        assert np.array_equal(x, y), f"chunk {i}"


# 3. PCM at the source rate, mastered by the engine; the bypass is the file's own samples.


@pytest.mark.parametrize("rate", [44_100, 88_200, 192_000])
def test_unmastered_chunks_are_the_files_own_samples_at_its_rate(tmp_path, rate):
    path = write_wav(tmp_path / "t.wav", 27.0, rate=rate)
    p = v1_5.ChunkedAudioProcessor(4, str(path), None, 1.0)
    want = file_samples(path)
    for i in range(p.total_chunks):
        a, b = p.chunk_frames(i)
        _, audio = p.process_chunk(i)
        assert audio.dtype == np.float32 and audio.shape == (b - a, 2)
        assert np.array_equal(audio, want[a:b]), f"chunk {i} is not the file's samples"


def test_mastered_chunks_are_at_the_source_rate_and_change_the_audio(tmp_path):
    path = write_wav(tmp_path / "t.wav", 20.0, rate=96_000)
    p = v1_5.ChunkedAudioProcessor(5, str(path), "bright", 1.0)
    wav_path, audio = p.process_chunk(1)
    with wave.open(wav_path, "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (96_000, 2, 2)
        assert w.getnframes() == len(audio) == 5 * 96_000
    original = file_samples(path)[15 * 96_000:]
    assert not np.allclose(audio, original, atol=1e-3)
    # The WAV holds the returned audio, rounded to 16 bits.
    assert np.max(np.abs(file_samples(wav_path) - audio)) <= 1.0 / 32768 + 1e-6


# 4. The class surface, with the original's semantics where callers depend on them.


def test_returns_are_path_and_float32_frames_by_channels_and_files_are_v3_names(tmp_path):
    path = write_wav(tmp_path / "m.wav", 18.0, rate=22_050, channels=1)
    p = v1_5.ChunkedAudioProcessor(77, str(path), "warm", 0.5)
    wav_path, audio = p.process_chunk(0, fast_start=True)
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 1
    name = f"v3_track_77_{p.file_signature}_warm_0.5_chunk_0.wav"
    assert wav_path.endswith(name) and str(p._get_chunk_path(0)).endswith(name)
    assert p._get_wav_chunk_path(1) == p._get_chunk_path(1)
    assert p.get_wav_chunk_path(0) == wav_path
    assert p._lookup_cached_chunk(0) is not None and p._lookup_cached_chunk(1) is None
    assert p._get_cache_key(0) in p.chunk_cache
    assert (p.chunk_duration, p.chunk_interval, p.duration) == (15.0, 10.0, p.total_duration)
    got = asyncio.run(p.process_chunk_safe(1))
    assert isinstance(got, tuple) and got[1].shape == (int(3 * 22_050), 1)


def test_process_chunk_goes_through_the_patched_core_and_locked_holds_the_rlock(tmp_path):
    path = write_wav(tmp_path / "t.wav", 30.0)
    p = v1_5.ChunkedAudioProcessor(6, str(path))
    seen = []

    def core(i, fast_start=False):
        seen.append((i, fast_start, p._processor_lock._is_owned()))
        return np.full((100, 2), 0.25, dtype=np.float32)

    p._process_chunk_core = core
    wav_path, audio = p.process_chunk(2, True, locked=True)
    assert seen == [(2, True, True)]
    assert np.all(audio == 0.25) and file_samples(wav_path).shape == (100, 2)
    assert isinstance(p._processor_lock, type(threading.RLock()))


def test_a_bad_index_is_a_value_error_before_any_work(tmp_path):
    path = write_wav(tmp_path / "t.wav", 12.0)
    p = v1_5.ChunkedAudioProcessor(7, str(path))
    for bad in (-1, 1, 99, 1.5, True):
        with pytest.raises(ValueError, match="out of range"):
            p.process_chunk(bad)
        with pytest.raises(ValueError, match="out of range"):
            p.get_wav_chunk_path(bad)
    assert not any(p.chunk_dir.glob("v3_*"))


def test_a_stale_or_foreign_file_is_made_again_never_served(tmp_path):
    path = write_wav(tmp_path / "t.wav", 16.0)
    p = v1_5.ChunkedAudioProcessor(8, str(path), "warm")
    target = p._get_chunk_path(0)
    target.write_bytes(b"RIFF....WAVEfmt ")  # left by something else: no stamp
    assert p._lookup_cached_chunk(0) is None
    wav_path, audio = p.process_chunk(0)
    assert file_samples(wav_path).shape == audio.shape
    # A second processor serves the stamped file as it is.
    q = v1_5.ChunkedAudioProcessor(8, str(path), "warm")
    again_path, again = q.process_chunk(0)
    assert again_path == wav_path and np.array_equal(again, file_samples(wav_path))


def test_levels_close_and_the_log_line(tmp_path, caplog):
    path = write_wav(tmp_path / "t.wav", 16.0)
    p = v1_5.ChunkedAudioProcessor(9, str(path), "warm")
    with caplog.at_level(logging.INFO, logger="core.chunked_processor"):
        wav_path, audio = p.process_chunk(0)
    assert any(
        r.name == "core.chunked_processor"
        and r.getMessage() == f"Chunk 0 processed and saved to {wav_path.split('/')[-1]}"
        for r in caplog.records
    )
    p.note_cached_chunk_level(audio, 1, gain_db=-0.5)
    assert p.chunk_gain_history[-1] == -0.5
    assert abs(p.chunk_rms_history[-1] - p._calculate_rms(audio)) < 1e-9
    p.close()
    p.close()
    assert p.process_chunk(1)[1].shape[0] == int(1 * 44_100)  # usable again after close


def test_apply_crossfade_keeps_every_frame_and_the_dtype():
    a = np.ones((100, 2), dtype=np.float32)
    b = np.zeros((50, 2), dtype=np.float32)
    out = v1_5.apply_crossfade_between_chunks(a, b, 20)
    assert out.dtype == np.float32 and out.shape == (130, 2)
    assert out[79, 0] == 1.0 and out[80, 0] == 1.0 and out[99, 0] < 1e-6
    fade = out[80:100, 0].astype(np.float64)
    assert np.allclose(fade, np.cos(np.linspace(0, np.pi / 2, 20)) ** 2, atol=1e-6)
    assert v1_5.apply_crossfade_between_chunks(a, b, 0).shape == (150, 2)


def test_unreadable_files_raise_typed_errors(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError):
        v1_5.ChunkedAudioProcessor(1, str(missing))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(auralis_core.UnsupportedFormatError):
        v1_5.ChunkedAudioProcessor(1, str(junk))
    with pytest.raises(ValueError, match="preset"):
        v1_5.ChunkedAudioProcessor(1, str(write_wav(tmp_path / "t.wav", 2.0)), "loud")


def test_the_full_file_is_the_chunks_joined(tmp_path):
    path = write_wav(tmp_path / "t.wav", 31.0)
    p = v1_5.ChunkedAudioProcessor(10, str(path), "gentle")
    full = asyncio.run(p.get_full_processed_audio_path())
    joined = np.concatenate([p.process_chunk(i)[1] for i in range(p.total_chunks)])
    samples = file_samples(full)
    assert samples.shape == joined.shape == (31 * 44_100, 2)
    assert np.max(np.abs(samples - joined)) <= 1.0 / 32768 + 1e-6


# 5. The engine's analysis for the UI: the content profile and the recommendation.


def test_the_last_content_profile_has_the_routes_shape(tmp_path):
    path = write_wav(tmp_path / "t.wav", 16.0)
    p = v1_5.ChunkedAudioProcessor(11, str(path), "warm")
    assert v1_5.get_last_content_profile("warm") is None
    p.process_chunk(0)
    profile = v1_5.get_last_content_profile("WARM")
    coords, params = profile["coordinates"], profile["parameters"]
    for key in ("spectral_balance", "dynamic_range", "energy_level"):
        assert 0.0 <= coords[key] <= 1.0
    mastering = json.loads(p.stream.mastering_json)
    assert params["target_lufs"] == mastering["target_lufs"]
    assert params["peak_target_db"] == mastering["ceiling_dbtp"]
    assert params["eq_curve"]["low_shelf_gain"] == mastering["eq_db"][0]
    assert "amount" in params["compression_params"] and "amount" in params["expansion_params"]


def test_the_recommendation_is_the_hosts_type_made_from_this_engines_analysis(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "t.wav", 16.0)
    p = v1_5.ChunkedAudioProcessor(12, str(path), "warm")
    assert p.get_mastering_recommendation() is None  # no host recommender here

    seen = {}

    class Fingerprint:
        def __init__(self, **kw):
            seen.update(kw)

    class Engine:
        def recommend_weighted(self, fingerprint, confidence_threshold=0.4):
            return ("recommendation", fingerprint, confidence_threshold)

    auralis = types.ModuleType("auralis")
    auralis.__path__ = []
    analysis = types.ModuleType("auralis.analysis")
    analysis.__path__ = []
    engine_mod = types.ModuleType("auralis.analysis.adaptive_mastering_engine")
    engine_mod.AdaptiveMasteringEngine = Engine
    fp_mod = types.ModuleType("auralis.analysis.mastering_fingerprint")
    fp_mod.MasteringFingerprint = Fingerprint
    for m in (auralis, analysis, engine_mod, fp_mod):
        monkeypatch.setitem(sys.modules, m.__name__, m)
    rec = p.get_mastering_recommendation(confidence_threshold=0.6)
    assert rec[0] == "recommendation" and isinstance(rec[1], Fingerprint) and rec[2] == 0.6
    stored = json.loads(p.stream.analysis_json)
    assert seen["crest_db"] == stored["crest_db"] and seen["loudness_dbfs"] == stored["rms_dbfs"]
    assert 20.0 < seen["spectral_centroid"] < 20_000.0
    assert p.get_mastering_recommendation() is rec  # kept, as the original
