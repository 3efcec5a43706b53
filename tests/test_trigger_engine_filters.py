"""Trigger engine, FilterCriteria: records matching no pattern are never delivered, are counted
as filtered and are checkpointed past, so a restart does not redeliver them [F]."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.checkpoints import CheckpointStore
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import assert_each_record_disposed_once, item_keys

CHESS = {
    "Filters": [{"Pattern": json.dumps({"dynamodb": {"NewImage": {"game": {"S": ["chess"]}}}})}]
}


def play(stream: InMemoryStream, key: str, game: str) -> str:
    record = stream.write({"pk": {"S": key}}, {"pk": {"S": key}, "game": {"S": game}})
    assert record is not None
    return str(record["dynamodb"]["SequenceNumber"])


def trigger_for(
    stream: InMemoryStream,
    clock: VirtualClock,
    batches: list[list[str]],
    checkpoints: CheckpointStore | None = None,
    **params: Any,
) -> Trigger:
    return Trigger(
        EventSourceMapping.from_aws({"StartingPosition": "TRIM_HORIZON", **params}),
        lambda event, context: batches.append(item_keys(event)),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        checkpoints=checkpoints,
    )


def test_records_matching_no_pattern_are_never_delivered_and_counted_as_filtered(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    seqs = {f"p{i}": play(stream, f"p{i}", "chess" if i % 2 == 0 else "go") for i in range(10)}
    batches: list[list[str]] = []
    trigger = trigger_for(stream, clock, batches, FilterCriteria=CHESS)
    assert trigger.run_until_drained(60)

    assert batches == [["p0", "p2", "p4", "p6", "p8"]]
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert [ends[seqs[f"p{i}"]].disposition for i in range(10)] == ["processed", "filtered"] * 5
    assert {ends[seqs[f"p{i}"]].attempts for i in range(1, 10, 2)} == {0}
    counts = trigger.capture.counts()
    assert (counts["processed"], counts["filtered"], counts["invocations"]) == (5, 5, 1)
    assert_each_record_disposed_once(trigger.capture)


def test_filtered_records_are_checkpointed_past_and_not_redelivered_after_a_restart(
    clock, tmp_path: Path
) -> None:
    stream = InMemoryStream(clock=clock.now)
    play(stream, "p0", "chess")
    play(stream, "p1", "go")
    last = play(stream, "p2", "go")  # the last record of the shard is a filtered one
    path = tmp_path / "checkpoints.json"
    batches: list[list[str]] = []
    first = trigger_for(stream, clock, batches, CheckpointStore(path), FilterCriteria=CHESS)
    assert first.run_until_drained(60)
    first.close()
    shard_id = first.capture.records[0].shard_id
    assert {k.split("|")[1]: v for k, v in json.loads(path.read_text())["checkpoints"].items()} == {
        shard_id: last
    }

    again: list[list[str]] = []
    second = trigger_for(stream, clock, again, CheckpointStore(path), FilterCriteria=CHESS)
    assert second.run_until_drained(60)
    assert again == []
    assert second.capture.records == []  # read after the checkpoint: nothing left
    play(stream, "p3", "chess")
    assert second.run_until_drained(60)
    assert again == [["p3"]]


def test_an_only_filtered_stream_invokes_nothing(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for i in range(3):
        play(stream, f"p{i}", "go")
    batches: list[list[str]] = []
    trigger = trigger_for(stream, clock, batches, FilterCriteria=CHESS)
    assert trigger.run_until_drained(60)
    assert batches == []
    assert trigger.capture.attempts == []
    assert trigger.capture.counts()["filtered"] == 3


def test_event_name_patterns_and_ored_patterns(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    key = {"pk": {"S": "a"}}
    stream.write(key, {"pk": {"S": "a"}, "game": {"S": "go"}})  # INSERT
    stream.write(
        key, {"pk": {"S": "a"}, "game": {"S": "chess"}}, {"pk": {"S": "a"}, "game": {"S": "go"}}
    )  # MODIFY
    stream.write(key, None, {"pk": {"S": "a"}, "game": {"S": "chess"}})  # REMOVE
    names: list[str] = []
    criteria = {
        "Filters": [
            {"Pattern": json.dumps({"eventName": ["REMOVE"]})},
            {"Pattern": json.dumps({"dynamodb": {"NewImage": {"game": {"S": ["chess"]}}}})},
        ]
    }
    trigger = Trigger(
        EventSourceMapping.from_aws(
            {"StartingPosition": "TRIM_HORIZON", "FilterCriteria": criteria}
        ),
        lambda event, context: names.extend(r["eventName"] for r in event["Records"]),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    assert trigger.run_until_drained(60)
    assert names == ["MODIFY", "REMOVE"]
    assert [d.disposition for d in trigger.capture.dispositions] == [
        "filtered",
        "processed",
        "processed",
    ]


def test_a_filtered_record_behind_a_failing_batch_does_not_move_the_checkpoint_past_it(
    clock, tmp_path: Path
) -> None:
    stream = InMemoryStream(clock=clock.now)
    poison = play(stream, "p0", "chess")
    path = tmp_path / "checkpoints.json"

    def handler(event: dict[str, Any], context: Any) -> None:
        raise ValueError("no")

    trigger = Trigger(
        EventSourceMapping.from_aws(
            {
                "StartingPosition": "TRIM_HORIZON",
                "FilterCriteria": CHESS,
                "ParallelizationFactor": 2,  # a free lane keeps the poller reading
                "MaximumRetryAttempts": 3,
            }
        ),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        checkpoints=CheckpointStore(path),
        handler_duration_seconds=0.0,
    )
    trigger.run_for(0.1)
    filtered = play(stream, "p1", "go")
    trigger.run_for(5)  # the poison batch is retried at 1 and 3, next at 7
    ends = {d.sequence_number: d.disposition for d in trigger.capture.dispositions}
    assert ends == {filtered: "filtered"}
    assert not path.exists()  # finished out of order: the checkpoint waits for the poison one

    assert trigger.run_until_drained(60)
    ends = {d.sequence_number: d.disposition for d in trigger.capture.dispositions}
    assert ends == {filtered: "filtered", poison: "discarded"}
    shard_id = trigger.capture.records[0].shard_id
    assert {k.split("|")[1]: v for k, v in json.loads(path.read_text())["checkpoints"].items()} == {
        shard_id: filtered
    }
