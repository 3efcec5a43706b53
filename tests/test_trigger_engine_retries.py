"""Trigger engine, retries: the whole batch is retried with TriggerTiming's exponential backoff,
the shard is blocked meanwhile, and the batch is discarded at 24 h, after MaximumRetryAttempts or
MaximumRecordAgeInSeconds [E]. Timeouts are retried like errors; poll errors are not retries."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, PoisonHandler, assert_each_record_disposed_once, trigger_for
from tests.helpers import write_key as write


def offsets(values: list[float]) -> list[float]:
    return [v - T0 for v in values]


def test_default_retries_back_off_exponentially_until_the_record_expires_at_24_hours(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    poison_seq = write(stream, "poison")
    handler = PoisonHandler("poison")
    trigger = trigger_for(stream, clock, handler)
    trigger.run_for(3600)
    good_seq = write(stream, "good")  # written an hour later, behind the poison record
    assert trigger.run_until_drained(2 * 86_400)

    poison = [a for a in trigger.capture.attempts if a.first_sequence_number == poison_seq]
    gaps = [b.invoked_at - a.completed_at for a, b in zip(poison, poison[1:], strict=False)]
    # TriggerTiming: 1 s doubling to a 300 s cap (streamsim's documented choice; AWS is silent).
    assert gaps[:10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert set(gaps[9:]) == {300}
    assert [a.backoff_seconds for a in poison[:11]] == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert [a.retry for a in poison] == list(range(len(poison)))
    assert [a.attempt for a in poison] == list(range(1, len(poison) + 1))
    # Invocations at 0, 1, 3, ..., 511, then every 300 s up to 86,311; the check before the
    # next one (86,611 >= 86,400) finds the record expired.
    assert offsets([a.invoked_at for a in poison[:11]]) == [
        0,
        1,
        3,
        7,
        15,
        31,
        63,
        127,
        255,
        511,
        811,
    ]
    assert len(poison) == 10 + 286
    assert poison[-1].invoked_at - T0 == 86_311
    assert {a.outcome for a in poison} == {"error"}
    assert {a.error_type for a in poison} == {"ValueError"}

    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert ends[poison_seq].disposition == "discarded"
    assert ends[poison_seq].condition == "RecordAgeExceeded"
    assert ends[poison_seq].attempts == 296
    assert ends[poison_seq].at - T0 == 86_611

    # The shard was blocked: the later record was not even read until the discard [E].
    (good,) = [a for a in trigger.capture.attempts if a.first_sequence_number == good_seq]
    (good_read,) = [r for r in trigger.capture.records if r.sequence_number == good_seq]
    assert good_read.read_at - T0 == 86_611
    assert good.invoked_at - T0 == 86_611
    assert good.outcome == "success"
    assert handler.batches[-1] == ["good"]
    assert ends[good_seq].disposition == "processed"
    assert_each_record_disposed_once(trigger.capture)


def test_backoff_follows_trigger_timing(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "poison")
    timing = TriggerTiming(
        initial_backoff_seconds=0.5, backoff_multiplier=3, max_backoff_seconds=10
    )
    trigger = trigger_for(stream, clock, PoisonHandler("poison"), timing, maximum_retry_attempts=5)
    assert trigger.run_until_drained(3600)
    attempts = trigger.capture.attempts
    assert [
        b.invoked_at - a.completed_at for a, b in zip(attempts, attempts[1:], strict=False)
    ] == [
        0.5,
        1.5,
        4.5,
        10,
        10,
    ]


@pytest.mark.parametrize("maximum_retry_attempts", [0, 1, 3, 10])
def test_maximum_retry_attempts_n_gives_n_plus_1_invocations_then_a_discard(
    clock, maximum_retry_attempts: int
) -> None:
    stream = InMemoryStream(clock=clock.now)
    poison_seq = write(stream, "poison")
    handler = PoisonHandler("poison")
    trigger = trigger_for(stream, clock, handler, maximum_retry_attempts=maximum_retry_attempts)
    trigger.run_for(0.1)
    good_seq = write(stream, "good")
    assert trigger.run_until_drained(3600)

    invocations = maximum_retry_attempts + 1
    assert handler.batches == [["poison"]] * invocations + [["good"]]
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert ends[poison_seq].disposition == "discarded"
    assert ends[poison_seq].condition == "RetryAttemptsExhausted"
    assert ends[poison_seq].attempts == invocations
    # Discarded right after the last failed invocation, without another backoff.
    last = [a for a in trigger.capture.attempts if a.first_sequence_number == poison_seq][-1]
    assert ends[poison_seq].at == last.completed_at
    assert ends[good_seq].disposition == "processed"
    assert_each_record_disposed_once(trigger.capture)


def test_a_failed_batch_is_retried_whole(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for key in ("a", "b", "poison", "c"):
        write(stream, key)
    handler = PoisonHandler("poison")
    trigger = trigger_for(stream, clock, handler, maximum_retry_attempts=2)
    assert trigger.run_until_drained(3600)
    assert handler.batches == [["a", "b", "poison", "c"]] * 3
    assert trigger.capture.counts()["discarded"] == 4
    assert {d.condition for d in trigger.capture.dispositions} == {"RetryAttemptsExhausted"}


def test_a_batch_that_succeeds_on_a_retry_is_processed_once(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "flaky")
    calls = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(context.clock.now())
        if len(calls) < 3:
            raise RuntimeError("transient")

    trigger = trigger_for(stream, clock, handler)
    assert trigger.run_until_drained(3600)
    assert offsets(calls) == [0, 1, 3]
    assert [a.outcome for a in trigger.capture.attempts] == ["error", "error", "success"]
    (end,) = trigger.capture.dispositions
    assert (end.disposition, end.attempts, end.condition) == ("processed", 3, None)


def test_maximum_record_age_discards_once_the_oldest_record_is_older_than_60_s(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    poison_seq = write(stream, "poison")
    trigger = trigger_for(stream, clock, PoisonHandler("poison"), maximum_record_age_in_seconds=60)
    assert trigger.run_until_drained(3600)

    # Invoked at 0, 1, 3, 7, 15, 31; before the next (63) the record is 63 s old.
    assert offsets([a.invoked_at for a in trigger.capture.attempts]) == [0, 1, 3, 7, 15, 31]
    (end,) = trigger.capture.dispositions
    assert end.sequence_number == poison_seq
    assert (end.disposition, end.condition, end.attempts) == ("discarded", "RecordAgeExceeded", 6)
    assert end.at - T0 == 63


def test_maximum_record_age_discards_only_the_expired_records_and_delivers_the_rest() -> None:
    """AWS drops only the records past MaximumRecordAgeInSeconds; the younger rest of the batch
    is delivered (LocalStack's AWS recording test_kinesis_maximum_record_age_exceeded_discard_
    records: 6 records, the first expired, the function received the other 5)."""
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    old = write(stream, "old")
    clock.run(until=T0 + 50)
    new = write(stream, "new")
    handler = PoisonHandler("old")
    trigger = trigger_for(stream, clock, handler, maximum_record_age_in_seconds=60)
    assert trigger.run_until_drained(3600)

    # One batch [old, new] invoked at 50, 51, 53, 57; at 65 "old" is 65 s old, "new" 15 s:
    # only "old" is discarded and "new" is delivered alone at 65.
    assert handler.batches == [["old", "new"]] * 4 + [["new"]]
    assert offsets([a.invoked_at for a in trigger.capture.attempts]) == [50, 51, 53, 57, 65]
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert (ends[old].disposition, ends[old].condition, ends[old].at - T0) == (
        "discarded",
        "RecordAgeExceeded",
        65,
    )
    assert (ends[new].disposition, ends[new].condition) == ("processed", None)
    assert_each_record_disposed_once(trigger.capture)


def test_records_past_the_24_hour_retention_are_discarded_alone() -> None:
    """The retention limit is per record too: a poison record blocks its shard for 24 h, then
    only it is discarded and the records written behind it (in the same retried batch) live."""
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    poison = write(stream, "poison")
    handler = PoisonHandler("poison")
    # Backoff capped at 30 s, so the age check comes at most 30 s after the 24 h.
    timing = TriggerTiming(max_backoff_seconds=30)
    trigger = trigger_for(stream, clock, handler, timing, maximum_batching_window_in_seconds=300)
    trigger.run_for(250)
    young = write(stream, "young")  # 250 s younger, in the same batch (the 300 s window)
    assert trigger.run_until_drained(2 * 86_400)
    ends = {d.sequence_number: d for d in trigger.capture.dispositions}
    assert (ends[poison].disposition, ends[poison].condition) == ("discarded", "RecordAgeExceeded")
    assert 86_400 <= ends[poison].at - T0 <= 86_400 + 30
    assert ends[young].disposition == "processed"
    assert handler.batches[0] == ["poison", "young"]
    assert handler.batches[-1] == ["young"]
    assert_each_record_disposed_once(trigger.capture)


def test_records_already_older_than_the_maximum_age_are_discarded_without_an_invocation() -> None:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    seq = write(stream, "stale")
    clock.run(until=T0 + 120)  # the record waits 2 minutes before the trigger starts
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler, maximum_record_age_in_seconds=60)
    assert trigger.run_until_drained(60)
    assert handler.batches == []
    (end,) = trigger.capture.dispositions
    assert (end.sequence_number, end.disposition, end.condition, end.attempts) == (
        seq,
        "discarded",
        "RecordAgeExceeded",
        0,
    )


def test_a_handler_exceeding_the_function_timeout_times_out_and_is_retried_like_an_error(
    clock,
) -> None:
    stream = InMemoryStream(clock=clock.now)
    seq = write(stream, "slow")
    seen = []

    def handler(event: dict[str, Any], context: Any) -> str:
        seen.append(context.get_remaining_time_in_millis())
        print("working")
        context.spend(10)
        return "done"

    trigger = trigger_for(
        stream, clock, handler, TriggerTiming(function_timeout_seconds=3), maximum_retry_attempts=1
    )
    assert trigger.run_until_drained(3600)

    first, second = trigger.capture.attempts
    for attempt in (first, second):
        assert attempt.outcome == "timeout"
        assert attempt.error_type == "Sandbox.Timedout"
        assert attempt.error_message == "Task timed out after 3.00 seconds"
        assert attempt.completed_at - attempt.invoked_at == 3
        assert "working" in attempt.log_lines
        assert attempt.log_lines[-1] == f"{attempt.request_id} Task timed out after 3.00 seconds"
    assert second.invoked_at - first.completed_at == 1  # the first backoff, as for an error
    assert seen == [3000, 3000]
    (end,) = trigger.capture.dispositions
    assert (end.sequence_number, end.disposition, end.condition, end.attempts) == (
        seq,
        "discarded",
        "RetryAttemptsExhausted",
        2,
    )


def test_a_slow_handler_within_the_timeout_succeeds_and_takes_its_time(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "slowish")
    remaining = []

    def handler(event: dict[str, Any], context: Any) -> None:
        context.spend(2.5)
        remaining.append(context.get_remaining_time_in_millis())

    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        handler_duration_seconds=0.01,
    )
    assert trigger.run_until_drained(60)
    (attempt,) = trigger.capture.attempts
    assert attempt.outcome == "success"
    assert attempt.completed_at - attempt.invoked_at == pytest.approx(2.51)
    assert remaining == [500]


def test_a_handler_error_is_captured_with_its_type_message_and_log_lines(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "poison")

    def handler(event: dict[str, Any], context: Any) -> None:
        print("processing", len(event["Records"]))
        raise KeyError("NewImage")

    trigger = trigger_for(stream, clock, handler, maximum_retry_attempts=0)
    assert trigger.run_until_drained(60)
    (attempt,) = trigger.capture.attempts
    assert attempt.outcome == "error"
    assert attempt.error_type == "KeyError"
    assert attempt.error_message == "'NewImage'"
    lines = attempt.log_lines
    assert lines[0] == f"START RequestId: {attempt.request_id} Version: $LATEST"
    assert lines[1] == "processing 1"
    assert "[ERROR] KeyError: 'NewImage'" in lines
    assert lines[-1] == f"END RequestId: {attempt.request_id}"


def test_a_response_that_cannot_be_serialised_is_a_runtime_marshal_error(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "x")
    trigger = trigger_for(
        stream, clock, lambda event, context: {"when": object()}, maximum_retry_attempts=0
    )
    assert trigger.run_until_drained(60)
    (attempt,) = trigger.capture.attempts
    assert (attempt.outcome, attempt.error_type) == ("error", "Runtime.MarshalError")


class ThrottledOnce:
    """A stream client whose first GetRecords call is throttled."""

    def __init__(
        self, stream: InMemoryStream, code: str = "ProvisionedThroughputExceededException"
    ) -> None:
        self._stream = stream
        self._code = code
        self.throttled = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def get_records(self, **kwargs: Any) -> Any:
        if not self.throttled:
            self.throttled += 1
            raise ClientError({"Error": {"Code": self._code, "Message": "slow down"}}, "GetRecords")
        return self._stream.get_records(**kwargs)


def test_a_poll_error_is_captured_and_is_not_a_retry(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for key in ("a", "b"):
        write(stream, key)
    throttled = ThrottledOnce(stream)
    handler = PoisonHandler()
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", maximum_retry_attempts=0),
        handler,
        streams=throttled,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    assert trigger.run_until_drained(60)

    (error,) = trigger.capture.poll_errors
    assert error.error_type == "ProvisionedThroughputExceededException"
    assert error.at == T0
    assert handler.batches == [["a", "b"]]
    (attempt,) = trigger.capture.attempts
    assert (attempt.attempt, attempt.retry, attempt.outcome) == (1, 0, "success")
    assert attempt.invoked_at - T0 == 0.25  # read again at the next poll
    assert trigger.capture.counts()["processed"] == 2
    assert_each_record_disposed_once(trigger.capture)


class DescribeFailsOnce:
    """A stream client whose first DescribeStream call fails (the trigger's shard discovery)."""

    def __init__(self, stream: InMemoryStream) -> None:
        self._stream = stream
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def describe_stream(self, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ClientError(
                {"Error": {"Code": "LimitExceededException", "Message": "busy"}}, "DescribeStream"
            )
        return self._stream.describe_stream(**kwargs)


def test_a_failed_shard_discovery_is_a_poll_error_and_is_tried_again(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "a")
    handler = PoisonHandler()
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        handler,
        streams=DescribeFailsOnce(stream),
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    assert trigger.run_until_drained(60)
    (error,) = trigger.capture.poll_errors
    assert (error.shard_id, error.error_type, error.at) == ("-", "LimitExceededException", T0)
    assert handler.batches == [["a"]]
    assert trigger.capture.attempts[0].invoked_at - T0 == 0.25


def test_run_until_drained_gives_up_at_its_timeout_while_a_shard_is_blocked(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "poison")
    trigger = trigger_for(stream, clock, PoisonHandler("poison"))
    assert trigger.run_until_drained(60) is False
    assert clock.now() - T0 == 60
    assert trigger.capture.dispositions == []
    assert trigger.run_until_drained(3 * 86_400) is True
    assert trigger.capture.dispositions[0].condition == "RecordAgeExceeded"
