"""The experiments notebook 06 runs at scale, as functions (the notebook stays thin).

``rate_ramp``: the same traffic at rising rates per BatchSize x ParallelizationFactor, and
whether IteratorAge keeps growing (the pipeline is saturated) or stays flat.
``poison_at_scale``: one poison play at a high rate, under AWS's defaults and the recommended
settings. ``strategy_costs``: the read-all, incremental and batched handlers in dollars per
month, from their measured request units (streamsim.workbench.scale.units).
``ramp_finding``, ``poison_finding``, ``cost_finding``: the sentences, computed.

Every run here is ``simulate_scale`` (the one trigger, on the virtual clock).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.workbench.findings import count_words, duration_words, more_than, under
from streamsim.workbench.scale.model import ScaleModel, write_units
from streamsim.workbench.scale.run import ScaleResult, ScaleScenario, simulate_scale
from streamsim.workbench.scale.units import HandlerUnits


def ramp_scenario(
    rate: float, batch_size: int, parallelization_factor: int, *, seconds: float, shards: int
) -> ScaleScenario:
    """One point of the ramp: writes are not throttled (the ramp is about the trigger side),
    no rollover, no cold starts (so the only thing that changes along the ramp is the rate)."""
    return ScaleScenario(
        rate=rate,
        seconds=seconds,
        shards=shards,
        mapping=EventSourceMapping(
            starting_position="TRIM_HORIZON",
            batch_size=batch_size,
            parallelization_factor=parallelization_factor,
        ),
        model=ScaleModel(rollover_hours=0, cold_start_probability=0.0),
        throttling=False,
    )


def age_growth(result: ScaleResult) -> tuple[float, float]:
    """IteratorAge (s) of batches finished in the first and in the last quarter of the traffic
    (medians): the age of each batch's last record when the function finished it (AWS's
    definition, streamsim.workbench.scale.metrics)."""
    attempts = result.run.attempts
    plays = result.run.plays
    if attempts.empty:
        return 0.0, 0.0
    created = result.run.records.drop_duplicates("sequence_number").set_index("sequence_number")[
        "created_at"
    ]
    done = attempts["completed_at"].to_numpy(dtype=float)
    age = done - attempts["last_sequence_number"].map(created).to_numpy(dtype=float)
    start = float(plays["written_at"].min())
    end = float(plays["written_at"].max())
    quarter = (end - start) / 4
    first = age[(done >= start) & (done <= start + quarter)]
    last = age[(done >= end - quarter) & (done <= end)]
    return _median(first), _median(last)


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else 0.0


def rate_ramp(
    rates: Sequence[float],
    settings: Sequence[tuple[int, int]],
    *,
    seconds: float,
    shards: int,
    growth_seconds: float = 1.0,
) -> pd.DataFrame:
    """One row per (BatchSize, ParallelizationFactor, rate): IteratorAge early and late in the
    traffic, peak IteratorAge, backlog; ``grows`` when the late age exceeds the early one by
    more than ``growth_seconds`` (the pipeline falls further behind the longer it runs)."""
    rows = []
    for batch_size, factor in settings:
        for rate in rates:
            result = simulate_scale(
                ramp_scenario(rate, batch_size, factor, seconds=seconds, shards=shards)
            )
            early, late = age_growth(result)
            rows.append(
                {
                    "BatchSize": batch_size,
                    "ParallelizationFactor": factor,
                    "rate": float(rate),
                    "early_age_s": early,
                    "late_age_s": late,
                    "peak_iterator_age_s": result.summary["peak_iterator_age_s"],
                    "peak_backlog": result.summary["peak_backlog"],
                    "invocations": result.summary["invocations"],
                    "lost": result.summary["lost"],
                    "grows": late - early > growth_seconds,
                }
            )
    return pd.DataFrame(rows)


def saturation(ramp: pd.DataFrame) -> pd.DataFrame:
    """Per setting: the highest rate tried that keeps up (below the first that grows) and the
    lowest rate at which IteratorAge grows (NaN: none of the rates tried)."""
    rows = []
    for (batch_size, factor), group in ramp.groupby(["BatchSize", "ParallelizationFactor"]):
        group = group.sort_values("rate")
        grows = group.loc[group["grows"], "rate"]
        first = float(grows.iloc[0]) if len(grows) else math.nan
        keeps = group.loc[group["rate"] < first if len(grows) else group["rate"] > 0, "rate"]
        rows.append(
            {
                "BatchSize": batch_size,
                "ParallelizationFactor": factor,
                "keeps_up_at": float(keeps.iloc[-1]) if len(keeps) else math.nan,
                "grows_from": first,
            }
        )
    return pd.DataFrame(rows)


def ramp_finding(table: pd.DataFrame, shards: int) -> str:
    """One line per setting, from ``saturation``: where IteratorAge starts to grow."""
    lines = []
    for row in table.itertuples(index=False):
        name = f"BatchSize {row.BatchSize}, ParallelizationFactor {row.ParallelizationFactor}"
        keeps = (
            f"keeps up at {row.keeps_up_at:,.0f} plays/s"
            if not math.isnan(row.keeps_up_at)
            else "falls behind at every rate tried"
        )
        grows = (
            f"IteratorAge grows from {row.grows_from:,.0f} plays/s"
            if not math.isnan(row.grows_from)
            else "IteratorAge stays flat at every rate tried"
        )
        lines.append(
            f"- **{name}** ({shards} shard{'s' if shards != 1 else ''}): {keeps}; {grows}."
        )
    return "\n".join(lines)


def recommended_mapping(retries: int, queue_arn: str) -> EventSourceMapping:
    """The settings AWS recommends for a stream trigger that must not block: a retry limit,
    bisect on error, partial batch responses and an on-failure destination [Lambda with-ddb,
    error handling]."""
    return EventSourceMapping.from_aws(
        {
            "StartingPosition": "TRIM_HORIZON",
            "MaximumRetryAttempts": retries,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
        }
    )


def poison_at_scale(
    *, rate: float, seconds: float, retries: int, queue_arn: str, seed: int = 1
) -> dict[str, ScaleResult]:
    """One poison play at ``rate`` under AWS's defaults and under the recommended settings."""
    base = ScaleScenario(rate=rate, seconds=seconds, seed=seed, poison=1)
    return {
        "AWS defaults": simulate_scale(base),
        "recommended": simulate_scale(
            replace(base, mapping=recommended_mapping(retries, queue_arn))
        ),
    }


def poison_table(results: Mapping[str, ScaleResult], delayed_after_seconds: float) -> pd.DataFrame:
    """Per setting: plays, processed, queued, lost, delayed plays, latency p99 and max, peak
    IteratorAge and backlog, invocations."""
    from streamsim.workbench.analysis import play_timeline

    rows = {}
    for name, result in results.items():
        s = result.summary
        timeline = play_timeline(result.run)
        finished_at = (
            result.run.dispositions.drop_duplicates("sequence_number")
            .set_index("sequence_number")["at"]
            .astype(float)
        )
        at = timeline["sequence_number"].map(finished_at).to_numpy(dtype=float)
        # A play never finished (trimmed from the stream unread) waited forever: delayed.
        waited = np.where(np.isnan(at), np.inf, at - timeline["written_at"].to_numpy(dtype=float))
        finite = waited[np.isfinite(waited)]
        rows[name] = {
            "plays": s["plays_sent"],
            "processed": s["processed"],
            "sent_to_destination": s["sent_to_destination"],
            "lost": s["lost"],
            f"delayed > {delayed_after_seconds:g} s": int((waited > delayed_after_seconds).sum()),
            "max_wait_s": float(finite.max()) if len(finite) else 0.0,
            "never_finished": int((~np.isfinite(waited)).sum()),
            "p99_s": s["latency"]["p99_s"],
            "peak_iterator_age_s": s["peak_iterator_age_s"],
            "peak_backlog": s["peak_backlog"],
            "invocations": s["invocations"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def poison_finding(row: Mapping[str, Any], name: str, delayed_after_seconds: float) -> str:
    """One setting's line of ``poison_table``: who waited, what was lost, in both wordings."""
    delayed = int(row[f"delayed > {delayed_after_seconds:g} s"])
    lost = int(row["lost"])
    queued = int(row["sent_to_destination"])
    text = f"**{name}**: "
    if delayed:
        text += (
            f"{count_words(delayed, 'play')} of {int(row['plays']):,} waited longer than "
            f"{duration_words(delayed_after_seconds)} (the longest that finished: "
            f"{more_than(row['max_wait_s'])}); "
        )
    else:
        text += (
            f"every play of {int(row['plays']):,} was finished "
            f"{under(row['max_wait_s'])} after it was written; "
        )
    text += "no play was lost" if lost == 0 else f"{count_words(lost, 'play')} lost"
    text += f", {count_words(queued, 'play')} on the on-failure queue." if queued else "."
    return text


def strategy_costs(
    result: ScaleResult,
    *,
    players: int,
    history_months: float = 0.0,
    units: Mapping[str, HandlerUnits] | None = None,
) -> pd.DataFrame:
    """Dollars per month of each handler strategy at the run's rate: the run's invocations and
    Lambda time per play, and each strategy's DynamoDB request units per play as the real
    handler consumed them (``units``: from ``streamsim.workbench.scale.units.calibrate``, run
    here on the embedded moto server when not given, or ``units_from_run``), carried to the
    players' history depth (``at_depth``). Writes: the play's own PutItem plus the handler's."""
    from streamsim.aws.stream.records import item_size
    from streamsim.workbench.cost import MONTH_SECONDS, Workload, estimate, load_prices
    from streamsim.workbench.scale.units import CALIBRATION, at_depth, calibrate
    from streamsim.workbench.scale.writer import play_items

    s = result.summary
    plays = result.run.plays
    rate = float(result.run.config["scenario"]["rate"])
    item_bytes = item_size(play_items(plays.head(1), plays["written_at"].head(1).to_numpy())[0])
    per_player = rate * MONTH_SECONDS / players
    memory = float(result.run.config["scale_model"]["memory_mb"])
    n = max(1, s["plays_sent"])
    prices = load_prices()
    measured = dict(units) if units is not None else calibrate(**CALIBRATION)
    columns, per_play = {}, {}
    for strategy, handler in measured.items():
        carried = at_depth(handler, history_months * per_player, per_player)
        workload = Workload(
            plays_per_second=rate,
            write_units_per_play=float(write_units(item_bytes)) + carried.write_units_per_play,
            read_units_per_play=carried.read_units_per_play,
            invocations_per_play=s["invocations"] / n,
            lambda_gb_seconds_per_play=s["lambda_gb_seconds"] * memory / 1024 / n,
        )
        columns[strategy] = estimate(workload, prices)["usd_per_month"]
        per_play[strategy] = {
            "read_units_per_play": workload.read_units_per_play,
            "write_units_per_play": workload.write_units_per_play,
            "source": carried.source,
        }
    frame = pd.DataFrame(columns)
    frame.loc["total"] = frame.sum()
    frame.attrs["note"] = f"estimate, prices of {prices.date}"
    frame.attrs["plays_per_player_per_month"] = per_player
    frame.attrs["units"] = per_play
    return frame


def units_table(costs: pd.DataFrame) -> pd.DataFrame:
    """Per strategy of ``strategy_costs``: DynamoDB read and write units per play and their
    source (measured on moto, a live run, extrapolated to the history depth)."""
    return pd.DataFrame(costs.attrs["units"]).T


def cost_finding(costs: pd.DataFrame) -> str:
    """Which strategy costs least a month against the dearest, by how much, with the prices'
    date."""
    totals = costs.loc["total"].astype(float).sort_values(kind="stable")
    cheaper, dearer = str(totals.index[0]), str(totals.index[-1])
    low, high = float(totals.iloc[0]), float(totals.iloc[-1])
    if high - low < 0.5:
        both = "Both" if len(totals) == 2 else "All"
        return f"{both} strategies cost about ${low:,.0f} a month ({costs.attrs.get('note', 'estimate')})."
    ratio = (
        f", {math.floor(high / low * 10) / 10:g} times less"
        if low > 0 and high / low >= 1.1
        else ""
    )
    return (
        f"At {costs.attrs.get('plays_per_player_per_month', 0):,.0f} plays per player a month, "
        f"**{cheaper}** costs about ${low:,.0f} a month against ${high:,.0f} for {dearer}"
        f"{ratio} ({costs.attrs.get('note', 'estimate')})."
    )
