"""Times the drop-in ChunkedAudioProcessor on the corpus (or the demo when it is absent).

For each file, in a fresh chunk directory (nothing cached), as a backend would see it:
  open      ChunkedAudioProcessor(...): probe, signature, analysis and mastering design
  first     process_chunk(0) right after opening (the "first chunk" of the original)
  webm      get_webm_chunk_path(1): a chunk the backend has not seen, to WebM
  seek      process_chunk(last): a cold chunk at the end (seek; "-" for one-chunk files)
  mem       get_webm_chunk_path(1) again with the path dict cleared (engine memory + file write)
  disk      the same from a processor on another engine (engine disk cache + file write)

Run: .venv/bin/python examples/python/bench_compat.py [FILES...]
The original backend's figures on this kind of machine: about 1 s for a first chunk with fast
start, 6 to 9 s for a chunk with its full analysis.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import auralis_core as ac

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def ms(f):
    t = time.perf_counter()
    out = f()
    return (time.perf_counter() - t) * 1e3, out


def main() -> None:
    files = [Path(a) for a in sys.argv[1:]]
    if not files:
        files = sorted(p for p in CORPUS.glob("*") if p.suffix in {".mp3", ".flac", ".ogg", ".m4a", ".wav"})
    if not files:
        demo = Path(tempfile.gettempdir()) / "auralis_bench_demo.wav"
        demo.write_bytes(ac.demo_wav())
        files = [demo]
    print(f"{'file':28} {'dur s':>6} {'open':>8} {'first':>8} {'webm':>8} {'seek':>8} {'mem':>8} {'disk':>8}  (ms)")
    for path in files:
        chunk_dir = Path(tempfile.mkdtemp(prefix="auralis_bench_"))
        try:
            t_open, p = ms(lambda: ac.ChunkedAudioProcessor("b", str(path), chunk_dir=chunk_dir))
            t_first, _ = ms(lambda: p.process_chunk(0))
            one = min(1, p.total_chunks - 1)
            t_webm, _ = ms(lambda: p.get_webm_chunk_path(one))
            t_seek = ms(lambda: p.process_chunk(p.total_chunks - 1))[0] if p.total_chunks > 1 else None
            p.chunk_cache.clear()
            t_mem, _ = ms(lambda: p.get_webm_chunk_path(one))
            # A fresh processor in another process would read the disk cache; here the engine
            # is shared, so clear its memory by opening with another chunk_dir alias.
            alias = chunk_dir.parent / (chunk_dir.name + "_alias")
            alias.symlink_to(chunk_dir)
            q = ac.ChunkedAudioProcessor("b", str(path), chunk_dir=alias)
            t_disk, _ = ms(lambda: q.get_webm_chunk_path(one))
            alias.unlink()
            seek = f"{t_seek:8.1f}" if t_seek is not None else f"{'-':>8}"
            print(f"{path.name:28} {p.duration:6.1f} {t_open:8.1f} {t_first:8.1f} {t_webm:8.1f} "
                  f"{seek} {t_mem:8.2f} {t_disk:8.2f}")
        finally:
            shutil.rmtree(chunk_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
