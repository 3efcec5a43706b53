"""The play API: validation names the field; a written play reads back (table and stream) equal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import PLAYS, create_table
from streamsim.errors import EventParseError, PlayValidationError
from streamsim.game.playstore import (
    play_from_item,
    play_to_item,
    query_plays,
    record_play,
    validate_play,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()
GOOD = dict(
    player_id="p1",
    game="chess",
    played_at="2026-03-01T11:59:00.123456Z",
    tz="Europe/Amsterdam",
    score=10,
)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"player_id": ""}, "player_id must be a non-empty string"),
        ({"player_id": 7}, "player_id must be a non-empty string"),
        ({"game": "poker"}, "game 'poker' is not a known game"),
        ({"tz": "Mars/Olympus"}, "tz 'Mars/Olympus' is not an IANA time zone"),
        ({"tz": 1}, "tz must be an IANA time zone name"),
        ({"played_at": "yesterday"}, "played_at 'yesterday' is not an ISO-8601 time"),
        ({"played_at": datetime(2026, 3, 1)}, "has no time zone"),
        ({"played_at": "2026-03-01T13:00:00Z"}, "is in the future"),
        ({"played_at": 1700000000}, "played_at must be a datetime or an ISO-8601 string"),
        ({"score": -1}, "score must be >= 0"),
        ({"score": 1.5}, "score must be an integer"),
        ({"score": True}, "score must be an integer"),
        ({"score": "10"}, "score must be an integer"),
    ],
)
def test_bad_play_results_name_the_field(change, message) -> None:
    with pytest.raises(PlayValidationError, match=message):
        validate_play(**{**GOOD, **change}, now=NOW)


def test_valid_play_is_truncated_to_the_tables_milliseconds() -> None:
    play = validate_play(**GOOD, play_id="a1", now=NOW)
    assert play.played_at == datetime(2026, 3, 1, 11, 59, 0, 123000, tzinfo=timezone.utc)
    assert play.play_key == "2026-03-01T11:59:00.123Z#a1"
    assert play_from_item(play_to_item(play)) == play


def test_recorded_play_reads_back_from_table_and_stream(dynamodb, streams) -> None:
    arn = create_table(dynamodb, PLAYS)
    plays = [
        record_play(
            dynamodb, **{**GOOD, "played_at": f"2026-03-01T1{h}:00:00Z"}, now=lambda: NOW + 86400
        )
        for h in (3, 1, 2)
    ]
    stored = list(query_plays(dynamodb, "p1"))
    assert stored == sorted(plays, key=lambda p: p.played_at)  # one Query, time order
    assert list(query_plays(dynamodb, "p1", before_key=stored[1].play_key)) == stored[:1]
    records = list(StreamReader(streams, arn).read_all())
    assert [r.event_name for r in records] == ["INSERT"] * 3
    assert [play_from_item(r.event["dynamodb"]["NewImage"]) for r in records] == plays
    written = int(records[0].event["dynamodb"]["NewImage"]["written_at"]["N"])
    assert written == int((NOW + 86400) * 1000)


@pytest.mark.parametrize(
    "item, message",
    [
        ("nope", "must be a map"),
        ({}, "no number attribute 'score'"),
        ({"score": {"N": "1"}}, "no string attribute 'played_at'"),
    ],
)
def test_unparseable_items_are_clear_errors(item, message) -> None:
    with pytest.raises(EventParseError, match=message):
        play_from_item(item)


def test_item_with_inconsistent_key_is_rejected() -> None:
    play = validate_play(**GOOD, play_id="a1", now=NOW)
    item = play_to_item(play)
    item["play_key"] = {"S": "2020-01-01T00:00:00.000Z#a1"}
    with pytest.raises(EventParseError, match="does not match"):
        play_from_item(item)


def test_future_tolerance_allows_small_clock_skew() -> None:
    soon = datetime.fromtimestamp(NOW, timezone.utc) + timedelta(seconds=2)
    assert validate_play(**{**GOOD, "played_at": soon}, now=NOW).played_at == soon
