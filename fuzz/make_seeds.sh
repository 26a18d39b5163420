#!/bin/sh
# Writes the seed inputs of the fuzz targets into seeds/ (checked in; rerun to remake them).
# Needs ffmpeg (0.15 s tone files in each container the decoder supports) and python3.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tone="sine=f=440:d=0.15:sample_rate=44100"
ff() { ffmpeg -nostdin -loglevel error -y -f lavfi -i "$tone" -ac 2 "$@"; }
ff "$tmp/t.wav"
ff -c:a flac "$tmp/t.flac"
ff -c:a libmp3lame -b:a 64k "$tmp/t.mp3"
ff -c:a libvorbis -q:a 1 "$tmp/t.ogg"
ff -c:a aac -b:a 64k -movflags +faststart "$tmp/t.m4a"
ff -c:a libopus -b:a 48k "$tmp/t.opus"
ff -c:a libopus -b:a 48k "$tmp/t.webm"
ff -c:a libvorbis -q:a 1 "$tmp/v.mka"
ff -c:a flac "$tmp/f.mka"
ffmpeg -nostdin -loglevel error -y -f lavfi -i "$tone" -ac 6 -c:a libopus -mapping_family 1 "$tmp/s.opus"
ffmpeg -nostdin -loglevel error -y -f lavfi -i "$tone" -ac 1 -ar 8000 -c:a pcm_u8 "$tmp/m8.wav"
ffmpeg -nostdin -loglevel error -y -f lavfi -i "$tone" -ac 2 -c:a pcm_s24be "$tmp/t.aiff"
mkdir -p seeds/decode_probe seeds/range_read seeds/webm_roundtrip seeds/c_abi seeds/cache_read
python3 - "$tmp" <<'PY'
import os, struct, sys
tmp = sys.argv[1]
hints = {None: 0, "wav": 1, "flac": 2, "mp3": 3, "ogg": 4, "m4a": 5, "aiff": 6,
         "opus": 7, "webm": 8, "mka": 9}
rr = {"wav": 0, "flac": 1, "mp3": 2, "ogg": 3, "m4a": 4, "opus": 5, "webm": 6, "mka": 7}
for name in sorted(os.listdir(tmp)):
    data = open(os.path.join(tmp, name), "rb").read()
    ext = name.rsplit(".", 1)[1]
    open(f"seeds/decode_probe/{name}", "wb").write(bytes([hints[ext]]) + data)
    open(f"seeds/decode_probe/nohint_{name}", "wb").write(bytes([0]) + data)
    if ext in rr:
        pos = struct.pack("<HHH", 20000, 40000, 1000) + bytes([0, rr[ext]])
        open(f"seeds/range_read/{name}", "wb").write(pos + data)
# webm_roundtrip: stereo, 128 kbit/s, complexity 10, last chunk; 0.1 s of a ramp.
head = bytes([3, 61, 10, 5, 7, 0])
pcm = b"".join(struct.pack("<h", (i * 37) % 20000 - 10000) for i in range(2 * 4800 + 2 * 1272))
open("seeds/webm_roundtrip/stereo", "wb").write(head + pcm)
open("seeds/webm_roundtrip/mono", "wb").write(bytes([0, 30, 5, 0, 0, 0]) + pcm[:4000])
# c_abi: valid options (flags 0: adaptive, the real file), chunk 0.1 s, index 0 and 3.
def c_abi(flags, intensity, chunk, bitrate, complexity, index, rest=b""):
    return (bytes([flags]) + struct.pack("<d", intensity) + bytes([chunk]) + bytes(7)
            + struct.pack("<III", bitrate, complexity, index) + rest)
open("seeds/c_abi/valid", "wb").write(c_abi(0, 1.0, 10, 128000, 10, 0))
open("seeds/c_abi/warm_index3", "wb").write(c_abi(1, 0.5, 10, 64000, 5, 3))
open("seeds/c_abi/fuzzed_path", "wb").write(c_abi(8, 1.0, 10, 128000, 10, 0, b"/nonexistent/x.mp3"))
open("seeds/c_abi/bad_preset", "wb").write(c_abi(3, 1.0, 10, 128000, 10, 0))
# cache_read: an empty file and a header-sized one (the fuzzer learns the format from there).
open("seeds/cache_read/empty", "wb").write(b"")
open("seeds/cache_read/magic", "wb").write(b"AURALISC" + struct.pack("<I", 2) + bytes(44))
PY
ls seeds/*
