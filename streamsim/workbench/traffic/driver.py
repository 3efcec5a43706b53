"""Drive live traffic: send each play of a schedule at its time through the play API.

The driver owns timing and bookkeeping only; ``write`` (the play API, written elsewhere)
owns the request. Every failed write is kept with its error, never dropped, and the lag
behind schedule is measured on the same clock that paces the sends. One pass over the
schedule, then it returns: a bounded loop that a ``threading.Event`` can stop early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from streamsim.errors import ConfigError
from streamsim.game.plays import Play
from streamsim.workbench.traffic.arrivals import Schedule

__all__ = [
    "DriveStats",
    "DriverClock",
    "ManualClock",
    "SendFailure",
    "SleepingClock",
    "drive",
]


class DriverClock(Protocol):
    """What the driver needs from a clock: seconds, and a way to wait for a time.

    ``sleep_until`` may return early (a wall clock naps so a stop is noticed); the driver
    checks ``now()`` again and waits more.
    """

    def now(self) -> float: ...

    def sleep_until(self, t: float) -> None: ...


@dataclass(frozen=True)
class SendFailure:
    """A write that raised: which play, when, and the error itself."""

    index: int
    play: Play
    error: Exception
    at: float


@dataclass(eq=False)
class DriveStats:
    """Counts and lag of one drive; the progress callback sees it while it fills up."""

    total: int
    sent: int = 0
    failed: int = 0
    failures: list[SendFailure] = field(default_factory=list)
    #: True when the stop event ended the drive before the schedule did.
    stopped: bool = False
    started_at: float = 0.0
    finished_at: float | None = None
    #: Largest lag behind schedule, seconds (0 before any send).
    lag_max: float = 0.0
    _lags: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def attempted(self) -> int:
        return self.sent + self.failed

    @property
    def remaining(self) -> int:
        """Plays never attempted (non-zero only after a stop)."""
        return self.total - self.attempted

    @property
    def lags(self) -> np.ndarray:
        """Lag of each attempted send: actual minus scheduled time, seconds."""
        return self._lags[: self.attempted]

    @property
    def lag_p99(self) -> float:
        """99th percentile of the lag (0 before any send)."""
        lags = self.lags
        return float(np.percentile(lags, 99)) if len(lags) else 0.0


def drive(
    schedule: Schedule,
    write: Callable[[Play], object],
    clock: DriverClock,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[DriveStats], None] | None = None,
    progress_every: int = 1000,
    start_at: float | None = None,
) -> DriveStats:
    """Send every play at ``start_at + offset`` (default start: ``clock.now()``) via ``write``.

    Plays go out in schedule order, one at a time, so a player's plays arrive in time order.
    A write that raises is recorded in ``failures`` and the drive goes on. ``progress`` is
    called every ``progress_every`` attempts and once at the end.
    """
    if (
        not isinstance(progress_every, int)
        or isinstance(progress_every, bool)
        or progress_every < 1
    ):
        raise ConfigError(f"progress_every must be an integer >= 1, got {progress_every!r}")
    origin = clock.now() if start_at is None else float(start_at)
    stats = DriveStats(total=len(schedule), started_at=origin, _lags=np.zeros(len(schedule)))
    for index, (offset, play) in enumerate(schedule):
        due = origin + offset
        if not _wait_until(clock, due, stop):
            stats.stopped = True
            break
        sent_at = clock.now()
        lag = sent_at - due
        stats._lags[index] = lag
        stats.lag_max = lag if stats.attempted == 0 else max(stats.lag_max, lag)
        try:
            write(play)
        except Exception as exc:  # kept with the play; the caller decides what it means
            stats.failed += 1
            stats.failures.append(SendFailure(index, play, exc, sent_at))
        else:
            stats.sent += 1
        if progress is not None and stats.attempted % progress_every == 0:
            progress(stats)
    stats.finished_at = clock.now()
    if progress is not None:
        progress(stats)
    return stats


class SleepingClock:
    """Real time (epoch seconds, like ``streamsim.clock``); naps at most ``max_nap`` seconds
    per ``sleep_until`` so that a stop event is noticed quickly."""

    def __init__(self, max_nap: float = 0.05) -> None:
        if not max_nap > 0:
            raise ConfigError(f"max_nap must be > 0, got {max_nap!r}")
        self.max_nap = max_nap

    def now(self) -> float:
        return time.time()

    def sleep_until(self, t: float) -> None:
        delay = t - time.time()
        if delay > 0:
            time.sleep(min(delay, self.max_nap))


class ManualClock:
    """A clock that only moves when told: ``sleep_until`` jumps, ``advance`` adds time.

    For tests and instant dry runs; a ``write`` can call ``advance`` to model its latency.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def sleep_until(self, t: float) -> None:
        self.t = max(self.t, float(t))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self.t += seconds


# --------------------------------------------------------------------------- helpers

#: Consecutive ``sleep_until`` calls without progress before the driver gives up on a clock.
_MAX_STUCK = 100_000


def _wait_until(clock: DriverClock, due: float, stop: threading.Event | None) -> bool:
    """Wait for ``due``; False if stopped first. Raises if the clock never moves."""
    stuck = 0
    while True:
        if stop is not None and stop.is_set():
            return False
        now = clock.now()
        if now >= due:
            return True
        clock.sleep_until(due)
        if clock.now() <= now:
            stuck += 1
            if stuck >= _MAX_STUCK:
                raise RuntimeError(f"clock {clock!r} does not advance towards {due}")
        else:
            stuck = 0
