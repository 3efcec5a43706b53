"""The destination and stream witnesses read back from moto: every message, every record."""

from __future__ import annotations

import json

from streamsim.aws.tables import PLAYS, create_table
from streamsim.aws.trigger.destinations import create_queue
from streamsim.workbench.faults.witness import (
    HandlerWitness,
    read_queue,
    read_stream,
    witness_tables,
)


def _message(i: int) -> dict[str, object]:
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted"},
        "DDBStreamBatchInfo": {
            "shardId": "s",
            "startSequenceNumber": str(10 * i),
            "endSequenceNumber": str(10 * i + 5),
            "batchSize": 2,
        },
    }


def test_the_queue_is_read_until_empty(backend) -> None:  # type: ignore[no-untyped-def]
    sqs = backend.client("sqs")
    create_queue(sqs, "q")
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    for i in range(23):  # more than one ReceiveMessage page
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(_message(i)))
    got = read_queue(sqs, url)
    assert sorted(m["DDBStreamBatchInfo"]["startSequenceNumber"] for m in got) == sorted(
        str(10 * i) for i in range(23)
    )
    assert read_queue(sqs, url) == []  # read means taken: the run is over


def test_the_stream_is_read_from_the_start_with_images(backend) -> None:  # type: ignore[no-untyped-def]
    dynamodb = backend.client("dynamodb")
    arn = create_table(dynamodb, PLAYS)
    assert arn is not None
    for i in range(5):
        dynamodb.put_item(
            TableName=PLAYS.name,
            Item={"player_id": {"S": "p"}, "play_key": {"S": f"k{i}"}, "play_id": {"S": f"x{i}"}},
        )
    frame = read_stream(backend.client("dynamodbstreams"), arn)
    assert list(frame["play_id"]) == [f"x{i}" for i in range(5)]
    assert set(frame["event_name"]) == {"INSERT"} and frame["sequence_number"].is_unique
    assert json.loads(frame["keys"].iloc[0]) == {"play_key": {"S": "k0"}, "player_id": {"S": "p"}}
    assert json.loads(frame["image"].iloc[1])["play_id"] == {"S": "x1"}
    assert set(frame["player_id"]) == {"p"} and frame["shard_id"].notna().all()

    sqs = backend.client("sqs")
    create_queue(sqs, "q")
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(_message(1)))
    witness = HandlerWitness(lambda e, c: None, report_batch_item_failures=True)
    tables = witness_tables(
        witness, streams=backend.client("dynamodbstreams"), stream_arn=arn, sqs=sqs, queue_url=url
    )
    assert len(tables["stream_witness"]) == 5 and len(tables["handler_witness"]) == 0
    assert list(tables["destination_witness"]["start_sequence_number"]) == ["10"]
    none = witness_tables(
        witness, streams=backend.client("dynamodbstreams"), stream_arn=arn, sqs=None, queue_url=None
    )
    assert len(none["destination_witness"]) == 0


def test_a_destination_message_for_another_shard_does_not_hide_later_ones() -> None:
    """Messages of several shards: the one for the record's shard counts wherever it is."""
    import pandas as pd

    from streamsim.workbench.faults.witness import at_destination

    destination = pd.DataFrame(
        {
            "shard_id": ["shard-a", "shard-b"],
            "start_sequence_number": ["100", "100"],
            "end_sequence_number": ["200", "200"],
            "batch_size": [3, 3],
        }
    )
    assert at_destination("150", "shard-b", destination)
    assert not at_destination("250", "shard-b", destination)
    assert at_destination("150", None, destination)


def _memory_stream(shards: int, plays: int):  # type: ignore[no-untyped-def]
    from streamsim.aws.stream.memory import InMemoryStream

    stream = InMemoryStream("Plays", clock=lambda: 1767225600.0, shards=shards)
    for i in range(plays):
        keys = {"player_id": {"S": f"p{i}"}, "play_key": {"S": f"k{i}"}}
        stream.write(keys, {**keys, "play_id": {"S": f"x{i}"}})
    return stream


def test_the_stream_witness_reads_every_shard_past_the_first_describe_page() -> None:
    """More shards than one DescribeStream page (100): records in the later shards are read."""
    stream = _memory_stream(shards=130, plays=400)
    frame = read_stream(stream, stream.stream_arn)
    assert frame["shard_id"].nunique() > 100
    assert sorted(frame["play_id"]) == sorted(f"x{i}" for i in range(400))


def test_the_stream_witness_reads_a_shard_past_many_getrecords_pages() -> None:
    """A shard holding more than a few GetRecords pages (1000 records each) is read to its end."""
    stream = _memory_stream(shards=1, plays=3500)
    frame = read_stream(stream, stream.stream_arn)
    assert len(frame) == 3500 and frame["play_id"].is_unique


def test_a_message_that_is_not_a_batch_does_not_hide_the_ones_after_it() -> None:
    from streamsim.workbench.faults.witness import destination_frame

    frame = destination_frame([{"note": "not a stream batch"}, _message(1), _message(2)])
    assert list(frame["start_sequence_number"]) == ["10", "20"]
