"""Writer lanes: a schedule split by player, each part sent by its own thread and client.

One thread sends at most about one request per round trip; real game servers write from many
at once. Each player belongs to one lane (a stable hash of ``player_id``, the same in every
process, unlike Python's salted ``hash``), and each lane sends its plays at their scheduled
times in schedule order, so every player's plays still arrive in time order. The lanes'
``DriveStats`` are merged back into one, indexed by position in the whole schedule.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from streamsim.errors import ConfigError
from streamsim.game.plays import Play
from streamsim.validation import require_int
from streamsim.workbench.traffic.arrivals import Schedule
from streamsim.workbench.traffic.driver import DriverClock, DriveStats, SendFailure, drive

__all__ = ["MAX_WRITERS", "Lane", "drive_lanes", "lane_of", "merge_stats", "split_lanes"]

#: Most writer lanes a run may ask for (threads and clients; more only contend for the GIL).
MAX_WRITERS = 16


def require_writers(value: object) -> None:
    """``writers`` is a whole number from 1 to MAX_WRITERS (ConfigError otherwise)."""
    require_int("writers", value, 1)
    if value > MAX_WRITERS:  # type: ignore[operator]
        raise ConfigError(f"writers must be an integer <= {MAX_WRITERS}, got {value!r}")


def lane_of(player_id: str, lanes: int) -> int:
    """The lane of a player: CRC-32 of its id, so the same in every process and run."""
    return zlib.crc32(player_id.encode("utf-8")) % lanes


@dataclass(frozen=True)
class Lane:
    """One lane's part of a schedule and where each of its plays sits in the whole."""

    #: Positions in the whole schedule, increasing (the lane keeps schedule order).
    indices: np.ndarray
    schedule: Schedule


def split_lanes(schedule: Schedule, lanes: int) -> list[Lane]:
    """``schedule`` split into ``lanes`` parts by player, each in schedule order."""
    require_writers(lanes)
    ids = schedule.plays["player_id"].astype(str).tolist()
    of = np.fromiter((lane_of(p, lanes) for p in ids), dtype=np.int64, count=len(ids))
    parts = []
    for lane in range(lanes):
        indices = np.flatnonzero(of == lane)
        plays = schedule.plays.iloc[indices].reset_index(drop=True)
        parts.append(Lane(indices, Schedule(plays, schedule.offsets[indices])))
    return parts


def merge_stats(total: int, parts: Sequence[tuple[Lane, DriveStats]]) -> DriveStats:
    """One DriveStats for the whole schedule from its lanes' (failure and lag indices are
    positions in the whole schedule; ``lags`` are the attempted sends in schedule order)."""
    merged = DriveStats(total=total)
    merged.sent = sum(s.sent for _, s in parts)
    merged.failed = sum(s.failed for _, s in parts)
    merged.stopped = any(s.stopped for _, s in parts)
    merged.failures = sorted(
        (
            SendFailure(int(lane.indices[f.index]), f.play, f.error, f.at)
            for lane, s in parts
            for f in s.failures
        ),
        key=lambda f: f.index,
    )
    attempted = [(lane.indices[: s.attempted], s.lags) for lane, s in parts]
    where = np.concatenate([i for i, _ in attempted]) if attempted else np.empty(0, np.int64)
    lags = np.concatenate([lag for _, lag in attempted]) if attempted else np.empty(0)
    merged._lags = lags[np.argsort(where, kind="stable")]
    tried = [s for _, s in parts if s.attempted]
    merged.lag_max = max((s.lag_max for s in tried), default=0.0)
    merged.started_at = min((s.started_at for _, s in parts), default=0.0)
    finished = [s.finished_at for _, s in parts]
    merged.finished_at = None if None in finished or not finished else max(finished)  # type: ignore[type-var]
    return merged


def drive_lanes(
    lanes: Sequence[Lane],
    writes: Sequence[Callable[[Play], object]],
    clocks: Sequence[DriverClock],
    *,
    total: int,
    start_at: float,
    stop: threading.Event | None = None,
) -> DriveStats:
    """Drive each lane in its own thread (its own ``write`` and clock) from one start time;
    wait for all and merge. A lane whose driver raises re-raises here after the others end."""
    if not len(lanes) == len(writes) == len(clocks):
        raise ConfigError("drive_lanes needs one write and one clock per lane")
    results: list[DriveStats | None] = [None] * len(lanes)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            results[k] = drive(
                lanes[k].schedule, writes[k], clocks[k], stop=stop, start_at=start_at
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(k,), name=f"streamsim-writer-{k}", daemon=True)
        for k in range(len(lanes))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return merge_stats(
        total, [(lane, s) for lane, s in zip(lanes, results, strict=True) if s is not None]
    )
