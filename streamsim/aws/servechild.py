"""The child process of ``servers.MotoProcess``: moto's server, serialised, on 127.0.0.1.

Run as ``python -m streamsim.aws.servechild --port N`` under ``servers._GUARD`` (which ends it
when the parent goes). Apart from ``servers`` so that ``backend`` and ``servers`` import no loop.
"""

from __future__ import annotations

import argparse
import sys

from streamsim.aws.backend import EmbeddedServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamsim.aws.servechild")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = EmbeddedServer(port=args.port)
    server.start()
    try:  # SIGTERM and the parent's exit end the process in servers._GUARD
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
