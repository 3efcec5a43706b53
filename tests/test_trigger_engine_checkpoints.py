"""Trigger engine, checkpoints and stop: a trigger stopped mid-run and restarted with the same
CheckpointStore file resumes after the last completed record: every record at least once, none
skipped [D]. stop() lets the batch in hand finish and takes no new one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.checkpoints import CheckpointStore
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, PoisonHandler, assert_each_record_disposed_once, stream_of

KEYS = [f"k{i:03d}" for i in range(100)]


def trigger_for(
    stream: InMemoryStream,
    clock: VirtualClock,
    handler: Any,
    path: Path,
    duration: float = 1.0,
    **mapping: Any,
) -> Trigger:
    return Trigger(
        EventSourceMapping(**{"starting_position": "TRIM_HORIZON", "batch_size": 10, **mapping}),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        checkpoints=CheckpointStore(path),
        handler_duration_seconds=duration,
    )


def saved(path: Path) -> dict[str, Any]:
    """The checkpoint file, keyed by shard id (the file keys are "<stream ARN>|<shard id>")."""
    data = json.loads(path.read_text())
    arns = {k.split("|")[0] for k in data["checkpoints"]} | {
        k.split("|")[0] for k in data["finished_shards"]
    }
    assert len(arns) <= 1 and all(a.startswith("arn:aws:dynamodb:") for a in arns)
    return {
        "checkpoints": {k.split("|")[1]: v for k, v in data["checkpoints"].items()},
        "finished_shards": [k.split("|")[1] for k in data["finished_shards"]],
    }


def test_a_restarted_trigger_resumes_after_the_last_completed_record(clock, tmp_path: Path) -> None:
    stream, seqs = stream_of(clock, KEYS)
    path = tmp_path / "checkpoints.json"
    first = PoisonHandler()
    trigger = trigger_for(stream, clock, first, path)
    trigger.run_for(3.5)  # batches of 10 take 1 s each: 3 done, the 4th in flight
    trigger.stop()
    trigger.close()
    shard_id = trigger.capture.records[0].shard_id
    assert saved(path)["checkpoints"] == {shard_id: seqs["k029"]}
    assert first.keys == KEYS[:40]  # the 4th batch was handed to the handler

    second = PoisonHandler()
    again = trigger_for(stream, clock, second, path)
    assert again.run_until_drained(3600)

    assert second.keys == KEYS[30:]  # right after the checkpoint: k030..k039 twice, none skipped
    assert first.keys == KEYS[:40]  # the stopped trigger took no further batch meanwhile
    assert set(first.keys) | set(second.keys) == set(KEYS)
    assert saved(path)["checkpoints"] == {shard_id: seqs["k099"]}
    assert_each_record_disposed_once(again.capture)


def test_stop_lets_the_batch_in_hand_finish_and_takes_no_new_one(clock, tmp_path: Path) -> None:
    stream, seqs = stream_of(clock, KEYS)
    path = tmp_path / "checkpoints.json"
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler, path)
    trigger.run_for(3.5)
    trigger.stop()
    trigger.run_for(60)  # the clock runs on: only the batch in hand completes

    assert handler.keys == KEYS[:40]
    assert [a.invoked_at - T0 for a in trigger.capture.attempts] == [0, 1, 2, 3]
    assert trigger.capture.attempts[-1].completed_at - T0 == 4
    shard_id = trigger.capture.records[0].shard_id
    assert saved(path)["checkpoints"] == {shard_id: seqs["k039"]}
    assert trigger.capture.counts()["processed"] == 40


def test_stop_ends_the_retries_of_a_failing_batch_without_checkpointing_it(
    clock, tmp_path: Path
) -> None:
    stream, seqs = stream_of(clock, ["a", "poison", "c"])
    path = tmp_path / "checkpoints.json"
    handler = PoisonHandler("poison")
    trigger = trigger_for(stream, clock, handler, path, duration=0.0)
    trigger.run_for(2)  # invoked at 0 and 1, next retry due at 3
    trigger.stop()
    trigger.run_for(3600)
    assert len(handler.batches) == 2
    assert trigger.capture.dispositions == []
    assert not path.exists()

    handler.poison.clear()
    again = trigger_for(stream, clock, handler, path, duration=0.0)
    assert again.run_until_drained(60)
    assert handler.batches[-1] == ["a", "poison", "c"]


def test_a_closed_shard_stopped_with_a_failing_batch_in_hand_is_not_marked_finished(
    clock, tmp_path: Path
) -> None:
    stream, seqs = stream_of(clock, KEYS[:30])
    (shard,) = [
        s["ShardId"]
        for s in stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"]
    ]
    stream.close_shard(shard)
    path = tmp_path / "checkpoints.json"
    handler = PoisonHandler("k015")
    trigger = trigger_for(stream, clock, handler, path, duration=0.0)
    trigger.run_for(5)
    trigger.stop()
    trigger.run_for(5)
    trigger.close()
    assert saved(path) == {"checkpoints": {shard: seqs["k009"]}, "finished_shards": []}

    handler.poison.clear()
    handler.batches.clear()
    again = trigger_for(stream, clock, handler, path, duration=0.0)
    assert again.run_until_drained(60)
    assert handler.keys == KEYS[10:30]
    assert saved(path) == {"checkpoints": {shard: seqs["k029"]}, "finished_shards": [shard]}


def test_a_finished_parent_is_not_read_again_after_a_restart(clock, tmp_path: Path) -> None:
    stream, _ = stream_of(clock, ["p0", "p1"])
    (parent,) = [
        s["ShardId"]
        for s in stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"]
    ]
    stream.split_shard(parent)
    path = tmp_path / "checkpoints.json"
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler, path, duration=0.0)
    assert trigger.run_until_drained(60)
    trigger.stop()
    trigger.close()
    assert saved(path)["finished_shards"] == [parent]

    for i in range(4):
        stream.write({"pk": {"S": f"c{i}"}}, {"pk": {"S": f"c{i}"}})
    handler.batches.clear()
    again = trigger_for(stream, clock, handler, path, duration=0.0)
    assert again.run_until_drained(60)
    assert sorted(handler.keys) == ["c0", "c1", "c2", "c3"]
    assert parent not in {r.shard_id for r in again.capture.records}


def test_with_parallel_lanes_the_checkpoint_waits_for_the_oldest_unfinished_record(
    clock, tmp_path: Path
) -> None:
    stream, seqs = stream_of(clock, KEYS[:40])
    path = tmp_path / "checkpoints.json"
    handler = PoisonHandler("k005")
    trigger = trigger_for(
        stream,
        clock,
        handler,
        path,
        duration=0.0,
        batch_size=1,
        parallelization_factor=4,
        maximum_retry_attempts=3,
    )
    trigger.run_for(5)  # k005 is retried until 7; records of the other lanes are done
    shard_id = trigger.capture.records[0].shard_id
    processed = {d.sequence_number for d in trigger.capture.dispositions}
    assert seqs["k006"] in processed or any(seqs[k] in processed for k in KEYS[6:])
    assert saved(path)["checkpoints"] == {shard_id: seqs["k004"]}
    trigger.stop()
    trigger.close()

    handler.poison.clear()
    handler.batches.clear()
    again = trigger_for(
        stream, clock, handler, path, duration=0.0, batch_size=1, parallelization_factor=4
    )
    assert again.run_until_drained(60)
    # Resumed at k005: everything after it again (at least once), nothing before it.
    assert sorted(handler.keys) == KEYS[5:40]
    assert saved(path)["checkpoints"] == {shard_id: seqs["k039"]}


def test_checkpoints_of_several_shards_are_kept_apart(clock, tmp_path: Path) -> None:
    stream, seqs = stream_of(clock, KEYS[:30], shards=3)
    path = tmp_path / "checkpoints.json"
    trigger = trigger_for(stream, clock, PoisonHandler(), path, duration=0.0)
    assert trigger.run_until_drained(60)
    last: dict[str, str] = {}
    for r in trigger.capture.records:
        last[r.shard_id] = r.sequence_number
    assert saved(path)["checkpoints"] == last
    assert len(last) == 3
