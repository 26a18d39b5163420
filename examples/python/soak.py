"""Soak test: the packaged FastAPI server (``auralis-core serve``) on 127.0.0.1 under a bounded load from this process.

    .venv/bin/python examples/python/soak.py [--minutes 10] [--clients 32] [--out soak.json]

What it does:
- builds a library in a temporary folder: the built-in demo, the corpus (../shared/corpus) when
  present, two synthesized tracks, and bad files (random bytes named .mp3, an empty .wav, text
  named .ogg, a FLAC cut in half, a WAV whose header claims 9 channels), plus one track that is
  rewritten halfway through (its open streams must answer 409 from then on);
- starts ``python -m auralis_core serve`` in a child process with a disk cache directory and 10 s chunks;
- runs ``--clients`` concurrent clients for ``--minutes``: each loops over random requests
  (chunks of random tracks, presets, intensities and indices = seeks, transitions = preset
  switches, metadata, init segments, unknown tracks, bad presets, indices past the end);
- halfway through, makes the cache directory unwritable (chmod 555; as root, which ignores
  modes, the directory is replaced by a regular file) and rewrites the changing track;
- samples the server's RSS every 5 s, with the engine's memory cache size (``/api/stats``);
- afterwards re-renders a sample of the served chunks with a fresh engine and compares bytes.

It prints a table (requests, statuses by kind, p50/p99 latency by request kind, RSS over
time, mismatches) and writes the figures as JSON to ``--out``. Exit status 1 when a bad input
got a 5xx, a served chunk mismatched, a connection failed, or RSS grew after warm-up (the last
third of the run above the middle third by more than 10 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

import auralis_core as ac

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[2] / "shared" / "corpus"
PRESETS = ["adaptive", "gentle", "warm", "bright", "punchy", "live", "none"]
INTENSITIES = [1.0, 0.5]
CHUNK_SECONDS = 10.0


def synth_wav(seconds: float, freq: float, seed: int) -> bytes:
    """A 44.1 kHz stereo 16-bit WAV: a tone with a slow tremolo and a little noise."""
    import math
    import struct

    rng = random.Random(seed)
    n = int(seconds * 44100)
    frames = bytearray()
    for i in range(n):
        t = i / 44100
        x = 0.4 * math.sin(2 * math.pi * freq * t) * (0.6 + 0.4 * math.sin(2 * math.pi * 0.5 * t))
        x += 0.05 * (rng.random() - 0.5)
        v = int(max(-1.0, min(1.0, x)) * 32767)
        frames += struct.pack("<hh", v, v)
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
    return header + b"data" + struct.pack("<I", len(frames)) + bytes(frames)


def build_library(root: Path) -> tuple[Path, list[str], str]:
    """Returns (folder, ids of bad files, id of the track rewritten halfway)."""
    lib = root / "library"
    lib.mkdir()
    (lib / "synth_a.wav").write_bytes(synth_wav(25.0, 220.0, 1))
    (lib / "synth_b.wav").write_bytes(synth_wav(14.0, 330.0, 2))
    (lib / "changing.wav").write_bytes(synth_wav(21.0, 440.0, 3))
    rng = random.Random(7)
    (lib / "bad_random.mp3").write_bytes(bytes(rng.getrandbits(8) for _ in range(200_000)))
    (lib / "bad_empty.wav").write_bytes(b"")
    (lib / "bad_text.ogg").write_bytes(b"this is not audio\n" * 100)
    nine = bytearray(synth_wav(1.0, 440.0, 4))
    nine[22:24] = (9).to_bytes(2, "little")
    (lib / "bad_nine_channels.wav").write_bytes(bytes(nine))
    bad = ["bad_random", "bad_empty", "bad_text", "bad_nine_channels"]
    flac = CORPUS / "elvish_45s_24bit.flac"
    if flac.is_file():
        data = flac.read_bytes()
        (lib / "cut_flac.flac").write_bytes(data[: len(data) // 2])
    return lib, bad, "changing"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Load:
    def __init__(self, base: str, tracks: dict, bad: list[str], changing: str, seed: int):
        self.base = base
        self.tracks = tracks  # id -> total_chunks (None for bad files)
        self.bad = bad
        self.changing = changing
        self.rng = random.Random(seed)
        self.first = list(self.FIRST.values())
        self.statuses: Counter = Counter()
        self.by_kind: dict = defaultdict(Counter)
        self.latency: dict = defaultdict(list)
        self.failures: list[str] = []
        self.bad_input_5xx: list[str] = []
        self.samples: list[dict] = []
        self.changed = False

    # Each kind of bad request is asked first, once, so even a short run covers all of them
    # (the random draws alone could miss a kind that has a few percent of the requests).
    FIRST = {"bad_track": 0.01, "bad_file": 0.05, "bad_preset": 0.10, "bad_intensity": 0.13,
             "past_end": 0.15}

    def pick_request(self) -> tuple[str, str, dict]:
        r = self.first.pop() if self.first else self.rng.random()
        good = [t for t, n in self.tracks.items() if n is not None]
        track = self.rng.choice(good)
        params = {"preset": self.rng.choice(PRESETS), "intensity": self.rng.choice(INTENSITIES)}
        if r < 0.03:
            return "bad_track", f"/api/stream/no_such_track/metadata", params
        if r < 0.08:
            return "bad_file", f"/api/stream/{self.rng.choice(self.bad)}/chunk/0", params
        if r < 0.11:
            params["preset"] = "loud"
            return "bad_preset", f"/api/stream/{track}/chunk/0", params
        if r < 0.14:
            params["intensity"] = 1.5
            return "bad_intensity", f"/api/stream/{track}/chunk/0", params
        if r < 0.17:
            return "past_end", f"/api/stream/{track}/chunk/{self.tracks[track] + self.rng.randrange(3)}", params
        if r < 0.27:
            return "metadata", f"/api/stream/{track}/metadata", params
        if r < 0.35:
            return "init", f"/api/stream/{track}/init", params
        if r < 0.37:
            return "tracks", "/api/tracks", {}
        index = self.rng.randrange(self.tracks[track])
        if r < 0.55:
            params["transition_from"] = self.rng.choice(PRESETS)
            return "transition", f"/api/stream/{track}/chunk/{index}", params
        return "chunk", f"/api/stream/{track}/chunk/{index}", params

    async def client(self, http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            kind, path, params = self.pick_request()
            t0 = time.monotonic()
            try:
                resp = await http.get(path, params=params)
                body = resp.content
            except httpx.RemoteProtocolError as e:
                if self.changed and path.startswith(f"/api/stream/{self.changing}/"):
                    # The file changed while its chunk was being streamed: the server stops the
                    # response rather than finish a chunk of two versions (headers were sent, so
                    # no 409 is possible). Expected, and counted apart.
                    self.statuses["aborted (file changed)"] += 1
                    self.by_kind[kind]["aborted (file changed)"] += 1
                else:
                    self.failures.append(f"{kind} {path} {params}: {type(e).__name__}: {e}")
                continue
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                self.failures.append(f"{kind} {path} {params}: {type(e).__name__}: {e}")
                continue
            elapsed = time.monotonic() - t0
            status = resp.status_code
            self.statuses[status] += 1
            self.by_kind[kind][status] += 1
            self.latency[kind].append(elapsed)
            if status >= 500:
                self.bad_input_5xx.append(f"{kind} {path} {params}: {status} {body[:200]!r}")
            if (
                kind in ("chunk", "transition")
                and status == 200
                and not path.startswith(f"/api/stream/{self.changing}/")
                and self.rng.random() < 0.1
                and len(self.samples) < 300
            ):
                self.samples.append({"path": path, "params": params, "bytes": body, "cache": resp.headers.get("x-cache")})


async def run_load(base: str, load: Load, clients: int, seconds: float, halfway) -> None:
    # Idle connections are dropped after 2 s, before the server's keep-alive timeout (uvicorn:
    # 5 s, as httpx's default expiry): with equal timeouts a request can go out on a connection
    # the server is closing at that moment, which fails as "disconnected without a response".
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients,
                          keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, timeout=120.0, limits=limits) as http:
        deadline = time.monotonic() + seconds
        tasks = [asyncio.create_task(load.client(http, deadline)) for _ in range(clients)]
        await asyncio.sleep(seconds / 2)
        await asyncio.to_thread(halfway)
        await asyncio.gather(*tasks)


def verify(samples: list[dict], library: dict, cache_dir: str) -> tuple[int, list[str]]:
    mismatches = []
    streams: dict = {}
    for s in samples:
        parts = s["path"].split("/")
        track, index = parts[3], int(parts[5])
        p = s["params"]
        key = (track, p["preset"], p["intensity"])
        if key not in streams:
            streams[key] = ac.Stream(
                str(library[track]), preset=p["preset"], intensity=p["intensity"],
                chunk_seconds=CHUNK_SECONDS, cache_dir=cache_dir,
            )
        transition = p.get("transition_from")
        expected, _ = streams[key].media_segment(index, transition_from=(transition, 1.0) if transition else None)
        if expected != s["bytes"]:
            mismatches.append(f"{s['path']} {p} ({s['cache']}): {len(s['bytes'])} bytes served, {len(expected)} rendered")
    return len(samples), mismatches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("soak.json"))
    parser.add_argument("--no-rss-check", action="store_true",
                        help="do not fail on RSS growth (for short smoke runs, all warm-up)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="auralis-soak-"))
    lib, bad, changing = build_library(root)
    cache = root / "cache"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "auralis_core", "serve", "--library", str(lib), "--cache-dir", str(cache),
         "--chunk-seconds", str(CHUNK_SECONDS), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "wb"),
    )
    rss: list[tuple[float, int]] = []
    cache_kb: list[int | None] = []  # the engine's memory cache (payload bytes), beside each RSS
    try:
        for _ in range(300):
            try:
                tracks = httpx.get(f"{base}/api/tracks", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not start")
        totals = {}
        for t in tracks:
            r = httpx.get(f"{base}/api/stream/{t['id']}/metadata", timeout=120)
            totals[t["id"]] = r.json()["total_chunks"] if r.status_code == 200 else None
        paths = {}
        for t in tracks:
            p = lib / t["name"]
            if not p.exists():
                p = CORPUS / t["name"]
            if not p.exists():
                p = Path(tempfile.gettempdir()) / t["name"]
            paths[t["id"]] = p
        print(f"library: {len(tracks)} entries, {sum(v is not None for v in totals.values())} playable; "
              f"bad: {sorted(k for k, v in totals.items() if v is None)}", flush=True)
        load = Load(base, totals, bad + [k for k, v in totals.items() if v is None and k not in bad], changing, args.seed)

        def halfway() -> None:
            if os.geteuid() == 0:
                # The engine recreates a vanished directory once, so swap atomically: move the
                # directory away, then rename a file onto its name (again if the engine won).
                blocker = root / "blocker"
                for attempt in range(100):
                    blocker.write_bytes(b"not a directory")
                    if cache.is_dir():
                        os.rename(cache, root / f"cache-away-{attempt}")
                    try:
                        os.rename(blocker, cache)
                        break
                    except OSError:
                        continue
                how = "replaced by a file (root ignores modes)"
            else:
                os.chmod(cache, 0o555)
                how = "chmod 555"
            load.changed = True  # before the rewrite: a request cut by it is expected
            (lib / "changing.wav").write_bytes(synth_wav(22.0, 445.0, 5))
            print(f"halfway: cache directory {how}; changing.wav rewritten", flush=True)

        stop = False

        async def sample_rss() -> None:
            t0 = time.monotonic()
            async with httpx.AsyncClient(timeout=10) as client:
                while not stop:
                    try:
                        counters = (await client.get(f"{base}/api/stats")).json()
                        cached = counters.get("memory_bytes", 0) // 1024
                    except (httpx.HTTPError, ValueError):
                        cached = None
                    rss.append((time.monotonic() - t0, rss_kb(server.pid)))
                    cache_kb.append(cached)
                    await asyncio.sleep(5)

        async def everything() -> None:
            nonlocal stop
            sampler = asyncio.create_task(sample_rss())
            await run_load(base, load, args.clients, args.minutes * 60, halfway)
            stop = True
            await sampler

        t0 = time.monotonic()
        asyncio.run(everything())
        wall = time.monotonic() - t0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    verify_dir = root / "verify-cache"
    checked, mismatches = verify(load.samples, paths, str(verify_dir))
    total = sum(load.statuses.values())
    third = max(1, len(rss) // 3)
    middle = max(v for _, v in rss[third: 2 * third]) if len(rss) >= 3 else 0
    last = max(v for _, v in rss[2 * third:]) if len(rss) >= 3 else 0
    grew = len(rss) >= 3 and last > middle * 1.10

    print(f"\nsoak: {args.clients} clients, {wall / 60:.1f} min, {total} requests served "
          f"({total / wall:.1f}/s), {len(load.failures)} failed connections")
    print("\n| request kind | count | statuses | p50 ms | p99 ms |\n|---|---:|---|---:|---:|")
    for kind in sorted(load.latency):
        lat = load.latency[kind]
        st = ", ".join(f"{k}: {v}" for k, v in sorted(load.by_kind[kind].items(), key=str))
        print(f"| {kind} | {len(lat)} | {st} | {percentile(lat, 0.5) * 1000:.0f} | {percentile(lat, 0.99) * 1000:.0f} |")
    print(f"\nstatuses: {dict(sorted(load.statuses.items(), key=str))}; 5xx: {len(load.bad_input_5xx)}")
    print(f"RSS (MB) every 5 s: {' '.join(str(v // 1024) for _, v in rss)}")
    print(f"memory cache (MB) at the same times: {' '.join('?' if c is None else str(c // 1024) for c in cache_kb)}")
    print("RSS minus memory cache (MB): "
          + " ".join("?" if c is None else str((v - c) // 1024) for (_, v), c in zip(rss, cache_kb)))
    print(f"RSS max: middle third {middle / 1024:.0f} MB, last third {last / 1024:.0f} MB"
          f" ({'GREW' if grew else 'flat'})")
    print(f"verified chunks against a fresh render: {checked}, mismatches: {len(mismatches)}")
    for m in (mismatches + load.bad_input_5xx + load.failures)[:20]:
        print("  ", m)
    args.out.write_text(json.dumps({
        "clients": args.clients, "minutes": wall / 60, "requests": total,
        "statuses": {str(k): v for k, v in load.statuses.items()},
        "by_kind": {k: {str(s): n for s, n in v.items()} for k, v in load.by_kind.items()},
        "p50_ms": {k: percentile(v, 0.5) * 1000 for k, v in load.latency.items()},
        "p99_ms": {k: percentile(v, 0.99) * 1000 for k, v in load.latency.items()},
        "rss_kb": rss, "memory_cache_kb": cache_kb, "verified": checked, "mismatches": mismatches,
        "failures": load.failures[:50], "server_5xx": load.bad_input_5xx[:50],
    }, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    ok = not mismatches and not load.bad_input_5xx and not load.failures and (args.no_rss_check or not grew)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
