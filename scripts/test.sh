#!/usr/bin/env bash
# The whole test suite: Rust (fmt, clippy, benches compile, every crate's tests in release mode)
# then Python (the extension built into .venv by maturin, then pytest). Needs the tools `make`
# installs into .venv (run it through `make test`). ffmpeg, chromium and valgrind, when
# installed, add the cross-checks that need them (CI installs them and then requires them).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ ! -x "$venv/bin/maturin" ] || [ ! -x "$venv/bin/pytest" ]; then
    echo "the Python tools are missing from $venv: run 'make test'" >&2
    exit 1
fi
export CMAKE="${CMAKE:-$PWD/$venv/bin/cmake}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
# The benches must keep compiling (they are run by hand: see README).
cargo bench -p auralis-benches --no-run
log=$(mktemp)
pylog=$(mktemp)
trap 'rm -f "$log" "$pylog"' EXIT
status=0
# --no-fail-fast: every test binary runs even after one fails, so the total is complete.
cargo test --workspace --release --no-fail-fast --exclude auralis-py 2>&1 | tee "$log" || status=$?
# The Python package: build the extension into the venv, then the strict pytest suite.
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --release --quiet -m auralis-py/Cargo.toml
(cd auralis-py && "../$venv/bin/python" -m pytest) 2>&1 | tee "$pylog" || status=$?
# One closing line for the whole run (cargo prints one per test binary, pytest one).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { print p + 0, f + 0 }' "$log" > "$log.sum"
read -r cp cf < "$log.sum"
rm -f "$log.sum"
summary=$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$pylog" | tail -1 || true)
count() { echo "$summary" | awk -v re="$1" '{ for (i = 2; i <= NF; i++) if ($i ~ re) n += $(i-1) } END { print n + 0 }'; }
pp=$(count '^passed')
pf=$(count '^(failed|errors?),?$')
[ -n "$summary" ] || { echo "pytest printed no summary" >&2; status=1; pf=1; }
echo "total: $((cp + pp)) passed, $((cf + ${pf:-0})) failed"
exit "$status"
