"""``simulate_scale``: a production-sized what-if run on the virtual clock, the one trigger.

Synthetic plays arrive as a Poisson stream at ``rate``; the table's partitions (one active shard
each) take at most their write limit, so excess writes are throttled, retried and counted; shards
roll over; the same ``Trigger`` as every other run delivers batches to a modelled handler
(duration, cold starts, poison plays) through a concurrency cap; the result is a Run with the
CloudWatch-style metrics, latency, accounting and a cost table.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy

from streamsim.aws.stream.blocks import RecordBlock, RowOrigin
from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.stream.records import item_size
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.aws.trigger.invoke import BatchHandler, InvocationResult, Invoker
from streamsim.aws.trigger.response import REPORT_BATCH_ITEM_FAILURES
from streamsim.clock import Clock, VirtualClock
from streamsim.errors import ConfigError
from streamsim.validation import require_int, require_positive
from streamsim.workbench.runfolder import Run
from streamsim.workbench.scale.metrics import (
    arrow_text,
    cloudwatch_metrics,
    first_match,
    first_match_numbers,
    sequence_offsets,
)
from streamsim.workbench.scale.model import (
    ScaleModel,
    auto_shards,
    throttle_writes,
    write_units,
)
from streamsim.workbench.scale.writer import (
    PlayRows,
    play_image_json_sizes,
    play_keys,
    play_record_sizes,
    route_hashes,
    write_ahead,
)

GAMES = ("chess", "sudoku", "wordle", "tetris", "solitaire")


@dataclass(frozen=True)
class ScaleScenario:
    """Traffic, table and mapping of an at-scale run (the model: ``ScaleModel``)."""

    rate: float = 10_000.0
    seconds: float = 60.0
    #: Active shards: "auto" (from the partitions the rate needs) or a number.
    shards: int | str = "auto"
    players: int = 100_000
    seed: int = 1
    mapping: EventSourceMapping = field(
        default_factory=lambda: EventSourceMapping(starting_position="TRIM_HORIZON")
    )
    timing: TriggerTiming = field(default_factory=TriggerTiming)
    model: ScaleModel = field(default_factory=ScaleModel)
    #: Plays that fail every time (poison): how many, spread over the run.
    poison: int = 0
    #: Write partitions and throttling (off: writes land when sent).
    throttling: bool = True
    drain_seconds: float = 2 * 86_400.0
    #: Write each play with its own clock event instead of in blocks (the per-record path, for
    #: the equivalence test and the benchmark's ratio).
    per_record_writes: bool = False

    def __post_init__(self) -> None:
        require_positive("rate", self.rate, "plays per second")
        require_positive("seconds", self.seconds, "seconds")
        require_int("players", self.players, 1)
        require_int("seed", self.seed, 0)
        require_int("poison", self.poison, 0)
        if self.shards != "auto":
            require_int("shards", self.shards, 1)

    @property
    def plays(self) -> int:
        return int(round(self.rate * self.seconds))


def synthetic_plays(scenario: ScaleScenario, start: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Plays and their send times: Poisson arrivals at ``rate``, players uniformly at random."""
    n = scenario.plays
    rng = np.random.default_rng(scenario.seed)
    offsets = np.cumsum(rng.exponential(1.0 / scenario.rate, n))
    player = rng.integers(0, scenario.players, n)
    sent = start + offsets
    ms = np.floor(sent * 1000).astype("int64")
    plays = pd.DataFrame(
        {
            "player_id": _numbered("p", player, 7),
            "play_id": _numbered("s", np.arange(n), 10),
            "game": pd.Categorical.from_codes(rng.integers(0, len(GAMES), n), GAMES),
            "played_at": pd.to_datetime(ms, unit="ms", utc=True),
            "tz": "UTC",
            "score": rng.integers(0, 10_000, n),
        }
    )
    return plays, sent


def _numbered(prefix: str, values: np.ndarray, width: int) -> pd.Series:
    """``prefix`` + each number zero-padded to ``width`` digits, as a text column: the digits
    written into a byte matrix and handed to Arrow (no Python string per play); numbers that do
    not fit the width go through numpy's text functions."""
    import pyarrow as pa
    from pandas.core.arrays.string_arrow import ArrowStringArray

    v = np.asarray(values, dtype=np.int64)
    if len(v) and (v.min() < 0 or v.max() >= 10**width) or len(prefix.encode()) != 1:
        return pd.Series(np.char.add(prefix, np.char.zfill(v.astype(str), width)))
    cells = np.empty((len(v), 1 + width), dtype=np.uint8)
    cells[:, 0] = ord(prefix)
    rest = v.copy()
    for k in range(width, 0, -1):
        cells[:, k] = rest % 10 + ord("0")
        rest //= 10
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(1 + width), len(v), [None, pa.py_buffer(cells)]
    )
    text = fixed.cast(pa.binary()).cast(pa.large_string())
    dtype = pd.StringDtype("pyarrow", na_value=float("nan"))
    return pd.Series(ArrowStringArray(text, dtype=dtype))


@dataclass
class ScaleHandler(BatchHandler):
    """The modelled handler: duration base + per record, cold starts, poison plays fail."""

    model: ScaleModel
    poison: frozenset[str]
    report_batch_item_failures: bool
    seed: int = 0
    #: Which rows of the writer's ``PlayRows`` are poison (``handle_batch`` reads the batch's
    #: rows instead of its event records); None: look at the records.
    poison_rows: np.ndarray | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any] | None:
        """As a Lambda handler: the event's records."""
        records = event["Records"]
        self._spend(len(records), context)
        if not self.poison:
            return None
        failed = [
            r["dynamodb"]["SequenceNumber"]
            for r in records
            if r["dynamodb"]["Keys"]["play_key"]["S"].rsplit("#", 1)[-1] in self.poison
        ]
        return self._verdict(failed, len(records))

    def handle_batch(self, batch: RecordBlock, context: Any) -> dict[str, Any] | None:
        """The same, given the batch (``invoke.BatchHandler``): counts, and for poison plays
        the rows, without building event records (a test compares both ways exactly)."""
        self._spend(len(batch), context)
        if not self.poison:
            return None
        if self.poison_rows is None or not isinstance(batch.origin, RowOrigin):
            return self.__call__({"Records": batch.events()}, _Spent(context))
        hits = np.flatnonzero(self.poison_rows[batch.rows])
        return self._verdict([batch.sequence_number(i) for i in hits.tolist()], len(batch))

    def _spend(self, records: int, context: Any) -> None:
        spent = self.model.handler_base_seconds + self.model.handler_per_record_seconds * records
        if self.model.cold_start_probability and (
            self.rng.random() < self.model.cold_start_probability
        ):
            spent += self.rng.uniform(*self.model.cold_start_seconds)
        context.spend(spent)

    def _verdict(self, failed: list[str], records: int) -> dict[str, Any] | None:
        if not failed:
            return None
        if self.report_batch_item_failures:
            return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
        raise RuntimeError(f"{len(failed)} of {records} records failed (poison)")


class _Spent:
    """A context whose ``spend`` was already counted (``handle_batch`` falling back to the
    event path)."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def spend(self, seconds: float) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class CappedInvoker(Invoker):
    """The trigger's invoker behind a concurrency cap: an invocation that finds every slot busy
    is throttled (counted) and waits for a free one, as the mapping retries a throttled invoke
    without counting it against MaximumRetryAttempts [Lambda with-ddb]."""

    limit: int
    in_flight: int
    throttles: list[float]
    concurrency: list[tuple[float, int]]
    _waiting: deque[simpy.Event]

    @classmethod
    def wrap(cls, invoker: Invoker, limit: int) -> CappedInvoker:
        capped = cls(**{f.name: getattr(invoker, f.name) for f in fields(invoker)})
        capped.limit = limit
        capped.in_flight = 0
        capped.throttles = []
        capped.concurrency = []
        capped._waiting = deque()
        return capped

    def invoke(
        self, records: RecordBlock, clock: Clock, extra: dict[str, Any] | None = None
    ) -> Generator[Any, Any, InvocationResult]:
        while self.in_flight >= self.limit:
            self.throttles.append(clock.now())
            slot = clock.env.event()
            self._waiting.append(slot)
            yield slot
        self.in_flight += 1
        self.concurrency.append((clock.now(), self.in_flight))
        try:
            result = yield from super().invoke(records, clock, extra)
        finally:
            self.in_flight -= 1
            if self._waiting:
                self._waiting.popleft().succeed()
        return result


@dataclass
class ScaleResult:
    run: Run
    metrics: pd.DataFrame
    summary: dict[str, Any]
    cost: pd.DataFrame | None


def simulate_scale(
    scenario: ScaleScenario, progress: Callable[[float, float], None] | None = None
) -> ScaleResult:
    """Run ``scenario`` on the virtual clock; ``progress(done_seconds, total_seconds)``."""
    model = scenario.model
    clock = VirtualClock()
    start = clock.now()
    plays, sent = synthetic_plays(scenario, start)
    units = write_units(item_size(_items(plays.head(1), sent[:1])[0])) if len(plays) else 1
    shards = (
        auto_shards(scenario.rate, units, model)
        if scenario.shards == "auto"
        else int(scenario.shards)
    )
    written = sent
    throttled = 0
    hashes = route_hashes(plays["player_id"])
    if scenario.throttling and len(plays):
        partition = hashes % shards  # each play's partition, as the stream routes it
        written, throttled = throttle_writes(sent, partition, units, shards, model)
        order = np.argsort(written, kind="stable")
        if np.any(order != np.arange(len(order))):
            plays = plays.iloc[order].reset_index(drop=True)
            sent, written, hashes = sent[order], written[order], hashes[order]
    stream = InMemoryStream("Plays", clock=clock.now, shards=shards, partition_key="player_id")
    poison = _poison(plays, scenario)
    handler = ScaleHandler(
        model,
        poison,
        REPORT_BATCH_ITEM_FAILURES in scenario.mapping.function_response_types,
        scenario.seed,
        poison_rows=plays["play_id"].astype(str).isin(poison).to_numpy() if poison else None,
    )
    destination = MemoryDestination() if scenario.mapping.on_failure_destination else None
    trigger = Trigger(
        scenario.mapping,
        # The per-record path calls the handler as Lambda does, with the event's records.
        handler.__call__ if scenario.per_record_writes else handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        timing=scenario.timing,
        destination=destination,
        handler_duration_seconds=0.0,
        function_name="streamsim-scale",
        skip_empty_polls=True,  # idle shards during a 24 h blocked one: no empty GetRecords
    )
    invoker = CappedInvoker.wrap(trigger.invoker, model.concurrency_limit)
    trigger.invoker = invoker
    rollovers = _rollover(stream, start, model, shards)
    total = float(written[-1] - start) if len(written) else 0.0

    def before_block(now: float) -> None:
        rollovers(now)
        if progress is not None:
            progress(now - start, total)

    trigger.start()
    rows = None if scenario.per_record_writes else PlayRows.from_frame(plays, sent)
    writer = (
        _per_record_writer(clock, stream, written, _items(plays, sent), before_block)
        if scenario.per_record_writes
        else write_ahead(
            clock,
            stream,
            written,
            (),
            before_block=before_block,
            sizes=play_record_sizes(plays, sent),
            route_hashes=hashes,
            rows=rows,
            image_sizes=play_image_json_sizes(rows) if rows is not None else None,
        )
    )
    release_freed_memory()  # the setup's transients (sorting, sizes): the run reuses little
    with trigger.invoker.output.installed():
        clock.run(until=clock.env.process(writer))
    drained = trigger.run_until_drained(scenario.drain_seconds)
    if progress is not None:
        progress(total, total)
    # The run is over: let the stream's columns and the writer's rows go, and the capture's as
    # the frames take them.
    stream.release_rows()
    del writer, rows
    release_freed_memory()
    frames = trigger.capture.frames(release=True)
    release_freed_memory()
    plays_frame = plays.assign(play_key=play_keys(plays), written_at=sent, acked_at=written)
    achievements = pd.DataFrame(
        columns=["player_id", "badge_id", "rule", "params", "play_id", "played_at", "awarded_at"]
    )
    tables = {
        "plays": plays_frame,
        "records": frames["records"],
        "attempts": frames["attempts"],
        "dispositions": frames["dispositions"],
        "poll_errors": frames["poll_errors"],
        "achievements": achievements,
    }
    del hashes
    release_freed_memory()
    metrics = cloudwatch_metrics(
        tables["attempts"],
        tables["records"],
        tables["dispositions"],
        written=written,
        throttles=np.asarray(invoker.throttles, dtype=float),
        concurrency=invoker.concurrency,
    )
    config = {
        "scenario": {
            "rate": scenario.rate,
            "seconds": scenario.seconds,
            "shards": shards,
            "players": scenario.players,
            "seed": scenario.seed,
            "poison": scenario.poison,
            "throttling": scenario.throttling,
        },
        "scale_model": {f.name: getattr(model, f.name) for f in fields(model)},
        "event_source_mapping": scenario.mapping.to_aws(),
        "trigger_timing": scenario.timing.__dict__,
        "backend": {"name": "in-memory stream", "version": "streamsim", "embedded": True},
        "clock": "virtual",
        "drained": drained,
    }
    run = Run(
        Path("<virtual>"), config, {}, tables, list(destination.messages) if destination else []
    )
    release_freed_memory()
    summary = _summary(run, metrics, shards, throttled, len(invoker.throttles), units)
    summary["handler_units"] = {  # the handler's DynamoDB units per play, and where they came from
        "read_units_per_play": model.read_units_per_play,
        "write_units_per_play": model.handler_write_units_per_play,
        "source": model.units_source,
    }
    run.summary.update(summary)
    cost = _cost(scenario, summary)
    return ScaleResult(run, metrics, summary, cost)


def release_freed_memory() -> None:
    """Give memory freed between stages back to the system: the C heap's free pages
    (glibc ``malloc_trim``, where there is one) and Arrow's pool's unused memory. Freed memory
    otherwise stays in the process for the next stage to reuse only in part; after the run
    and after the frames this is about 200 and 120 bytes a play (docs/performance.md,
    "Round 4")."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return
    trim(0)


def _per_record_writer(
    clock: Clock,
    stream: InMemoryStream,
    times: np.ndarray,
    items: list[dict[str, Any]],
    before_block: Callable[[float], None],
) -> Generator[Any, Any, None]:
    """One clock event per play, written when the clock reaches its time (today's path)."""
    for when, item in zip(times.tolist(), items, strict=True):
        if when > clock.now():
            yield clock.sleep(when - clock.now())
        before_block(clock.now())
        stream.write({"player_id": item["player_id"], "play_key": item["play_key"]}, item, at=when)


def _items(plays: pd.DataFrame, sent: np.ndarray) -> list[dict[str, Any]]:
    from streamsim.workbench.scale.writer import play_items

    return play_items(plays, sent)


def _poison(plays: pd.DataFrame, scenario: ScaleScenario) -> frozenset[str]:
    if not scenario.poison or plays.empty:
        return frozenset()
    picks = np.linspace(0, len(plays) - 1, scenario.poison + 2)[1:-1].round().astype(int)
    return frozenset(plays["play_id"].iloc[picks].astype(str))


def _rollover(
    stream: InMemoryStream, start: float, model: ScaleModel, shards: int
) -> Callable[[float], None]:
    """Roll each active shard every ``rollover_hours``, the shards' turns spread over a period."""
    if not model.rollover_hours:
        return lambda now: None
    period = model.rollover_hours * 3600.0
    due = [start + period * (i + 1) / shards for i in range(shards)]
    slots = [
        d["ShardId"]
        for d in stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"]
    ]

    def roll(now: float) -> None:
        for i, when in enumerate(due):
            while when <= now:
                slots[i] = stream.roll_shard(slots[i])
                when += period
            due[i] = when

    return roll


def _summary(
    run: Run, metrics: pd.DataFrame, shards: int, throttled: int, invoke_throttles: int, units: int
) -> dict[str, Any]:
    code, kinds, at = _play_outcome_codes(run)
    tally = np.bincount(code + 1, minlength=len(kinds) + 1)  # code -1: unaccounted
    counts = {str(kind): int(n) for kind, n in zip(kinds, tally[1:].tolist(), strict=True)}
    counts["unaccounted"] = counts.get("unaccounted", 0) + int(tally[0])
    kind_list = [str(kind) for kind in kinds]
    processed = code == (kind_list.index("processed") if "processed" in kind_list else -2)
    del code
    latency = pd.Series(at[processed] - run.plays["written_at"].to_numpy(dtype=float)[processed])
    del at, processed
    pct = {
        f"p{p}_s": float(latency.quantile(p / 100)) if len(latency) else math.nan
        for p in (50, 95, 99)
    }
    attempts = run.attempts
    return {
        "plays_sent": int(len(run.plays)),
        "shards": shards,
        "write_units_per_play": units,
        "throttled_writes": int(throttled),
        "invocations": int(len(attempts)),
        "invocation_throttles": int(invoke_throttles),
        "errors": int(attempts["outcome"].isin(["error", "timeout"]).sum()) if len(attempts) else 0,
        "processed": int(counts.get("processed", 0)),
        "filtered": int(counts.get("filtered", 0)),
        "sent_to_destination": int(counts.get("destination", 0)),
        "lost": int(counts.get("discarded", 0) + counts.get("unaccounted", 0)),
        "latency": pct | {"max_s": float(latency.max()) if len(latency) else math.nan},
        "peak_backlog": int(metrics["Backlog"].max()) if len(metrics) else 0,
        "peak_iterator_age_s": float(metrics["IteratorAge"].max()) / 1000 if len(metrics) else 0.0,
        "peak_concurrency": int(metrics["ConcurrentExecutions"].max()) if len(metrics) else 0,
        "lambda_gb_seconds": float(
            ((attempts["completed_at"] - attempts["invoked_at"]).sum()) if len(attempts) else 0.0
        ),
        "drained": bool(run.config.get("drained")),
    }


def _play_outcomes(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Each play's disposition (None: unaccounted) and its time (``_play_outcome_codes``
    with the dispositions as objects)."""
    code, kinds, at = _play_outcome_codes(run)
    disposition = np.full(len(code), None, dtype=object)
    hit = code >= 0
    disposition[hit] = np.asarray(kinds, dtype=object)[code[hit]]
    return disposition, at


def _play_outcome_codes(run: Run) -> tuple[np.ndarray, Any, np.ndarray]:
    """Each play's disposition (None: unaccounted) and its time, as ``analysis.play_timeline``
    joins them (plays to their first INSERT record by key, records to their first disposition
    by sequence number), on the columns: no frame per play, no Python string per row.

    At scale the plays are written in row order, so the stream numbers them in that order: the
    i-th play's record is the INSERT record with the i-th smallest sequence number. That
    pairing is taken when every pair's keys are equal (checked a chunk of plays at a time);
    otherwise (a play never read, plays reordered) the plays join the records by the keys text.
    Both give the same records when no two plays share a key, as in ``simulate_scale`` (each
    play written once, its unique play id part of its key); with a shared key the text join
    would give both plays the first one.
    Sequence numbers join as numbers (``sequence_offsets``) when they can."""
    plays, records, dispositions = run.plays, run.records, run.dispositions
    insert = (records["event_name"] == "INSERT").to_numpy(dtype=bool)
    inserts = records if insert.all() else records.loc[insert]
    numbers = sequence_offsets(inserts["sequence_number"], dispositions["sequence_number"])
    record = _records_by_rank(plays, inserts, numbers[0]) if numbers is not None else None
    if record is None:
        record = _records_by_key(plays, inserts)
    if numbers is not None:  # each array let go as soon as it is used (tens of millions)
        inserted, disposed = numbers
        del numbers
        seq = inserted[np.maximum(record, 0)]
        del inserted
        unread = record < 0
        del record
        found = first_match_numbers(seq, disposed)
        del seq, disposed
        found[unread] = -1
    else:
        import pyarrow as pa

        seq_text = arrow_text(inserts["sequence_number"]).take(
            pa.array(np.maximum(record, 0), mask=record < 0)
        )
        found = first_match(seq_text, dispositions["sequence_number"])
        del record
    hit = found >= 0
    column = dispositions["disposition"]
    if isinstance(column.dtype, pd.CategoricalDtype):  # a byte a row, no factorizing
        codes, kinds = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, kinds = pd.factorize(column)
    code = np.full(len(plays), -1, dtype=np.int16 if len(kinds) < 2**15 else np.int64)
    code[hit] = codes[found[hit]]
    at = np.full(len(plays), np.nan)
    at[hit] = dispositions["at"].to_numpy(dtype=float)[found[hit]]
    return code, kinds, at


#: Plays whose keys are checked at a time (bounds the transient key texts).
_KEY_CHUNK = 1 << 16


def _records_by_rank(
    plays: pd.DataFrame, inserts: pd.DataFrame, sequence: np.ndarray
) -> np.ndarray | None:
    """Each play's INSERT record (a position in ``inserts``) by the rank of its sequence number
    (repeated reads of a record: its first row), or None when the keys do not pair up."""
    import pyarrow.compute as pc

    from streamsim.workbench.analysis import record_key

    order = np.argsort(sequence, kind="stable")
    first = np.ones(len(order), dtype=bool)
    first[1:] = sequence[order[1:]] != sequence[order[:-1]]
    record = order[first]
    del order, first
    if len(record) != len(plays):
        return None
    keys = arrow_text(inserts["keys"], combine=False)
    for start in range(0, len(plays), _KEY_CHUNK):
        part = plays.iloc[start : start + _KEY_CHUNK]
        expected = arrow_text(
            record_key(part["player_id"].astype(str), part["play_key"].astype(str))
        )
        got = keys.take(record[start : start + _KEY_CHUNK])
        if not pc.all(pc.equal(expected, got)).as_py():
            return None
    return record.astype(np.int64, copy=False)


def _records_by_key(plays: pd.DataFrame, inserts: pd.DataFrame) -> np.ndarray:
    """Each play's first INSERT record with its key (-1: none), joined on the keys text."""
    from streamsim.workbench.analysis import record_key

    keys = record_key(plays["player_id"].astype(str), plays["play_key"].astype(str))
    return first_match(keys, inserts["keys"])


def _cost(scenario: ScaleScenario, summary: dict[str, Any]) -> pd.DataFrame | None:
    from streamsim.workbench.cost import Workload, estimate, load_prices

    plays = max(1, summary["plays_sent"])
    model = scenario.model
    workload = Workload(
        plays_per_second=scenario.rate,
        write_units_per_play=float(summary["write_units_per_play"])
        + model.handler_write_units_per_play,
        read_units_per_play=model.read_units_per_play,
        invocations_per_play=summary["invocations"] / plays,
        lambda_gb_seconds_per_play=summary["lambda_gb_seconds"] * model.memory_mb / 1024 / plays,
        destination_messages_per_play=summary["sent_to_destination"] / plays,
    )
    try:
        return estimate(workload, load_prices())
    except ConfigError:
        return None
