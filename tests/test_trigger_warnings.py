"""Every accepted-but-inert mapping setting is warned about by the API that takes the mapping
(Trigger, and so simulate), and FunctionName names the function in on-failure records."""

from __future__ import annotations

import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import MappingWarning, Trigger
from streamsim.clock import VirtualClock

OTHER_STREAM = "arn:aws:dynamodb:us-east-1:111111111111:table/Other/stream/2024-01-01T00:00:00.000"


def make(mapping: EventSourceMapping) -> Trigger:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    return Trigger(mapping, print, streams=stream, stream_arn=stream.stream_arn, clock=clock)


def test_a_trigger_warns_about_settings_it_does_not_emulate() -> None:
    mapping = EventSourceMapping.from_aws(
        {"StartingPosition": "LATEST", "Tags": {"a": "b"}, "MetricsConfig": {"Metrics": []}}
    )
    with pytest.warns(MappingWarning) as caught:
        trigger = make(mapping)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("Tags is accepted as AWS does but not emulated") for m in messages)
    assert any(m.startswith("MetricsConfig is accepted") for m in messages)
    assert trigger.warnings == tuple(messages)


def test_a_trigger_warns_when_event_source_arn_names_another_stream() -> None:
    mapping = EventSourceMapping(starting_position="LATEST", event_source_arn=OTHER_STREAM)
    with pytest.warns(MappingWarning, match="EventSourceArn .* is not the stream this trigger"):
        make(mapping)


def test_function_name_names_the_function() -> None:
    arn = "arn:aws:lambda:eu-central-1:123456789012:function:badges:live"
    trigger = make(EventSourceMapping(starting_position="LATEST", function_name=arn))
    assert trigger.function_arn.endswith(":function:badges")


def test_simulate_shows_the_warnings_too() -> None:
    from streamsim.workbench.virtual import Scenario, simulate

    mapping = EventSourceMapping.from_aws(
        {"StartingPosition": "TRIM_HORIZON", "KMSKeyArn": "arn:aws:kms:eu-central-1:1:key/x"}
    )
    with pytest.warns(MappingWarning, match="KMSKeyArn is accepted"):
        simulate(Scenario(players=2, days=1, max_plays=5, mapping=mapping))
