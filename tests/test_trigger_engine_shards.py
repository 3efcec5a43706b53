"""Trigger engine, shard lineage: a split shard's children are processed only after the parent
is finished [S]; closed shards end; new children are found and read from their start."""

from __future__ import annotations

from typing import Any

import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.clock import VirtualClock
from tests.helpers import T0, assert_each_record_disposed_once, item_keys, trigger_for
from tests.helpers import write_key as write


def only_shard(stream: InMemoryStream) -> str:
    shards = stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"]
    open_shards = [
        s["ShardId"] for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]
    ]
    assert len(open_shards) == 1
    return str(open_shards[0])


class Handler:
    def __init__(self, *poison: str) -> None:
        self.poison = set(poison)
        self.keys: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        keys = item_keys(event)
        if self.poison.intersection(keys):
            raise ValueError("poison")
        self.keys.extend(keys)


def test_children_are_processed_only_after_the_parent_is_finished(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    parent = only_shard(stream)
    for i in range(10):
        write(stream, f"p{i}")
    children = stream.split_shard(parent)
    for i in range(10):
        write(stream, f"c{i}")
    trigger = trigger_for(stream, clock, Handler(), batch_size=2, duration=1.0)
    assert trigger.run_until_drained(3600)

    attempts = trigger.capture.attempts
    parent_done = max(a.completed_at for a in attempts if a.shard_id == parent)
    child_attempts = [a for a in attempts if a.shard_id != parent]
    assert parent_done - T0 == 5  # 5 batches of 1 s
    assert {a.shard_id for a in child_attempts} == set(children)
    assert min(a.invoked_at for a in child_attempts) >= parent_done
    child_reads = [r.read_at for r in trigger.capture.records if r.shard_id != parent]
    assert min(child_reads) >= parent_done  # not even read before
    assert trigger.checkpoints.is_finished(trigger._key(parent))
    assert not any(trigger.checkpoints.is_finished(trigger._key(c)) for c in children)
    assert trigger.capture.counts()["processed"] == 20
    assert_each_record_disposed_once(trigger.capture)


def test_a_parent_blocked_by_a_failing_batch_holds_its_children_back(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    parent = only_shard(stream)
    write(stream, "poison")
    stream.split_shard(parent)
    for i in range(4):
        write(stream, f"c{i}")
    handler = Handler("poison")
    trigger = trigger_for(stream, clock, handler, maximum_retry_attempts=2)
    assert trigger.run_until_drained(3600)

    (discard,) = [d for d in trigger.capture.dispositions if d.disposition == "discarded"]
    assert discard.at - T0 == 3  # invoked at 0, 1, 3
    child = [a for a in trigger.capture.attempts if a.shard_id != parent]
    assert child and min(a.invoked_at for a in child) >= discard.at
    assert sorted(handler.keys) == ["c0", "c1", "c2", "c3"]


def test_grandchildren_wait_for_their_own_parent(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    root = only_shard(stream)
    write(stream, "r0")
    left, right = stream.split_shard(root)
    seqs = {}
    for i in range(20):
        seqs[f"c{i}"] = write(stream, f"c{i}")
    grandchildren = stream.split_shard(left)
    for i in range(20):
        write(stream, f"g{i}")
    trigger = trigger_for(stream, clock, Handler(), batch_size=1, duration=1.0)
    assert trigger.run_until_drained(3600)

    done: dict[str, float] = {}
    start: dict[str, float] = {}
    for a in trigger.capture.attempts:
        done[a.shard_id] = max(done.get(a.shard_id, 0.0), a.completed_at)
        start[a.shard_id] = min(start.get(a.shard_id, float("inf")), a.invoked_at)
    assert start[left] >= done[root] and start[right] >= done[root]
    for g in grandchildren:
        if g in start:
            assert start[g] >= done[left]
    assert trigger.capture.counts()["processed"] == 41
    assert_each_record_disposed_once(trigger.capture)


def test_a_closed_shard_ends_its_poller(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    shard = only_shard(stream)
    for i in range(3):
        write(stream, f"k{i}")
    stream.close_shard(shard)
    trigger = trigger_for(stream, clock, Handler())
    assert trigger.run_until_drained(60)
    assert trigger.checkpoints.is_finished(trigger._key(shard))
    reads = stream.calls.count("GetRecords")
    trigger.run_for(60)
    assert stream.calls.count("GetRecords") == reads  # no more polling of a finished shard
    assert trigger.capture.counts()["processed"] == 3


@pytest.mark.parametrize("position", ["TRIM_HORIZON", "LATEST"])
def test_a_split_during_the_run_is_followed_into_the_children(position: str) -> None:
    """Children created after the trigger started are read from their first record, whatever
    the mapping's StartingPosition (it applies where the mapping starts), and
    run_until_drained does not report drained before they are read."""
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    handler = Handler()
    trigger = trigger_for(stream, clock, handler, starting_position=position)
    assert trigger.run_until_drained(60)
    for i in range(3):
        write(stream, f"p{i}")
    stream.split_shard(only_shard(stream))
    for i in range(3):
        write(stream, f"c{i}")

    assert trigger.run_until_drained(60)

    assert handler.keys[:3] == ["p0", "p1", "p2"]
    assert sorted(handler.keys[3:]) == ["c0", "c1", "c2"]
    assert_each_record_disposed_once(trigger.capture)


def test_latest_still_skips_what_the_open_shards_held_when_the_mapping_started(clock) -> None:
    stream = InMemoryStream(clock=clock.now, shards=2)
    for i in range(6):
        write(stream, f"old{i}")
    handler = Handler()
    trigger = trigger_for(stream, clock, handler, starting_position="LATEST")
    trigger.run_for(1)
    for i in range(6):
        write(stream, f"new{i}")
    assert trigger.run_until_drained(60)
    assert sorted(handler.keys) == [f"new{i}" for i in range(6)]
