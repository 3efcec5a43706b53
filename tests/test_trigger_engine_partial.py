"""Trigger engine, ReportBatchItemFailures: checkpoint at the lowest failed sequence number and
retry from there; invalid identifiers fail the whole batch; without the response type the
answer is ignored [B]. A Powertools BatchProcessor handler works unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, assert_each_record_disposed_once, item_keys, stream_of

REPORT = ["ReportBatchItemFailures"]
KEYS = [f"r{i}" for i in range(10)]


def run(
    clock: VirtualClock,
    stream: InMemoryStream,
    handler: Any,
    destination: MemoryDestination | None = None,
    **mapping: Any,
) -> Trigger:
    trigger = Trigger(
        EventSourceMapping(**{"starting_position": "TRIM_HORIZON", **mapping}),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        destination=destination,
        handler_duration_seconds=0.0,
    )
    assert trigger.run_until_drained(3600)
    return trigger


def failures(*seqs: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": s} for s in seqs]}


def test_retry_starts_at_the_lowest_failed_sequence_number(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append(item_keys(event))
        if len(calls) == 1:  # reported out of order: the lowest one counts
            return failures(seqs["r6"], seqs["r3"])
        return failures()

    trigger = run(clock, stream, handler, function_response_types=REPORT)

    assert calls == [KEYS, KEYS[3:]]
    first, second = trigger.capture.attempts
    assert (first.outcome, first.failed_from, first.records) == ("partial", seqs["r3"], 10)
    assert (second.outcome, second.first_sequence_number, second.records) == (
        "success",
        seqs["r3"],
        7,
    )
    # A partial failure counts as a retry (streamsim's choice, policy.py): backoff 1 s.
    assert (second.retry, second.backoff_seconds) == (1, 1)
    assert second.invoked_at - first.completed_at == 1
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert [ends[seqs[k]].attempts for k in KEYS] == [1, 1, 1] + [2] * 7
    assert {d.disposition for d in trigger.capture.dispositions} == {"processed"}
    # r0..r2 were checkpointed when the first attempt answered.
    assert {ends[seqs[k]].at for k in KEYS[:3]} == {first.completed_at}
    assert_each_record_disposed_once(trigger.capture)


def test_records_after_the_first_failure_are_redelivered_even_if_they_succeeded(clock) -> None:
    stream, seqs = stream_of(clock, KEYS[:4])
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append(item_keys(event))
        return failures(seqs["r1"]) if len(calls) == 1 else None

    run(clock, stream, handler, function_response_types=REPORT)
    assert calls == [["r0", "r1", "r2", "r3"], ["r1", "r2", "r3"]]


def test_a_record_that_keeps_failing_is_discarded_with_the_records_after_it(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    calls: list[list[str]] = []
    destination = MemoryDestination()

    def handler(event: dict[str, Any], context: Any) -> Any:
        keys = item_keys(event)
        calls.append(keys)
        return failures(
            *(seqs[k] for k in keys if k in ("r3", "r6") and (k == "r6" or len(calls) == 1))
        )

    trigger = run(
        clock,
        stream,
        handler,
        destination,
        function_response_types=REPORT,
        maximum_retry_attempts=1,
    )

    assert calls == [KEYS, KEYS[3:]]
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert [ends[seqs[k]].disposition for k in KEYS] == ["processed"] * 6 + ["destination"] * 4
    assert {ends[seqs[k]].condition for k in KEYS[6:]} == {"RetryAttemptsExhausted"}
    (message,) = destination.messages
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seqs["r6"],
        seqs["r9"],
        4,
    )
    assert message["requestContext"]["approximateInvokeCount"] == 2
    assert_each_record_disposed_once(trigger.capture)


INVALID = {
    "empty identifier": lambda seqs: {"batchItemFailures": [{"itemIdentifier": ""}]},
    "null identifier": lambda seqs: {"batchItemFailures": [{"itemIdentifier": None}]},
    "wrong key": lambda seqs: {"batchItemFailures": [{"ItemIdentifier": seqs["r2"]}]},
    "not in the batch": lambda seqs: failures("99999999999999999999999"),
    "one good, one bad": lambda seqs: failures(seqs["r2"], "not-a-sequence-number"),
    "a number, not a string": lambda seqs: {
        "batchItemFailures": [{"itemIdentifier": int(seqs["r2"])}]
    },
    "not a list": lambda seqs: {"batchItemFailures": seqs["r2"]},
    "not an object": lambda seqs: {"batchItemFailures": [seqs["r2"]]},
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_batch_item_failure_fails_the_whole_batch(clock, case: str) -> None:
    stream, seqs = stream_of(clock, KEYS[:4])
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append(item_keys(event))
        return INVALID[case](seqs)

    trigger = run(clock, stream, handler, function_response_types=REPORT, maximum_retry_attempts=1)

    assert calls == [KEYS[:4], KEYS[:4]]  # the whole batch, retried whole
    assert [(a.outcome, a.error_type) for a in trigger.capture.attempts] == [
        ("error", "InvalidBatchItemFailures")
    ] * 2
    assert trigger.capture.counts()["discarded"] == 4
    assert_each_record_disposed_once(trigger.capture)


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "OK", ["x"], {"other": 1}],
    ids=["None", "empty dict", "empty list", "null list", "a string", "a list", "no key"],
)
def test_responses_reporting_no_failures_are_a_success(clock, response: Any) -> None:
    stream, _ = stream_of(clock, KEYS[:3])
    trigger = run(clock, stream, lambda e, c: response, function_response_types=REPORT)
    assert [a.outcome for a in trigger.capture.attempts] == ["success"]
    assert trigger.capture.counts()["processed"] == 3


@pytest.mark.parametrize("valid", [True, False], ids=["a failure report", "an invalid report"])
def test_without_report_batch_item_failures_the_response_is_ignored(clock, valid: bool) -> None:
    stream, seqs = stream_of(clock, KEYS[:3])
    response = failures(seqs["r1"]) if valid else {"batchItemFailures": [{"itemIdentifier": ""}]}
    trigger = run(clock, stream, lambda e, c: response)
    assert [a.outcome for a in trigger.capture.attempts] == ["success"]
    assert trigger.capture.counts()["processed"] == 3


def test_a_powertools_batch_processor_handler_works_unchanged(clock) -> None:
    stream, seqs = stream_of(clock, KEYS[:6])
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    handled: list[str] = []
    failed_once: set[str] = set()

    def record_handler(record: Any) -> None:
        key = record.dynamodb.keys["pk"]
        if key in ("r2", "r4") and key not in failed_once:
            failed_once.add(key)
            raise ValueError(f"cannot handle {key} yet")
        handled.append(key)

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    trigger = run(clock, stream, lambda_handler, function_response_types=REPORT)

    first, second = trigger.capture.attempts
    assert (first.outcome, first.failed_from) == ("partial", seqs["r2"])
    assert second.outcome == "success"
    assert second.first_sequence_number == seqs["r2"]
    # Powertools carries on after a failed record, so r3 and r5 run twice (at least once [D]).
    assert handled == ["r0", "r1", "r3", "r5", "r2", "r3", "r4", "r5"]
    assert trigger.capture.counts()["processed"] == 6
    assert_each_record_disposed_once(trigger.capture)


def test_a_powertools_handler_whose_every_record_fails_fails_the_batch(clock) -> None:
    stream, _ = stream_of(clock, KEYS[:2])
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: Any) -> None:
        raise ValueError("no")

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    trigger = run(
        clock, stream, lambda_handler, function_response_types=REPORT, maximum_retry_attempts=0
    )
    (attempt,) = trigger.capture.attempts
    assert (attempt.outcome, attempt.error_type) == ("error", "BatchProcessingError")
    assert trigger.capture.counts()["discarded"] == 2
    assert attempt.invoked_at == T0
