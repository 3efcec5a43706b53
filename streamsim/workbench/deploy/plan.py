"""What a stack creates and what it costs a month at a rate: printed before anything is created.

The cost is streamsim.workbench.cost's estimate for a workload derived from the stack's
settings under explicit assumptions (``Assumptions``), printed with the estimate: the units per
play of each strategy, the handler's time per play, and how many invocations the mapping
makes. The units per play are a setting, labelled "not measured", unless ``--units-from RUN``
takes them from a live run of the same strategy (``assumptions_from_run``): then the output says
"measured from RUN". Lambda polls each shard 4 times a second [D], so at a low rate each play tends to be
its own invocation; at a high rate batches fill to BatchSize.
[D] docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.errors import ConfigError
from streamsim.workbench.cost import Workload, estimate, load_prices

#: Lambda's polls per shard per second [D].
POLLS_PER_SECOND = 4.0


@dataclass(frozen=True)
class Assumptions:
    """Per-play units the estimate assumes (not measured on AWS: say so with the figure), or
    the units a live run measured (``assumptions_from_run``; ``units_source`` names the run)."""

    #: The play (under 1 KB: 1 WRU) plus a badge now and then (conditional put, 1 WRU).
    write_units_read_all: float = 1.1
    #: ... plus the PlayerState item (1 WRU per KB; a state item is about 1 KB). The batched
    #: strategy writes it once per player and batch, so this is its upper bound too.
    write_units_incremental: float = 2.1
    #: read-all: a strongly consistent Query of the player's plays (1 RRU per 4 KB; a few KB).
    read_units_read_all: float = 2.0
    #: incremental: GetItem of the state plus a 3-item key-range Query (batched: at most that).
    read_units_incremental: float = 2.0
    #: The handler's time per play (a Query and a few writes at ~5-10 ms each on AWS).
    handler_ms_per_play: float = 30.0
    #: Active shards of the Plays stream (one per partition; a new on-demand table starts small).
    shards: int = 1
    #: Where the units per play come from: empty for the settings above ("not measured"), else
    #: the live run folder they were measured in.
    units_source: str = ""

    def describe(self, strategy: str) -> str:
        keeps_state = strategy != "read-all"
        w = self.write_units_incremental if keeps_state else self.write_units_read_all
        r = self.read_units_incremental if keeps_state else self.read_units_read_all
        rest = (
            f"{self.handler_ms_per_play:g} ms of handler time; "
            f"{self.shards} shard(s) polled {POLLS_PER_SECOND:g}x/s"
        )
        if self.units_source:
            return (
                f"per play: {w:.3f} write units, {r:.3f} read units measured from "
                f"{self.units_source}; assumed (not measured): {rest}"
            )
        return f"assumed per play (not measured): {w:g} write units, {r:g} read units, {rest}"


def assumptions_from_run(
    folder: str | Path, strategy: str, base: Assumptions | None = None
) -> Assumptions:
    """``base`` with the units per play a live run (``streamsim run``) measured: the handler's
    (streamsim.workbench.scale.units.units_from_run) plus the play's own PutItem, from the
    same summary.json. A folder without units, or a run of another strategy, is a ConfigError
    (its units are not this stack's)."""
    from streamsim.workbench.scale.units import units_from_run

    units = units_from_run(folder)
    if units.strategy != strategy:
        raise ConfigError(
            f"--units-from {folder}: that run's handler strategy is {units.strategy or 'unknown'!r}, "
            f"the stack's is {strategy!r}: take a run of the same strategy"
        )
    path = Path(folder)
    summary = json.loads((path / "summary.json").read_text())  # read by units_from_run already
    plays_table = (json.loads((path / "config.json").read_text()).get("tables") or {}).get("plays")
    measured = summary["requests"]["units"]
    play_writes = sum(
        row["write_units"]
        for row in measured["by_table"]
        if row["operation"] == "PutItem" and row["table"] == plays_table
    ) / max(int(measured["plays"]), 1)
    writes = units.write_units_per_play + play_writes
    reads = units.read_units_per_play
    return replace(
        base or Assumptions(),
        write_units_read_all=writes,
        write_units_incremental=writes,
        read_units_read_all=reads,
        read_units_incremental=reads,
        units_source=str(folder),
    )


def workload(
    rate: float,
    strategy: str,
    mapping: EventSourceMapping,
    memory_mb: int,
    assumptions: Assumptions | None = None,
) -> Workload:
    """The cost model's workload for ``rate`` plays a second on the stack."""
    a = assumptions or Assumptions()
    incremental = strategy != "read-all"  # incremental and batched keep PlayerState
    # Invocations: at most one per poll per shard and lane, at least rate / BatchSize.
    polls = POLLS_PER_SECOND * a.shards * mapping.parallelization_factor
    invocations_per_second = max(rate / mapping.batch_size, min(rate, polls))
    return Workload(
        plays_per_second=rate,
        write_units_per_play=a.write_units_incremental if incremental else a.write_units_read_all,
        read_units_per_play=a.read_units_incremental if incremental else a.read_units_read_all,
        invocations_per_play=invocations_per_second / rate,
        lambda_gb_seconds_per_play=memory_mb / 1024 * a.handler_ms_per_play / 1000,
        destination_messages_per_play=0.0,
    )


def resources(template: dict[str, Any], create_mapping: bool = True) -> pd.DataFrame:
    """The template's resources: logical id, type, physical name (where the template sets it)."""
    rows = []
    for logical, resource in template["Resources"].items():
        if resource.get("Condition") == "WithMapping" and not create_mapping:
            continue
        props = resource.get("Properties", {})
        name = next(
            (
                props[k]
                for k in ("TableName", "FunctionName", "QueueName", "LogGroupName", "AlarmName")
                if isinstance(props.get(k), str)
            ),
            "(named by CloudFormation)",
        )
        rows.append({"logical_id": logical, "type": resource["Type"], "name": name})
    return pd.DataFrame(rows)


def plan_text(
    template: dict[str, Any],
    *,
    rate: float,
    strategy: str,
    mapping: EventSourceMapping,
    memory_mb: int,
    region: str,
    create_mapping: bool = True,
    assumptions: Assumptions | None = None,
) -> str:
    """The lines printed before a stack is created: resources, then the monthly estimate."""
    a = assumptions or Assumptions()
    table = resources(template, create_mapping)
    lines = [f"will create {len(table)} resources:", table.to_string(index=False), ""]
    try:
        prices = load_prices(region)
    except ConfigError as exc:  # a region without prices: deploy anyway, say so
        return "\n".join([*lines, f"no cost estimate: {exc}"])
    cost = estimate(workload(rate, strategy, mapping, memory_mb, a), prices)
    lines.append(
        f"estimated cost at {rate:g} plays/s in {region} ({cost.attrs['note']}; 30-day month; "
        "free tiers, storage, CloudWatch Logs and alarms not included):"
    )
    lines.append(cost.round(4).to_string())
    lines.append(f"total: ${cost['usd_per_month'].sum():,.2f} per month")
    lines.append(a.describe(strategy))
    return "\n".join(lines)
