"""The badge handler against the embedded server: awards equal the batch evaluator's, once each,
under any delivery order, duplicates, concurrency, and bad records."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, create_table
from streamsim.game.achievements import player_badges, scan_achievements
from streamsim.game.badges import evaluate_batch, plays_to_frame
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.game.plays import Play
from streamsim.game.playstore import play_to_item, write_play

START = datetime(2026, 1, 1, 18, 0, tzinfo=timezone.utc)


def _plays(seed: int = 1) -> list[Play]:
    """Three players: a 12-day chess streak, a comeback after 40 days, a busy sudoku player."""
    rng = random.Random(seed)
    plays: list[Play] = []
    n = 0

    def add(player: str, day: float, game: str, tz: str = "Europe/Amsterdam") -> None:
        nonlocal n
        n += 1
        when = START + timedelta(days=day, minutes=rng.randrange(0, 120))
        plays.append(Play(player, f"play{n:04d}", game, when, tz, rng.randrange(0, 100)))

    for d in range(12):
        add("streaker", d, "chess")
    add("returner", 0, "wordle", "America/New_York")
    add("returner", 41, "wordle", "America/New_York")
    add("returner", 41.1, "chess", "America/New_York")
    for d in range(0, 30, 5):
        for _ in range(2):
            add("busy", d, "sudoku", "Asia/Tokyo")
    return plays


def _setup(dynamodb) -> None:  # type: ignore[no-untyped-def]
    create_table(dynamodb, ACHIEVEMENTS)
    create_table(dynamodb, PLAYER_STATE)
    return create_table(dynamodb, PLAYS)  # type: ignore[return-value]


def _expected(plays: list[Play]) -> set[tuple[str, str, str]]:
    frame = evaluate_batch(plays_to_frame(plays))
    return set(zip(frame["player_id"], frame["badge_id"], frame["play_id"], strict=True))


def _awarded(dynamodb) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    rows = scan_achievements(dynamodb)
    assert len(rows) == len({(r["player_id"], r["badge_id"]) for r in rows})
    return {(r["player_id"], r["badge_id"], r["play_id"]) for r in rows}


@pytest.mark.parametrize("strategy", ["read-all", "incremental", "batched"])
def test_any_order_with_duplicates_awards_exactly_what_the_batch_evaluator_awards(
    dynamodb, streams, strategy
) -> None:
    arn = _setup(dynamodb)
    plays = _plays()
    for play in plays:  # the table holds every play before the stream is processed
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    deliveries = records + random.Random(7).sample(records, 15)  # duplicates
    random.Random(3).shuffle(deliveries)
    handler = BadgeHandler(dynamodb, HandlerSettings(strategy=strategy))
    for i in range(0, len(deliveries), 7):
        assert handler({"Records": deliveries[i : i + 7]}, None) == {"batchItemFailures": []}
    expected = _expected(plays)
    assert {b for _, b, _ in expected} >= {"first_play:chess", "streak:10:chess", "comeback:30"}
    assert _awarded(dynamodb) == expected
    if strategy != "read-all":
        assert handler.stats.rebuilds > 0  # out-of-order and duplicate deliveries were seen


def test_incremental_strategy_folds_in_order_deliveries_without_reading_history(
    dynamodb, streams
) -> None:
    arn = _setup(dynamodb)
    plays = _plays()
    for play in sorted(plays, key=lambda p: (p.played_at, p.play_id)):
        write_play(dynamodb, play)
    handler = BadgeHandler(dynamodb, HandlerSettings(strategy="incremental"))
    for record in StreamReader(streams, arn).read_all():
        handler({"Records": [record.event]}, None)
    assert handler.stats.folds == len(plays)
    assert handler.stats.rebuilds == 0 and handler.stats.plays_read == 0
    assert _awarded(dynamodb) == _expected(plays)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["incremental", "batched"])
def test_concurrent_deliveries_keep_the_incremental_state_consistent(backend, strategy) -> None:
    dynamodb = backend.client("dynamodb")
    arn = _setup(dynamodb)
    plays = [p for p in _plays(2) if p.player_id != "busy"]
    for play in plays:
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(backend.client("dynamodbstreams"), arn).read_all()]
    handlers = [
        BadgeHandler(backend.client("dynamodb"), HandlerSettings(strategy=strategy))
        for _ in range(3)
    ]
    errors: list[BaseException] = []

    def work(handler: BadgeHandler, seed: int) -> None:
        order = records[:]
        random.Random(seed).shuffle(order)
        try:
            for i in range(0, len(order), 3):
                assert handler({"Records": order[i : i + 3]}, None) == {"batchItemFailures": []}
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(h, i)) for i, h in enumerate(handlers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _awarded(dynamodb) == _expected(plays)
    import json

    from streamsim.game.badges import PlayerState

    for player in {p.player_id for p in plays}:
        item = dynamodb.get_item(TableName="PlayerState", Key={"player_id": {"S": player}})["Item"]
        state = PlayerState.from_dict(json.loads(item["state"]["S"]))
        assert state.count == sum(p.player_id == player for p in plays)


def test_bad_records_fail_by_sequence_number_without_stopping_the_batch(dynamodb, streams) -> None:
    arn = _setup(dynamodb)
    good = _plays()[0]
    write_play(dynamodb, good)
    (record,) = [r.event for r in StreamReader(streams, arn).read_all()]
    broken = {**record, "dynamodb": {**record["dynamodb"], "SequenceNumber": "900"}}
    broken["dynamodb"]["NewImage"] = {
        k: v for k, v in record["dynamodb"]["NewImage"].items() if k != "score"
    }
    no_image = {**record, "dynamodb": {"Keys": record["dynamodb"]["Keys"], "SequenceNumber": "901"}}
    modify = {
        **record,
        "eventName": "MODIFY",
        "dynamodb": {**record["dynamodb"], "SequenceNumber": "902"},
    }
    handler = BadgeHandler(dynamodb)
    lines: list[str] = []
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        response = handler({"Records": [broken, no_image, modify, record]}, None)
    lines = out.getvalue().splitlines()
    assert response == {"batchItemFailures": [{"itemIdentifier": "900"}, {"itemIdentifier": "901"}]}
    assert any("900" in line and "score" in line for line in lines)
    assert any("901" in line and "NewImage" in line for line in lines)
    assert [b["badge_id"] for b in player_badges(dynamodb, good.player_id)] == ["first_play:chess"]
    assert handler.stats.skipped == 1


def test_an_event_that_is_not_a_stream_event_fails_clearly(dynamodb) -> None:
    from streamsim.errors import EventParseError

    with pytest.raises(EventParseError, match="no Records list"):
        BadgeHandler(dynamodb)({"hello": "world"}, None)


def test_settings_from_the_lambda_environment() -> None:
    from streamsim.errors import ConfigError

    settings = HandlerSettings.from_env(
        {
            "PLAYS_TABLE": "P",
            "BADGE_STRATEGY": "incremental",
            "BADGE_RULES": '[{"rule": "TotalPlays", "params": {"count": 3}}]',
        }
    )
    assert settings.plays_table == "P" and settings.strategy == "incremental"
    assert [r.badge_id("chess") for r in settings.rules] == ["total_plays:3"]
    with pytest.raises(ConfigError, match="BADGE_STRATEGY 'fast'"):
        HandlerSettings.from_env({"BADGE_STRATEGY": "fast"})
    with pytest.raises(ConfigError, match="BADGE_RULES"):
        HandlerSettings.from_env({"BADGE_RULES": "not json"})


def test_item_roundtrip_is_what_the_handler_reads() -> None:
    play = _plays()[0]
    assert play_to_item(play)["play_key"]["S"] == play.play_key


@pytest.mark.parametrize("strategy", ["read-all", "incremental", "batched"])
def test_every_read_the_handler_makes_is_strongly_consistent(dynamodb, streams, strategy) -> None:
    """A stale read of a player's state or plays would fold an old version: the lock then
    retries, but only if the read was consistent to begin with. AWS reads eventually consistent
    unless ConsistentRead is true (DynamoDB DG, "Read consistency"); moto always reads
    consistently, so the request itself is the witness."""
    arn = _setup(dynamodb)
    plays = _plays()
    for play in plays:
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    reads: list[tuple[str, bool]] = []

    def hook(params: dict, model: Any, **_: Any) -> None:  # type: ignore[type-arg]
        if model.name in ("GetItem", "Query"):
            reads.append((model.name, params.get("ConsistentRead") is True))
        elif model.name == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                reads.append((f"BatchGetItem {table}", request.get("ConsistentRead") is True))

    dynamodb.meta.events.register("provide-client-params.dynamodb.*", hook)
    handler = BadgeHandler(dynamodb, HandlerSettings(strategy=strategy))
    assert handler({"Records": records}, None) == {"batchItemFailures": []}
    assert reads, "the handler read nothing"
    assert [name for name, consistent in reads if not consistent] == []
