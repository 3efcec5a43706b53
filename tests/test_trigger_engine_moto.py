"""Trigger engine on the embedded moto server and the wall clock: the blog's path (a table with a
NEW_AND_OLD_IMAGES stream, items written, a handler that prints), the Lambda event shape, a
throttled poll, a real timeout. Few and short: the live path is bounded by the backend."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamsim.aws.tables import JANS_TABLE, create_table
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import WallClock
from streamsim.workbench.handlers.blog import lambda_handler
from tests.helpers import assert_each_record_disposed_once

pytestmark = pytest.mark.slow

KEY = {"JansPartition": {"S": "jan"}}


def blog_table(backend: Any) -> tuple[Any, str]:
    dynamodb = backend.client("dynamodb")
    arn = create_table(dynamodb, JANS_TABLE)
    assert arn is not None
    return dynamodb, arn


def write_insert_modify_remove(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="JansTable", Item={**KEY, "value": {"S": "one"}})
    dynamodb.put_item(TableName="JansTable", Item={**KEY, "value": {"S": "two"}})
    dynamodb.delete_item(TableName="JansTable", Key=KEY)


def test_the_blogs_path_on_moto_and_the_wall_clock(backend) -> None:
    dynamodb, arn = blog_table(backend)
    write_insert_modify_remove(dynamodb)
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> str:
        events.append(json.loads(json.dumps(event)))  # what a Lambda would have parsed
        return lambda_handler(event, context)

    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        handler,
        streams=backend.client("dynamodbstreams"),
        stream_arn=arn,
        clock=WallClock(),
    )
    try:
        assert trigger.run_until_drained(5)
    finally:
        trigger.close()

    (event,) = events
    records = event["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert set(record) == {
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        }
        assert record["awsRegion"] == "eu-central-1"  # the table's region (moto says us-east-1)
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == arn
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert isinstance(created, float) and created == math.floor(created)
        assert record["dynamodb"]["Keys"] == KEY
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert records[0]["dynamodb"]["NewImage"]["value"] == {"S": "one"}
    assert records[1]["dynamodb"]["OldImage"]["value"] == {"S": "one"}
    assert records[1]["dynamodb"]["NewImage"]["value"] == {"S": "two"}
    assert "NewImage" not in records[2]["dynamodb"]

    (attempt,) = trigger.capture.attempts
    assert attempt.outcome == "success"
    assert attempt.clock == "wall"
    lines = attempt.log_lines
    assert lines[0] == f"START RequestId: {attempt.request_id} Version: $LATEST"
    assert lines[1] == "Received event: " + json.dumps(events[0])
    assert lines[2:5] == ("do something useful",) * 3
    assert lines[5] == f"END RequestId: {attempt.request_id}"
    assert len(lines) == 6
    read = {r.sequence_number: r for r in trigger.capture.records}
    for record in records:
        row = read[record["dynamodb"]["SequenceNumber"]]
        assert math.floor(row.created_at) == record["dynamodb"]["ApproximateCreationDateTime"]
    assert_each_record_disposed_once(trigger.capture)


class ThrottledOnce:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.throttled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_records(self, **kwargs: Any) -> Any:
        if not self.throttled:
            self.throttled = True
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetRecords"
            )
        return self._client.get_records(**kwargs)


def test_a_throttled_poll_is_a_poll_error_not_a_retry(backend) -> None:
    dynamodb, arn = blog_table(backend)
    write_insert_modify_remove(dynamodb)
    batches: list[int] = []
    streams = ThrottledOnce(backend.client("dynamodbstreams"))
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", maximum_retry_attempts=0),
        lambda event, context: batches.append(len(event["Records"])),
        streams=streams,
        stream_arn=arn,
        clock=WallClock(),
    )
    try:
        assert trigger.run_until_drained(5)
    finally:
        trigger.close()

    (error,) = trigger.capture.poll_errors
    assert (error.error_type, error.clock) == ("ThrottlingException", "wall")
    assert batches == [3]
    (attempt,) = trigger.capture.attempts
    assert (attempt.attempt, attempt.retry, attempt.outcome) == (1, 0, "success")
    assert attempt.invoked_at >= error.at
    assert trigger.capture.counts()["processed"] == 3
    assert_each_record_disposed_once(trigger.capture)


def test_a_handler_still_running_at_the_function_timeout_times_out_on_the_wall_clock(
    backend, capsys
) -> None:
    dynamodb, arn = blog_table(backend)
    dynamodb.put_item(TableName="JansTable", Item={**KEY, "value": {"S": "one"}})
    finished = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> None:
        print("sleeping")
        try:
            context.spend(1.0)  # really sleeps on the wall clock
        finally:
            finished.set()

    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", maximum_retry_attempts=0),
        slow,
        streams=backend.client("dynamodbstreams"),
        stream_arn=arn,
        clock=WallClock(),
        timing=TriggerTiming(function_timeout_seconds=0.3),
    )
    try:
        assert trigger.run_until_drained(5)
    finally:
        trigger.close()
    (attempt,) = trigger.capture.attempts
    assert (attempt.outcome, attempt.error_type) == ("timeout", "Sandbox.Timedout")
    assert 0.3 <= attempt.completed_at - attempt.invoked_at < 0.9
    assert attempt.log_lines[-1] == f"{attempt.request_id} Task timed out after 0.30 seconds"
    (end,) = trigger.capture.dispositions
    assert (end.disposition, end.condition, end.attempts) == (
        "discarded",
        "RetryAttemptsExhausted",
        1,
    )
    # The abandoned handler thread ends after the run: its late result stays out of the console.
    assert finished.wait(5)
    for thread in threading.enumerate():
        if thread.name.startswith("streamsim-handler"):
            thread.join(5)
    assert "RequestId" not in capsys.readouterr().out
