"""TumblingWindowInSeconds: window fields in the event, state carried from the handler's
response, a final invocation per window, failures, the 1 MB state cap, shard end [T]
(docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html; the doc's "Example
DynamodbTimeWindowEvent"). Choices where AWS is silent: streamsim.aws.trigger.windows."""

from __future__ import annotations

import json
from typing import Any

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, assert_each_record_disposed_once, item_keys

#: The doc example's keys, in its order [T].
EVENT_KEYS = [
    "Records",
    "window",
    "state",
    "shardId",
    "eventSourceARN",
    "isFinalInvokeForWindow",
    "isWindowTerminatedEarly",
]


class Counter:
    """Counts records per window in its state, as the doc's example handler does; can fail."""

    def __init__(self, clock: VirtualClock, fail: Any = None) -> None:
        self.clock = clock
        self.fail = fail
        self.calls: list[tuple[float, dict[str, Any]]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.calls.append((self.clock.now() - T0, json.loads(json.dumps(event))))
        state = event["state"]
        state["n"] = state.get("n", 0) + len(event["Records"])
        if self.fail is not None:
            return self.fail(event)
        return {"state": state}

    def summary(self) -> list[tuple[float, list[str], dict[str, Any], bool, bool]]:
        return [
            (
                at,
                item_keys(e),
                e["state"],
                e["isFinalInvokeForWindow"],
                e["isWindowTerminatedEarly"],
            )
            for at, e in self.calls
        ]


def writes(stream: InMemoryStream, clock: VirtualClock, at: list[float]) -> None:
    def writer() -> Any:
        for i, t in enumerate(at):
            yield clock.sleep(T0 + t - clock.now())
            stream.write({"pk": {"S": f"k{i}"}}, {"pk": {"S": f"k{i}"}})

    clock.env.process(writer())


def trigger_for(stream: InMemoryStream, clock: VirtualClock, handler: Any, **mapping: Any) -> Any:
    destination = MemoryDestination()
    trigger = Trigger(
        EventSourceMapping(
            **{"starting_position": "TRIM_HORIZON", "tumbling_window_in_seconds": 60, **mapping}
        ),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        destination=destination,
        handler_duration_seconds=0.0,
    )
    return trigger, destination


def test_window_fields_state_and_a_final_invocation_per_window(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    writes(stream, clock, [0.1, 25.1, 50.1, 75.1])  # read at the next poll (every 0.25 s)
    handler = Counter(clock)
    trigger, _ = trigger_for(stream, clock, handler)
    trigger.run_for(200)
    assert trigger.run_until_drained(60)

    assert handler.summary() == [
        (0.25, ["k0"], {}, False, False),  # a window starts with an empty state
        (25.25, ["k1"], {"n": 1}, False, False),  # the state the handler returned
        (50.25, ["k2"], {"n": 2}, False, False),
        (60, [], {"n": 3}, True, False),  # at the window's end: the final invocation
        (75.25, ["k3"], {}, False, False),  # the next window, a fresh state
        (120, [], {"n": 1}, True, False),
    ]
    first = handler.calls[0][1]
    assert list(first) == EVENT_KEYS
    assert first["window"] == {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z"}
    assert first["shardId"] == trigger.capture.records[0].shard_id
    assert first["eventSourceARN"] == stream.stream_arn
    assert handler.calls[4][1]["window"]["start"] == "2026-01-01T00:01:00Z"
    assert_each_record_disposed_once(trigger.capture)


def test_a_batch_never_spans_two_windows(clock) -> None:
    """Windows by record creation time [T]: 59 s and 61 s fall in different windows even when a
    batching window gathers them together."""
    stream = InMemoryStream(clock=clock.now)
    writes(stream, clock, [59, 61])
    handler = Counter(clock)
    trigger, _ = trigger_for(stream, clock, handler, maximum_batching_window_in_seconds=10)
    trigger.run_for(200)
    assert trigger.run_until_drained(60)
    assert [(keys, final) for _, keys, _, final, _ in handler.summary()] == [
        (["k0"], False),
        ([], True),
        (["k1"], False),
        ([], True),
    ]


def test_a_response_without_state_is_a_failed_invocation(clock) -> None:
    """ "If the response does not contain a state property, Lambda considers this a failed
    invocation" [T]; the batch is retried with the state from before, then discarded."""
    stream = InMemoryStream(clock=clock.now)
    writes(stream, clock, [0])
    handler = Counter(clock, fail=lambda event: None if event["Records"] else {"state": {}})
    trigger, destination = trigger_for(stream, clock, handler, maximum_retry_attempts=1)
    trigger.run_for(100)
    assert trigger.run_until_drained(60)
    assert [(a.outcome, a.error_type) for a in trigger.capture.attempts][:2] == [
        ("error", "MissingWindowState"),
        ("error", "MissingWindowState"),
    ]
    assert [s for _, _, s, _, _ in handler.summary()][:2] == [{}, {}]
    (message,) = destination.messages
    assert message["responseContext"]["functionError"] is None  # it returned normally
    assert trigger.capture.dispositions[0].disposition == "destination"


def test_a_failed_final_invocation_is_retried_until_it_succeeds(clock) -> None:
    """ "If invocation is unsuccessful, your Lambda function suspends further processing until a
    successful invocation" [T]: MaximumRetryAttempts does not end it; the next window waits."""
    stream = InMemoryStream(clock=clock.now)
    writes(stream, clock, [0.1, 70.1])
    failures = iter([True, True, True])

    def fail(event: dict[str, Any]) -> Any:
        if event["isFinalInvokeForWindow"] and next(failures, False):
            raise RuntimeError("cannot publish the aggregate")
        return {"state": event["state"]}

    handler = Counter(clock, fail=fail)
    trigger, _ = trigger_for(stream, clock, handler, maximum_retry_attempts=0)
    trigger.run_for(300)
    assert trigger.run_until_drained(60)
    assert handler.summary() == [
        (0.25, ["k0"], {}, False, False),
        (60, [], {"n": 1}, True, False),  # fails; retried after 1, 2, 4 s
        (61, [], {"n": 1}, True, False),
        (63, [], {"n": 1}, True, False),
        (67, [], {"n": 1}, True, False),  # succeeds
        (70.25, ["k1"], {}, False, False),
        (120, [], {"n": 1}, True, False),
    ]


def test_a_state_over_1_mb_terminates_the_window_early(clock) -> None:
    """ "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
    terminates the window early" [T]; the same window continues with a fresh state."""
    stream = InMemoryStream(clock=clock.now)
    writes(stream, clock, [0.1, 10.1])

    def grow(event: dict[str, Any]) -> Any:
        if item_keys(event) == ["k0"]:
            return {"state": {"big": "x" * (1024 * 1024)}}
        return {"state": event["state"]}

    handler = Counter(clock, fail=grow)
    trigger, _ = trigger_for(stream, clock, handler)
    trigger.run_for(200)
    assert trigger.run_until_drained(60)
    summary = [
        (at, keys, sorted(state), final, early)
        for at, keys, state, final, early in handler.summary()
    ]
    assert summary == [
        (0.25, ["k0"], [], False, False),
        (0.25, [], ["big"], False, True),  # the early termination, with the big state
        (10.25, ["k1"], [], False, False),  # the same window, a fresh state
        (60, [], ["n"], True, False),
    ]
    assert handler.calls[2][1]["window"] == handler.calls[0][1]["window"]


def test_the_end_of_a_shard_closes_its_window() -> None:
    """ "When the shard ends, Lambda considers the window closed, and the child shards start
    their own window in a fresh state" [T]."""
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    stream.write({"pk": {"S": "parent"}}, {"pk": {"S": "parent"}})
    handler = Counter(clock)
    trigger, _ = trigger_for(stream, clock, handler)
    trigger.run_for(5)
    (shard,) = stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"]
    stream.split_shard(shard["ShardId"])
    trigger.run_for(20)
    summary = handler.summary()
    assert summary[:2] == [
        (0, ["parent"], {}, False, False),
        (summary[1][0], [], {"n": 1}, True, False),
    ]
    assert summary[1][0] < 60  # closed by the shard's end, before the window's end
    assert handler.calls[1][1]["shardId"] == shard["ShardId"]


def test_a_handler_mutating_the_state_and_failing_leaves_the_kept_state_alone(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    writes(stream, clock, [0])
    attempts = iter([True])

    def fail(event: dict[str, Any]) -> Any:
        if next(attempts, False):
            raise RuntimeError("after mutating event['state']")
        return {"state": event["state"]}

    handler = Counter(clock, fail=fail)
    trigger, _ = trigger_for(stream, clock, handler)
    trigger.run_for(100)
    assert [s for _, _, s, _, _ in handler.summary()] == [{}, {}, {"n": 1}]
