"""``skip_empty_polls``: the same run (records read at the same ticks, the same batches,
attempts and dispositions, drained alike), only fewer GetRecords calls that returned nothing."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0


def _write(stream: InMemoryStream, key: str, at: float | None = None) -> None:
    stream.write({"pk": {"S": key}}, {"pk": {"S": key}, "v": {"S": key}}, at=at)


def _poison_handler(event: dict[str, Any], context: Any) -> None:
    if any(r["dynamodb"]["Keys"]["pk"]["S"].startswith("bad") for r in event["Records"]):
        raise RuntimeError("poison")


def trickle(stream: InMemoryStream, clock: VirtualClock) -> None:
    """Writes now and then, some exactly on a poll tick, with idle gaps between them."""

    def go() -> Generator[Any, Any, None]:
        for n, at in enumerate([0.1, 1.0, 1.25, 7.0, 7.3, 60.0, 600.5, 601.0]):
            yield clock.sleep(T0 + at - clock.now())
            _write(stream, f"k{n:02d}")

    clock.env.process(go())


def ahead(stream: InMemoryStream, clock: VirtualClock) -> None:
    """Records written ahead, visible from their time only (the at-scale writer's way)."""
    for n in range(30):
        _write(stream, f"k{n:02d}", at=T0 + 0.37 * n + (n // 10) * 100)


def poison(stream: InMemoryStream, clock: VirtualClock) -> None:
    """A poison record blocks its shard for an hour (its maximum age); the other shards sit
    idle meanwhile."""
    for n in range(40):
        _write(stream, f"k{n:02d}", at=T0 + 0.1 * n)
    _write(stream, "bad", at=T0 + 5.0)
    for n in range(40, 60):
        _write(stream, f"k{n:02d}", at=T0 + 5.0 + 0.1 * n)


def split(stream: InMemoryStream, clock: VirtualClock) -> None:
    """A shard splits while its poller is idle; writes go on in the children."""
    shard = stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"][0]

    def go() -> Generator[Any, Any, None]:
        _write(stream, "a")
        yield clock.sleep(30.3)
        stream.split_shard(shard["ShardId"])
        for n in range(10):
            yield clock.sleep(1.1)
            _write(stream, f"c{n}")

    clock.env.process(go())


SCENARIOS: dict[str, tuple[Callable[[InMemoryStream, VirtualClock], None], int, dict[str, Any]]] = {
    "trickle": (trickle, 1, {"maximum_batching_window_in_seconds": 2}),
    "ahead": (ahead, 2, {"batch_size": 7, "parallelization_factor": 2}),
    "poison": (poison, 3, {"maximum_record_age_in_seconds": 3600}),
    "split": (split, 1, {}),
    "paused": (trickle, 1, {}),
}


def _run(name: str, skip: bool) -> tuple[Any, int]:
    make, shards, mapping = SCENARIOS[name]
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now, shards=shards)
    make(stream, clock)
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", **mapping),
        _poison_handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=0.05,
        shard_discovery_interval_seconds=5.0,
        skip_empty_polls=skip,
    )
    if name == "paused":
        trigger.disable_for(100.0, after=50.1)
    trigger.run_for(700.0)  # past every write (records written ahead are not drained yet)
    drained = trigger.run_until_drained(3 * 86_400.0)
    shard_order = {sid: i for i, sid in enumerate(stream._shards)}
    c = trigger.capture
    # Sorted: shards polled at the same instant may take their turns in another order.
    seen = (
        drained,
        sorted((shard_order[r.shard_id], r.sequence_number, r.read_at) for r in c.records),
        sorted(
            (a.first_sequence_number, a.records, a.invoked_at, a.completed_at, a.outcome)
            for a in c.attempts
        ),
        sorted((d.sequence_number, d.disposition, d.at, d.attempts) for d in c.dispositions),
    )
    return seen, stream.calls.count("GetRecords")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_skipping_empty_polls_changes_nothing_but_the_empty_calls(name: str) -> None:
    polled, polled_calls = _run(name, skip=False)
    skipped, skipped_calls = _run(name, skip=True)
    assert skipped[1:] == polled[1:]
    assert skipped[0] == polled[0] is True
    assert skipped_calls < polled_calls


def test_a_blocked_shard_costs_its_idle_neighbours_few_calls() -> None:
    polled, polled_calls = _run("poison", skip=False)
    _, skipped_calls = _run("poison", skip=True)
    assert any(d[1] == "discarded" for d in polled[3])  # the poison record expired (1 h)
    assert polled_calls > 2 * 4 * 3500  # two idle shards polled 4 times a second for an hour
    assert skipped_calls < 500
