"""A batch's records by player, evaluated on a few threads at once (BADGE_PLAYER_WORKERS).

Badge state is per player, so players are independent: each player's records keep their batch
order on one thread while other players run on others. The incremental strategy uses this
(``handler.BadgeHandler``); the batched one runs its per-player steps the same way
(``batched.BatchedStrategy``). Results are gathered in the caller's thread, in batch order, so
stats and error lines do not depend on which thread finished first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def player_of(record: Any) -> str | None:
    """The play's player_id from the record's Keys (the Plays table's partition key), or None."""
    try:
        value = record["dynamodb"]["Keys"]["player_id"]["S"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def player_groups(records: Sequence[Any]) -> list[list[int]]:
    """Record indexes by player, each in batch order; a record with no player is alone."""
    groups: dict[object, list[int]] = {}
    for index, record in enumerate(records):
        player = player_of(record)
        groups.setdefault(("?", index) if player is None else player, []).append(index)
    return list(groups.values())


def run_each(items: Sequence[T], work: Callable[[T], R], workers: int) -> list[R]:
    """``work`` on every item, on up to ``workers`` threads; results in the items' order."""
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(work, items))
