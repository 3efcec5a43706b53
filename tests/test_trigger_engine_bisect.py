"""Trigger engine, BisectBatchOnFunctionError: a failed batch is split in two and each half
retried; a split is not a retry [E]. streamsim's documented choices (policy.py): the first half
gets the extra record, halves run at once (no backoff) and inherit the batch's retry count."""

from __future__ import annotations

from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, PoisonHandler, assert_each_record_disposed_once, item_keys, stream_of

KEYS = [f"r{i}" for i in range(8)]


def run(
    clock: VirtualClock,
    stream: InMemoryStream,
    handler: Any,
    destination: MemoryDestination | None = None,
    **mapping: Any,
) -> Trigger:
    trigger = Trigger(
        EventSourceMapping(
            **{
                "starting_position": "TRIM_HORIZON",
                "bisect_batch_on_function_error": True,
                **mapping,
            }
        ),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=0.0,
        destination=destination,
    )
    assert trigger.run_until_drained(2 * 86_400)
    return trigger


def test_bisect_isolates_the_poison_record_at_index_5_of_8(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    handler = PoisonHandler("r5")
    trigger = run(clock, stream, handler, maximum_retry_attempts=2)

    assert handler.batches == [
        KEYS,  # fails: split 4 + 4
        ["r0", "r1", "r2", "r3"],  # ok
        ["r4", "r5", "r6", "r7"],  # fails: split 2 + 2
        ["r4", "r5"],  # fails: split 1 + 1
        ["r4"],  # ok
        ["r5"],  # fails: retry 1
        ["r5"],  # fails: retry 2
        ["r5"],  # fails: retries exhausted, discarded
        ["r6", "r7"],  # ok
    ]
    attempts = trigger.capture.attempts
    assert [a.records for a in attempts] == [8, 4, 4, 2, 1, 1, 1, 1, 2]
    # Splits are not retries: only the single poison record's own retries count.
    assert [a.retry for a in attempts] == [0, 0, 0, 0, 0, 0, 1, 2, 0]
    # Halves are invoked at once; the retries of r5 wait 1 s, then 2 s.
    assert [a.invoked_at - T0 for a in attempts] == [0, 0, 0, 0, 0, 0, 1, 3, 3]

    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert ends[seqs["r5"]].disposition == "discarded"
    assert ends[seqs["r5"]].condition == "RetryAttemptsExhausted"
    assert ends[seqs["r5"]].attempts == 3
    assert sorted(k for k, s in seqs.items() if ends[s].disposition == "processed") == [
        "r0",
        "r1",
        "r2",
        "r3",
        "r4",
        "r6",
        "r7",
    ]
    assert_each_record_disposed_once(trigger.capture)


def test_splits_do_not_count_against_maximum_retry_attempts_0(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    handler = PoisonHandler("r5")
    trigger = run(clock, stream, handler, maximum_retry_attempts=0)
    assert [len(b) for b in handler.batches] == [8, 4, 4, 2, 1, 1, 2]
    assert trigger.capture.counts()["processed"] == 7
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert (ends[seqs["r5"]].disposition, ends[seqs["r5"]].attempts) == ("discarded", 1)


def test_an_odd_batch_gives_the_first_half_the_extra_record(clock) -> None:
    keys = KEYS[:7]
    stream, _ = stream_of(clock, keys)
    handler = PoisonHandler("r6")
    run(clock, stream, handler, maximum_retry_attempts=0)
    # 7 -> 4 (ok) + 3; 3 -> 2 (ok) + 1: r6 alone, discarded.
    assert [len(b) for b in handler.batches] == [7, 4, 3, 2, 1]
    assert handler.batches[-1] == ["r6"]


def test_two_poison_records_are_both_isolated(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    handler = PoisonHandler("r1", "r6")
    trigger = run(clock, stream, handler, maximum_retry_attempts=0)
    assert [len(b) for b in handler.batches] == [8, 4, 2, 1, 1, 2, 4, 2, 2, 1, 1]
    assert sorted(
        d.sequence_number for d in trigger.capture.dispositions if d.disposition == "discarded"
    ) == sorted([seqs["r1"], seqs["r6"]])


def test_without_bisect_the_whole_batch_is_retried_and_discarded(clock) -> None:
    stream, _ = stream_of(clock, KEYS)
    handler = PoisonHandler("r5")
    trigger = run(
        clock, stream, handler, maximum_retry_attempts=1, bisect_batch_on_function_error=False
    )
    assert handler.batches == [KEYS, KEYS]
    assert trigger.capture.counts()["discarded"] == 8


def test_bisect_with_default_retries_blocks_on_the_poison_record_until_it_expires(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    handler = PoisonHandler("r5")
    trigger = run(clock, stream, handler)
    assert [len(b) for b in handler.batches[:6]] == [8, 4, 4, 2, 1, 1]
    assert set(map(tuple, handler.batches[6:])) == {("r5",)}
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert (ends[seqs["r5"]].condition, ends[seqs["r5"]].attempts) == ("RecordAgeExceeded", 296)
    # r6 and r7 waited the day out behind r5 and expired with it, never invoked again.
    for key in ("r6", "r7"):
        end = ends[seqs[key]]
        assert (end.disposition, end.condition, end.attempts) == (
            "discarded",
            "RecordAgeExceeded",
            0,
        )
        assert end.at == ends[seqs["r5"]].at
    assert_each_record_disposed_once(trigger.capture)


def test_a_discarded_half_goes_to_the_destination_with_its_own_bounds(clock) -> None:
    stream, seqs = stream_of(clock, KEYS)
    destination = MemoryDestination()
    run(clock, stream, PoisonHandler("r5"), maximum_retry_attempts=0, destination=destination)
    (message,) = destination.messages
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seqs["r5"],
        seqs["r5"],
        1,
    )
    assert message["requestContext"]["approximateInvokeCount"] == 1


def test_halves_of_a_batch_inherit_its_retry_count(clock) -> None:
    """Design choice (policy.py): a partial failure counts as a retry, and a batch split after
    it hands that count to its halves, so one more failure of a half exhausts MaximumRetryAttempts 1."""
    stream, seqs = stream_of(clock, ["a", "b", "c", "d"])
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        keys = item_keys(event)
        calls.append(keys)
        if len(calls) == 1:  # first call: report "b" as failed
            return {"batchItemFailures": [{"itemIdentifier": seqs["b"]}]}
        if "c" in keys:
            raise ValueError("c is poison")
        return None

    trigger = run(
        clock,
        stream,
        handler,
        maximum_retry_attempts=1,
        function_response_types=["ReportBatchItemFailures"],
    )
    assert calls == [["a", "b", "c", "d"], ["b", "c", "d"], ["b", "c"], ["b"], ["c"], ["d"]]
    assert [a.retry for a in trigger.capture.attempts] == [0, 1, 1, 1, 1, 1]
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert ends[seqs["c"]].disposition == "discarded"
    assert ends[seqs["c"]].condition == "RetryAttemptsExhausted"
    assert [ends[seqs[k]].disposition for k in "abd"] == ["processed"] * 3
