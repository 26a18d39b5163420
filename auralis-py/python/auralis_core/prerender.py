"""Pre-render (or only analyze) a whole library into the engine's disk cache on Dask distributed.

    python -m auralis_core prerender LIBRARY_DIR --cache-dir DIR [--presets adaptive,warm,...]
        [--chunks first:N|all] [--analysis-only] [--workers N | --scheduler tcp://HOST:8786]
        [--chunk-seconds S] [--bitrate B] [--json FILE] [--quiet]

A chunk is a pure function of (file, settings, index), and the cache is keyed by the file's
content signature, so the work is a set of independent, idempotent tasks: one per (track,
preset) rendering that track's chunks (or, with ``--analysis-only``, one per track computing
its analysis and the calibrated mastering of every preset). What the cache already holds is
skipped, so a run can be stopped and started again. The engine writes entries atomically and
computes each key once across processes (a per-key lock in the cache directory, released by the
kernel when a process dies), so a worker killed mid-task leaves nothing partial: Dask runs its
task again elsewhere and the servers reading the same directory never see a broken entry.

By default a ``LocalCluster`` on this machine (worker processes, one render thread each); with
``--scheduler``, any Dask cluster whose workers see the same cache directory (a shared
filesystem). Unreadable files are reported with their reason and skipped; they never stop the
run. Needs the ``cluster`` extra (``pip install auralis-core[cluster]``: ``dask[distributed]``).

A progress line (tasks, tracks, chunks, × real time) goes to stderr while it runs; the summary
(counts, bytes, failures, throughput) is printed at the end and, with ``--json FILE``, written as
JSON (``-`` for stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

AUDIO_EXTENSIONS = {
    ".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".mp4", ".aif", ".aiff", ".webm", ".mka",
}


def find_tracks(library: Path) -> List[Path]:
    """The audio files under ``library`` (recursively, by extension), sorted."""
    return sorted(
        p for p in Path(library).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
    )


def parse_chunks(spec: str) -> Optional[int]:
    """``all`` -> None (every chunk), ``first:N`` -> N (N >= 1)."""
    if spec == "all":
        return None
    kind, _, n = spec.partition(":")
    if kind == "first" and n.isdigit() and int(n) >= 1:
        return int(n)
    raise ValueError(f"--chunks must be 'all' or 'first:N' with N >= 1, not {spec!r}")


# Engine counters of this worker process when its previous task ended: tasks run one at a time
# in a worker (one thread each), so a task's own work is the difference. The last stream is
# kept so that the process's engine (and its counters) lives from one task to the next.
_COMPUTED_BEFORE: Dict[str, int] = {}
_KEEP: Dict[str, object] = {}


def run_task(
    path: str,
    presets: Sequence[str],
    first_chunks: Optional[int],
    chunk_seconds: float,
    bitrate: int,
    cache_dir: str,
    analysis_only: bool,
) -> dict:
    """One task, run on a worker: open the track with each preset (its analysis and calibrated
    mastering are computed or read from the cache) and, unless ``analysis_only``, make sure its
    first ``first_chunks`` (None: all) chunks are cached. Never raises for a bad file: the
    error is in the result."""
    import auralis_core as ac

    start = time.monotonic()
    result = {
        "path": path, "presets": list(presets), "chunks": 0, "rendered": 0, "skipped": 0,
        "bytes": 0, "audio_seconds": 0.0, "computed": 0, "error": None, "pid": os.getpid(),
    }
    stream = None
    try:
        for preset in presets:
            stream = ac.Stream(path, preset=preset, chunk_seconds=chunk_seconds, bitrate=bitrate,
                               cache_dir=cache_dir, render_threads=1)
            if analysis_only:
                continue
            total = stream.info["total_chunks"]
            count = total if first_chunks is None else min(first_chunks, total)
            result["chunks"] += count
            for index in range(count):
                if stream.is_cached(index):
                    result["skipped"] += 1
                    continue
                body, origin = stream.media_segment(index)
                if origin == "MISS":
                    result["rendered"] += 1
                    result["bytes"] += len(body)
                    begin, end = stream.chunk_range(index)
                    result["audio_seconds"] += end - begin
                else:
                    result["skipped"] += 1  # another process made it meanwhile
    except (ac.AuralisError, OSError) as e:
        result["error"] = f"{type(e).__name__}: {e}"
    if stream is not None:
        computed = stream.stats()["computed"]
        result["computed"] = computed - _COMPUTED_BEFORE.get(cache_dir, 0)
        _COMPUTED_BEFORE[cache_dir] = computed
        _KEEP[cache_dir] = stream
    result["seconds"] = time.monotonic() - start
    return result


class Progress:
    """One line on stderr, rewritten in place on a terminal, every few seconds otherwise."""

    def __init__(self, enabled: bool, tasks: int, tracks: int, chunks: Optional[int]):
        self.enabled, self.tasks, self.tracks, self.chunks = enabled, tasks, tracks, chunks
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int, tracks_done: int, chunks_done: int, audio_s: float, wall_s: float,
               final: bool = False) -> None:
        if not self.enabled or (not final and not self.tty and time.monotonic() - self.last < 5):
            return
        self.last = time.monotonic()
        chunks = f"{chunks_done}/{self.chunks}" if self.chunks is not None else f"{chunks_done}"
        speed = audio_s / wall_s if wall_s > 0 else 0.0
        line = (f"[{done}/{self.tasks} tasks] tracks {tracks_done}/{self.tracks}, chunks {chunks}, "
                f"{speed:.0f}x real time")
        print(("\r" + line) if self.tty else line, end="\n" if final or not self.tty else "",
              file=sys.stderr, flush=True)


def prerender(
    library: Path,
    cache_dir: str,
    presets: Sequence[str] = ("adaptive",),
    chunks: str = "all",
    analysis_only: bool = False,
    workers: Optional[int] = None,
    scheduler: Optional[str] = None,
    chunk_seconds: float = 30.0,
    bitrate: int = 128000,
    progress: bool = True,
    client=None,
) -> dict:
    """Runs a pre-render and returns its summary (see the module docs). ``client``: an existing
    ``dask.distributed.Client`` to run on (then ``workers`` and ``scheduler`` are not used)."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:  # pragma: no cover - depends on the install
        raise SystemExit(
            "prerender needs Dask distributed: pip install 'auralis-core[cluster]' "
            f"(or dask[distributed]); {e}"
        )
    import auralis_core as ac
    from auralis_core import _native

    first_chunks = parse_chunks(chunks)
    for p in presets:
        if p not in ac.presets():
            raise ValueError(f"unknown preset {p!r}: use one of {', '.join(ac.presets())}")
    start = time.monotonic()
    tracks = find_tracks(library)
    failures: List[dict] = []
    planned: List[tuple] = []
    planned_chunks = 0
    for path in tracks:
        # The header alone: the length (for the plan and the progress) and a first check.
        try:
            info = _native.probe(str(path), chunk_seconds)
        except (ac.AuralisError, OSError) as e:
            failures.append({"path": str(path), "error": f"{type(e).__name__}: {e}"})
            continue
        planned.append((path, info))
        n = info["total_chunks"] if first_chunks is None else min(first_chunks, info["total_chunks"])
        planned_chunks += 0 if analysis_only else n * len(presets)

    own_cluster = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            own_cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address=":0",
            )
            client = Client(own_cluster)
    n_workers = len(client.scheduler_info().get("workers", {}))
    try:
        cache_dir = str(Path(cache_dir).resolve()) if scheduler is None else cache_dir
        futures = []
        path_of = {}
        for path, _info in planned:
            groups = [list(presets)] if analysis_only else [[p] for p in presets]
            for group in groups:
                futures.append(client.submit(
                    run_task, str(path), group, first_chunks, chunk_seconds, bitrate, cache_dir,
                    analysis_only, pure=False, retries=3,
                ))
                path_of[futures[-1].key] = str(path)
        bar = Progress(progress, len(futures), len(planned), None if analysis_only else planned_chunks)
        results: List[dict] = []
        remaining = {str(p): (1 if analysis_only else len(presets)) for p, _ in planned}
        tracks_done = chunks_done = 0
        audio_s = 0.0
        for future in as_completed(futures):
            try:
                r = future.result()
            except Exception as e:  # a task that failed on every try (e.g. workers killed)
                r = {"path": path_of[future.key], "error": f"{type(e).__name__}: {e}", "chunks": 0, "rendered": 0,
                     "skipped": 0, "bytes": 0, "audio_seconds": 0.0, "computed": 0}
            results.append(r)
            chunks_done += r["rendered"] + r["skipped"]
            audio_s += r["audio_seconds"]
            if r["path"] in remaining:
                remaining[r["path"]] -= 1
                tracks_done += remaining[r["path"]] == 0
            bar.update(len(results), tracks_done, chunks_done, audio_s, time.monotonic() - start)
        bar.update(len(results), tracks_done, chunks_done, audio_s, time.monotonic() - start, final=True)
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()

    wall = time.monotonic() - start
    for r in results:
        if r["error"] is not None and not any(f["path"] == r["path"] for f in failures):
            failures.append({"path": r["path"], "error": r["error"]})
    failed = {f["path"] for f in failures}
    return {
        "library": str(library),
        "cache_dir": cache_dir,
        "presets": list(presets),
        "chunks": chunks,
        "analysis_only": analysis_only,
        "workers": n_workers,
        "tracks": len(tracks),
        "tracks_ok": len(tracks) - len(failed),
        "tracks_failed": len(failed),
        "tasks": len(results),
        "chunks_planned": planned_chunks,
        "chunks_rendered": sum(r["rendered"] for r in results),
        "chunks_skipped": sum(r["skipped"] for r in results),
        "entries_computed": sum(r["computed"] for r in results),
        "bytes_rendered": sum(r["bytes"] for r in results),
        "audio_seconds_rendered": round(sum(r["audio_seconds"] for r in results), 3),
        "audio_seconds_library": round(sum(i["duration"] for _, i in planned), 3),
        "wall_seconds": round(wall, 3),
        "x_real_time": round(sum(r["audio_seconds"] for r in results) / wall, 2) if wall > 0 else 0.0,
        "tracks_per_second": round((len(tracks) - len(failed)) / wall, 3) if wall > 0 else 0.0,
        "failures": failures,
    }


def describe(summary: dict) -> str:
    """The summary as a few lines of text."""
    lines = [
        f"{summary['tracks_ok']} of {summary['tracks']} tracks on {summary['workers']} workers in "
        f"{summary['wall_seconds']:.1f} s ({summary['tracks_per_second']:.2f} tracks/s)",
    ]
    if not summary["analysis_only"]:
        lines.append(
            f"chunks: {summary['chunks_rendered']} rendered, {summary['chunks_skipped']} already "
            f"cached, of {summary['chunks_planned']}; {summary['bytes_rendered'] / 1e6:.1f} MB; "
            f"{summary['audio_seconds_rendered']:.0f} s of audio at {summary['x_real_time']:.1f}x "
            "real time"
        )
    lines.append(f"cache entries computed: {summary['entries_computed']}")
    for f in summary["failures"]:
        lines.append(f"failed: {f['path']}: {f['error']}")
    return "\n".join(lines)


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m auralis_core prerender",
        description="Pre-render or analyze a library into the engine's disk cache on Dask.",
    )
    parser.add_argument("library", type=Path, help="folder of audio files (searched recursively)")
    parser.add_argument("--cache-dir", required=True, help="the engine's disk cache directory")
    parser.add_argument("--presets", default="adaptive", help="comma-separated presets")
    parser.add_argument("--chunks", default="all", help="'all' or 'first:N'")
    parser.add_argument("--analysis-only", action="store_true",
                        help="analysis and calibrated mastering only, no chunks")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="LocalCluster worker processes (default: cores)")
    where.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://HOST:8786")
    parser.add_argument("--chunk-seconds", type=float, default=30.0)
    parser.add_argument("--bitrate", type=int, default=128000)
    parser.add_argument("--json", help="write the summary as JSON to this file ('-': stdout)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not args.library.is_dir():
        parser.error(f"{args.library} is not a folder")
    try:
        parse_chunks(args.chunks)
    except ValueError as e:
        parser.error(str(e))
    import auralis_core as ac

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in ac.presets()]
    if unknown or not presets:
        parser.error(f"unknown preset {', '.join(unknown) or '(none)'}: use {', '.join(ac.presets())}")
    summary = prerender(
        args.library, args.cache_dir, presets,
        args.chunks, args.analysis_only, args.workers, args.scheduler, args.chunk_seconds,
        args.bitrate, progress=not args.quiet,
    )
    print(describe(summary), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        print(json.dumps(summary, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0
