#!/usr/bin/env bash
# The sources and outputs of issue 16, in one recorded run (nothing else running; about 8
# minutes):
#   bash scripts/bench_sources.sh [REPS]
# 1. Hi-res sources against the same music at 44.1 kHz: whole-track render time and peak RSS of
#    the `render` command, interleaved repetitions, medians.
# 2. Opening Ogg Opus and Matroska files of 10 minutes (criterion, `--bench decode open_10min`).
# 3. Peak RSS of `render --full` (every chunk, then the whole-track file) over 10- and
#    60-minute MP3s (made from the corpus by the benches' make_long_mp3).
# Inputs (made once into target/bench-data/ with ffmpeg): 2 minutes of the corpus's
# elvish_45s_24bit.flac looped, as 44.1 kHz/16-bit, 96 kHz/24-bit and 192 kHz/24-bit FLAC (the
# hi-res ones resampled from the 44.1 kHz one with soxr, so the music is the same). Writes
# benches/results/<date>-sources.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CMAKE="${CMAKE:-$PWD/.venv/bin/cmake}"
reps="${1:-5}"
corpus="${AURALIS_CORPUS:-../shared/corpus}"
data=target/bench-data
mkdir -p "$data" benches/results
out="benches/results/$(date +%F)-sources.txt"
: > "$out"
note() { echo "$*" | tee -a "$out"; }
src="$corpus/elvish_45s_24bit.flac"
[ -f "$src" ] || { echo "needs $src (the corpus)" >&2; exit 1; }
ff() { ffmpeg -nostdin -v error -y "$@"; }
[ -f "$data/hires44.flac" ] || ff -stream_loop 2 -i "$src" -t 120 -ar 44100 -c:a flac -sample_fmt s16 "$data/hires44.flac"
[ -f "$data/hires96.flac" ] || ff -i "$data/hires44.flac" -af aresample=96000:resampler=soxr -c:a flac -sample_fmt s32 "$data/hires96.flac"
[ -f "$data/hires192.flac" ] || ff -i "$data/hires44.flac" -af aresample=192000:resampler=soxr -c:a flac -sample_fmt s32 "$data/hires192.flac"
cargo build --release -q -p auralis-examples --example render
bin=target/release/examples/render
note "# issue 16 sources run, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (uncommitted changes)')"
note "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), rustc $(rustc --version | cut -d' ' -f2)"
note ""
note "## 1. hi-res render, $reps reps"
note "\$ /usr/bin/time -f '%e %M' $bin target/bench-data/hiresNN.flac --out DIR   (NN = 44, 96, 192; interleaved)"
declare -A secs rss
for _ in $(seq "$reps"); do
    for r in 44 96 192; do
        dir=$(mktemp -d)
        line=$(/usr/bin/time -f '%e %M' "$bin" "$data/hires$r.flac" --out "$dir" 2>&1 >/dev/null | tail -1)
        rm -rf "$dir"
        secs[$r]+="${line%% *} "
        rss[$r]+="${line##* } "
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m44=$(echo "${secs[44]}" | median)
r44=$(echo "${rss[44]}" | median)
for r in 44 96 192; do
    m=$(echo "${secs[$r]}" | median)
    k=$(echo "${rss[$r]}" | median)
    note "$(printf '%3s kHz: median %s s (%s), peak RSS median %s MB (%s KB) -> time %.2fx, RSS %.2fx of 44.1 kHz' \
        "$r" "$m" "${secs[$r]% }" "$(awk "BEGIN {printf \"%.1f\", $k/1024}")" "${rss[$r]% }" \
        "$(awk "BEGIN {print $m/$m44}")" "$(awk "BEGIN {print $k/$r44}")")"
done

note ""
note "## 2. opening Ogg Opus and Matroska (10 minutes)"
note "\$ cargo bench -p auralis-benches --bench decode -- open_10min"
cargo bench -p auralis-benches --bench decode -- open_10min 2>&1 |
    grep -E 'time:|^open_10min|^SKIP' | tee -a "$out"
note ""
note "## 3. render --full, peak RSS"
cargo build --release -q -p auralis-benches --examples
for m in 10 60; do
    long="$data/long_${m}min.mp3"
    [ -f "$long" ] || cargo run --release -q -p auralis-benches --example make_long_mp3 -- "$m" "$long"
    dir=$(mktemp -d)
    note "\$ /usr/bin/time -f '%e s, peak RSS %M KB' $bin $long --out DIR --full"
    /usr/bin/time -f '%e s, peak RSS %M KB' "$bin" "$long" --out "$dir" --full 2>&1 >/dev/null | tail -1 | tee -a "$out"
    note "full.webm: $(stat -c %s "$dir/full.webm") bytes"
    rm -rf "$dir"
done
