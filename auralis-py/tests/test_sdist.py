"""The source distribution as a Python user installs it: ``maturin sdist``, then ``pip install
auralis_core-*.tar.gz`` into a fresh virtualenv (pip's isolated build: maturin and cmake come
from the package's own build requirements, nothing from this checkout's .venv), then the
installed package used from that venv alone: the version, a stream's chunk, both drop-ins, a
queue. The build compiles the whole library (minutes): it is one test."""

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
    chunk = stream.chunk_webm(1)
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
         str(sdist)],
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
