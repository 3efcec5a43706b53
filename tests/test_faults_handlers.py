"""Handler faults on the virtual clock: the trigger engine around a FaultyHandler, instantly.

Given a stream of ten items, when the handler is wrapped with a fault, then every record still
ends with exactly one disposition, and the fault did what it says: a poison record fails on
every delivery and goes to the destination, a timeout after the work redelivers the batch, a
record reported failed after processing is processed again, and a seed fixes every decision.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from streamsim.workbench.faults.handlers import FaultyHandler, InjectedHandlerError
from streamsim.workbench.faults.spec import parse_faults
from tests.helpers import assert_each_record_disposed_once, item_keys

KEYS = [f"r{i}" for i in range(10)]


class Recorder:
    """The wrapped handler: remembers every key it processed; reports nothing failed."""

    def __init__(self) -> None:
        self.processed: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.processed += item_keys(event)
        return {"batchItemFailures": []}


def run(
    faults: str,
    *,
    seed: int = 1,
    batch_size: int = 10,
    report: bool = True,
    retries: int = 3,
    poison_after: int | None = 0,
) -> tuple[Trigger, Recorder, FaultyHandler, MemoryDestination, Counter[str]]:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    for key in KEYS:
        stream.write({"pk": {"S": key}}, {"pk": {"S": key}})
    inner = Recorder()
    counts: Counter[str] = Counter()
    handler = FaultyHandler(
        inner,
        parse_faults(faults),
        seed=seed,
        report_batch_item_failures=report,
        counts=lambda name: counts.update([name]),
        poison_after=poison_after,
    )
    destination = MemoryDestination()
    trigger = Trigger(
        EventSourceMapping(
            starting_position="TRIM_HORIZON",
            batch_size=batch_size,
            maximum_retry_attempts=retries,
            function_response_types=("ReportBatchItemFailures",) if report else (),
        ),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        timing=TriggerTiming(function_timeout_seconds=3.0),
        destination=destination,
        handler_duration_seconds=0.0,
    )
    assert trigger.run_until_drained(3600)
    assert_each_record_disposed_once(trigger.capture)
    return trigger, inner, handler, destination, counts


def dispositions(trigger: Trigger) -> Counter[str]:
    return Counter(d.disposition for d in trigger.capture.dispositions)


def test_a_poison_record_fails_every_delivery_then_goes_to_the_destination() -> None:
    trigger, inner, _, destination, counts = run("poison=1", batch_size=1, retries=3)
    assert "r0" not in inner.processed  # the first item delivered is the poison one
    assert sorted(set(inner.processed)) == KEYS[1:]
    assert dispositions(trigger) == {"processed": 9, "destination": 1}
    assert counts["poison"] == 4  # 1 invocation + 3 retries
    (message,) = destination.messages
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 4


def test_the_seed_places_the_poison_mid_stream() -> None:
    places = []
    for seed in (1, 1, 2, 3):
        inner = run("poison=1", batch_size=1, seed=seed, poison_after=None)[1]
        (missing,) = set(KEYS) - set(inner.processed)
        places.append(missing)
    assert places[0] == places[1]  # the same seed, the same poison play
    assert len(set(places)) > 1


def test_records_behind_a_poison_record_wait_and_share_its_fate() -> None:
    trigger, inner, _, destination, _ = run("poison=1", batch_size=3, retries=2)
    assert inner.processed == KEYS[3:]  # r1, r2 were behind r0: never handed to the handler
    assert dispositions(trigger) == {"processed": 7, "destination": 3}
    assert destination.messages[0]["DDBStreamBatchInfo"]["batchSize"] == 3


def test_poison_without_partial_responses_fails_the_whole_batch() -> None:
    trigger, inner, _, _, _ = run("poison=1", batch_size=10, report=False, retries=1)
    assert inner.processed == []
    assert {a.error_type for a in trigger.capture.attempts} == {"InjectedHandlerError"}
    assert dispositions(trigger) == {"destination": 10}


def test_a_timeout_after_the_work_redelivers_the_batch() -> None:
    trigger, inner, _, _, counts = run("handler-timeout=1@3", batch_size=10)
    outcomes = [a.outcome for a in trigger.capture.attempts]
    assert outcomes == ["timeout", "success"]
    assert trigger.capture.attempts[0].error_type == "Sandbox.Timedout"
    assert inner.processed == KEYS + KEYS  # processed, timed out, processed again
    assert counts == {"handler-timeout": 1}
    assert dispositions(trigger) == {"processed": 10}


def test_processed_but_reported_failed_means_duplicate_deliveries_once_each() -> None:
    trigger, inner, _, _, counts = run("duplicates=1", batch_size=10, retries=20)
    assert dispositions(trigger) == {"processed": 10}
    assert set(inner.processed) == set(KEYS)
    seen = Counter(inner.processed)
    assert max(seen.values()) <= 1 + counts["duplicates"]
    assert counts["duplicates"] == 10  # every record reported failed exactly once: bounded


def test_function_errors_retry_the_batch_and_a_seed_fixes_them() -> None:
    a = run("handler-errors=0.5", batch_size=2, retries=10, seed=7)[0]
    b = run("handler-errors=0.5", batch_size=2, retries=10, seed=7)[0]
    outcomes_a = [(x.first_sequence_number, x.outcome) for x in a.capture.attempts]
    assert outcomes_a == [(x.first_sequence_number, x.outcome) for x in b.capture.attempts]
    assert "error" in {o for _, o in outcomes_a} and "success" in {o for _, o in outcomes_a}
    assert {x.error_type for x in a.capture.attempts if x.outcome == "error"} == {
        "InjectedHandlerError"
    }


def test_every_invocation_failing_ends_at_the_destination_not_lost() -> None:
    trigger, inner, _, destination, counts = run("handler-errors=1", batch_size=5, retries=2)
    assert inner.processed == []
    assert dispositions(trigger) == {"destination": 10}
    assert len(destination.messages) == 2 and counts["handler-errors"] == 6


def test_events_that_are_not_stream_events_pass_through_untouched() -> None:
    handler = FaultyHandler(lambda e, c: "seen", parse_faults("handler-errors=1"))
    assert handler({"not": "a stream event"}, None) == "seen"
    assert InjectedHandlerError.__mro__[1] is RuntimeError
