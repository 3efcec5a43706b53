"""Writing many plays into the in-memory stream without one clock event per play.

Items are built from the plays' columns at once (no ``Play`` object per play), and a writer
process writes them ahead in blocks, each record stamped with its own time: the stream keeps a
record invisible until the clock reaches its time (``InMemoryStream.write(..., at=...)``), so
readers see exactly what per-play writes at those times would have shown them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.clock import Clock

#: How far ahead the writer writes (virtual seconds): one clock event per block.
BLOCK_SECONDS = 10.0


def play_keys(plays: pd.DataFrame) -> pd.Series:
    """The Plays table's sort key per play (streamsim.game.plays.play_key), vectorised."""
    utc = plays["played_at"].dt.tz_convert("UTC").dt.floor("ms")
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z#" + plays["play_id"].astype(str)


def play_items(plays: pd.DataFrame, written_at: np.ndarray) -> list[dict[str, Any]]:
    """The plays as DynamoDB items, like ``streamsim.game.playstore.play_to_item`` per play."""
    utc = plays["played_at"].dt.tz_convert("UTC").dt.floor("ms")
    iso = (utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z").tolist()
    keys = play_keys(plays).tolist()
    millis = np.round(np.asarray(written_at, dtype=float) * 1000).astype(np.int64).astype(str)
    columns = zip(
        plays["player_id"].astype(str).tolist(),
        keys,
        plays["play_id"].astype(str).tolist(),
        plays["game"].astype(str).tolist(),
        iso,
        plays["tz"].astype(str).tolist(),
        plays["score"].astype(np.int64).astype(str).tolist(),
        millis.tolist(),
        strict=True,
    )
    return [
        {
            "player_id": {"S": player},
            "play_key": {"S": key},
            "play_id": {"S": play_id},
            "game": {"S": game},
            "played_at": {"S": at},
            "tz": {"S": tz},
            "score": {"N": score},
            "written_at": {"N": ms},
        }
        for player, key, play_id, game, at, tz, score, ms in columns
    ]


def write_ahead(
    clock: Clock,
    stream: InMemoryStream,
    times: Sequence[float] | np.ndarray,
    items: Sequence[dict[str, Any]],
    *,
    block_seconds: float = BLOCK_SECONDS,
    before_block: Callable[[float], None] | None = None,
) -> Generator[Any, Any, None]:
    """A process: write ``items[i]`` at ``times[i]`` (non-decreasing), a block at a time; ends
    at the last item's time. ``before_block(now)`` runs before each block (e.g. a shard
    rollover, which must not happen while records are written ahead)."""
    n = len(items)
    stamps = np.asarray(times, dtype=float)
    i = 0
    while i < n:
        now = clock.now()
        if stamps[i] > now:
            yield clock.sleep(float(stamps[i]) - now)
            now = clock.now()
        if before_block is not None:
            before_block(now)
        end = int(np.searchsorted(stamps, now + block_seconds, side="left"))
        end = max(end, i + 1)
        for j in range(i, end):
            item = items[j]
            stream.write(
                {"player_id": item["player_id"], "play_key": item["play_key"]},
                item,
                at=max(float(stamps[j]), now),
            )
        i = end
        if i < n:
            yield clock.sleep(min(block_seconds, float(stamps[i]) - clock.now()))
    if n:
        last = float(stamps[-1])
        if last > clock.now():
            yield clock.sleep(last - clock.now())
