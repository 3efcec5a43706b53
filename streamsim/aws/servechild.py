"""The child process of ``servers.MotoProcess``: moto's server, serialised, on 127.0.0.1.

Run as ``python -m streamsim.aws.servechild --port N`` under ``servers._GUARD`` (which ends it
when the parent goes). Apart from ``servers`` so that ``backend`` and ``servers`` import no loop.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from streamsim.aws.backend import EmbeddedServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamsim.aws.servechild")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = EmbeddedServer(port=args.port)
    server.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except (SystemExit, KeyboardInterrupt):
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
