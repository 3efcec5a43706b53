"""Where the embedded server spends its time: a debug-only WSGI middleware for the moto child.

Set ``STREAMSIM_SERVER_PROFILE=<dir>`` before starting a run and the moto child
(``servechild``) times every request by operation (the ``X-Amz-Target`` header), counts the
records GetRecords returned, and, with ``STREAMSIM_SERVER_PROFILE_CPROFILE=1``, runs moto under
cProfile. When the child ends (SIGTERM) it writes ``<dir>/server-ops.json`` (and
``server.pstats``). Off by default: nothing is wrapped unless the variable is set. The budget in
docs/backends.md ("Where the live pipeline's time goes") was measured with it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILE_ENV = "STREAMSIM_SERVER_PROFILE"
CPROFILE_ENV = "STREAMSIM_SERVER_PROFILE_CPROFILE"


@dataclass
class OpStats:
    """Requests, server seconds and (GetRecords) records of one operation."""

    requests: int = 0
    seconds: float = 0.0
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        per = self.seconds / self.requests * 1000 if self.requests else 0.0
        row: dict[str, Any] = {
            "requests": self.requests,
            "seconds": round(self.seconds, 4),
            "ms_per_request": round(per, 3),
        }
        if self.records:
            row["records"] = self.records
            row["ms_per_record"] = round(self.seconds / self.records * 1000, 3)
        return row


@dataclass
class ProfilingApp:
    """WSGI middleware: time the wrapped app per operation (and optionally cProfile it).

    Wrap it *inside* the serialising lock so one request is timed at a time."""

    app: Any
    cprofile: bool = False
    ops: dict[str, OpStats] = field(default_factory=dict)
    profiler: Any = None

    def __post_init__(self) -> None:
        if self.cprofile:
            import cProfile

            self.profiler = cProfile.Profile()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", "") or environ.get("PATH_INFO", "?"))
        op = target.rsplit(".", 1)[-1]
        started = time.perf_counter()
        if self.profiler is not None:
            self.profiler.enable()
        try:
            result = self.app(environ, start_response)
            body = b"".join(result)
            close = getattr(result, "close", None)
            if close is not None:
                close()
        finally:
            if self.profiler is not None:
                self.profiler.disable()
            stats = self.ops.setdefault(op, OpStats())
            stats.requests += 1
            stats.seconds += time.perf_counter() - started
        if op == "GetRecords":
            stats.records += body.count(b'"eventID"')
        return [body]

    def dump(self, folder: str | Path) -> Path:
        """Write server-ops.json (and server.pstats with cProfile) into ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        rows = {op: s.to_dict() for op, s in sorted(self.ops.items())}
        path = out / "server-ops.json"
        path.write_text(json.dumps(rows, indent=2) + "\n")
        if self.profiler is not None:
            self.profiler.dump_stats(str(out / "server.pstats"))
        return path
