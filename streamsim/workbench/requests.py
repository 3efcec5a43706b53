"""Requests per play, by operation: what a live run costs its backend.

Every client the run makes gets a botocore ``before-send`` hook (one call per HTTP request,
retries included), so the count is what the server served, not what the code meant to call.
Only the pipeline phase counts (writing, the trigger, the handler, draining); setting up the
tables and collecting the results afterwards do not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class RequestCounter:
    """Counts HTTP requests by operation while ``counting`` is on."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.counting = False

    def install(self, client: Any, service: str) -> None:
        """A ``Backend.client_hooks`` hook: count this client's requests."""
        client.meta.events.register("before-send", self._count)

    def _count(self, event_name: str = "", **_: Any) -> None:
        if self.counting:  # event_name is "before-send.<service>.<Operation>"
            self.counts[event_name.rsplit(".", 1)[-1]] += 1

    @contextmanager
    def installed(self, backend: Any) -> Iterator[RequestCounter]:
        """Hook every client ``backend`` makes inside the block."""
        backend.client_hooks.append(self.install)
        try:
            yield self
        finally:
            backend.client_hooks.remove(self.install)

    def summary(self, plays: int) -> dict[str, Any]:
        """Totals and requests per play, by operation (the run folder's summary keeps it)."""
        total = sum(self.counts.values())
        per = max(plays, 1)
        return {
            "plays": plays,
            "total": total,
            "per_play": round(total / per, 3),
            "by_operation": {
                op: {"requests": n, "per_play": round(n / per, 3)}
                for op, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            },
        }


def request_lines(requests: dict[str, Any] | None) -> list[str]:
    """The run summary's table of requests per play by operation."""
    if not requests:
        return []
    lines = ["", f"{'requests (pipeline)':<28}{'total':>10}{'per play':>10}"]
    for op, row in requests["by_operation"].items():
        lines.append(f"  {op:<26}{row['requests']:>10}{row['per_play']:>10.2f}")
    lines.append(f"  {'all':<26}{requests['total']:>10}{requests['per_play']:>10.2f}")
    return lines
