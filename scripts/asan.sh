#!/bin/sh
# The Rust test suite under AddressSanitizer + LeakSanitizer (RUSTC_BOOTSTRAP=1 lets this
# stable toolchain take -Zsanitizer). Every auralis-core test (unit, integration, doc) and the
# C ABI's Rust-side tests; the C programs run under ASan and valgrind in the normal suite
# (auralis-ffi/tests/c_api.rs). Separate target directory: target/asan. Not part of `make test`
# (it rebuilds every dependency instrumented: about 15 minutes on 2 cores).
set -eu
cd "$(dirname "$0")/.."
export CMAKE="${CMAKE:-$PWD/.venv/bin/cmake}"
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=1"
export CARGO_TARGET_DIR=target/asan
target=x86_64-unknown-linux-gnu
cargo test --release --target "$target" -p auralis-core
cargo test --release --target "$target" -p auralis-ffi --lib --test header
