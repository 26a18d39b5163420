"""Times a ``chunked_processor`` the way the Auralis backend calls it, on one track.

By default it times the drop-in (``auralis_core.compat``); ``--original DIR`` times the
original module instead (``DIR/chunked_processor.py`` with the ``auralis`` package on its path,
run by a Python that has its dependencies), so both are measured by the same code.

Figures (milliseconds, median of ``--reps`` runs unless marked once), each in a fresh chunk
directory (nothing cached) unless it says "cached":

  construct        ChunkedAudioProcessor(...) on a file never seen (what routers do per request)
  chunk0 cold      process_chunk(0) right after constructing (the first audio of a play)
  chunkK cold      process_chunk(K), K = the middle chunk, on a fresh processor (a seek)
  chunk cached     process_chunk(K) again from a *fresh* processor (a later request)
  webm cold        get_webm_chunk_path(K+1) on a fresh processor (the MSE router)
  full cold        get_full_processed_audio_path() on a fresh processor, nothing cached (once)
  full cached      the same again from a fresh processor (the player's next play)

Run:  .venv/bin/python examples/python/bench_compat.py TRACK [--reps 5] [--original DIR]
A three-minute input from the corpus (what the closing note of issue 15 used):
  ffmpeg -i ../shared/corpus/sad_44s.mp3 -i ../shared/corpus/elvish_45s_24bit.flac \\
    -i ../shared/corpus/frantic_45s.ogg -i ../shared/corpus/love_40s.m4a -filter_complex \\
    "[0:a]aresample=44100,aformat=channel_layouts=stereo[a];[1:a]aresample=44100,aformat=channel_layouts=stereo[b];[2:a]aresample=44100,aformat=channel_layouts=stereo[c];[3:a]aresample=44100,aformat=channel_layouts=stereo[d];[a][b][c][d]concat=n=4:v=0:a=1,apad=whole_dur=180" \\
    -t 180 -c:a pcm_s16le /tmp/three_minutes.wav
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def load(original):
    if original is None:
        from auralis_core import compat

        return compat.ChunkedAudioProcessor, True
    sys.path.insert(0, str(Path(original).resolve()))
    import chunked_processor  # the original module

    return chunked_processor.ChunkedAudioProcessor, False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("track")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--original", default=None)
    args = ap.parse_args()
    Proc, ours = load(args.original)
    root = Path(tempfile.mkdtemp(prefix="auralis_bench_"))

    caches = {}

    def fresh(chunk_dir, track_id="b"):
        # One shared path dict per track id, as the backend's routers share theirs.
        cache = caches.setdefault(track_id, {})
        if ours:
            return Proc(track_id, args.track, chunk_cache=cache, chunk_dir=chunk_dir)
        # The original always writes to <tempdir>/auralis_chunks; a new track id each time
        # keeps its names (and so its cache) fresh.
        return Proc(track_id, args.track, chunk_cache=cache)

    failures = {}

    def ms(f, name=None):
        t = time.perf_counter()
        try:
            f()
        except Exception as e:  # noqa: BLE001 - the original fails on some calls: say which
            failures[name] = f"{type(e).__name__}: {e}"
            return None
        return (time.perf_counter() - t) * 1e3

    rows = {k: [] for k in ("construct", "chunk0 cold", "chunkK cold", "chunk cached", "webm cold")}
    try:
        for rep in range(args.reps):
            d = root / f"r{rep}"
            d.mkdir()
            tid = f"b{rep}_{time.time_ns()}"
            holder = {}
            rows["construct"].append(ms(lambda: holder.setdefault("p", fresh(d, tid))))
            p = holder["p"]
            k = p.total_chunks // 2
            rows["chunk0 cold"].append(ms(lambda: p.process_chunk(0), "chunk0 cold"))
            q = fresh(d, tid)
            rows["chunkK cold"].append(ms(lambda: q.process_chunk(k), "chunkK cold"))
            r = fresh(d, tid)
            rows["chunk cached"].append(ms(lambda: r.process_chunk(k), "chunk cached"))
            s = fresh(d, tid)
            kk = min(k + 1, p.total_chunks - 1)
            rows["webm cold"].append(ms(lambda: s.get_webm_chunk_path(kk), "webm cold"))
        d = root / "full"
        d.mkdir()
        tid = f"full_{time.time_ns()}"
        full_cold = ms(lambda: fresh(d, tid).get_full_processed_audio_path(), "full cold")
        full_cached = ms(lambda: fresh(d, tid).get_full_processed_audio_path(), "full cached")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    who = "drop-in (auralis_core.compat)" if ours else f"original ({args.original})"
    print(f"{who}: {args.track}, {p.total_duration:.1f} s, {p.total_chunks} chunks, {args.reps} reps")
    rows["full cold"] = [full_cold]
    rows["full cached"] = [full_cached]
    for name, vals in rows.items():
        ok = [v for v in vals if v is not None]
        if len(ok) < len(vals):
            print(f"  {name:13} failed {len(vals) - len(ok)} of {len(vals)}: {failures[name]}")
        elif len(ok) == 1:
            print(f"  {name:13} {ok[0]:9.1f} ms  (once)")
        else:
            print(f"  {name:13} {statistics.median(ok):9.1f} ms  (min {min(ok):.1f}, max {max(ok):.1f})")


if __name__ == "__main__":
    main()
