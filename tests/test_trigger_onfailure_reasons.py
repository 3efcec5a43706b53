"""The on-failure record says why, as AWS's recordings do: ``functionError`` "Unhandled" for a
raised error or a timeout, ``null`` (key present) when the function returned normally but the
batch failed; RecordAgeExceeded without responseContext. Sources: LocalStack's AWS recordings
test_dynamodb_report_batch_item_failures, …_failure_scenarios[item_identifier_not_present_failure],
…_with_on_failure_destination_config, test_kinesis_maximum_record_age_exceeded_discard_records."""

from __future__ import annotations

import json
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.aws.trigger.onfailure import iso_seconds
from streamsim.clock import VirtualClock
from tests.helpers import T0, item_keys, stream_of


def run(stream: InMemoryStream, clock: VirtualClock, handler: Any, **mapping: Any) -> Any:
    destination = MemoryDestination()
    trigger = Trigger(
        EventSourceMapping(**{"starting_position": "TRIM_HORIZON", **mapping}),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        destination=destination,
        timing=TriggerTiming(function_timeout_seconds=3),
        handler_duration_seconds=0.0,
    )
    assert trigger.run_until_drained(3600)
    return trigger, destination.messages


def test_a_partial_batch_failure_has_function_error_null(clock) -> None:
    """[R] test_dynamodb_report_batch_item_failures: the record describes only the retried
    remainder (start = end = the failed record, batchSize 1) and ``"functionError": null``."""
    stream, seqs = stream_of(clock, ["a", "b", "bad"])

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failed = [r for r in event["Records"] if item_keys({"Records": [r]}) == ["bad"]]
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed
            ]
        }

    _, (message,) = run(
        stream,
        clock,
        handler,
        maximum_retry_attempts=1,
        function_response_types=["ReportBatchItemFailures"],
    )
    assert message["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": None,
    }
    assert '"functionError": null' in json.dumps(message)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 2
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seqs["bad"],
        seqs["bad"],
        1,
    )


def test_an_item_identifier_not_in_the_batch_has_function_error_null(clock) -> None:
    stream, _ = stream_of(clock, ["a"])
    _, (message,) = run(
        stream,
        clock,
        lambda event, context: {"batchItemFailures": [{"itemIdentifier": "123"}]},
        maximum_retry_attempts=0,
        function_response_types=["ReportBatchItemFailures"],
    )
    assert message["responseContext"]["functionError"] is None
    assert "functionError" in message["responseContext"]


def test_a_raised_error_is_unhandled(clock) -> None:
    stream, _ = stream_of(clock, ["a"])

    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("boom")

    _, (message,) = run(stream, clock, handler, maximum_retry_attempts=1)
    assert message["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert message["requestContext"]["approximateInvokeCount"] == 2


def test_a_timeout_is_unhandled_as_the_invoke_api_reports_it(clock) -> None:
    stream, _ = stream_of(clock, ["a"])

    def handler(event: dict[str, Any], context: Any) -> None:
        context.spend(10)  # past the 3 s function timeout

    trigger, (message,) = run(stream, clock, handler, maximum_retry_attempts=0)
    assert trigger.capture.attempts[0].outcome == "timeout"
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["responseContext"]["functionError"] == "Unhandled"


def test_record_age_exceeded_has_no_response_context_and_invoke_count_1() -> None:
    """[R-K] test_kinesis_maximum_record_age_exceeded_discard_records: one record expires before
    the mapping reads it, 5 younger ones are delivered; the expired one's record has
    requestContext, version, timestamp and the batch info, nothing else."""
    clock = VirtualClock()
    stream, seqs = stream_of(clock, ["expired"])
    clock.run(until=T0 + 80)
    for key in "bcdef":
        stream.write({"pk": {"S": key}}, {"pk": {"S": key}})
    delivered: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        delivered.extend(item_keys(event))

    _, (message,) = run(
        stream,
        clock,
        handler,
        batch_size=10,
        maximum_record_age_in_seconds=60,
        maximum_retry_attempts=0,
    )
    assert delivered == list("bcdef")
    assert list(message) == ["requestContext", "version", "timestamp", "DDBStreamBatchInfo"]
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["requestContext"]["approximateInvokeCount"] == 1
    assert list(message["requestContext"]) == [
        "requestId",
        "functionArn",
        "condition",
        "approximateInvokeCount",
    ]
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seqs["expired"],
        seqs["expired"],
        1,
    )
    assert info["approximateArrivalOfFirstRecord"] == iso_seconds(T0) == "2026-01-01T00:00:00Z"
    assert message["timestamp"] == "2026-01-01T00:01:20.000Z"  # ISO, milliseconds, Z
