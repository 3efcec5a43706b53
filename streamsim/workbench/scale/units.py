"""DynamoDB request units per play of each handler strategy: measured, never restated by hand.

``measure_units`` runs the real badge handler (streamsim.game.handler, the code the Lambda runs)
on the embedded moto server over a small synthetic workload and meters every request it makes by
AWS's rules (streamsim.workbench.capacity). ``units_from_run`` takes the same figures from a live
run's folder. Both give a ``HandlerUnits``: what the handler reads and writes per play (the
play's own PutItem is the writer's, counted apart by the at-scale model).

The workload: ``players`` players, each with ``history`` earlier plays already processed, then
``plays_per_player`` measured plays, one play per player per round, the handler invoked with
batches of ``batch_size`` records (default: one round, so a batch holds one play per player, as
it does at scale where a player's plays rarely share a batch).

Deep histories cannot be measured in a few seconds (read-all reads every earlier play), so
``at_depth`` carries a measurement to another depth: read-all's Query of ``k`` earlier plays is
``ceil(k x play bytes / 4 KB)`` read units [RW] (pages of 1 MB, exactly 256 units, do not change
that), the rest of its units and the other strategies' units do not depend on depth.
tests/test_units.py checks that this agrees with the measured value at depths that can be measured.
[RW] docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from streamsim.errors import ConfigError
from streamsim.workbench.capacity import READ_UNIT_BYTES

#: The handler's clock for award items (a 2025 epoch time: the size a real one has).
_AWARDED_AT = 1_736_150_400.0
#: The strategies of streamsim.game.handler.
STRATEGIES = ("read-all", "incremental", "batched")

#: The workload the handlers are measured on when no other is given (``strategy_costs``,
#: ``streamsim scale --strategy``): enough history that read-all's Query spans more than one
#: 4 KB read unit (20 plays of ~210 bytes), a few seconds on moto per strategy.
CALIBRATION: dict[str, Any] = {"players": 4, "plays_per_player": 2, "history": 20}


@dataclass(frozen=True)
class HandlerUnits:
    """Request units per play the handler consumed (the play's own write excluded)."""

    strategy: str
    plays: int
    read_units_per_play: float
    write_units_per_play: float
    #: Mean number of the player's earlier plays when a measured play was processed.
    history_plays: float
    #: Mean size of a play item (bytes, AWS's item size rules).
    play_bytes: float
    #: Per operation: requests, read units and write units per play.
    by_operation: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The Query read units per play of reading the player's earlier plays (read-all).
    history_read_units_per_play: float = 0.0
    source: str = ""


def measure_units(
    strategy: str,
    *,
    players: int = 10,
    plays_per_player: int = 3,
    history: int = 0,
    batch_size: int | None = None,
    backend: Any | None = None,
    rules: Any | None = None,
) -> HandlerUnits:
    """Run the real handler on the embedded moto server (or ``backend``) and meter its units."""
    from streamsim.aws.backend import DEFAULT_REGION, open_local

    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    for name, value, low in (
        ("players", players, 1),
        ("plays_per_player", plays_per_player, 1),
        ("history", history, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if backend is None:
        with open_local("moto", DEFAULT_REGION) as own:
            return _measure(strategy, players, plays_per_player, history, batch_size, own, rules)
    return _measure(strategy, players, plays_per_player, history, batch_size, backend, rules)


def calibrate(
    strategies: tuple[str, ...] = STRATEGIES, *, backend: Any | None = None, **workload: Any
) -> dict[str, HandlerUnits]:
    """``measure_units`` of each strategy on one embedded moto server (or ``backend``)."""
    from streamsim.aws.backend import DEFAULT_REGION, open_local

    if backend is None:
        with open_local("moto", DEFAULT_REGION) as own:
            return {s: measure_units(s, backend=own, **workload) for s in strategies}
    return {s: measure_units(s, backend=backend, **workload) for s in strategies}


def _measure(
    strategy: str,
    players: int,
    plays_per_player: int,
    history: int,
    batch_size: int | None,
    backend: Any,
    rules: Any | None,
) -> HandlerUnits:
    from streamsim.aws.stream.records import item_size
    from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, TableSpec, create_table
    from streamsim.game.badges import DEFAULT_RULES
    from streamsim.game.handler import BadgeHandler, HandlerSettings
    from streamsim.workbench.requests import RequestCounter

    suffix = "-units-" + uuid.uuid4().hex[:8]
    specs = [
        TableSpec(PLAYS.name + suffix, PLAYS.partition_key, PLAYS.sort_key),  # no stream needed
        ACHIEVEMENTS.with_name(ACHIEVEMENTS.name + suffix),
        PLAYER_STATE.with_name(PLAYER_STATE.name + suffix),
    ]
    counter = RequestCounter()
    with counter.installed(backend):
        dynamodb = backend.client("dynamodb")
    for spec in specs:
        create_table(dynamodb, spec)
    handler = BadgeHandler(
        dynamodb,
        HandlerSettings(
            plays_table=specs[0].name,
            achievements_table=specs[1].name,
            state_table=specs[2].name,
            strategy=strategy,
            rules=rules if rules is not None else DEFAULT_RULES,
        ),
        now=lambda: _AWARDED_AT,
    )
    size = batch_size or players
    sizes: list[int] = []
    sequence = 0
    try:
        for rounds, counting in (
            (range(history), False),
            (range(history, history + plays_per_player), True),
        ):
            items = [_play_item(p, r) for r in rounds for p in range(players)]
            if not counting and strategy == "read-all":
                # read-all keeps no state: a play's reads and awards depend on the Plays table
                # only (a badge is earned once, so no award write meets an earlier one), so the
                # history need not be processed (it costs O(history^2) reads on moto).
                _write(dynamodb, specs[0].name, items)
                continue
            for start in range(0, len(items), size):
                batch = items[start : start + size]
                _write(dynamodb, specs[0].name, batch)  # the writer's: never counted
                records = []
                for item in batch:
                    sequence += 1
                    records.append(_record(item, sequence))
                counter.counting = counting
                response = handler({"Records": records}, None)
                counter.counting = False
                if response["batchItemFailures"]:
                    raise ConfigError(f"the handler failed plays: {response['batchItemFailures']}")
            if counting:
                sizes += [item_size(i) for i in items]
    finally:
        counter.counting = False
        for spec in specs:
            dynamodb.delete_table(TableName=spec.name)
    plays = players * plays_per_player
    summary = counter.units.summary(plays)
    by_operation: dict[str, dict[str, float]] = {}
    for row in summary["by_table"]:
        cell = by_operation.setdefault(
            row["operation"], {"requests": 0.0, "read_units": 0.0, "write_units": 0.0}
        )
        for name in cell:
            cell[name] += row[name] / plays
    play_bytes = float(np.mean(sizes))
    depth = history + (plays_per_player - 1) / 2
    return HandlerUnits(
        strategy=strategy,
        plays=plays,
        read_units_per_play=summary["read_units_per_play"],
        write_units_per_play=summary["write_units_per_play"],
        history_plays=depth,
        play_bytes=play_bytes,
        by_operation=by_operation,
        # read-all's one Query per play reads the earlier plays (at_depth replaces it).
        history_read_units_per_play=(
            by_operation.get("Query", {}).get("read_units", 0.0) if strategy == "read-all" else 0.0
        ),
        source=(
            f"measured: the {strategy} handler on {backend.info.name}, {players} players x "
            f"{plays_per_player} plays after {history} earlier plays each"
        ),
    )


def at_depth(
    units: HandlerUnits, history_plays: float, plays_per_player: float = 1.0
) -> HandlerUnits:
    """``units`` carried to plays number ``history_plays`` + 1 .. + ``plays_per_player`` of each
    player: read-all's history Query by AWS's rounding, everything else as measured."""
    if units.strategy != "read-all":
        return replace(units, history_plays=history_plays + (plays_per_player - 1) / 2)
    first = int(history_plays)
    count = max(1, int(round(plays_per_player)))
    history_reads = _history_reads("read-all", first, count, units.play_bytes)
    return replace(
        units,
        read_units_per_play=units.read_units_per_play
        - units.history_read_units_per_play
        + history_reads,
        history_read_units_per_play=history_reads,
        history_plays=first + (count - 1) / 2,
        source=units.source + f"; history Query extrapolated to {first:,} earlier plays",
    )


def _history_reads(strategy: str, first: int, count: int, play_bytes: float) -> float:
    """Mean read units of read-all's Query of the earlier plays, over plays with ``first`` ..
    ``first + count - 1`` earlier plays: ceil(k x bytes / 4 KB), at least 1 [RW]."""
    if strategy != "read-all":
        return 0.0
    if count > 100_000:  # a month of plays at a high rate: the mean of the evenly spaced terms
        earlier = np.linspace(first, first + count - 1, 100_000)
    else:
        earlier = np.arange(first, first + count, dtype=np.float64)
    units = np.maximum(1.0, np.ceil(np.round(earlier * play_bytes) / READ_UNIT_BYTES))
    return float(units.mean())


def units_from_run(folder: str | Path) -> HandlerUnits:
    """The handler's units per play measured in a live run (``streamsim run``): every request
    of the pipeline phase except the writer's PutItem of the plays."""
    path = Path(folder)
    try:
        summary = json.loads((path / "summary.json").read_text())
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a run folder with a summary: {exc}") from None
    units = (summary.get("requests") or {}).get("units")
    if not units or "by_table" not in units:
        raise ConfigError(
            f"{path} has no request units (a run made before units were metered, or a scale run)"
        )
    plays_table = (config.get("tables") or {}).get("plays")
    plays = max(int(units["plays"]), 1)
    read = write = 0.0
    by_operation: dict[str, dict[str, float]] = {}
    for row in units["by_table"]:
        if row["operation"] == "PutItem" and row["table"] == plays_table:
            continue  # the writer's play: the at-scale model counts it apart
        read += row["read_units"]
        write += row["write_units"]
        cell = by_operation.setdefault(
            row["operation"], {"requests": 0.0, "read_units": 0.0, "write_units": 0.0}
        )
        for name in cell:
            cell[name] += row[name] / plays
    return HandlerUnits(
        strategy=str(config.get("strategy", "")),
        plays=plays,
        read_units_per_play=read / plays,
        write_units_per_play=write / plays,
        history_plays=math.nan,
        play_bytes=math.nan,
        by_operation=by_operation,
        source=f"measured in the live run {path}",
    )


def _play_item(player: int, round_: int) -> dict[str, Any]:
    """A synthetic play: one per player per round, an hour apart, games and scores varying."""
    from streamsim.game.plays import DEFAULT_GAMES, Play
    from streamsim.game.playstore import play_to_item

    start = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)
    when = start + timedelta(hours=round_, seconds=player)
    play = Play(
        player_id=f"player-{player:06d}",
        play_id=uuid.UUID(int=(player << 32) + round_ + 1).hex,
        game=DEFAULT_GAMES[(player + round_) % len(DEFAULT_GAMES)],
        played_at=when,
        tz="Europe/Amsterdam",
        score=(player * 7919 + round_ * 104729) % 10_000,
    )
    return play_to_item(play, written_at=when.timestamp())


def _write(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Write the plays (25 a request, retrying unprocessed ones)."""
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems")


def _record(item: dict[str, Any], sequence: int) -> dict[str, Any]:
    """The INSERT stream record of ``item`` as Lambda delivers it (the fields the handler reads)."""
    return {
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"player_id": item["player_id"], "play_key": item["play_key"]},
            "NewImage": item,
            "SequenceNumber": f"{sequence:021d}",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
