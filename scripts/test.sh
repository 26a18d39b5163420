#!/usr/bin/env bash
# The whole test suite. Needs only cargo; ffmpeg, when installed, adds the decoder cross-checks
# (CI installs it and then requires it). Heavy audio tests run in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
# The benches must keep compiling (they are run by hand: see README).
cargo bench -p auralis-benches --no-run
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --release --exclude auralis-py 2>&1 | tee "$log" || status=$?
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
