"""Binary attributes reach the handler base64-encoded, as in AWS's events: an item written with
``{"binary_key": {"B": b"foobar"}}`` arrives as ``{"B": "Zm9vYmFy"}`` (LocalStack's AWS
recording test_dynamodb_event_source_mapping); ``BS`` is a list of base64 strings (the
AttributeValue JSON form [API]). Both from moto's GetRecords (bytes) and the in-memory stream."""

from __future__ import annotations

import json
import time
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.tables import TableSpec, create_table
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock

ITEM = {
    "my_partition_key": {"S": "hello world"},
    "binary_key": {"B": b"foobar"},
    "binaries": {"BS": [b"Sunny", b"Rainy"]},
    "nested": {"M": {"blob": {"B": b"\x00\xff"}, "list": {"L": [{"B": b"x"}]}}},
}
EXPECTED_NEW_IMAGE = {
    "my_partition_key": {"S": "hello world"},
    "binary_key": {"B": "Zm9vYmFy"},
    "binaries": {"BS": ["U3Vubnk=", "UmFpbnk="]},
    "nested": {"M": {"blob": {"B": "AP8="}, "list": {"L": [{"B": "eA=="}]}}},
}


def deliver(streams: Any, stream_arn: str, clock: VirtualClock) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        json.dumps(event)  # what Lambda would have serialised
        events.append(event)

    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        handler,
        streams=streams,
        stream_arn=stream_arn,
        clock=clock,
    )
    assert trigger.run_until_drained(60)
    assert [d.disposition for d in trigger.capture.dispositions] == ["processed"]
    return events


def test_binary_attributes_from_moto_arrive_base64_encoded(backend) -> None:
    dynamodb = backend.client("dynamodb")
    arn = create_table(
        dynamodb,
        TableSpec("Binaries", ("my_partition_key", "S"), None, "NEW_AND_OLD_IMAGES"),  # type: ignore[arg-type]
    )
    assert arn is not None
    dynamodb.put_item(TableName="Binaries", Item=ITEM)
    (event,) = deliver(backend.client("dynamodbstreams"), arn, VirtualClock(start=time.time()))
    (record,) = event["Records"]
    assert record["dynamodb"]["NewImage"] == EXPECTED_NEW_IMAGE


def test_binary_keys_and_images_from_the_in_memory_stream_arrive_base64_encoded(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    stored = stream.write({"id": {"S": "x"}}, {"id": {"S": "x"}})
    assert stored is not None
    # The stream keeps what it is given: bytes, as boto3 hands binaries to a writer. (Set after
    # the write: the stream's SizeBytes is another module's concern.)
    stored["dynamodb"]["Keys"] = {"id": {"B": b"foobar"}}
    stored["dynamodb"]["NewImage"] = {"id": {"B": b"foobar"}, **ITEM}
    (event,) = deliver(stream, stream.stream_arn, clock)
    (record,) = event["Records"]
    assert record["dynamodb"]["Keys"] == {"id": {"B": "Zm9vYmFy"}}
    assert record["dynamodb"]["NewImage"] == {"id": {"B": "Zm9vYmFy"}, **EXPECTED_NEW_IMAGE}
