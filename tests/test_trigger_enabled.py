"""``Enabled: false`` stops the mapping; enabling resumes where it stopped; polling starts after
TriggerTiming.polling_start_delay_seconds. [API] Enabled: "When false, Lambda pauses polling and
invocation"; [DOC-OLD] "Lambda keeps track of the last record processed and resumes processing
from that point when the mapping is reenabled"; Lambda DG (MSK/Kafka starting positions): "it
may take several minutes to start polling … with LATEST … could miss events"."""

from __future__ import annotations

from typing import Any

import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import TriggerTiming
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from streamsim.errors import ConfigError
from tests.helpers import T0, PoisonHandler, assert_each_record_disposed_once, trigger_for
from tests.helpers import write_key as write


def invoked(trigger: Trigger) -> list[float]:
    return [a.invoked_at - T0 for a in trigger.capture.attempts]


def test_a_disabled_mapping_does_not_poll_and_resume_delivers_everything(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "a")
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler, enabled=False)
    assert not trigger.enabled
    trigger.run_for(3600)
    write(stream, "b")
    trigger.run_for(3600)
    assert stream.calls == []  # no DescribeStream, no GetRecords: nothing is polled
    assert handler.batches == []
    assert not trigger.drained

    trigger.resume()
    assert trigger.enabled
    assert trigger.run_until_drained(60)
    assert handler.batches == [["a", "b"]]
    assert invoked(trigger) == [7200]
    assert_each_record_disposed_once(trigger.capture)


def test_pause_then_resume_continues_from_where_the_mapping_stopped(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "a")
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler)
    trigger.run_for(10)
    trigger.pause()
    reads = stream.calls.count("GetRecords")
    write(stream, "b")
    write(stream, "c")
    trigger.run_for(3600)  # the handler is off for an hour
    assert stream.calls.count("GetRecords") == reads
    assert handler.batches == [["a"]]

    trigger.resume()
    assert trigger.run_until_drained(60)
    assert handler.batches == [["a"], ["b", "c"]]  # nothing re-delivered, nothing skipped
    assert invoked(trigger) == [0, 3610]
    assert_each_record_disposed_once(trigger.capture)


def test_a_retrying_batch_waits_while_the_mapping_is_disabled(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "poison")
    trigger = trigger_for(stream, clock, PoisonHandler("poison"), maximum_retry_attempts=5)
    trigger.disable_for(100, after=10)
    assert trigger.run_until_drained(3600)
    # Invoked at 0, 1, 3, 7; the retry due at 15 waits for the enable at 110; then backoff.
    assert invoked(trigger) == [0, 1, 3, 7, 110, 126]


def test_disable_for_on_the_virtual_clock_builds_a_backlog(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler)
    trigger.disable_for(3600, after=90)

    def writer() -> Any:
        for i in range(120):
            write(stream, f"k{i}")
            yield clock.sleep(60)

    clock.env.process(writer())
    trigger.run_for(7200)
    assert trigger.run_until_drained(600)
    times = invoked(trigger)
    assert not [t for t in times if 90 < t < 3690]  # off between 90 s and 3,690 s
    backlog = handler.batches[times.index(3690)]
    assert backlog == [f"k{i}" for i in range(2, 62)]  # the hour's writes, at once on enable
    assert handler.keys == [f"k{i}" for i in range(120)]
    assert_each_record_disposed_once(trigger.capture)


def test_with_latest_writes_before_polling_starts_are_missed() -> None:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    handler = PoisonHandler()
    timing = TriggerTiming(polling_start_delay_seconds=120)
    trigger = trigger_for(stream, clock, handler, timing, starting_position="LATEST")
    trigger.start()
    clock.run(until=T0 + 60)
    write(stream, "in-the-gap")
    clock.run(until=T0 + 180)
    write(stream, "after")
    assert trigger.run_until_drained(60)
    assert handler.keys == ["after"]
    assert stream.calls[0] == "DescribeStream"
    assert invoked(trigger) == [180]


def test_trim_horizon_waits_for_the_polling_start_delay_and_misses_nothing(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    write(stream, "a")
    handler = PoisonHandler()
    trigger = trigger_for(stream, clock, handler, TriggerTiming(polling_start_delay_seconds=120))
    assert trigger.run_until_drained(600)
    assert invoked(trigger) == [120]


def test_enabling_again_also_waits_for_the_polling_start_delay(clock) -> None:
    stream = InMemoryStream(clock=clock.now)
    handler = PoisonHandler()
    timing = TriggerTiming(polling_start_delay_seconds=30)
    trigger = trigger_for(stream, clock, handler, timing, enabled=False)
    trigger.run_for(100)
    write(stream, "a")
    trigger.resume()
    assert trigger.run_until_drained(600)
    assert invoked(trigger) == [130]


def test_the_polling_start_delay_is_zero_by_default_and_validated() -> None:
    assert TriggerTiming().polling_start_delay_seconds == 0
    with pytest.raises(ConfigError, match="polling_start_delay_seconds=-1 is out of range"):
        TriggerTiming(polling_start_delay_seconds=-1)
    with pytest.raises(ConfigError, match="disable_for seconds=-5"):
        trigger_for(InMemoryStream(clock=VirtualClock().now), VirtualClock(), print).disable_for(-5)
