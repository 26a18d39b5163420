"""``auralis-core COMMAND`` (or ``python -m auralis_core COMMAND``).

- ``serve``: the streaming server and its web player (``auralis_core.server``; needs
  ``pip install 'auralis-core[server]'``).
- ``prerender``: renders a library's chunks into a cache directory ahead of listeners
  (``auralis_core.prerender``).
"""

import sys
from typing import List, Optional

USAGE = """usage: auralis-core serve [--library DIR ...] [--cache-dir DIR] [--port N] [options]
       auralis-core prerender LIBRARY_DIR --cache-dir DIR [options]
       auralis-core --version
       auralis-core COMMAND --help"""


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "--version":
        from . import __version__

        print(f"auralis-core {__version__}")
        return 0
    if command == "serve":
        try:
            from .server.cli import main as serve_main
        except ImportError as exc:  # fastapi missing: the extra is not installed
            print(f"auralis-core serve needs the server extra ({exc.name} is missing): "
                  "pip install 'auralis-core[server]'", file=sys.stderr)
            return 2
        return serve_main(rest)
    if command == "prerender":
        from .prerender import main as prerender_main

        return prerender_main(rest)
    print(f"auralis-core: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
