"""Bad input gets a clear error and loses nothing (bounded hypothesis fuzzing).

- The badge handler on arbitrary events and near-valid records: it answers
  ``batchItemFailures`` naming the records it could not process, or raises EventParseError for
  an event that is not a stream event; nothing else escapes to crash the trigger.
- ``validate_play`` on arbitrary play results: a Play or PlayValidationError, nothing else.
- The trigger engine with an arbitrary handler (responses of every shape, exceptions,
  unserialisable values): it never raises, and every record ends with exactly one disposition.
- An event-source-mapping file of arbitrary bytes: ConfigError naming the file.

Filter patterns and mapping parameters are fuzzed in test_trigger_filters.py and
test_trigger_config.py; fault specs in test_faults_spec.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from streamsim.errors import ConfigError, EventParseError, PlayValidationError
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.game.plays import DEFAULT_GAMES, Play, play_key
from streamsim.game.playstore import play_to_item, validate_play
from tests.helpers import assert_each_record_disposed_once

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
zones = st.sampled_from(
    [
        "UTC",
        "Europe/Amsterdam",
        "Pacific/Kiritimati",
        "America/Adak",
        "Nope/Zone",
        "America",
        "",
        "../x",
        "UTC\x00",
    ]
)
extreme_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)
ordinary_times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc)
)


class TableStub:
    """The handler's DynamoDB client: no history, every write succeeds."""

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": []}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {}


@st.composite
def play_images(draw: st.DrawFn, junk: bool = False) -> dict[str, Any]:
    """A valid play item; with ``junk``, extreme times, odd zones and scores, or junk fields."""
    played_at = draw(extreme_times if junk and draw(st.booleans()) else ordinary_times)
    play_id = draw(st.text(min_size=1, max_size=8).filter(lambda s: "#" not in s))
    try:
        key = play_key(played_at, play_id)
        iso = played_at.astimezone(timezone.utc).isoformat()
    except (OverflowError, ValueError):
        key, iso = "bad", played_at.isoformat()
    image: dict[str, Any] = {
        "player_id": {"S": draw(st.text(min_size=1, max_size=8))},
        "play_id": {"S": play_id},
        "play_key": {"S": key},
        "game": {"S": draw(st.sampled_from(DEFAULT_GAMES))},
        "played_at": {"S": iso},
        "tz": {"S": draw(zones if junk else st.sampled_from(["UTC", "Europe/Amsterdam"]))},
        "score": {"N": draw(st.sampled_from(["0", "7", "-3", "1e3", "9" * 40, " 5 ", "x"]))},
    }
    if junk:
        for name in draw(st.lists(st.sampled_from(sorted(image)), max_size=2)):
            image[name] = draw(json_values | st.fixed_dictionaries({"S": st.text(max_size=12)}))
    return image


def stream_records(images: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "eventName": st.just("INSERT"),
            "dynamodb": st.fixed_dictionaries(
                {"SequenceNumber": st.text(max_size=6), "NewImage": images}
            ),
        }
    )


odd_records = st.fixed_dictionaries(
    {
        "eventName": st.sampled_from(["INSERT", "MODIFY", "REMOVE"]) | json_values,
        "dynamodb": st.fixed_dictionaries(
            {"SequenceNumber": st.text(max_size=6)},
            optional={"NewImage": json_values, "Keys": json_values},
        )
        | json_values,
    }
)
records = st.one_of(
    stream_records(play_images()),
    stream_records(play_images(junk=True)),
    stream_records(play_images(junk=True)),
    odd_records,
    json_values,
)
events = st.fixed_dictionaries({"Records": st.lists(records, max_size=4)}) | json_values


@FUZZ
@given(events, st.sampled_from(["read-all", "incremental"]))
def test_badge_handler_answers_or_fails_the_event_clearly(event: Any, strategy: str) -> None:
    handler = BadgeHandler(TableStub(), HandlerSettings(strategy=strategy))
    try:
        response = handler(event, None)
    except EventParseError as exc:
        assert "\n" not in str(exc)
        assert not (isinstance(event, dict) and isinstance(event.get("Records"), list))
        return
    failures = response["batchItemFailures"]
    assert isinstance(failures, list) and len(failures) == handler.stats.failed
    sequence_numbers = [
        r["dynamodb"].get("SequenceNumber")
        if isinstance(r, dict) and isinstance(r.get("dynamodb"), dict)
        else None
        for r in event["Records"]
    ]
    assert all(f["itemIdentifier"] in sequence_numbers for f in failures)
    assert handler.stats.plays + handler.stats.skipped + handler.stats.failed == len(
        sequence_numbers
    )


@FUZZ
@given(
    player_id=json_values | st.text(max_size=8),
    game=st.sampled_from(DEFAULT_GAMES) | json_values,
    played_at=extreme_times
    | extreme_times.map(lambda d: d.isoformat())
    | st.datetimes()
    | json_values,
    tz=zones | json_values,
    score=st.integers() | json_values,
    play_id=st.none() | st.text(max_size=6) | json_values,
)
def test_validate_play_returns_a_play_or_names_the_field(**fields: Any) -> None:
    try:
        play = validate_play(**fields, now=datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp())
    except PlayValidationError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(play, Play) and play.played_at.tzinfo is not None
    play_to_item(play)  # and it can be stored


# ---- the engine with an arbitrary handler -----------------------------------------------------


class Odd:
    """Not JSON-serialisable (Lambda: Runtime.MarshalError)."""


actions = st.one_of(
    st.just(("return", None)),
    st.tuples(st.just("return"), json_values),
    st.tuples(st.just("return"), st.just(Odd())),
    st.tuples(st.just("raise"), st.sampled_from([ValueError, KeyError, RuntimeError, TypeError])),
    st.tuples(st.just("fail"), st.lists(st.integers(0, 6), max_size=3)),
    st.tuples(
        st.just("items"),
        st.lists(json_values | st.fixed_dictionaries({"itemIdentifier": json_values}), max_size=3),
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=st.lists(actions, min_size=1, max_size=8),
    batch_size=st.integers(1, 5),
    bisect=st.booleans(),
    report=st.booleans(),
    destination=st.booleans(),
    items=st.integers(1, 12),
)
def test_the_engine_survives_any_handler_and_disposes_of_every_record(
    program: list[tuple[str, Any]],
    batch_size: int,
    bisect: bool,
    report: bool,
    destination: bool,
    items: int,
) -> None:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    for i in range(items):
        stream.write({"pk": {"S": f"k{i}"}}, {"pk": {"S": f"k{i}"}})
    calls = [0]

    def handler(event: dict[str, Any], context: Any) -> Any:
        kind, value = program[calls[0] % len(program)]
        calls[0] += 1
        seqs = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        if kind == "raise":
            raise value("fuzzed failure")
        if kind == "fail":
            return {"batchItemFailures": [{"itemIdentifier": seqs[i % len(seqs)]} for i in value]}
        if kind == "items":
            return {"batchItemFailures": value}
        return value

    trigger = Trigger(
        EventSourceMapping(
            starting_position="TRIM_HORIZON",
            batch_size=batch_size,
            maximum_retry_attempts=2,
            bisect_batch_on_function_error=bisect,
            function_response_types=("ReportBatchItemFailures",) if report else (),
        ),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        timing=TriggerTiming(),
        destination=MemoryDestination() if destination else None,
        handler_duration_seconds=0.0,
    )
    assert trigger.run_until_drained(timedelta(days=2).total_seconds())
    assert_each_record_disposed_once(trigger.capture)
    assert len(trigger.capture.dispositions) == items
    ended = {d.disposition for d in trigger.capture.dispositions}
    assert "discarded" not in ended if destination else "destination" not in ended


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: __import__("json").dumps(v).encode()))
def test_a_mapping_file_of_any_bytes_is_a_config_or_a_clear_error(
    tmp_path_factory: Any, content: bytes
) -> None:
    path: Path = tmp_path_factory.mktemp("esm") / "esm.json"
    path.write_bytes(content)
    try:
        EventSourceMapping.from_file(path)
    except ConfigError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
