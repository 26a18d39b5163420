#!/usr/bin/env bash
# The whole test suite: Rust (fmt, clippy, benches compile, every crate's tests in release mode)
# then Python (the extension built into .venv by maturin, then pytest). Needs the tools `make`
# installs into .venv (run it through `make test`). ffmpeg, chromium, valgrind and the corpus
# (../shared/corpus), when present, add the checks that need them; under CI (`CI` set) each is
# required and a test that misses one fails. Elsewhere each skip is listed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ ! -x "$venv/bin/maturin" ] || [ ! -x "$venv/bin/pytest" ]; then
    echo "the Python tools are missing from $venv: run 'make test'" >&2
    exit 1
fi
export CMAKE="${CMAKE:-$PWD/$venv/bin/cmake}"
log=$(mktemp)
pylog=$(mktemp)
skips=$(mktemp)
trap 'rm -f "$log" "$pylog" "$skips"' EXIT
# Rust tests append "SKIP test: what" here (auralis_testkit::skip): cargo hides the
# output of tests that pass.
export AURALIS_SKIP_LOG="$skips"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
# The crate as a Rust user gets it: its docs (and the C library's) without warnings, and the
# crate packaged and built from the package alone (a dry run: nothing is uploaded).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p auralis-core -p auralis-ffi -p auralis-testkit
cargo publish --dry-run --allow-dirty -p auralis-core
# The declared rust-version: clippy above checks the code's use of std against it
# (incompatible_msrv); this checks the dependencies' own declared versions.
python3 scripts/check_rust_version.py
# The benches must keep compiling (they are run by hand: see README).
cargo bench -p auralis-benches --no-run
cargo_status=0
# --no-fail-fast: every test binary runs even after one fails, so the total is complete.
cargo test --workspace --release --no-fail-fast --exclude auralis-py 2>&1 | tee "$log" || cargo_status=$?
# The Python package: build the extension into the venv, then the strict pytest suite.
py_status=0
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --release --quiet -m auralis-py/Cargo.toml \
    || py_status=$?
if [ "$py_status" = 0 ]; then
    (cd auralis-py && "../$venv/bin/python" -m pytest) 2>&1 | tee "$pylog" || py_status=$?
fi
bash scripts/summary.sh "$log" "$pylog" "$skips" "$cargo_status" "$py_status"
