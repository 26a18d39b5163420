"""The source distribution as a Python user installs it: ``maturin sdist``, then ``pip install
auralis_core-*.tar.gz`` into a fresh virtualenv (pip's isolated build: maturin and cmake come
from the package's own build requirements, nothing from this checkout's .venv), then the
installed package used from that venv alone: the version, a stream's chunk, both drop-ins, a
queue, and the server started by its console script (``auralis-core serve``, with the
``[server]`` extra pulling FastAPI and uvicorn) answering its health check and serving a chunk.
The build compiles the whole library (minutes): it is one test."""

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USE = textwrap.dedent(
    """
    import json, os, sys, tempfile
    import auralis_core
    from auralis_core import Stream, Queue
    from auralis_core.compat import ChunkedAudioProcessor as Processor10
    from auralis_core.compat.v1_5 import ChunkedAudioProcessor as Processor15
    tempfile.tempdir = sys.argv[1]
    path = os.path.join(sys.argv[1], "demo.wav")
    open(path, "wb").write(auralis_core.demo_wav())
    stream = Stream(path, preset="warm", chunk_seconds=10.0)
    chunk = stream.chunk_file(1)
    old = Processor10(1, path, "gentle").process_chunk(0)
    wav_path, pcm = Processor15(2, path, "bright").process_chunk(1)
    queue = Queue([path, path])
    print(json.dumps({
        "version": auralis_core.__version__,
        "module": auralis_core.__file__,
        "chunk_bytes": len(chunk),
        "v1_0_wav": os.path.getsize(old),
        "v1_5_frames": pcm.shape[0],
        "v1_5_rate": Processor15(2, path, "bright").sample_rate,
        "queue_chunks": queue.info["total_chunks"],
    }))
    """
)


def test_the_sdist_builds_and_installs_into_a_fresh_venv_and_works(tmp_path):
    dist = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("CMAKE", "VIRTUAL_ENV")}
    maturin = Path(sys.executable).parent / "maturin"
    subprocess.run(
        [str(maturin), "sdist", "-m", str(ROOT / "auralis-py" / "Cargo.toml"), "-o", str(dist)],
        check=True, capture_output=True, env=env,
    )
    (sdist,) = dist.glob("auralis_core-*.tar.gz")
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    build = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{sdist}[server]"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run(
        [str(python), "-c", USE, str(work)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    version = next(
        line.split('"')[1] for line in (ROOT / "Cargo.toml").read_text().splitlines()
        if line.startswith("version = ")
    )
    assert got["version"] == version
    assert got["module"].startswith(str(fresh)), got["module"]  # not this checkout's
    assert got["chunk_bytes"] > 10_000
    assert got["v1_0_wav"] > 44 + 30 * 48_000 * 2 * 2 - 1
    assert got["v1_5_rate"] == 44_100 and got["v1_5_frames"] == 10 * 44_100
    assert got["queue_chunks"] >= 2
    # The server, as its console script starts it from the fresh venv.
    import httpx

    from conftest import free_port, stop_process_group, wait_for_server

    library = tmp_path / "library"
    library.mkdir()
    (library / "song.wav").write_bytes((work / "demo.wav").read_bytes())
    port = free_port()
    server = subprocess.Popen(
        [str(fresh / "bin" / "auralis-core"), "serve", "--library", str(library), "--port",
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
        start_new_session=True,
    )
    try:
        wait_for_server(f"http://127.0.0.1:{port}/api/health", server)
        health = httpx.get(f"http://127.0.0.1:{port}/api/health").json()
        assert health == {"status": "ok", "version": version, "tracks": 2}  # the demo and song
        chunk = httpx.get(f"http://127.0.0.1:{port}/api/stream/song/chunk/0", timeout=120)
        assert chunk.status_code == 200 and chunk.content[:4] == bytes.fromhex("1f43b675")
    finally:
        stop_process_group(server)
