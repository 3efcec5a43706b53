"""Handler faults: a wrapper around any ``handler(event, context)`` that fails on purpose.

What a stream handler's failures look like to the event source mapping: a function error
(the batch is retried), a poison record (fails on every delivery until the batch goes to the
on-failure destination; the records behind it in the batch wait, unprocessed), a timeout after the work was done (the batch is redelivered and
processed again), and records processed but reported failed (duplicate deliveries). Every
decision comes from one seeded random generator, and every injection is counted.
[B] docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from typing import Any

from streamsim.workbench.faults.spec import (
    Duplicates,
    FaultSpec,
    HandlerErrors,
    HandlerTimeout,
    Poison,
)

Handler = Callable[[dict[str, Any], Any], Any]

#: Seconds a timed-out invocation runs past its deadline (Lambda would stop it there).
OVERRUN_SECONDS = 0.5


class InjectedHandlerError(RuntimeError):
    """A function error injected by a fault plan (its name shows in the attempts table)."""


class FaultyHandler:
    """``handler`` with the handler faults among ``specs``; ``counts`` says what fired."""

    def __init__(
        self,
        handler: Handler,
        specs: tuple[FaultSpec, ...],
        *,
        seed: int = 1,
        report_batch_item_failures: bool = True,
        counts: Callable[[str], None] | None = None,
        poison_after: int | None = None,
    ) -> None:
        self.handler = handler
        self.report_batch_item_failures = report_batch_item_failures
        self._count = counts or (lambda name: None)
        self._rng = random.Random(f"handler:{seed}")
        self._lock = threading.Lock()
        self._errors = _first(specs, HandlerErrors)
        self._poison = _first(specs, Poison)
        self._timeout = _first(specs, HandlerTimeout)
        self._duplicates = _first(specs, Duplicates)
        self._poison_keys: set[str] = set()
        self._seen_keys: set[str] = set()
        #: Poison plays are the first ``count`` new items after this many (0-9, from the seed):
        #: mid-stream, so the records before them in their batch are processed.
        self._poison_after = (
            random.Random(f"poison:{seed}").randrange(10) if poison_after is None else poison_after
        )
        self._timeouts_left = self._timeout.count if self._timeout else 0
        self._duplicated: set[str] = set()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            return self.handler(event, context)  # not a stream event: nothing to inject into
        with self._lock:
            fail = self._errors is not None and self._rng.random() < self._errors.rate
            overrun = self._timeouts_left > 0 and not fail
            if overrun:
                self._timeouts_left -= 1
            poisoned = self._poisoned(records)
        if fail:
            self._count("handler-errors")
            raise InjectedHandlerError("injected function error (fault plan: handler-errors)")
        if poisoned and not self.report_batch_item_failures:
            self._count("poison")
            raise InjectedHandlerError(f"injected poison record {_seq(poisoned[0])}")
        # An ordered handler stops at its first failure: Lambda retries from it anyway [B], so
        # the records behind it are neither processed nor reported.
        healthy = records[: records.index(poisoned[0])] if poisoned else records
        response = self.handler({**event, "Records": healthy}, context) if healthy else None
        failed = self._failures(response) + [_seq(r) for r in poisoned[:1]]
        if poisoned:
            self._count("poison")
        failed += self._duplicate(healthy, failed)
        if overrun:
            # The work is done (awards written); the answer comes too late: a timeout, so the
            # trigger redelivers the batch and the handler processes it again.
            self._count("handler-timeout")
            remaining = context.get_remaining_time_in_millis() / 1000.0
            context.spend(remaining + OVERRUN_SECONDS)
        if not failed:
            return response
        if not self.report_batch_item_failures:
            raise InjectedHandlerError(f"{len(failed)} records reported failed")
        return {"batchItemFailures": [{"itemIdentifier": s} for s in dict.fromkeys(failed)]}

    def _poisoned(self, records: list[Any]) -> list[Any]:
        """The records of poison plays (an item is poison from its first delivery on)."""
        if self._poison is None:
            return []
        out = []
        for record in records:
            key = _item_key(record)
            if key is None:
                continue
            if key not in self._seen_keys:
                self._seen_keys.add(key)
                new = len(self._seen_keys) > self._poison_after
                if new and len(self._poison_keys) < self._poison.count:
                    self._poison_keys.add(key)
            if key in self._poison_keys:
                out.append(record)
        return out

    def _failures(self, response: Any) -> list[str]:
        """Sequence numbers the wrapped handler itself reported failed."""
        if not isinstance(response, dict) or not isinstance(
            response.get("batchItemFailures"), list
        ):
            return []
        return [
            str(item.get("itemIdentifier"))
            for item in response["batchItemFailures"]
            if isinstance(item, dict)
        ]

    def _duplicate(self, processed: list[Any], failed: list[str]) -> list[str]:
        """Processed records reported failed anyway (each at most once: bounded)."""
        if self._duplicates is None:
            return []
        out = []
        with self._lock:
            for record in processed:
                seq = _seq(record)
                if seq in failed or seq in self._duplicated:
                    continue
                if self._rng.random() < self._duplicates.rate:
                    self._duplicated.add(seq)
                    out.append(seq)
        for _ in out:
            self._count("duplicates")
        return out


def _first(specs: tuple[FaultSpec, ...], kind: type) -> Any:
    return next((s for s in specs if isinstance(s, kind)), None)


def _seq(record: Any) -> str:
    return str(record.get("dynamodb", {}).get("SequenceNumber"))


def _item_key(record: Any) -> str | None:
    """The item's key as stable text: the same play on every redelivery."""
    if not isinstance(record, dict) or not isinstance(record.get("dynamodb"), dict):
        return None
    keys = record["dynamodb"].get("Keys")
    return json.dumps(keys, sort_keys=True) if keys is not None else None
