"""Backend faults: botocore ``before-send`` hooks that answer instead of the server.

Installed on every client the backend makes (``Backend.client_hooks``), so the writer, the
stream reader, the handler and the on-failure destination meet the same faults: throttling
(HTTP 400 ThrottlingException), server errors (HTTP 500), an unreachable endpoint for a window
of time (EndpointConnectionError), and expired shard iterators on GetRecords. The request never
reaches the server, so a failed write is certainly not written. botocore's own retries (3
attempts, standard mode) see these like real errors.

Deterministic and bounded: throttling and server errors draw from each client's own generator,
seeded with the plan's seed and the client's creation order; expired iterators are counted, not
drawn: one GetRecords call in every ``1/rate`` of the run, starting with its first, so the fault
fires however few polls a slow (loaded) machine makes. No client sees more than
``MAX_CONSECUTIVE`` faults in a row, so every call gets through eventually. Faults fire only while
armed (from the start of writing until the trigger has drained), so setting up and capturing a
run are never hit.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

from streamsim.workbench.faults.spec import (
    ExpireIterators,
    FaultSpec,
    ServerErrors,
    Throttle,
    Unreachable,
)

#: Faults in a row one client may see before a call is let through (bounded injection).
MAX_CONSECUTIVE = 4


class ClientFaults:
    """The client faults among ``specs``; ``install`` is a ``Backend.client_hooks`` entry."""

    def __init__(
        self,
        specs: tuple[FaultSpec, ...],
        *,
        seed: int = 1,
        counts: Callable[[str], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.throttle = _rate(specs, Throttle)
        self.server_errors = _rate(specs, ServerErrors)
        self.expire_iterators = _rate(specs, ExpireIterators)
        self.windows = [s for s in specs if isinstance(s, Unreachable)]
        self.seed = seed
        self.now = now
        self._count = counts or (lambda name: None)
        self._lock = threading.Lock()
        self._clients = 0
        self.armed_at: float | None = None
        self.disarmed = False
        # Expired iterators by count (see expire_due): exact arithmetic, so 0.1 is one in 10.
        self._expire_every = Fraction(self.expire_iterators).limit_denominator(1_000_000)
        self._expire_credit = Fraction(1)  # the run's first GetRecords call expires
        self._expire_pending = False

    @property
    def active(self) -> bool:
        """True when any client fault is configured."""
        return bool(self.throttle or self.server_errors or self.expire_iterators or self.windows)

    def arm(self) -> None:
        """Start injecting; unreachable windows count from now."""
        self.armed_at = self.now()
        self.disarmed = False

    def disarm(self) -> None:
        """Stop injecting (the run is captured with a healthy backend)."""
        self.disarmed = True

    def install(self, client: Any, service: str) -> None:
        """Register the hook on one new client (a Backend.client_hooks callable)."""
        if not self.active:
            return
        with self._lock:
            self._clients += 1
            index = self._clients
        hook = _ClientHook(self, random.Random(f"{self.seed}:{index}:{service}"), service)
        client.meta.events.register_first("before-send", hook)

    def unreachable_now(self) -> bool:
        """True inside an unreachable window (counted from ``arm``)."""
        if self.armed_at is None or self.disarmed:
            return False
        elapsed = self.now() - self.armed_at
        return any(
            w.after_seconds <= elapsed < w.after_seconds + w.for_seconds for w in self.windows
        )

    def expire_due(self, *, capped: bool) -> bool:
        """One more GetRecords call (of any client): does its iterator expire?

        Every ``1/rate``-th call does, starting with the first: a count, not a draw and not a
        time, so how many polls a run makes (fewer on a loaded machine) cannot stop the fault
        from firing. A due call on a client at its ``MAX_CONSECUTIVE`` cap passes, and the next
        GetRecords call that may fail expires instead."""
        with self._lock:
            if self._expire_credit >= 1:
                self._expire_credit -= 1
                self._expire_pending = True
            self._expire_credit += self._expire_every
            if capped or not self._expire_pending:
                return False
            self._expire_pending = False
            return True

    @property
    def armed(self) -> bool:
        """True between ``arm`` and ``disarm``: only then do faults fire."""
        return self.armed_at is not None and not self.disarmed


class _ClientHook:
    """One client's before-send hook: returns a fault response, raises, or lets the call go."""

    def __init__(self, faults: ClientFaults, rng: random.Random, service: str) -> None:
        self.faults = faults
        self.rng = rng
        self.service = service
        self.in_a_row = 0
        self.lock = threading.Lock()

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        faults = self.faults
        if not faults.armed:
            return None
        operation = event_name.rsplit(".", 1)[-1]
        with self.lock:
            kind = self._draw(operation)
            self.in_a_row = self.in_a_row + 1 if kind else 0
        if kind is None:
            return None
        faults._count(kind)
        if kind == "unreachable":
            raise EndpointConnectionError(endpoint_url=request.url)
        status, code, message = _ERRORS[kind]
        return _response(request.url, status, self.service, code, message)

    def _draw(self, operation: str) -> str | None:
        """Which fault this call gets, if any (one draw per configured rate)."""
        faults = self.faults
        if faults.unreachable_now():
            return "unreachable"  # a window is not random, and not capped: it ends by itself
        capped = self.in_a_row >= MAX_CONSECUTIVE
        if (
            faults.expire_iterators
            and operation == "GetRecords"
            and faults.expire_due(capped=capped)
        ):
            return "expire-iterators"
        if capped:
            return None
        if faults.throttle and self.rng.random() < faults.throttle:
            return "throttle"
        if faults.server_errors and self.rng.random() < faults.server_errors:
            return "server-errors"
        return None


_ERRORS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput"),
    "server-errors": (500, "InternalServerError", "Internal server error"),
    "expire-iterators": (400, "ExpiredIteratorException", "Iterator expired"),
}

_TYPE_PREFIX = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "dynamodbstreams": "com.amazonaws.dynamodb.v20120810#",
    "sqs": "com.amazonaws.sqs#",
}


def _response(url: str, status: int, service: str, code: str, message: str) -> AWSResponse:
    """An AWS JSON-protocol error response, as the service would send it."""
    body = json.dumps(
        {"__type": _TYPE_PREFIX.get(service, "") + code, "message": f"{message} (injected)"}
    ).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-RequestId": "streamsim-injected-fault",
        "Content-Length": str(len(body)),
    }
    return AWSResponse(url, status, headers, _Body(body))


class _Body:
    """The ``raw`` of an AWSResponse: botocore reads it through ``stream()``."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _rate(specs: tuple[FaultSpec, ...], kind: type) -> float:
    rates = [float(getattr(s, "rate", 0.0)) for s in specs if isinstance(s, kind)]
    return rates[0] if rates else 0.0
