"""The Plays table: the play API (the blog's "accept the result of a play") and its items.

One item per play: ``player_id`` (partition key) and ``play_key`` (sort key: ISO-8601 UTC time,
then the play id), so "all plays of a player, in time order" is one Query. ``written_at`` is the
writer's clock in epoch milliseconds, so latency can be measured end to end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streamsim.errors import EventParseError, PlayValidationError
from streamsim.game.plays import DEFAULT_GAMES, Play

#: How far in the future a play may claim to be (clock skew between devices), seconds.
FUTURE_TOLERANCE_SECONDS = 5.0


def record_play(
    dynamodb: Any,
    *,
    player_id: Any,
    game: Any,
    played_at: Any,
    tz: Any,
    score: Any,
    play_id: str | None = None,
    games: Iterable[str] = DEFAULT_GAMES,
    table: str = "Plays",
    now: Callable[[], float] = time.time,
) -> Play:
    """Validate a play result and write it; return the play. Errors name the field."""
    play = validate_play(
        player_id=player_id,
        game=game,
        played_at=played_at,
        tz=tz,
        score=score,
        play_id=play_id,
        games=games,
        now=now(),
    )
    write_play(dynamodb, play, table=table, written_at=now())
    return play


def validate_play(
    *,
    player_id: Any,
    game: Any,
    played_at: Any,
    tz: Any,
    score: Any,
    play_id: str | None = None,
    games: Iterable[str] = DEFAULT_GAMES,
    now: float | None = None,
) -> Play:
    """The play, if every field is valid; else PlayValidationError naming the field."""
    if not isinstance(player_id, str) or not player_id.strip():
        raise PlayValidationError(f"player_id must be a non-empty string, got {player_id!r}")
    catalogue = tuple(games)
    if not isinstance(game, str) or game not in catalogue:
        raise PlayValidationError(
            f"game {game!r} is not a known game (known: {', '.join(catalogue)})"
        )
    if not isinstance(tz, str):
        raise PlayValidationError(f"tz must be an IANA time zone name, got {tz!r}")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a long name
        raise PlayValidationError(
            f"tz {tz!r} is not an IANA time zone (e.g. Europe/Amsterdam)"
        ) from None
    when = _parse_time(played_at)
    # The table keeps milliseconds: truncate so the play read back equals the play written.
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    if now is not None and when.timestamp() > now + FUTURE_TOLERANCE_SECONDS:
        raise PlayValidationError(f"played_at {when.isoformat()} is in the future")
    if isinstance(score, bool) or not isinstance(score, int):
        raise PlayValidationError(f"score must be an integer, got {score!r}")
    if score < 0:
        raise PlayValidationError(f"score must be >= 0, got {score}")
    if play_id is not None and (not isinstance(play_id, str) or not play_id or "#" in play_id):
        raise PlayValidationError(
            f"play_id must be a non-empty string without '#', got {play_id!r}"
        )
    return Play(player_id, play_id or uuid.uuid4().hex, game, when, tz, score)


def write_play(
    dynamodb: Any, play: Play, *, table: str = "Plays", written_at: float | None = None
) -> None:
    """PutItem the play (no validation: use ``record_play`` for API input)."""
    dynamodb.put_item(TableName=table, Item=play_to_item(play, written_at))


def play_to_item(play: Play, written_at: float | None = None) -> dict[str, Any]:
    """The play as a DynamoDB item (attribute-value format)."""
    item: dict[str, Any] = {
        "player_id": {"S": play.player_id},
        "play_key": {"S": play.play_key},
        "play_id": {"S": play.play_id},
        "game": {"S": play.game},
        "played_at": {"S": _iso(play.played_at)},
        "tz": {"S": play.tz},
        "score": {"N": str(play.score)},
    }
    if written_at is not None:
        item["written_at"] = {"N": str(int(round(written_at * 1000)))}
    return item


def play_from_item(item: Any) -> Play:
    """A play from an item or a stream image; EventParseError names what is missing or wrong."""
    if not isinstance(item, dict):
        raise EventParseError(f"a play item must be a map, got {type(item).__name__}")

    def text(name: str) -> str:
        value = item.get(name)
        if not isinstance(value, dict) or not isinstance(value.get("S"), str) or not value["S"]:
            raise EventParseError(f"play item has no string attribute {name!r}")
        return str(value["S"])

    score_value = item.get("score")
    if not isinstance(score_value, dict) or not isinstance(score_value.get("N"), str):
        raise EventParseError("play item has no number attribute 'score'")
    try:
        score = int(score_value["N"])
        when = _parse_time(text("played_at"))
        ZoneInfo(text("tz"))  # the badge evaluator counts days in it: check it here
    except (ValueError, OSError, ZoneInfoNotFoundError, PlayValidationError) as exc:
        raise EventParseError(f"play item has a bad value: {exc}") from exc
    if score < 0:  # the rule validate_play enforces: the badge evaluator relies on it
        raise EventParseError(f"play item has a negative score {score}")
    play = Play(text("player_id"), text("play_id"), text("game"), when, text("tz"), score)
    if text("play_key") != play.play_key:
        raise EventParseError(
            f"play item's play_key {text('play_key')!r} does not match its time and id"
        )
    return play


def written_at_of(item: dict[str, Any]) -> float | None:
    """The writer's clock (epoch seconds) stored with the play, if any."""
    value = item.get("written_at", {}).get("N")
    return int(value) / 1000.0 if value is not None else None


def query_plays(
    dynamodb: Any,
    player_id: str,
    *,
    before_key: str | None = None,
    table: str = "Plays",
    consistent: bool = True,
) -> Iterator[Play]:
    """The player's plays in time order (optionally only those before ``before_key``): one
    Query, following pagination."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "ConsistentRead": consistent,
        "KeyConditionExpression": "player_id = :p",
        "ExpressionAttributeValues": {":p": {"S": player_id}},
    }
    if before_key is not None:
        kwargs["KeyConditionExpression"] += " AND play_key < :k"
        kwargs["ExpressionAttributeValues"][":k"] = {"S": before_key}
    while True:
        page = dynamodb.query(**kwargs)
        for item in page.get("Items", []):
            yield play_from_item(item)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PlayValidationError(f"played_at {value.isoformat()} has no time zone (use UTC)")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:  # year 1 east of UTC, year 9999 west of it
            raise PlayValidationError(f"played_at {value.isoformat()} is out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise PlayValidationError(f"played_at {value!r} is not an ISO-8601 time") from None
        return _parse_time(parsed)
    raise PlayValidationError(f"played_at must be a datetime or an ISO-8601 string, got {value!r}")


def _iso(when: datetime) -> str:
    utc = when.astimezone(timezone.utc)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}Z"
