"""The child process of ``servers.MotoProcess``: moto's server, serialised, on 127.0.0.1.

Run as ``python -m streamsim.aws.servechild --port N`` under ``servers._GUARD`` (which ends it
when the parent goes). Apart from ``servers`` so that ``backend`` and ``servers`` import no loop.
moto is patched first (``motopatch``: same responses, faster) unless
``$STREAMSIM_MOTO_UNPATCHED=1``. With ``$STREAMSIM_SERVER_PROFILE`` set, it times moto per operation and writes the figures there
when it ends (``serverprofile.py``; a debugging aid, off by default).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from streamsim.aws import motopatch
from streamsim.aws.backend import EmbeddedServer
from streamsim.aws.serverprofile import CPROFILE_ENV, PROFILE_ENV, ProfilingApp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamsim.aws.servechild")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if os.environ.get(motopatch.UNPATCHED_ENV) == "1":
        print("streamsim: moto runs unpatched: asked to", file=sys.stderr, flush=True)
    else:
        motopatch.apply()  # two of moto's slow paths; unpatched (and said so) if moto differs
    profile_dir = os.environ.get(PROFILE_ENV)
    profiler: list[ProfilingApp] = []
    wrap = None
    if profile_dir:

        def wrap(app: Any) -> ProfilingApp:
            profiler.append(ProfilingApp(app, cprofile=os.environ.get(CPROFILE_ENV) == "1"))
            return profiler[0]

        previous = signal.getsignal(signal.SIGTERM)

        def dump_then_leave(signum: int, frame: Any) -> None:
            if profiler:
                profiler[0].dump(profile_dir)
            if callable(previous):
                previous(signum, frame)
            else:
                sys.exit(0)

        signal.signal(signal.SIGTERM, dump_then_leave)
    server = EmbeddedServer(port=args.port, wrap=wrap)
    server.start()
    try:  # SIGTERM and the parent's exit end the process in servers._GUARD
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
