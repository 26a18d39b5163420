#!/usr/bin/env bash
# Every benchmark figure the docs quote, in one run, recorded:
#   bash scripts/bench.sh            (nothing else running; about 20 minutes on 2 cores)
# writes benches/results/<date>.txt (the commands and their output, criterion's estimates
# only) so that README.md and BENCHMARKS.md quote figures of one recorded run. Needs the
# corpus (../shared/corpus) and ffmpeg; run `make tools` first (cmake for libopus).
set -euo pipefail
cd "$(dirname "$0")/.."
export CMAKE="${CMAKE:-$PWD/.venv/bin/cmake}"
mkdir -p benches/results target/bench-data
out="benches/results/$(date +%F).txt"
: > "$out"
note() { echo "$*" | tee -a "$out"; }
run() {
    note ""
    note "\$ $*"
    "$@" 2>&1 | tee -a "$out"
}
# criterion: keep each bench's name and its time line.
bench() {
    note ""
    note "\$ cargo bench -p auralis-benches --bench $1"
    cargo bench -p auralis-benches --bench "$1" 2>&1 |
        grep -E 'time:|thrpt:|^[A-Za-z0-9_]+/[A-Za-z0-9_/ .-]+$|^SKIP' | tee -a "$out"
}
note "# Auralis Core benchmark run, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)"
note "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), rustc $(rustc --version | cut -d' ' -f2)"
cargo build --release -p auralis-benches --examples -p auralis-examples 2>/dev/null
run cargo run --release -q -p auralis-benches --example compare -- --reps 7 --long-minutes 60
bench decode
bench mastering
bench opus
bench stream
[ -f target/bench-data/long_60min.mp3 ] ||
    cargo run --release -q -p auralis-benches --example make_long_mp3 -- 60 target/bench-data/long_60min.mp3
run /usr/bin/time -f "wall %e s, peak RSS %M kB" ./target/release/examples/render \
    target/bench-data/long_60min.mp3 --out target/bench-data/long60_mastered
run /usr/bin/time -f "wall %e s, peak RSS %M kB" ./target/release/examples/render \
    target/bench-data/long_60min.mp3 --out target/bench-data/long60_none --preset none
run cargo run --release -q -p auralis-benches --example mastering_report
# The drop-in against a three-minute track (the command of examples/python/bench_compat.py).
corpus=../shared/corpus
ffmpeg -loglevel error -y -i $corpus/sad_44s.mp3 -i $corpus/elvish_45s_24bit.flac \
    -i $corpus/frantic_45s.ogg -i $corpus/love_40s.m4a -filter_complex \
    "[0:a]aresample=44100,aformat=channel_layouts=stereo[a];[1:a]aresample=44100,aformat=channel_layouts=stereo[b];[2:a]aresample=44100,aformat=channel_layouts=stereo[c];[3:a]aresample=44100,aformat=channel_layouts=stereo[d];[a][b][c][d]concat=n=4:v=0:a=1,apad=whole_dur=180" \
    -t 180 -c:a pcm_s16le target/bench-data/three_minutes.wav
run .venv/bin/python examples/python/bench_compat.py target/bench-data/three_minutes.wav --reps 5
note ""
note "# end of run"
echo "recorded in $out"
