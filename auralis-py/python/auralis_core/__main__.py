"""``python -m auralis_core COMMAND``: ``prerender`` (see ``auralis_core.prerender``)."""

import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: python -m auralis_core prerender LIBRARY_DIR --cache-dir DIR [options]\n"
              "       python -m auralis_core prerender --help", file=sys.stderr)
        return 0 if len(sys.argv) >= 2 else 2
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "prerender":
        from .prerender import main as prerender_main

        return prerender_main(rest)
    print(f"unknown command {command!r}: use prerender", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
