#!/usr/bin/env bash
# Runs the Auralis backend's own code against the drop-in, outside this repository: the backend
# (matiaszanolli/Auralis at commit f2cdb558, 1.0.0-beta.7, 2025-10-31) is read from a git
# directory you give, its `auralis-web/backend/chunked_processor.py` is replaced by the one-line
# shim `from auralis_core.compat import *`, and then
#   1. its unit tests of the processor (tests/backend/test_chunked_processor.py) run with pytest;
#   2. its proactive buffering (auralis-web/backend/proactive_buffer.py, unchanged) runs twice on
#      a real file: the first run must write 3 chunks x 5 presets, the second must skip them all.
# Nothing of the backend is copied into this repository: the files are taken from the git
# directory into a temporary folder for the run.
#
# Usage: scripts/backend_dropin.sh GIT_DIR [AUDIO_FILE]
#   GIT_DIR: a clone (or bare mirror) of the backend's repository holding commit f2cdb558.
#   AUDIO_FILE: a track to buffer (default: the built-in demo, two minutes).
# Needs the package built into .venv (`make test` does it, or `maturin develop`).
set -euo pipefail
cd "$(dirname "$0")/.."
git_dir=${1:?usage: scripts/backend_dropin.sh GIT_DIR [AUDIO_FILE]}
audio=${2:-}
commit=f2cdb558
py="$PWD/.venv/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/auralis-web/backend" "$work/tests/backend"
show() { git --git-dir="$git_dir" show "$commit:$1"; }
show tests/backend/test_chunked_processor.py > "$work/tests/backend/test_chunked_processor.py"
show auralis-web/backend/proactive_buffer.py > "$work/auralis-web/backend/proactive_buffer.py"
echo "from auralis_core.compat import *" > "$work/auralis-web/backend/chunked_processor.py"

echo "== 1. the backend's unit tests of the processor, against the shim"
(cd "$work" && "$py" -m pytest -q -p no:cacheprovider tests/backend/test_chunked_processor.py)

echo "== 2. the backend's proactive buffering, unchanged, on a real file"
if [ -z "$audio" ]; then
    audio="$work/demo.wav"
    "$py" -c "import auralis_core, sys; open(sys.argv[1], 'wb').write(auralis_core.demo_wav())" "$audio"
fi
BACKEND="$work/auralis-web/backend" AUDIO="$audio" "$py" - <<'EOF'
import asyncio, logging, os, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, os.environ["BACKEND"])
chunk_dir = Path(tempfile.gettempdir()) / "auralis_chunks"
logging.basicConfig(level=logging.INFO, format="%(message)s")
records = []
handler = logging.Handler()
handler.emit = records.append
logging.getLogger("proactive_buffer").addHandler(handler)
logging.getLogger("proactive_buffer").setLevel(logging.DEBUG)

import chunked_processor  # the shim
from proactive_buffer import AVAILABLE_PRESETS, PRELOAD_CHUNKS, buffer_presets_for_track

audio = os.environ["AUDIO"]
track_id = int(time.time())  # names unseen in the shared chunk directory
p = chunked_processor.ChunkedAudioProcessor(track_id, audio)
n = min(PRELOAD_CHUNKS, p.total_chunks)


def expected():
    return [p.chunk_dir / f"track_{track_id}_{p.file_signature}_{preset}_1.0_chunk_{i}.wav"
            for preset in AVAILABLE_PRESETS for i in range(n)]


for run in (1, 2):
    records.clear()
    t = time.perf_counter()
    asyncio.run(buffer_presets_for_track(track_id, audio, 1.0, p.total_chunks))
    dt = time.perf_counter() - t
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    buffered = sum("Buffered:" in r.getMessage() for r in records)
    skipped = sum("Already cached" in r.getMessage() for r in records)
    present = sum(f.is_file() for f in expected())
    print(f"run {run}: {buffered} buffered, {skipped} skipped, {len(errors)} errors, "
          f"{present}/{len(expected())} files present, {dt:.2f} s")
    assert not errors, errors
    assert present == len(expected())
    assert (buffered, skipped) == ((len(expected()), 0) if run == 1 else (0, len(expected())))
for f in expected():
    f.unlink()
    Path(f.parent / f".{f.name}.key").unlink()
print("proactive buffering: OK")
EOF
