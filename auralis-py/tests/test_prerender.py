"""The pre-render job on Dask distributed (``python -m auralis_core prerender``): a LocalCluster
fills the cache with exactly the expected entries, each equal to a fresh render; a second run
computes nothing; a worker killed with SIGKILL does not stop a run; pre-render workers and two
server processes on one directory compute every key once; ``--analysis-only`` makes opens cost
no analysis. The oracle is the engine itself without a cache (``Stream`` with no
``cache_dir``), rendering each chunk on its own."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import auralis_core as ac
from auralis_core.prerender import find_tracks, prerender

from conftest import free_port, stop_process_group, wait_for_server, write_wav

try:
    from dask.distributed import Client, LocalCluster
except ImportError:  # the cluster extra; `make test` installs it, and CI requires it
    if os.environ.get("CI"):
        raise
    pytest.skip("dask[distributed] (the cluster extra) is not installed", allow_module_level=True)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
CHUNK_S = 10.0


def make_library(root: Path, lengths, bad: bool = True) -> Path:
    lib = root / "library"
    (lib / "album").mkdir(parents=True)
    for i, seconds in enumerate(lengths):
        write_wav((lib if i % 2 else lib / "album") / f"synth{i}.wav", seconds, seed=i)
    if bad:
        (lib / "broken.mp3").write_bytes(bytes(range(256)) * 20)
        (lib / "album" / "truncated.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    return lib


def cache_files(cache: Path, suffix: str = ".chunk"):
    return sorted(p for p in cache.iterdir() if p.name.endswith(suffix))


def expected_entries(tracks, presets, chunk_s=CHUNK_S) -> int:
    """Per track: its analysis, one mastering per preset, every chunk of every preset."""
    total = 0
    for t in tracks:
        chunks = ac.Stream(str(t), chunk_seconds=chunk_s).info["total_chunks"]
        total += 1 + len(presets) + chunks * len(presets)
    return total


def assert_cache_equals_fresh_renders(tracks, presets, cache: Path, chunk_s=CHUNK_S):
    for t in tracks:
        for preset in presets:
            cached = ac.Stream(str(t), preset=preset, chunk_seconds=chunk_s, cache_dir=str(cache))
            fresh = ac.Stream(str(t), preset=preset, chunk_seconds=chunk_s)
            for i in range(cached.info["total_chunks"]):
                assert cached.is_cached(i), (t, preset, i)
                body, origin = cached.media_segment(i)
                assert origin in ("HIT-DISK", "HIT-MEMORY"), (t, preset, i, origin)
                assert body == fresh.media_segment(i)[0], f"{t.name} {preset} chunk {i} differs"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        with Client(c) as client:
            yield client


def test_a_library_is_prerendered_exactly_once_and_a_second_run_computes_nothing(tmp_path, cluster):
    lib = make_library(tmp_path, [25.0, 12.0])
    corpus = sorted(p for p in CORPUS.glob("*.*") if p.suffix != ".md") if CORPUS.is_dir() else []
    if corpus:
        for p in corpus:
            (lib / p.name).write_bytes(p.read_bytes())
    elif os.environ.get("CI"):
        pytest.fail(f"the corpus is required in CI ({CORPUS} not found)")
    else:
        print(f"corpus absent ({CORPUS}): synthesized tracks only")
    cache = tmp_path / "cache"
    presets = ["adaptive", "warm"]
    summary = prerender(lib, str(cache), presets, chunk_seconds=CHUNK_S, progress=False, client=cluster)

    bad = {str(lib / "broken.mp3"), str(lib / "album" / "truncated.wav")}
    assert {f["path"] for f in summary["failures"]} == bad
    assert all(f["error"] for f in summary["failures"])
    good = [t for t in find_tracks(lib) if str(t) not in bad]
    assert summary["tracks"] == len(good) + 2 and summary["tracks_ok"] == len(good)
    want = expected_entries(good, presets)
    assert len(cache_files(cache)) == want
    assert summary["entries_computed"] == want
    assert summary["chunks_rendered"] == summary["chunks_planned"] == want - 3 * len(good)
    assert summary["x_real_time"] > 0 and summary["bytes_rendered"] > 0
    assert not cache_files(cache, ".lock") and not cache_files(cache, ".tmp")
    assert_cache_equals_fresh_renders(good, presets, cache)

    again = prerender(lib, str(cache), presets, chunk_seconds=CHUNK_S, progress=False, client=cluster)
    assert again["entries_computed"] == 0 and again["chunks_rendered"] == 0
    assert again["chunks_skipped"] == summary["chunks_planned"]
    assert len(cache_files(cache)) == want


def test_a_worker_killed_with_sigkill_during_a_run_does_not_stop_it(tmp_path):
    lib = make_library(tmp_path, [40.0] * 6, bad=False)
    cache = tmp_path / "cache"
    tracks = find_tracks(lib)
    want = expected_entries(tracks, ["adaptive"], chunk_s=5.0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            Client(c) as client:
        result = {}
        run = threading.Thread(target=lambda: result.update(prerender(
            lib, str(cache), ["adaptive"], chunk_seconds=5.0, progress=False, client=client)))
        run.start()
        deadline = time.monotonic() + 120
        while not (cache.exists() and len(cache_files(cache)) >= 6):
            assert time.monotonic() < deadline and run.is_alive(), "the run made no progress"
            time.sleep(0.01)
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        left = want - len(cache_files(cache))
        run.join(timeout=300)
        assert not run.is_alive()
    assert left > 0, "the run had finished before the kill: the test did not test what it says"
    assert result["failures"] == [], result["failures"]
    assert result["chunks_rendered"] + result["chunks_skipped"] == result["chunks_planned"]
    assert len(cache_files(cache)) == want
    assert_cache_equals_fresh_renders(tracks, ["adaptive"], cache, chunk_s=5.0)


def test_prerender_workers_and_two_servers_on_one_directory_compute_each_key_once(tmp_path, cluster):
    import concurrent.futures

    import httpx

    lib = tmp_path / "flat"  # the server lists one folder, not subfolders
    lib.mkdir()
    tracks = [write_wav(lib / "one.wav", 30.0, seed=1), write_wav(lib / "two.wav", 20.0, seed=2)]
    cache = tmp_path / "cache"
    servers, ports = [], []
    for _ in range(2):
        ports.append(free_port())
        servers.append(subprocess.Popen(
            [sys.executable, "-m", "auralis_core", "serve", "--port", str(ports[-1]), "--library", str(lib),
             "--cache-dir", str(cache), "--chunk-seconds", "5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ))
    try:
        for port, server in zip(ports, servers):
            wait_for_server(f"http://127.0.0.1:{port}/api/tracks", server)
        result = {}
        run = threading.Thread(target=lambda: result.update(prerender(
            lib, str(cache), ["adaptive"], chunk_seconds=5.0, progress=False, client=cluster)))
        run.start()

        def fetch(job):
            port, track, index = job
            r = httpx.get(f"http://127.0.0.1:{port}/api/stream/{track.stem}/chunk/{index}", timeout=120)
            assert r.status_code == 200, r.text
            return track, index, r.content

        jobs = [(port, t, i) for t in tracks
                for i in range(ac.Stream(str(t), chunk_seconds=5.0).info["total_chunks"])
                for port in ports]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            served = list(pool.map(fetch, jobs))
        run.join(timeout=300)
        assert not run.is_alive() and result["failures"] == []
        # Let the servers' prefetchers finish (they may look ahead), then read their counters.
        time.sleep(1.0)
        computed = [httpx.get(f"http://127.0.0.1:{p}/api/stats").json().get("computed", 0) for p in ports]
    finally:
        for s in servers:
            stop_process_group(s)
    want = expected_entries(tracks, ["adaptive"], chunk_s=5.0)
    assert len(cache_files(cache)) == want
    assert sum(computed) + result["entries_computed"] == want, (computed, result["entries_computed"])
    for track, index, body in served:
        fresh = ac.Stream(str(track), chunk_seconds=5.0).media_segment(index)[0]
        assert body == fresh, f"{track.name} chunk {index}: a server served other bytes"


def test_the_cli_analysis_only_run_makes_opens_cost_no_analysis(tmp_path):
    lib = make_library(tmp_path, [35.0, 15.0])
    cache = tmp_path / "cache"
    out = tmp_path / "summary.json"
    run = subprocess.run(
        [sys.executable, "-m", "auralis_core", "prerender", str(lib), "--cache-dir", str(cache),
         "--analysis-only", "--presets", "adaptive,gentle,punchy", "--workers", "2",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(out.read_text())
    assert summary["analysis_only"] and summary["tracks_ok"] == 2 and summary["tracks_failed"] == 2
    assert summary["chunks_rendered"] == 0 and summary["entries_computed"] == 2 * (1 + 3)
    assert "tracks" in run.stderr  # the progress line
    assert "failed:" in run.stdout and "broken.mp3" in run.stdout
    assert len(cache_files(cache)) == 2 * (1 + 3)
    # A server process opening these tracks (any of the three presets) computes no analysis:
    # its first chunk is the only thing it computes.
    code = (
        "import auralis_core as ac, sys, json\n"
        "s = ac.Stream(sys.argv[1], preset='punchy', cache_dir=sys.argv[2])\n"
        "before = s.stats()['computed']\n"
        "s.media_segment(0)\n"
        "print(json.dumps([before, s.stats()['computed']]))\n"
    )
    for track in [t for t in find_tracks(lib) if t.suffix == ".wav" and t.stat().st_size > 1000]:
        got = subprocess.run([sys.executable, "-c", code, str(track), str(cache)],
                             capture_output=True, text=True, check=True)
        assert json.loads(got.stdout) == [0, 1], got.stdout


@pytest.mark.parametrize("args", [["--chunks", "first:0"], ["--chunks", "some"], ["--presets", "loud"]])
def test_bad_arguments_are_refused_with_a_message(tmp_path, args):
    lib = make_library(tmp_path, [5.0], bad=False)
    run = subprocess.run(
        [sys.executable, "-m", "auralis_core", "prerender", str(lib), "--cache-dir", str(tmp_path / "c"),
         "--workers", "1", "--quiet", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode != 0
    assert ("--chunks" in run.stderr) or ("unknown preset" in run.stderr), run.stderr


def test_a_run_on_an_external_scheduler_with_its_own_workers(tmp_path):
    """``--scheduler``: a Dask cluster started apart (``dask scheduler`` and ``dask worker``
    processes, as on other machines sharing the cache directory) runs the same job."""
    lib = make_library(tmp_path, [22.0, 11.0])
    cache = tmp_path / "cache"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workers = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
         "--nthreads", "1", "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        run = subprocess.run(
            [sys.executable, "-m", "auralis_core", "prerender", str(lib), "--cache-dir", str(cache),
             "--scheduler", address, "--chunk-seconds", "10", "--quiet", "--json", "-"],
            capture_output=True, text=True, timeout=300,
        )
    finally:
        for p in (workers, scheduler):
            p.terminate()
            p.wait(timeout=60)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["workers"] == 2 and summary["tracks_ok"] == 2 and summary["tracks_failed"] == 2
    good = [t for t in find_tracks(lib) if t.stat().st_size > 1000 and t.suffix == ".wav"]
    want = expected_entries(good, ["adaptive"])
    assert summary["entries_computed"] == want == len(cache_files(cache))
    assert_cache_equals_fresh_renders(good, ["adaptive"], cache)
