"""A fault plan: the specs of one run, turned into what ``run_pipeline`` needs.

``run_pipeline(config, backend, faults=plan)`` calls, in order: ``configure`` (kill-trigger,
the function timeout, a short retry backoff), ``installed`` (client hooks on every client the
backend makes), ``wrap_handler``, ``arm`` when writing starts, ``disarm`` once the trigger has
drained, and ``report`` for the summary. The plan counts every fault it injected.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from streamsim.workbench.faults.clients import ClientFaults
from streamsim.workbench.faults.handlers import FaultyHandler, Handler
from streamsim.workbench.faults.spec import (
    Duplicates,
    FaultSpec,
    HandlerErrors,
    HandlerTimeout,
    KillTrigger,
    Poison,
    format_spec,
    parse_faults,
)

if TYPE_CHECKING:
    from streamsim.aws.backend import Backend
    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.workbench.runconfig import RunConfig

#: Retry backoff of live fault runs (first, factor, cap; seconds). AWS's spacing is not
#: published and the 24 h story belongs on the virtual clock: here MaximumRetryAttempts 10 must
#: run out in seconds, so a poison record reaches the destination within a short live run.
LIVE_BACKOFF = (0.05, 2.0, 0.5)

_HANDLER_FAULTS = (HandlerErrors, Poison, HandlerTimeout, Duplicates)


class FaultPlan:
    """Faults for one live run, seeded; ``FaultPlan.parse("throttle=0.05,poison=1")``."""

    def __init__(self, specs: Iterable[FaultSpec], *, seed: int = 1) -> None:
        self.specs = tuple(specs)
        self.seed = seed
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.clients = ClientFaults(self.specs, seed=seed, counts=self.count)

    @classmethod
    def parse(cls, texts: str | Iterable[str], *, seed: int = 1) -> FaultPlan:
        return cls(parse_faults(texts), seed=seed)

    def __repr__(self) -> str:
        return f"FaultPlan({self.describe()!r}, seed={self.seed})"

    def describe(self) -> str:
        """The specs as the CLI writes them ("none" for an empty plan)."""
        return ",".join(format_spec(s) for s in self.specs) or "none"

    # ---- what run_pipeline calls ---------------------------------------------------------------
    def configure(self, config: RunConfig) -> RunConfig:
        """The run config this plan needs: kill time, function timeout, a short backoff."""
        timing = config.timing
        if any(isinstance(s, _HANDLER_FAULTS) for s in self.specs):
            first, factor, cap = LIVE_BACKOFF
            timing = replace(
                timing,
                initial_backoff_seconds=min(timing.initial_backoff_seconds, first),
                backoff_multiplier=factor,
                max_backoff_seconds=min(timing.max_backoff_seconds, cap),
            )
        changes: dict[str, Any] = {"timing": timing}
        if self.clients.active:  # one writer: which write draws which fault stays reproducible
            changes["writers"] = 1
        for spec in self.specs:
            if isinstance(spec, HandlerTimeout):
                changes["timing"] = replace(
                    changes["timing"], function_timeout_seconds=spec.timeout_seconds
                )
            if isinstance(spec, KillTrigger):
                changes["kill_trigger_after_seconds"] = spec.after_seconds
        return replace(config, **changes)

    @contextmanager
    def installed(self, backend: Backend) -> Iterator[FaultPlan]:
        """Client hooks on every client ``backend`` makes inside the block."""
        backend.client_hooks.append(self.clients.install)
        try:
            yield self
        finally:
            self.clients.disarm()
            backend.client_hooks.remove(self.clients.install)

    def wrap_handler(self, handler: Handler, mapping: EventSourceMapping) -> Handler:
        """The handler with this plan's handler faults (unchanged when there are none)."""
        if not any(isinstance(s, _HANDLER_FAULTS) for s in self.specs):
            return handler
        return FaultyHandler(
            handler,
            self.specs,
            seed=self.seed,
            report_batch_item_failures=mapping.report_batch_item_failures,
            counts=self.count,
        )

    def arm(self) -> None:
        """Writing starts: client faults may fire (unreachable windows count from now)."""
        self.clients.arm()

    def disarm(self) -> None:
        self.clients.disarm()

    # ---- what it did ---------------------------------------------------------------------------
    def count(self, name: str) -> None:
        """One injected fault of kind ``name`` (thread-safe)."""
        with self._lock:
            self._counts[name] += 1

    @property
    def injected(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def report(self, restarts: int = 0) -> dict[str, Any]:
        """For the run summary: the specs, the seed, what fired (a kill is a restart), and
        the settings this plan changed, so no result hides them."""
        injected = self.injected
        if restarts:
            injected["kill-trigger"] = restarts
        changed = []
        if any(isinstance(s, _HANDLER_FAULTS) for s in self.specs):
            first, factor, cap = LIVE_BACKOFF
            changed.append(f"retry backoff {first:g} s x{factor:g} up to {cap:g} s")
        for spec in self.specs:
            if isinstance(spec, HandlerTimeout):
                changed.append(f"function timeout {spec.timeout_seconds:g} s")
        if self.clients.active:
            changed.append("writers 1")
        return {
            "specs": self.describe(),
            "seed": self.seed,
            "injected": injected,
            "changed": changed,
        }
