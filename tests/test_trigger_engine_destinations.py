"""Trigger engine, DestinationConfig.OnFailure: a discarded batch is described to an SQS queue on
the embedded moto server with AWS's on-failure record [E]; without a destination it is lost."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.tables import TableSpec, create_table
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.destinations import MemoryDestination, SqsDestination, create_queue
from streamsim.aws.trigger.engine import Trigger
from streamsim.aws.trigger.onfailure import iso_millis, iso_seconds
from streamsim.clock import VirtualClock
from tests.helpers import T0, assert_each_record_disposed_once, item_keys
from tests.helpers import write_key as write

SAMPLE = json.loads(
    (
        Path(__file__).parent
        / "events"
        / "powertools_dynamoStreamLambdaInvocationEvent_onfailure.json"
    ).read_text()
)
FUNCTION_ARN = "arn:aws:lambda:eu-central-1:123456789012:function:streamsim-handler"


def failing(event: dict[str, Any], context: Any) -> None:
    if "poison" in item_keys(event):
        raise ValueError("poison")


def trigger_for(
    stream: InMemoryStream, clock: VirtualClock, destination: Any = None, **mapping: Any
) -> Trigger:
    return Trigger(
        EventSourceMapping(**{"starting_position": "TRIM_HORIZON", **mapping}),
        failing,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        destination=destination,
        handler_duration_seconds=0.0,
    )


def assert_same_shape(message: dict[str, Any]) -> None:
    """Key for key as AWS's sample (the SQS/SNS form: no payload)."""
    assert list(message) == list(SAMPLE)
    for section in ("requestContext", "responseContext", "DDBStreamBatchInfo"):
        assert list(message[section]) == list(SAMPLE[section]), section
        for key, value in SAMPLE[section].items():
            assert type(message[section][key]) is type(value), (section, key)


def test_an_sqs_queue_receives_the_on_failure_record_of_a_discarded_batch(backend, clock) -> None:
    sqs = backend.client("sqs")
    destination = SqsDestination(sqs, create_queue(sqs, "on-failure"))
    stream = InMemoryStream(clock=clock.now)
    first = write(stream, "a")
    write(stream, "poison")
    last = write(stream, "c")
    shard_id = stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"][
        0
    ]["ShardId"]
    trigger = trigger_for(stream, clock, destination, maximum_retry_attempts=2)
    trigger.run_for(0.1)
    after = write(stream, "after")
    assert trigger.run_until_drained(3600)

    (message,) = destination.receive_all()
    assert_same_shape(message)
    assert message["requestContext"]["functionArn"] == FUNCTION_ARN
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert message["version"] == "1.0"
    # Invoked at 0, 1, 3: discarded when the third invocation fails.
    assert message["timestamp"] == iso_millis(T0 + 3) == "2026-01-01T00:00:03.000Z"
    assert message["DDBStreamBatchInfo"] == {
        "shardId": shard_id,
        "startSequenceNumber": first,
        "endSequenceNumber": last,
        "approximateArrivalOfFirstRecord": iso_seconds(T0),
        "approximateArrivalOfLastRecord": iso_seconds(T0),
        "batchSize": 3,
        "streamArn": stream.stream_arn,
    }
    assert "payload" not in message  # SQS gets no records [E]
    assert trigger.capture.destination_messages == [message]

    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert [ends[s].disposition for s in (first, last)] == ["destination"] * 2
    assert {
        d.condition for d in trigger.capture.dispositions if d.disposition == "destination"
    } == {"RetryAttemptsExhausted"}
    assert ends[after].disposition == "processed"
    assert trigger.capture.counts()["destination"] == 3
    assert_each_record_disposed_once(trigger.capture)


def test_record_age_exceeded_reaches_the_destination(clock) -> None:
    destination = MemoryDestination()
    stream = InMemoryStream(clock=clock.now)
    seq = write(stream, "poison")
    trigger = trigger_for(stream, clock, destination, maximum_record_age_in_seconds=60)
    assert trigger.run_until_drained(3600)
    (message,) = destination.messages
    # As AWS recorded it (LocalStack test_kinesis_maximum_record_age_exceeded*, the same
    # mapping engine): no responseContext, approximateInvokeCount 1 after 6 invocations.
    assert list(message) == ["requestContext", "version", "timestamp", "DDBStreamBatchInfo"]
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["requestContext"]["approximateInvokeCount"] == 1
    assert trigger.capture.dispositions[0].attempts == 6  # the capture keeps the truth
    assert message["timestamp"] == iso_millis(T0 + 63)
    assert message["DDBStreamBatchInfo"]["startSequenceNumber"] == seq
    assert trigger.capture.dispositions[0].disposition == "destination"


def test_without_a_destination_the_records_are_discarded(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for key in ("a", "poison"):
        write(stream, key)
    trigger = trigger_for(stream, clock, maximum_retry_attempts=0)
    assert trigger.run_until_drained(60)
    assert [d.disposition for d in trigger.capture.dispositions] == ["discarded", "discarded"]
    assert trigger.capture.destination_messages == []
    assert trigger.capture.counts()["destination"] == 0


def test_a_destination_that_cannot_be_reached_leaves_the_records_discarded(backend, clock) -> None:
    sqs = backend.client("sqs")
    destination = SqsDestination(sqs, create_queue(sqs, "gone"))
    sqs.delete_queue(QueueUrl=destination.queue_url)
    stream = InMemoryStream(clock=clock.now)
    write(stream, "poison")
    trigger = trigger_for(stream, clock, destination, maximum_retry_attempts=0)
    assert trigger.run_until_drained(60)
    (end,) = trigger.capture.dispositions
    assert (end.disposition, end.condition) == ("discarded", "RetryAttemptsExhausted")
    assert len(trigger.capture.poll_errors) == 1
    assert trigger.capture.destination_messages == []


def test_a_moto_stream_and_queue_on_the_virtual_clock(backend) -> None:
    """The whole emulated path on moto (table, stream, queue), with retries on virtual time."""
    dynamodb, sqs = backend.client("dynamodb"), backend.client("sqs")
    arn = create_table(dynamodb, TableSpec("Plays", ("pk", "S"), None, "NEW_AND_OLD_IMAGES"))  # type: ignore[arg-type]
    assert arn is not None
    destination = SqsDestination(sqs, create_queue(sqs, "plays-on-failure"))
    for key in ("ok", "poison"):
        dynamodb.put_item(TableName="Plays", Item={"pk": {"S": key}})
    clock = VirtualClock(start=time.time())  # moto stamps records with the wall clock
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", maximum_retry_attempts=1),
        failing,
        streams=backend.client("dynamodbstreams"),
        stream_arn=arn,
        clock=clock,
        destination=destination,
    )
    assert trigger.run_until_drained(60)

    (message,) = destination.receive_all()
    assert_same_shape(message)
    info = message["DDBStreamBatchInfo"]
    assert (info["batchSize"], info["streamArn"]) == (2, arn)
    assert message["requestContext"]["approximateInvokeCount"] == 2
    assert message["requestContext"]["functionArn"] == FUNCTION_ARN
    assert [r.sequence_number for r in trigger.capture.records] == [
        info["startSequenceNumber"],
        info["endSequenceNumber"],
    ]
    assert [d.disposition for d in trigger.capture.dispositions] == ["destination"] * 2
