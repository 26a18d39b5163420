"""``auralis-core serve``: the server's command line, and the start of its worker processes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

from fastapi import FastAPI

from .app import create_app
from .library import default_library

CONFIG_ENV = "AURALIS_SERVER_CONFIG"


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Caps glibc's malloc arenas (``mallopt(M_ARENA_MAX)``), before the worker threads exist.

    glibc gives each thread that allocates under contention an arena of its own and keeps what
    is freed there; chunk renders on several threads then leave hundreds of MB resident. Two
    3-minute soak runs at the same request rate measured the server's RSS at 538-655 MB with
    the default and 360-430 MB with two arenas (RELIABILITY.md). The same as ``MALLOC_ARENA_MAX=2`` in
    the environment; an explicit ``MALLOC_ARENA_MAX`` wins. Returns whether the cap was set.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return libc.mallopt(-8, arenas) == 1  # -8 is M_ARENA_MAX in glibc's malloc.h
    except (OSError, AttributeError):
        return False  # not glibc



def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="auralis-core serve",
        description="Serve a music library as progressive mastered streams (WebM and MP4 for MSE, "
                    "HLS), with the web player at /.",
    )
    p.add_argument("--library", type=Path, action="append", default=[], metavar="DIR",
                   help="a folder of audio files to serve (may be given several times); the "
                        "built-in demo is always there")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="the engine's disk cache (shared by worker processes and restarts); "
                        "memory only when not given")
    p.add_argument("--chunk-seconds", type=float, default=30.0, metavar="S")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (give them a --cache-dir to share)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the server until it is stopped; ``argv`` defaults to the command line's."""
    args = parser().parse_args(argv)
    for folder in args.library:
        if not folder.is_dir():
            print(f"auralis-core serve: --library {folder}: not a folder", file=sys.stderr)
            return 2
    if args.workers < 1:
        print("auralis-core serve: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        import uvicorn
    except ImportError:
        print("auralis-core serve needs the server extra: pip install 'auralis-core[server]'",
              file=sys.stderr)
        return 2
    limit_malloc_arenas()
    config = {
        "library": [str(folder.resolve()) for folder in args.library],
        "cache_dir": args.cache_dir,
        "chunk_seconds": args.chunk_seconds,
    }
    if args.workers > 1:
        # Each worker process imports this module and builds its app from the environment.
        os.environ[CONFIG_ENV] = json.dumps(config)
        uvicorn.run("auralis_core.server.cli:app_from_environment", factory=True, host=args.host,
                    port=args.port, workers=args.workers)
        return 0
    app = create_app(default_library(args.library), args.cache_dir, args.chunk_seconds)
    uvicorn.run(app, host=args.host, port=args.port)
    return 0


def app_from_environment() -> FastAPI:
    """The app of one worker of ``--workers N`` (configured through ``AURALIS_SERVER_CONFIG``)."""
    limit_malloc_arenas()
    config = json.loads(os.environ[CONFIG_ENV])
    folders = [Path(folder) for folder in config["library"]]
    return create_app(default_library(folders), config["cache_dir"], config["chunk_seconds"])
