#!/usr/bin/env bash
# The whole test suite. Needs only cargo; ffmpeg, when installed, adds the decoder cross-checks
# (CI installs it and then requires it). Heavy audio tests run in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
cargo test --workspace --release
# The benches must keep compiling (they are run by hand: see README).
cargo bench -p auralis-benches --no-run
