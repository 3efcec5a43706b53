"""Time as a seam: one trigger logic, two clocks (the simpy way).

Both clocks drive a simpy environment whose ``now`` is epoch seconds. The virtual clock jumps
from event to event, so 24 hours of retries run in seconds of wall time; the wall clock is
simpy's RealtimeEnvironment, for live runs against a server, where handler calls and I/O take
real time. Code asks the clock for ``now()`` and ``sleep(seconds)`` and never reads the
machine's time itself.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from concurrent.futures import Future
from typing import Any

import simpy
import simpy.rt


class Clock:
    """Common interface; use ``VirtualClock`` or ``WallClock``."""

    env: simpy.Environment
    #: Marks every timestamp a run produces: "virtual" or "wall".
    kind: str = "abstract"

    @property
    def virtual(self) -> bool:
        return self.kind == "virtual"

    def now(self) -> float:
        """The current time, epoch seconds."""
        raise NotImplementedError

    def sleep(self, seconds: float) -> simpy.Event:
        """An event that fires ``seconds`` from ``now()`` (yield it in a process)."""
        raise NotImplementedError

    def wait(self, future: Future[Any], poll_seconds: float = 0.005) -> Generator[Any, Any, None]:
        """Wait in a process until a thread's future is done, letting other processes run."""
        while not future.done():
            yield self.sleep(poll_seconds)

    def run(self, until: Any = None) -> None:
        self.env.run(until=until)


class VirtualClock(Clock):
    """Discrete-event time: nothing waits for the wall clock. Timestamps are marked virtual."""

    kind = "virtual"

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.env = simpy.Environment(initial_time=start)

    def now(self) -> float:
        return float(self.env.now)

    def sleep(self, seconds: float) -> simpy.Event:
        return self.env.timeout(max(0.0, seconds))


class WallClock(Clock):
    """Real time. simpy's ``now`` can lag behind the wall after blocking I/O; ``sleep`` measures
    from the wall clock, so a 250 ms poll interval is 250 ms of real time."""

    kind = "wall"

    def __init__(self) -> None:
        self.env = simpy.rt.RealtimeEnvironment(initial_time=time.time(), strict=False)

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> simpy.Event:
        target = time.time() + max(0.0, seconds)
        return self.env.timeout(max(0.0, target - self.env.now))
