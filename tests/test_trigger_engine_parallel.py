"""Trigger engine, ParallelizationFactor and several shards: up to that many batches per shard in
flight at once, never two with the same item key, per-key order kept [D]; a failing batch blocks
only its lane, and a failing shard only itself."""

from __future__ import annotations

import json
import zlib
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.capture import AttemptRow
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, assert_each_record_disposed_once, item_keys


def lane_of(key: str, factor: int) -> int:
    """The lane streamsim routes an item key to (crc32 of the compact key JSON)."""
    text = json.dumps({"pk": {"S": key}}, sort_keys=True, separators=(",", ":"))
    return zlib.crc32(text.encode()) % factor


def keys_per_lane(factor: int, per_lane: int, prefix: str = "item") -> dict[int, list[str]]:
    lanes: dict[int, list[str]] = {lane: [] for lane in range(factor)}
    n = 0
    while any(len(v) < per_lane for v in lanes.values()):
        key = f"{prefix}{n}"
        if len(lanes[lane_of(key, factor)]) < per_lane:
            lanes[lane_of(key, factor)].append(key)
        n += 1
    return lanes


def write(stream: InMemoryStream, key: str, version: int) -> str:
    record = stream.write({"pk": {"S": key}}, {"pk": {"S": key}, "v": {"N": str(version)}})
    assert record is not None
    return str(record["dynamodb"]["SequenceNumber"])


class Recorder:
    """Keeps (request id, [(key, version)]) for every invocation; fails on poison keys."""

    def __init__(self, *poison: str) -> None:
        self.poison = set(poison)
        self.calls: dict[str, list[tuple[str, int]]] = {}

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.calls[context.aws_request_id] = [
            (r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["NewImage"]["v"]["N"]))
            for r in event["Records"]
        ]
        if self.poison.intersection(item_keys(event)):
            raise ValueError("poison")


def in_flight_together(attempts: list[AttemptRow]) -> list[tuple[AttemptRow, AttemptRow]]:
    return [
        (a, b)
        for i, a in enumerate(attempts)
        for b in attempts[i + 1 :]
        if a.invoked_at < b.completed_at and b.invoked_at < a.completed_at
    ]


def most_in_flight(attempts: list[AttemptRow]) -> int:
    return max(
        sum(1 for a in attempts if a.invoked_at <= b.invoked_at < a.completed_at) for b in attempts
    )


def test_parallelization_factor_4_runs_4_batches_of_a_shard_at_once_key_by_key(clock) -> None:
    lanes = keys_per_lane(4, 4)
    keys = [k for lane in lanes.values() for k in lane]
    stream = InMemoryStream(clock=clock.now)
    for version in range(3):
        for key in keys:
            write(stream, key, version)
    recorder = Recorder()
    trigger = Trigger(
        EventSourceMapping(
            starting_position="TRIM_HORIZON", parallelization_factor=4, batch_size=2
        ),
        recorder,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=1.0,
    )
    assert trigger.run_until_drained(3600)

    attempts = trigger.capture.attempts
    assert len(attempts) == 24  # 48 records, 12 per lane, 2 a batch
    assert most_in_flight(attempts) == 4
    # Each lane runs its 6 batches back to back from T0: 4 at a time for 6 seconds.
    assert sorted(a.invoked_at - T0 for a in attempts) == [t for t in range(6) for _ in range(4)]
    assert {a.lane for a in attempts} == {0, 1, 2, 3}
    for a, b in in_flight_together(attempts):
        keys_a = {k for k, _ in recorder.calls[a.request_id]}
        keys_b = {k for k, _ in recorder.calls[b.request_id]}
        assert not keys_a & keys_b, "one item key in two batches in flight"
        assert a.lane != b.lane
    for lane, lane_keys in lanes.items():
        assert {
            k for a in attempts if a.lane == lane for k, _ in recorder.calls[a.request_id]
        } == set(lane_keys)
    # Per-key order: versions arrive 0, 1, 2 for every key.
    by_time = sorted(attempts, key=lambda a: (a.invoked_at, a.lane))
    for key in keys:
        versions = [v for a in by_time for k, v in recorder.calls[a.request_id] if k == key]
        assert versions == [0, 1, 2], key
    assert_each_record_disposed_once(trigger.capture)


def test_with_factor_1_batches_of_a_shard_never_overlap(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for i in range(20):
        write(stream, f"k{i}", 0)
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", batch_size=3),
        Recorder(),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=1.0,
    )
    assert trigger.run_until_drained(3600)
    assert most_in_flight(trigger.capture.attempts) == 1
    assert in_flight_together(trigger.capture.attempts) == []


def test_a_failing_key_blocks_only_its_lane(clock) -> None:
    lanes = keys_per_lane(4, 3)
    poison = lanes[0][0]
    stream = InMemoryStream(clock=clock.now)
    seqs = {}
    for version in range(2):
        for lane in lanes.values():
            for key in lane:
                seqs[key, version] = write(stream, key, version)
    recorder = Recorder(poison)
    trigger = Trigger(
        EventSourceMapping(
            starting_position="TRIM_HORIZON",
            parallelization_factor=4,
            batch_size=1,
            maximum_retry_attempts=3,
        ),
        recorder,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=0.0,
    )
    assert trigger.run_until_drained(3600)

    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    # Lane 0 holds poison v0, a v0, b v0, poison v1, a v1, b v1 (batches of 1). Each poison
    # record is invoked 4 times (0, 1, 3, 7 after it starts) and discarded.
    a, b = lanes[0][1:]
    assert {
        (k, v): (ends[seqs[k, v]].disposition, ends[seqs[k, v]].at - T0)
        for k in lanes[0]
        for v in (0, 1)
    } == {
        (poison, 0): ("discarded", 7),
        (a, 0): ("processed", 7),
        (b, 0): ("processed", 7),
        (poison, 1): ("discarded", 14),
        (a, 1): ("processed", 14),
        (b, 1): ("processed", 14),
    }
    # The other lanes went on at once.
    others = [seqs[k, v] for lane in (1, 2, 3) for k in lanes[lane] for v in (0, 1)]
    assert {(ends[s].disposition, ends[s].at) for s in others} == {("processed", T0)}
    assert_each_record_disposed_once(trigger.capture)


def shard_of(trigger: Trigger) -> dict[str, str]:
    return {r.sequence_number: r.shard_id for r in trigger.capture.records}


def test_a_failing_shard_blocks_only_itself() -> None:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now, shards=3)
    seqs = {f"k{i}": write(stream, f"k{i}", 0) for i in range(30)}
    seqs["poison"] = write(stream, "poison", 0)
    later = {f"z{i}": write(stream, f"z{i}", 0) for i in range(30)}
    recorder = Recorder("poison")
    trigger = Trigger(
        EventSourceMapping(
            starting_position="TRIM_HORIZON", batch_size=1, maximum_retry_attempts=3
        ),
        recorder,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=0.0,
    )
    assert trigger.run_until_drained(3600)

    shards = shard_of(trigger)
    assert len(set(shards.values())) == 3
    bad = shards[seqs["poison"]]
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert (ends[seqs["poison"]].disposition, ends[seqs["poison"]].at - T0) == ("discarded", 7)
    behind = [s for s in later.values() if shards[s] == bad]
    elsewhere = [s for s in later.values() if shards[s] != bad]
    assert behind and elsewhere
    assert {ends[s].at - T0 for s in behind} == {7}
    assert {ends[s].at for s in elsewhere} == {T0}
    assert {ends[s].disposition for s in [*behind, *elsewhere]} == {"processed"}
    # Each shard keeps its own order.
    for shard in set(shards.values()):
        processed = [
            a.first_sequence_number
            for a in trigger.capture.attempts
            if a.shard_id == shard and a.outcome == "success"
        ]
        assert processed == sorted(processed, key=int)
    assert_each_record_disposed_once(trigger.capture)
