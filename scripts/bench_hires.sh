#!/usr/bin/env bash
# Hi-res sources against the same music at 44.1 kHz (issue 16): whole-track render time and
# peak RSS of the `render` command, interleaved repetitions, medians.
#   bash scripts/bench_hires.sh [REPS]      (nothing else running; about 2 minutes)
# Inputs (made once into target/bench-data/ with ffmpeg): 2 minutes of the corpus's
# elvish_45s_24bit.flac looped, as 44.1 kHz/16-bit, 96 kHz/24-bit and 192 kHz/24-bit FLAC (the
# hi-res ones resampled from the 44.1 kHz one with soxr, so the music is the same). Appends to
# benches/results/<date>-hires.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CMAKE="${CMAKE:-$PWD/.venv/bin/cmake}"
reps="${1:-5}"
corpus="${AURALIS_CORPUS:-../shared/corpus}"
data=target/bench-data
mkdir -p "$data" benches/results
out="benches/results/$(date +%F)-hires.txt"
note() { echo "$*" | tee -a "$out"; }
src="$corpus/elvish_45s_24bit.flac"
[ -f "$src" ] || { echo "needs $src (the corpus)" >&2; exit 1; }
ff() { ffmpeg -nostdin -v error -y "$@"; }
[ -f "$data/hires44.flac" ] || ff -stream_loop 2 -i "$src" -t 120 -ar 44100 -c:a flac -sample_fmt s16 "$data/hires44.flac"
[ -f "$data/hires96.flac" ] || ff -i "$data/hires44.flac" -af aresample=96000:resampler=soxr -c:a flac -sample_fmt s32 "$data/hires96.flac"
[ -f "$data/hires192.flac" ] || ff -i "$data/hires44.flac" -af aresample=192000:resampler=soxr -c:a flac -sample_fmt s32 "$data/hires192.flac"
cargo build --release -q -p auralis-examples --example render
bin=target/release/examples/render
note ""
note "# hi-res render, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $reps reps"
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
