"""Trigger engine, batching: BatchSize, batches above 1,000 records, the batching window, the
6 MB payload cap, TRIM_HORIZON vs LATEST, and the poll interval, all on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from tests.helpers import T0, assert_each_record_disposed_once, item_keys

MIB6 = 6 * 1024 * 1024


def write(stream: InMemoryStream, key: str, **attributes: Any) -> dict[str, Any]:
    image = {"pk": {"S": key}, **{k: {"S": v} for k, v in attributes.items()}}
    record = stream.write({"pk": {"S": key}}, image)
    assert record is not None
    return record


def run(
    stream: InMemoryStream,
    clock: VirtualClock,
    *,
    timing: TriggerTiming | None = None,
    duration: float = 0.0,
    first: float = 0.0,
    **mapping: Any,
) -> tuple[Trigger, list[list[str]]]:
    """Run ``first`` seconds, then drain, through a handler that records each batch's keys."""
    batches: list[list[str]] = []
    trigger = Trigger(
        EventSourceMapping(**{"starting_position": "TRIM_HORIZON", **mapping}),
        lambda event, context: batches.append(item_keys(event)),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        timing=timing,
        handler_duration_seconds=duration,
    )
    if first:
        trigger.run_for(first)
    assert trigger.run_until_drained(3600)
    return trigger, batches


def test_batch_size_100_splits_250_records_into_100_100_50_in_stream_order(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    written = [f"k{i:03d}" for i in range(250)]
    for key in written:
        write(stream, key)

    trigger, batches = run(stream, clock, batch_size=100)

    assert [len(b) for b in batches] == [100, 100, 50]
    assert [k for b in batches for k in b] == written
    assert [a.records for a in trigger.capture.attempts] == [100, 100, 50]
    assert {a.outcome for a in trigger.capture.attempts} == {"success"}
    assert trigger.capture.counts()["processed"] == 250
    assert_each_record_disposed_once(trigger.capture)


def test_default_batch_size_is_100(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for i in range(101):
        write(stream, f"k{i}")
    _, batches = run(stream, clock)
    assert [len(b) for b in batches] == [100, 1]


def test_batch_size_above_1000_is_assembled_from_several_get_records_calls(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for i in range(2500):
        write(stream, f"k{i:04d}")

    trigger, batches = run(stream, clock, batch_size=2000)

    assert [len(b) for b in batches] == [2000, 500]
    # GetRecords returns at most 1,000 records a call [API]: the first batch took two calls.
    assert stream.calls.count("GetRecords") >= 3
    assert [k for b in batches for k in b] == [f"k{i:04d}" for i in range(2500)]
    assert_each_record_disposed_once(trigger.capture)


def trickle(
    stream: InMemoryStream, clock: VirtualClock, times: list[float]
) -> Generator[Any, Any, None]:
    """A simpy process writing one record at each offset from T0."""
    for n, at in enumerate(times):
        yield clock.sleep(T0 + at - clock.now())
        write(stream, f"k{n:02d}")


def test_batching_window_gathers_records_for_5_seconds_after_the_first_is_read(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    writes = [0.1 + i for i in range(12)]  # one record a second, between polls
    clock.env.process(trickle(stream, clock, writes))

    trigger, batches = run(
        stream, clock, duration=0.0, first=13, maximum_batching_window_in_seconds=5
    )

    # Polls at T0 + 0.25 k: the record written at 0.1 + i is read at 0.25 + i. The window
    # starts when the first record of a batch is read and ends 5 s later [D]; a record read at
    # the very instant the window ends still joins the batch.
    assert batches == [
        ["k00", "k01", "k02", "k03", "k04", "k05"],  # read 0.25 .. 5.25, invoked 5.25
        ["k06", "k07", "k08", "k09", "k10", "k11"],  # read 6.25 .. 11.25, invoked 11.25
    ]
    attempts = trigger.capture.attempts
    assert [a.invoked_at - T0 for a in attempts] == [5.25, 11.25]
    read_at = {r.sequence_number: r.read_at for r in trigger.capture.records}
    created = {r.sequence_number: r.created_at for r in trigger.capture.records}
    for attempt in attempts:
        seqs = [
            s for s in read_at if attempt.first_sequence_number <= s <= attempt.last_sequence_number
        ]
        assert attempt.invoked_at == min(read_at[s] for s in seqs) + 5
        assert max(created[s] for s in seqs) - min(created[s] for s in seqs) <= 5
    assert_each_record_disposed_once(trigger.capture)


def test_batching_window_ends_early_when_the_batch_is_full(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    clock.env.process(trickle(stream, clock, [0.1 + i for i in range(7)]))

    trigger, batches = run(
        stream, clock, duration=0.0, first=7, batch_size=3, maximum_batching_window_in_seconds=300
    )

    assert batches == [["k00", "k01", "k02"], ["k03", "k04", "k05"], ["k06"]]
    # Full at the third record's read (2.25, 5.25); the last waits out its 300 s window.
    assert [a.invoked_at - T0 for a in trigger.capture.attempts] == [2.25, 5.25, 306.25]


def test_without_a_batching_window_each_poll_invokes_with_what_it_read(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    clock.env.process(trickle(stream, clock, [0.1, 0.2, 1.1]))
    trigger, batches = run(stream, clock, duration=0.0, first=2)
    assert batches == [["k00", "k01"], ["k02"]]
    assert [a.invoked_at - T0 for a in trigger.capture.attempts] == [0.25, 1.25]


def big_item_stream(clock: VirtualClock, count: int, value_chars: int) -> InMemoryStream:
    stream = InMemoryStream(clock=clock.now, view_type="NEW_IMAGE")
    for i in range(count):
        write(stream, f"k{i:03d}", blob="x" * value_chars)
    return stream


def compact_size(event: dict[str, Any]) -> int:
    return len(json.dumps(event, separators=(",", ":")))


def test_the_6_mb_payload_cap_splits_batches_of_large_items(clock) -> None:
    # 40 items of ~400 KB (DynamoDB's item size limit): 15 fit in 6 MiB, not 16.
    stream = big_item_stream(clock, 40, 400_000)
    sizes: list[int] = []
    batches: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        sizes.append(compact_size(event))
        batches.append(len(event["Records"]))

    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", batch_size=1000),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    assert trigger.run_until_drained(60)

    one = sizes[-1] // batches[-1]  # every record has the same size here
    assert one > 400_000
    assert batches == [15, 15, 10]
    assert all(size <= MIB6 for size in sizes)
    assert 16 * one > MIB6
    assert_each_record_disposed_once(trigger.capture)


@pytest.mark.parametrize("window", [0, 5])
def test_the_payload_cap_counts_the_whole_invoke_payload(clock, window: int) -> None:
    """The cap is on the event as sent, ``{"Records":[...]}`` with its commas, not on the sum of
    the records alone (a small cap makes the difference visible)."""
    stream = big_item_stream(clock, 6, 100)
    events: list[dict[str, Any]] = []
    probe = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        lambda event, context: events.append(event),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    assert probe.run_until_drained(60)
    one = compact_size({"Records": events[0]["Records"][:1]}) - len('{"Records":[]}')
    three = compact_size({"Records": events[0]["Records"][:3]})
    assert three == 14 + 3 * one + 2

    cap = 3 * one + 2  # three records and their commas fit, the envelope does not
    clock2 = VirtualClock()
    stream2 = big_item_stream(clock2, 6, 100)
    sizes: list[int] = []
    trigger = Trigger(
        EventSourceMapping(
            starting_position="TRIM_HORIZON", maximum_batching_window_in_seconds=window
        ),
        lambda event, context: sizes.append(len(event["Records"])) or None,
        streams=stream2,
        stream_arn=stream2.stream_arn,
        clock=clock2,
        timing=TriggerTiming(max_payload_bytes=cap),
    )
    assert trigger.run_until_drained(60)
    assert sizes == [2, 2, 2]


def test_trim_horizon_delivers_records_written_before_the_trigger_started(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for key in ("old1", "old2", "old3"):
        write(stream, key)
    trigger, batches = run(stream, clock)
    assert [k for b in batches for k in b] == ["old1", "old2", "old3"]


def test_latest_skips_records_written_before_the_trigger_started(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for key in ("old1", "old2", "old3"):
        write(stream, key)
    batches: list[list[str]] = []
    trigger = Trigger(
        EventSourceMapping(starting_position="LATEST"),
        lambda event, context: batches.append(item_keys(event)),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    trigger.run_for(1)
    write(stream, "new1")
    write(stream, "new2")
    assert trigger.run_until_drained(60)

    assert [k for b in batches for k in b] == ["new1", "new2"]
    assert len(trigger.capture.records) == 2  # the old records are never even read
    assert_each_record_disposed_once(trigger.capture)


@pytest.mark.parametrize(("poll", "invoked"), [(0.25, 10.25), (1.0, 11.0), (0.1, 10.2)])
def test_a_record_is_invoked_at_the_next_poll(clock, poll: float, invoked: float) -> None:
    stream = InMemoryStream(clock=clock.now)
    clock.env.process(trickle(stream, clock, [10.15]))

    trigger, batches = run(
        stream, clock, first=11, timing=TriggerTiming(poll_interval_seconds=poll)
    )

    assert batches == [["k00"]]
    (attempt,) = trigger.capture.attempts
    (record,) = trigger.capture.records
    assert attempt.invoked_at - T0 == pytest.approx(invoked, abs=1e-4)
    assert 0 < attempt.invoked_at - record.created_at <= poll
    assert record.read_at == attempt.invoked_at


def test_default_poll_interval_is_four_polls_a_second(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        lambda event, context: None,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    trigger.run_for(10)
    # One GetRecords at T0, then one every 0.25 s [D]: 0, 0.25, ..., 9.75.
    assert stream.calls.count("GetRecords") == 40


def test_capture_frames_hold_one_row_per_record_attempt_and_disposition(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    for i in range(250):
        write(stream, f"k{i:03d}")
    trigger, _ = run(stream, clock, batch_size=100)

    frames = trigger.capture.frames()
    assert {name: len(frame) for name, frame in frames.items()} == {
        "records": 250,
        "attempts": 3,
        "dispositions": 250,
        "poll_errors": 0,
    }
    attempts = frames["attempts"]
    assert list(attempts["records"]) == [100, 100, 50]
    assert attempts["log_lines"].str.startswith("START RequestId: ").all()
    assert set(frames["dispositions"]["disposition"]) == {"processed"}
    assert set(frames["records"]["clock"]) == {"virtual"}
