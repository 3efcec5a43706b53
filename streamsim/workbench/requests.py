"""Requests per play, by operation: what a live run costs its backend.

Every client the run makes gets a botocore ``before-send`` hook (one call per HTTP request,
retries included), so the count is what the server served, not what the code meant to call.
Only the pipeline phase counts (writing, the trigger, the handler, draining); setting up the
tables and collecting the results afterwards do not.

DynamoDB clients also get ``after-call`` hooks that turn each request and its response into read
and write request units by AWS's rules (``streamsim.workbench.capacity``): what the requests
cost, not only how many there were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streamsim.workbench.capacity import UnitLedger


class RequestCounter:
    """Counts HTTP requests by operation while ``counting`` is on."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._counting = False
        #: Read and write units by operation and table (streamsim.workbench.capacity).
        self.units = UnitLedger()

    @property
    def counting(self) -> bool:
        return self._counting

    @counting.setter
    def counting(self, on: bool) -> None:
        self._counting = on
        self.units.counting = on

    def install(self, client: Any, service: str) -> None:
        """A ``Backend.client_hooks`` hook: count this client's requests (and, on DynamoDB, meter
        their units: the item sizes are tracked even while not counting)."""
        client.meta.events.register("before-send", self._count)
        if service == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb", _keep_params)
            client.meta.events.register("after-call.dynamodb", self._meter)

    def _meter(self, parsed: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
        params = (context or {}).get(_PARAMS)
        if params is not None and model is not None and isinstance(parsed, dict):
            self.units.record(model.name, params, parsed)

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
        """Totals and requests per play, by operation (the run folder's summary keeps it), and
        the DynamoDB request units (``units``)."""
        total = sum(self.counts.values())
        per = max(plays, 1)
        return {
            "units": self.units.summary(plays),
            "plays": plays,
            "total": total,
            "per_play": round(total / per, 3),
            "by_operation": {
                op: {"requests": n, "per_play": round(n / per, 3)}
                for op, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            },
        }


_PARAMS = "streamsim_api_params"


def _keep_params(params: Any = None, context: Any = None, **_: Any) -> None:
    """Keep the call's API parameters in its request context for the ``after-call`` meter."""
    if isinstance(context, dict) and isinstance(params, dict):
        context[_PARAMS] = dict(params)


def request_lines(requests: dict[str, Any] | None) -> list[str]:
    """The run summary's table of requests per play by operation."""
    if not requests:
        return []
    lines = ["", f"{'requests (pipeline)':<28}{'total':>10}{'per play':>10}"]
    for op, row in requests["by_operation"].items():
        lines.append(f"  {op:<26}{row['requests']:>10}{row['per_play']:>10.2f}")
    lines.append(f"  {'all':<26}{requests['total']:>10}{requests['per_play']:>10.2f}")
    return lines + unit_lines(requests.get("units"))


def unit_lines(units: dict[str, Any] | None) -> list[str]:
    """The run summary's DynamoDB request units per play by operation (AWS's rounding rules)."""
    if not units or not units.get("by_operation"):
        return []
    per = max(int(units["plays"]), 1)
    lines = ["", f"{'request units per play':<28}{'read':>10}{'write':>10}"]
    for op, row in units["by_operation"].items():
        lines.append(f"  {op:<26}{row['read_units'] / per:>10.3f}{row['write_units'] / per:>10.3f}")
    lines.append(
        f"  {'all':<26}{units['read_units_per_play']:>10.3f}{units['write_units_per_play']:>10.3f}"
    )
    return lines
