"""Send schedules for live traffic: at which second the writer sends each play.

Two ways to turn a plays frame into a schedule:

- **compressed**: keep the plays' own rhythm (evenings, streaks, weekends) and squeeze the
  calendar, e.g. 30 simulated days into 10 real minutes;
- **Poisson**: a target rate in plays/s with Poisson arrivals, optionally following a daily
  curve (more plays in the evenings), when the load matters more than the calendar.

Either way plays are sent in ``played_at`` order, so each player's plays are written in time
order: the badge handler reads a player's earlier plays and relies on that. The functions
over arrays are pure and seeded; the offsets are seconds on whatever clock drives them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from streamsim.errors import ConfigError
from streamsim.game.plays import PLAY_COLUMNS, Play

__all__ = [
    "Schedule",
    "compressed_offsets",
    "compressed_schedule",
    "compression_factor",
    "daily_curve",
    "poisson_offsets",
    "poisson_schedule",
    "send_order",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, eq=False)
class Schedule:
    """Plays in send order, each with the offset (seconds from the start) it is due at."""

    #: PLAY_COLUMNS, in send order (index 0..n-1).
    plays: pd.DataFrame = field(repr=False)
    #: float64 seconds from the start of sending, non-decreasing, one per play.
    offsets: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.plays) != len(self.offsets):
            raise ConfigError(
                f"Schedule needs one offset per play, got {len(self.offsets)} for {len(self.plays)}"
            )
        if len(self.offsets) and (
            not np.all(np.isfinite(self.offsets)) or np.any(np.diff(self.offsets) < 0)
        ):
            raise ConfigError("Schedule offsets must be finite and non-decreasing")

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def duration(self) -> float:
        """Offset of the last play (0 for an empty schedule)."""
        return float(self.offsets[-1]) if len(self.offsets) else 0.0

    def __iter__(self) -> Iterator[tuple[float, Play]]:
        """(offset, Play) in send order; rows become ``Play`` objects a chunk at a time."""
        return self.iter_plays()

    def iter_plays(self, chunk: int = 4096) -> Iterator[tuple[float, Play]]:
        """Like ``iter(schedule)``, converting ``chunk`` rows at a time (cheap on 10M rows)."""
        n = len(self)
        for lo in range(0, n, chunk):
            rows = self.plays.iloc[lo : lo + chunk]
            cols: dict[str, Any] = {c: rows[c].to_numpy() for c in PLAY_COLUMNS if c != "played_at"}
            ns = rows["played_at"].dt.tz_convert("UTC").astype("int64").to_numpy()
            for i in range(len(rows)):
                play = Play(
                    player_id=str(cols["player_id"][i]),
                    play_id=str(cols["play_id"][i]),
                    game=str(cols["game"][i]),
                    played_at=_EPOCH + timedelta(microseconds=int(ns[i]) // 1000),
                    tz=str(cols["tz"][i]),
                    score=int(cols["score"][i]),
                )
                yield float(self.offsets[lo + i]), play


def compressed_schedule(
    plays: pd.DataFrame,
    *,
    duration: float | timedelta | None = None,
    compression: float | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Schedule:
    """Replay the plays' own timing, squeezed: simulated [start, end] -> [0, duration].

    Give ``duration`` (seconds or timedelta; the window ``start..end`` defaults to the first
    and last play) or ``compression`` (simulated seconds per sent second), not both.
    """
    _check_plays(plays)
    ns = _played_at_ns(plays)
    lo = _to_ns(start, "start") if start is not None else (int(ns.min()) if len(ns) else 0)
    hi = _to_ns(end, "end") if end is not None else (int(ns.max()) if len(ns) else lo)
    if hi < lo:
        raise ConfigError(
            f"end must not be before start, got {pd.Timestamp(lo, tz='UTC')} .. "
            f"{pd.Timestamp(hi, tz='UTC')}"
        )
    if len(ns) and (ns.min() < lo or ns.max() > hi):
        raise ConfigError("plays must lie within start..end of the compressed window")
    if (duration is None) == (compression is None):
        raise ConfigError("give exactly one of duration or compression")
    if duration is not None:
        compression = compression_factor((hi - lo) / 1e9, duration) if hi > lo else 1.0
    assert compression is not None
    order = send_order(ns)
    return Schedule(_take(plays, order), compressed_offsets(ns[order], compression, lo))


def poisson_schedule(
    plays: pd.DataFrame,
    *,
    rate: float,
    seed: int = 0,
    curve: Sequence[float] | None = None,
    day_seconds: float = 86_400.0,
    phase_hours: float = 0.0,
) -> Schedule:
    """Send the plays, in played_at order, at Poisson arrival times of ``rate`` plays/s.

    With ``curve`` (24 hourly weights, e.g. ``daily_curve(plays)``) the rate follows it over
    a day of ``day_seconds`` schedule seconds; the mean rate over a whole day stays ``rate``.
    """
    _check_plays(plays)
    ns = _played_at_ns(plays)
    order = send_order(ns)
    offsets = poisson_offsets(
        len(ns), rate, seed, curve=curve, day_seconds=day_seconds, phase_hours=phase_hours
    )
    return Schedule(_take(plays, order), offsets)


def compression_factor(simulated: float | timedelta, real: float | timedelta) -> float:
    """Simulated seconds per real second, e.g. 30 days in 10 minutes -> 4320."""
    sim = _seconds(simulated, "simulated")
    wall = _seconds(real, "real")
    if sim <= 0 or wall <= 0:
        raise ConfigError(f"simulated and real durations must be > 0, got {sim} and {wall}")
    return sim / wall


def compressed_offsets(played_at_ns: np.ndarray, compression: float, origin_ns: int) -> np.ndarray:
    """Offsets in seconds: (played_at - origin) / compression; monotone, so order is kept."""
    if not _positive(compression):
        raise ConfigError(f"compression must be a finite number > 0, got {compression!r}")
    delta = np.asarray(played_at_ns, dtype=np.int64) - np.int64(origin_ns)
    return delta.astype(np.float64) / 1e9 / float(compression)


def poisson_offsets(
    n: int,
    rate: float,
    seed: int | np.random.Generator = 0,
    *,
    curve: Sequence[float] | None = None,
    day_seconds: float = 86_400.0,
    phase_hours: float = 0.0,
) -> np.ndarray:
    """The first ``n`` arrival times (seconds, ascending) of a Poisson process.

    Homogeneous at ``rate`` per second, or following ``curve`` (24 hourly weights over a day
    of ``day_seconds``, starting at hour ``phase_hours``) by time rescaling: unit-rate
    arrivals in "expected count" time, mapped back through the cumulative intensity.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"n must be an integer >= 0, got {n!r}")
    if not _positive(rate):
        raise ConfigError(f"rate must be a finite number of plays/s > 0, got {rate!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    expected = np.cumsum(rng.standard_exponential(int(n)))  # unit-rate arrival "counts"
    if curve is None:
        return expected / float(rate)
    weights = _curve(curve)
    if not _positive(day_seconds):
        raise ConfigError(f"day_seconds must be a finite number > 0, got {day_seconds!r}")
    if not _finite(phase_hours):
        raise ConfigError(f"phase_hours must be a finite number, got {phase_hours!r}")
    hour = float(day_seconds) / 24.0
    # cumulative expected count at each hour boundary of one day (mean weight 1)
    knots = np.concatenate([[0.0], np.cumsum(weights / weights.mean() * float(rate) * hour)])
    per_day = knots[-1]
    phase = (float(phase_hours) % 24.0) * hour
    expected += _cumulative(knots, hour, phase)
    days, within = np.divmod(expected, per_day)
    np.minimum(within, np.nextafter(per_day, 0.0), out=within)  # divmod may round up to a day
    i = np.clip(np.searchsorted(knots, within, side="right") - 1, 0, 23)
    t = days * float(day_seconds) + (i + (within - knots[i]) / (knots[i + 1] - knots[i])) * hour
    return np.maximum(t - phase, 0.0)


def send_order(played_at_ns: np.ndarray) -> np.ndarray:
    """Positions in send order: by played_at, ties kept in frame order (stable).

    A player's plays are time-ordered in any time-sorted order, so this keeps each player's
    sequence intact whatever the offsets are.
    """
    return np.argsort(np.asarray(played_at_ns, dtype=np.int64), kind="stable")


def daily_curve(plays: pd.DataFrame, tz: str = "UTC") -> tuple[float, ...]:
    """24 hourly weights of the plays' hour of day in ``tz``: a realistic curve for
    ``poisson_schedule`` (a global population peaks where the big zones' evenings overlap)."""
    _check_plays(plays)
    hours = plays["played_at"].dt.tz_convert(tz).dt.hour.to_numpy()
    counts = np.bincount(hours, minlength=24).astype(float)
    if counts.sum() == 0:
        return tuple([1.0] * 24)
    return tuple((counts / counts.mean()).tolist())


# --------------------------------------------------------------------------- helpers


def _cumulative(knots: np.ndarray, hour: float, t: float) -> float:
    """Expected count from the day's start to ``t`` seconds into it (t < one day)."""
    i = min(int(t // hour), 23)
    return float(knots[i] + (knots[i + 1] - knots[i]) * (t - i * hour) / hour)


def _curve(curve: Sequence[float]) -> np.ndarray:
    """Validate 24 non-negative finite weights, not all zero."""
    try:
        weights = np.asarray(curve, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"curve must be 24 numbers, got {curve!r}") from exc
    if weights.shape != (24,):
        raise ConfigError(f"curve must have 24 hourly weights, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ConfigError("curve weights must be finite, >= 0 and not all zero")
    return weights


def _check_plays(plays: pd.DataFrame) -> None:
    missing = [c for c in PLAY_COLUMNS if c not in plays.columns]
    if missing:
        raise ConfigError(f"plays frame lacks columns {missing}; expected {list(PLAY_COLUMNS)}")
    if not isinstance(plays["played_at"].dtype, pd.DatetimeTZDtype):
        raise ConfigError("plays.played_at must be timezone-aware (datetime64[ns, UTC])")


def _played_at_ns(plays: pd.DataFrame) -> np.ndarray:
    return plays["played_at"].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()


def _take(plays: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    return plays.iloc[order].reset_index(drop=True)[list(PLAY_COLUMNS)]


def _to_ns(t: datetime, name: str) -> int:
    if not isinstance(t, datetime) or t.tzinfo is None:
        raise ConfigError(f"{name} must be a timezone-aware datetime, got {t!r}")
    return int(pd.Timestamp(t).as_unit("ns").value)


def _seconds(x: float | timedelta, name: str) -> float:
    if isinstance(x, timedelta):
        return x.total_seconds()
    if not _finite(x):
        raise ConfigError(f"{name} must be seconds or a timedelta, got {x!r}")
    return float(x)


def _finite(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def _positive(x: Any) -> bool:
    return _finite(x) and float(x) > 0
