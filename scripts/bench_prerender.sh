#!/usr/bin/env bash
# Pre-render throughput on Dask (issue 19), one recorded run (nothing else running; about 3
# minutes):
#   bash scripts/bench_prerender.sh
# Library: the corpus's 8 files, each also at two other gains (ffmpeg's volume filter, to FLAC),
# so 24 distinct tracks (the cache is keyed by content: copies would be hits). For 1 and 2
# LocalCluster workers on a fresh cache: a pre-render of every chunk with the default preset,
# then an --analysis-only run with the six presets on another fresh cache. The figures are the
# job's own JSON summaries (wall time from the start of the job: probing, cluster start-up and
# tear-down included). Writes benches/results/<date>-prerender.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${AURALIS_CORPUS:-../shared/corpus}"
[ -d "$corpus" ] || { echo "needs $corpus (the corpus)" >&2; exit 1; }
lib=target/bench-data/prerender-library
if [ ! -f "$lib/.done" ]; then
    rm -rf "$lib" && mkdir -p "$lib"
    for f in "$corpus"/*.*; do
        case "$f" in *.md) continue ;; esac
        name=$(basename "${f%.*}")
        cp "$f" "$lib/"
        for gain in 0.9 0.8; do
            ffmpeg -nostdin -v error -y -i "$f" -af "volume=$gain" -c:a flac "$lib/${name}_g$gain.flac"
        done
    done
    touch "$lib/.done"
fi
mkdir -p benches/results
out="benches/results/$(date +%F)-prerender.txt"
: > "$out"
note() { echo "$*" | tee -a "$out"; }
py=.venv/bin/python
note "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $($py -c 'import dask, auralis_core; print("dask", dask.__version__, "auralis-core", auralis_core.__version__)')"
note "library: $lib ($(find "$lib" -type f ! -name .done | wc -l) tracks)"
for workers in 1 2; do
    cache=$(mktemp -d)
    note ""
    note "## prerender, every chunk, preset adaptive, --workers $workers"
    note "command: $py -m auralis_core prerender $lib --cache-dir CACHE --workers $workers --quiet --json -"
    $py -m auralis_core prerender "$lib" --cache-dir "$cache" --workers "$workers" --quiet --json - 2>/dev/null \
        | $py -c 'import json,sys; s=json.load(sys.stdin); print({k: s[k] for k in ("workers","tracks_ok","tracks_failed","chunks_rendered","bytes_rendered","audio_seconds_rendered","wall_seconds","x_real_time","entries_computed")})' | tee -a "$out"
    note "cache on disk: $(du -sb "$cache" | cut -f1) bytes"
    rm -rf "$cache"
done
for workers in 1 2; do
    cache=$(mktemp -d)
    note ""
    note "## prerender --analysis-only, presets adaptive,gentle,warm,bright,punchy,live, --workers $workers"
    note "command: $py -m auralis_core prerender $lib --cache-dir CACHE --analysis-only --presets adaptive,gentle,warm,bright,punchy,live --workers $workers --quiet --json -"
    $py -m auralis_core prerender "$lib" --cache-dir "$cache" --analysis-only --presets adaptive,gentle,warm,bright,punchy,live --workers "$workers" --quiet --json - 2>/dev/null \
        | $py -c 'import json,sys; s=json.load(sys.stdin); print({k: s[k] for k in ("workers","tracks_ok","entries_computed","audio_seconds_library","wall_seconds","tracks_per_second")})' | tee -a "$out"
    rm -rf "$cache"
done
