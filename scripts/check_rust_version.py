#!/usr/bin/env python3
"""The declared `rust-version` against what the build needs, where the one toolchain this
machine can install (rustup fetches no other) cannot build with the declared version itself.

Two halves check it:
- the code's own use of the standard library: clippy's `incompatible_msrv` lint reads the
  declared version, and `scripts/test.sh` runs clippy with `-D warnings` (declaring 1.80 fails
  it: items stable since 1.82, 1.87 and 1.89 are used);
- the dependencies, here: every crate that auralis-core, auralis-ffi or auralis-py build with
  (normal and build dependencies, as Cargo.lock resolves them) must declare a `rust-version` no
  newer than the workspace's, or none.

Language features newer than the declared version are not caught by either (the edition is
2021, so the 2024 edition's are out of reach anyway). Exit status 1 with a line per offender.
"""

import json
import subprocess
import sys

ROOTS = ("auralis-core", "auralis-ffi", "auralis-py")


def version(text: str) -> tuple:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main() -> int:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True,
    ).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    roots = [p["id"] for p in meta["packages"] if p["name"] in ROOTS]
    declared = {packages[r]["rust_version"] for r in roots}
    if len(declared) != 1 or None in declared:
        print(f"the crates declare different or no rust-versions: {sorted(map(str, declared))}")
        return 1
    (msrv,) = declared
    seen, stack = set(), list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for dep in nodes[node]["deps"]:
            if any(kind["kind"] in (None, "build") for kind in dep["dep_kinds"]):
                stack.append(dep["pkg"])
    newer = sorted(
        (packages[i]["name"], packages[i]["version"], packages[i]["rust_version"])
        for i in seen
        if packages[i].get("rust_version") and version(packages[i]["rust_version"]) > version(msrv)
    )
    for name, ver, needs in newer:
        print(f"{name} {ver} needs Rust {needs}, newer than the declared rust-version {msrv}")
    if not newer:
        print(f"rust-version {msrv}: the {len(seen)} crates of the build declare it or older")
    return 1 if newer else 0


if __name__ == "__main__":
    sys.exit(main())
