"""The pipeline on the virtual clock: the same trigger logic, a modelled handler, no server.

Where waiting dominates (retries over hours, batching windows, thousands of plays) a live run
is too slow. Here synthetic plays are written into an in-memory stream at their scheduled
virtual times, the trigger delivers them to a handler whose duration and failures are a model,
and badges are what the one evaluator awards for the processed plays. Every timestamp is on
the virtual clock (``clock`` = "virtual"). The stream's propagation delay is an explicit,
settable assumption (AWS publishes no figure), like a simpy ``Cable`` between writer and stream.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.aws.trigger.response import REPORT_BATCH_ITEM_FAILURES
from streamsim.clock import VirtualClock
from streamsim.errors import ConfigError
from streamsim.game.badges import DEFAULT_RULES, BadgeRule, evaluate_batch
from streamsim.validation import (
    require_int,
    require_positive,
    require_probability,
    require_seconds,
)
from streamsim.workbench.faults.witness import HandlerWitness, destination_frame, read_stream
from streamsim.workbench.runfolder import Run
from streamsim.workbench.scale.writer import play_items, play_keys, write_ahead
from streamsim.workbench.traffic import Population, PopulationConfig, poisson_schedule


@dataclass(frozen=True)
class Scenario:
    """A virtual run: traffic, mapping, timing, and the handler and stream models."""

    players: int = 100
    days: int = 7
    rate: float = 20.0
    seed: int = 1
    mapping: EventSourceMapping = field(
        default_factory=lambda: EventSourceMapping(starting_position="TRIM_HORIZON")
    )
    timing: TriggerTiming = field(default_factory=TriggerTiming)
    #: Handler duration model: base + per record, seconds (virtual).
    handler_base_seconds: float = 0.05
    handler_per_record_seconds: float = 0.01
    #: Chance that one record fails in one attempt (transient: a retry may succeed).
    failure_rate: float = 0.0
    #: Share of plays that fail every time (poison records).
    poison_rate: float = 0.0
    #: Assumed write → stream-record delay (seconds): AWS publishes no figure.
    propagation_seconds: float = 0.0
    shards: int = 1
    #: Cap on plays (the earliest in send order), None for all.
    max_plays: int | None = None
    rules: tuple[BadgeRule, ...] = DEFAULT_RULES
    #: Give up waiting for the stream to drain after this many virtual seconds past the last write.
    drain_seconds: float = 2 * 86_400.0
    #: A backlog experiment: the mapping is disabled (Enabled: false) this many seconds after
    #: the start, for ``disabled_for_seconds`` (0: never), then resumes from where it stopped.
    disabled_from_seconds: float = 0.0
    disabled_for_seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in ("failure_rate", "poison_rate"):
            require_probability(name, getattr(self, name))
        for name in (
            "handler_base_seconds",
            "handler_per_record_seconds",
            "propagation_seconds",
            "disabled_from_seconds",
            "disabled_for_seconds",
        ):
            require_seconds(name, getattr(self, name))
        for name, low in (("players", 1), ("days", 1), ("shards", 1), ("seed", 0)):
            require_int(name, getattr(self, name), low)
        require_positive("rate", self.rate, "plays per second")


@dataclass
class ModelHandler:
    """A handler with a modelled duration and seeded failures, for virtual runs."""

    base_seconds: float
    per_record_seconds: float
    failure_rate: float
    poison: frozenset[str]
    report_batch_item_failures: bool
    seed: int = 0
    rng: random.Random = field(init=False)
    #: The model's own record of its work: play id -> when it was first processed (the run's
    #: achievements are derived from it, not from the trigger's dispositions).
    processed: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any] | None:
        records = event["Records"]
        context.spend(self.base_seconds + self.per_record_seconds * len(records))
        failed = []
        for record in records:
            play_id = record["dynamodb"].get("NewImage", {}).get("play_id", {}).get("S", "")
            if play_id in self.poison or (
                self.failure_rate and self.rng.random() < self.failure_rate
            ):
                failed.append(record["dynamodb"]["SequenceNumber"])
        if failed and not self.report_batch_item_failures:
            raise RuntimeError(f"{len(failed)} of {len(records)} records failed")
        done_at = context.clock.now() + context.spent_seconds
        for record in records:
            if record["dynamodb"]["SequenceNumber"] not in failed:
                play_id = record["dynamodb"].get("NewImage", {}).get("play_id", {}).get("S")
                if play_id is not None:
                    self.processed.setdefault(play_id, done_at)
        # With tumbling windows a response must carry the window's state [T]: pass it on.
        window = {"state": event["state"]} if "state" in event else {}
        if not failed:
            return window or None
        if self.report_batch_item_failures:
            return {**window, "batchItemFailures": [{"itemIdentifier": s} for s in failed]}
        raise RuntimeError(f"{len(failed)} of {len(records)} records failed")


def simulate(scenario: Scenario) -> Run:
    """Run the scenario on the virtual clock; return an in-memory Run (streamsim.workbench.analysis works on it)."""
    plays = _plays(scenario)
    schedule = poisson_schedule(plays, rate=scenario.rate, seed=scenario.seed)
    clock = VirtualClock()
    stream = InMemoryStream("Plays", clock=clock.now, shards=scenario.shards)
    poison = poison_plays(schedule.plays, scenario)
    handler = ModelHandler(
        scenario.handler_base_seconds,
        scenario.handler_per_record_seconds,
        scenario.failure_rate,
        poison,
        REPORT_BATCH_ITEM_FAILURES in scenario.mapping.function_response_types,
        scenario.seed,
    )
    destination = MemoryDestination() if scenario.mapping.on_failure_destination else None
    witness = HandlerWitness(
        handler, report_batch_item_failures=handler.report_batch_item_failures, now=clock.now
    )
    trigger = Trigger(
        scenario.mapping,
        witness,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        timing=scenario.timing,
        destination=destination,
        handler_duration_seconds=0.0,
        function_name="streamsim-model",
        skip_empty_polls=True,  # the same reads, without the empty GetRecords of idle shards
    )
    if scenario.disabled_for_seconds:
        trigger.disable_for(scenario.disabled_for_seconds, after=scenario.disabled_from_seconds)
    start = clock.now()
    written_at = start + schedule.offsets
    items = play_items(schedule.plays, written_at)
    trigger.start()
    with trigger.invoker.output.installed():
        clock.run(
            until=clock.env.process(
                write_ahead(clock, stream, written_at + scenario.propagation_seconds, items)
            )
        )
    drained = trigger.run_until_drained(
        scenario.drain_seconds + scenario.propagation_seconds + scenario.disabled_for_seconds
    )
    frames = trigger.capture.frames()
    plays_frame = schedule.plays.assign(
        play_key=play_keys(schedule.plays), written_at=written_at, acked_at=written_at
    )
    tables = {
        "plays": plays_frame,
        "records": frames["records"],
        "attempts": frames["attempts"],
        "dispositions": frames["dispositions"],
        "poll_errors": frames["poll_errors"],
        "handler_witness": witness.frame(),
        "stream_witness": read_stream(stream, stream.stream_arn),
        "destination_witness": destination_frame(destination.messages if destination else []),
    }
    tables["achievements"] = _achievements(plays_frame, handler.processed, scenario.rules)
    config = {
        "scenario": {
            k: v for k, v in scenario.__dict__.items() if k not in ("mapping", "timing", "rules")
        },
        "event_source_mapping": scenario.mapping.to_aws(),
        "trigger_timing": scenario.timing.__dict__,
        "rules": [{"rule": r.name, "params": r.params()} for r in scenario.rules],
        "backend": {"name": "in-memory stream", "version": "streamsim", "embedded": True},
        "clock": "virtual",
        "drained": drained,
    }
    return Run(
        Path("<virtual>"), config, {}, tables, list(destination.messages) if destination else []
    )


def with_settings(scenario: Scenario, **settings: Any) -> Scenario:
    """A scenario with sweepable settings changed, by the names people use:
    batch_size, batching_window, parallelization_factor, maximum_retry_attempts,
    maximum_record_age, bisect, report_batch_item_failures, poll_interval, plus any Scenario field."""
    mapping_names = {
        "batch_size": "batch_size",
        "batching_window": "maximum_batching_window_in_seconds",
        "parallelization_factor": "parallelization_factor",
        "maximum_retry_attempts": "maximum_retry_attempts",
        "maximum_record_age": "maximum_record_age_in_seconds",
        "bisect": "bisect_batch_on_function_error",
    }
    mapping_changes: dict[str, Any] = {}
    timing_changes: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for name, value in settings.items():
        if name in mapping_names:
            mapping_changes[mapping_names[name]] = value
        elif name == "report_batch_item_failures":
            mapping_changes["function_response_types"] = (
                (REPORT_BATCH_ITEM_FAILURES,) if value else ()
            )
        elif name == "poll_interval":
            timing_changes["poll_interval_seconds"] = value
        elif name in Scenario.__dataclass_fields__:
            own[name] = value
        else:
            known = sorted(
                [
                    *mapping_names,
                    "report_batch_item_failures",
                    "poll_interval",
                    *Scenario.__dataclass_fields__,
                ]
            )
            raise ConfigError(f"unknown setting {name!r}; known: {', '.join(known)}")
    return replace(
        scenario,
        mapping=replace(scenario.mapping, **mapping_changes),
        timing=replace(scenario.timing, **timing_changes),
        **own,
    )


def _plays(scenario: Scenario) -> pd.DataFrame:
    population = Population.generate(
        PopulationConfig(
            players=scenario.players,
            days=scenario.days,
            seed=scenario.seed,
            start=date(2026, 1, 1) - timedelta(days=scenario.days),
        )
    )
    plays = population.plays_frame()
    if scenario.max_plays is not None:
        plays = plays.sort_values("played_at", kind="stable").head(scenario.max_plays)
    # The table keeps milliseconds (streamsim.game.playstore): match it.
    plays["played_at"] = plays["played_at"].dt.floor("ms")
    return plays.reset_index(drop=True)


def poison_plays(plays: pd.DataFrame, scenario: Scenario) -> frozenset[str]:
    """The play ids the scenario's modelled handler always fails on (``poison_rate``, seeded)."""
    if not scenario.poison_rate:
        return frozenset()
    threshold = scenario.poison_rate * 2**32
    return frozenset(
        p for p in plays["play_id"] if zlib.crc32(f"{scenario.seed}:{p}".encode()) < threshold
    )


def _achievements(
    plays: pd.DataFrame, processed: dict[str, float], rules: tuple[BadgeRule, ...]
) -> pd.DataFrame:
    """What the badge handler would have written: it reads history from the Plays table (every
    written play), so the evaluator's awards over all plays whose earning play the modelled
    handler processed (its own record, not the trigger's), awarded when it processed it."""
    columns = ["player_id", "badge_id", "rule", "params", "play_id", "played_at", "awarded_at"]
    if plays.empty:
        return pd.DataFrame(columns=columns)
    awards = evaluate_batch(
        plays[["player_id", "play_id", "game", "played_at", "tz", "score"]], rules
    )
    awarded_at = awards["play_id"].map(processed)
    awards = awards.assign(awarded_at=awarded_at.to_numpy()).dropna(subset=["awarded_at"])
    return awards[columns].reset_index(drop=True)
