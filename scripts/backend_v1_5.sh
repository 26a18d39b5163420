#!/usr/bin/env bash
# Runs both Auralis backends' own code against this package's drop-ins, outside this repository,
# and prints the counts: 1.5.1 against `auralis_core.compat.v1_5` (steps 1-4), 1.0.0-beta.7
# against `auralis_core.compat` (step 5). The backend (matiaszanolli/Auralis at commit f33a22e5,
# 1.5.1, 2026-08-22) is read from a git directory you give; nothing of it is copied into this
# repository. In a temporary folder (or WORK=DIR, kept):
#   1. the backend's Python tree is taken from the git directory twice: as it is, and with
#      auralis-web/backend/core/chunked_processor.py replaced by the one line
#      `from auralis_core.compat.v1_5 import *`;
#   2. a Python 3.13 venv gets the backend's requirements.txt, pytest, pytest-asyncio,
#      pytest-timeout and this repository's wheel (built by maturin from the current tree);
#   3. the 50 test files under tests/ that name chunked_processor or ChunkedAudioProcessor run
#      in both trees; the per-file counts are printed side by side, with every test that passes
#      with the original and not with the swap;
#   4. the live probe (scripts/backend_v1_5_probe.py: the backend's own AudioStreamController,
#      a mock socket, a 47 s 44.1 kHz file; whole track, seek to 31 s, preset switch, proactive
#      buffering) runs in both trees, interleaved, PROBE_REPS times (default 5); the medians of
#      first audio and of the preset switch are printed with their ratio;
#   5. the 1.0.0-beta.7 backend's processor tests and proactive buffering run against
#      `auralis_core.compat` (scripts/backend_dropin.sh), so both drop-ins are checked at once.
#
# Usage: scripts/backend_v1_5.sh GIT_DIR
#   PYTHON313=/path/to/python3.13 (default: python3.13 on PATH, else pyenv's 3.13.0)
# Needs the project's .venv (make test makes it) for maturin.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
git_dir=${1:?usage: scripts/backend_v1_5.sh GIT_DIR}
commit=f33a22e5
# The first Python 3.13 that runs (a pyenv shim on PATH may not, without a pyenv version set).
py313=${PYTHON313:-}
if [ -z "$py313" ]; then
    for cand in "$(command -v python3.13 || true)" "$HOME/.pyenv/versions/3.13.0/bin/python3"; do
        if [ -n "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' \
            2>/dev/null; then
            py313=$cand
            break
        fi
    done
fi
[ -n "$py313" ] || { echo "no Python 3.13 found (set PYTHON313)" >&2; exit 2; }
work=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

take_tree() {  # the backend's Python side at $commit into $1 (the frontend is not needed)
    mkdir -p "$1"
    for p in auralis auralis-web/backend tests vendor requirements.txt pytest.ini pyproject.toml; do
        # A partial mirror reports objects outside the paths taken (the frontend) on stderr:
        # kept in a log, not on the screen.
        git --git-dir="$git_dir" archive "$commit" "$p" 2>>"$work/archive.log" | tar -x -C "$1"
    done
}
[ -d "$work/original" ] || take_tree "$work/original"
if [ ! -d "$work/swap" ]; then
    take_tree "$work/swap"
    echo "from auralis_core.compat.v1_5 import *" \
        > "$work/swap/auralis-web/backend/core/chunked_processor.py"
fi

echo "== building the wheel and the backend's venv ($py313)"
export CMAKE="${CMAKE:-$repo/.venv/bin/cmake}"
rm -rf "$work/wheels"
VIRTUAL_ENV="$repo/.venv" "$repo/.venv/bin/maturin" build --release --quiet \
    -m "$repo/auralis-py/Cargo.toml" -o "$work/wheels" >/dev/null
venv="$work/venv313"
if [ ! -x "$venv/bin/pytest" ]; then
    "$py313" -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$work/original/requirements.txt" \
        pytest pytest-asyncio pytest-timeout
fi
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$work"/wheels/auralis_core-*.whl

files=$(cd "$work/original" && grep -rlE "chunked_processor|ChunkedAudioProcessor" tests \
    --include='*.py' | sort)
echo "== the backend's tests ($(echo "$files" | wc -l) files), original then swap"
for tree in original swap; do
    # shellcheck disable=SC2086
    (cd "$work/$tree" && "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        --junitxml="$work/$tree.xml" $files >"$work/$tree.log" 2>&1) || true
    tail -n 1 "$work/$tree.log"
done
"$venv/bin/python" - "$work/original.xml" "$work/swap.xml" <<'EOF'
import collections, sys, xml.etree.ElementTree as ET

def results(path):
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                state = "failed"
            elif child.tag == "skipped":
                state = "skipped"
        out[case.get("classname") + "::" + case.get("name")] = state
    return out

orig, swap = results(sys.argv[1]), results(sys.argv[2])
per_file = collections.defaultdict(lambda: [0, 0, 0])
for key, state in orig.items():
    parts = key.split("::")[0].split(".")
    cut = next(i for i, p in enumerate(parts) if p.startswith("test_")) if any(
        p.startswith("test_") for p in parts) else len(parts) - 1
    f = "/".join(parts[: cut + 1]) + ".py"
    per_file[f][0] += 1
    per_file[f][1] += state == "passed"
    per_file[f][2] += swap.get(key) == "passed"
print(f"{'file':70} {'tests':>5} {'orig':>5} {'swap':>5}")
for f in sorted(per_file):
    n, o, s = per_file[f]
    mark = "" if s >= o else "  <"
    print(f"{f:70} {n:5} {o:5} {s:5}{mark}")
total = [sum(v[i] for v in per_file.values()) for i in range(3)]
print(f"{'total':70} {total[0]:5} {total[1]:5} {total[2]:5}")
lost = sorted(k for k, v in orig.items() if v == "passed" and swap.get(k) != "passed")
print(f"passing with the original, not with the swap: {len(lost)}")
for k in lost:
    print("  " + k)
EOF

reps=${PROBE_REPS:-5}
echo "== the live probe, original and swap interleaved, $reps runs each"
rm -f "$work"/probe-*.jsonl
for _ in $(seq "$reps"); do
    for tree in original swap; do
        (cd "$work/$tree" && "$venv/bin/python" "$repo/scripts/backend_v1_5_probe.py" \
            2>/dev/null) | tee -a "$work/probe-$tree.jsonl"
    done
done
"$venv/bin/python" - "$work/probe-original.jsonl" "$work/probe-swap.jsonl" <<'EOF'
import json, statistics, sys

runs = [[json.loads(line) for line in open(p)] for p in sys.argv[1:]]
def med(rows, *path):
    values = []
    for r in rows:
        for key in path:
            r = r[key]
        values.append(r)
    return statistics.median(values)
for label, path in [("first audio (s)", ("whole", "first_audio_s")),
                    ("preset switch (s)", ("switch_at_20_to_punchy", "first_audio_s")),
                    ("switch to unprepared settings (s)",
                     ("switch_at_20_to_warm_0_7", "first_audio_s"))]:
    o, s = med(runs[0], *path), med(runs[1], *path)
    print(f"{label}: original {o:.3f}, swap {s:.3f}, ratio {s / o:.2f} (medians of {len(runs[1])})")
for name, rows in zip(("original", "swap"), runs):
    ok = all(r["whole"]["delivered_s"] == r["whole"]["track_s"] and not r["whole"]["errors"]
             and abs(r["seek_31"]["lands_at_s"] - 31.0) <= 0.001
             and r["proactive_buffering"]["present"] == r["proactive_buffering"]["expected"]
             for r in rows)
    print(f"{name}: whole track, no error, seek within 1 ms, buffering complete in every run: {ok}")
EOF

echo "== the 1.0.0-beta.7 backend (f2cdb558) against auralis_core.compat, the other drop-in"
VIRTUAL_ENV="$repo/.venv" "$repo/.venv/bin/maturin" develop --release --quiet \
    -m "$repo/auralis-py/Cargo.toml" >/dev/null
bash "$repo/scripts/backend_dropin.sh" "$git_dir"
