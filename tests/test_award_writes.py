"""The conditional award write and the PlayerState optimistic lock, exercised directly on moto.

``write_awards`` writes a badge only if the player lacks it or holds it from a later play;
these tests fail if the condition is dropped or weakened. The PlayerState test forces the
interleaving the version check exists for: a handler whose state update is overtaken by
another handler's (a timed-out invocation still running while its redelivery runs).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, create_table
from streamsim.game.achievements import award_item, player_badges, scan_achievements, write_awards
from streamsim.game.badges import Award, PlayerState, evaluate_batch, plays_to_frame
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.game.plays import Play
from streamsim.game.playstore import play_to_item, write_play

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def _award(play_id: str, minutes: int, badge: str = "first-play") -> Award:
    return Award("p1", badge, "FirstPlay", "{}", play_id, T0 + timedelta(minutes=minutes))


@pytest.fixture
def achievements(dynamodb) -> Any:  # type: ignore[no-untyped-def]
    create_table(dynamodb, ACHIEVEMENTS)
    return dynamodb


def _stored(dynamodb: Any) -> list[tuple[str, str, float]]:
    return [(b["badge_id"], b["play_id"], b["awarded_at"]) for b in player_badges(dynamodb, "p1")]


def test_a_new_badge_is_written_once(achievements) -> None:  # type: ignore[no-untyped-def]
    assert write_awards(achievements, [_award("a", 5)], now=lambda: 100.0) == 1
    assert _stored(achievements) == [("first-play", "a", 100.0)]


def test_a_repeated_award_is_not_written_again(achievements) -> None:  # type: ignore[no-untyped-def]
    write_awards(achievements, [_award("a", 5)], now=lambda: 100.0)
    assert write_awards(achievements, [_award("a", 5)], now=lambda: 200.0) == 0
    assert _stored(achievements) == [("first-play", "a", 100.0)]  # not rewritten


def test_an_award_from_a_later_play_does_not_replace_the_earlier(achievements) -> None:  # type: ignore[no-untyped-def]
    write_awards(achievements, [_award("a", 5)], now=lambda: 100.0)
    assert write_awards(achievements, [_award("b", 9)], now=lambda: 200.0) == 0
    assert _stored(achievements) == [("first-play", "a", 100.0)]


def test_an_award_from_an_earlier_play_replaces_the_later(achievements) -> None:  # type: ignore[no-untyped-def]
    """A late-written earlier play: the batch evaluator names it, so the table converges on it."""
    write_awards(achievements, [_award("b", 9)], now=lambda: 100.0)
    assert write_awards(achievements, [_award("a", 5)], now=lambda: 200.0) == 1
    assert _stored(achievements) == [("first-play", "a", 200.0)]


def test_each_badge_is_judged_on_its_own(achievements) -> None:  # type: ignore[no-untyped-def]
    awards = [_award("a", 5), _award("a", 5, "streak-3"), _award("a", 5)]
    assert write_awards(achievements, awards, now=lambda: 1.0) == 2
    assert sorted(b for b, _, _ in _stored(achievements)) == ["first-play", "streak-3"]


def test_other_errors_are_raised_not_swallowed(dynamodb) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        write_awards(dynamodb, [_award("a", 5)], table="NoSuchTable")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_award_item_and_its_page_round_trip(achievements) -> None:  # type: ignore[no-untyped-def]
    item = award_item(_award("a", 5), 1.2346)
    assert item["awarded_at"] == {"N": "1235"} and item["played_at"]["S"].endswith("Z")
    assert item["play_key"]["S"].startswith("2026-01-01T12:05:00") and item["play_key"][
        "S"
    ].endswith("#a")
    write_awards(achievements, [_award("a", 5)], now=lambda: 1.2346)
    (badge,) = player_badges(achievements, "p1")
    assert badge["played_at"] == T0 + timedelta(minutes=5) and badge["awarded_at"] == 1.235
    assert badge["rule"] == "FirstPlay" and badge["params"] == "{}"
    assert scan_achievements(achievements) == [badge]


def test_pages_are_followed(achievements) -> None:  # type: ignore[no-untyped-def]
    """Scan and Query paginate: every badge of every player comes back."""
    awards = [
        Award(f"p{i % 7}", f"b{i}", "FirstPlay", "{}", f"x{i}", T0 + timedelta(minutes=i))
        for i in range(60)
    ]
    write_awards(achievements, awards)
    page_size = {"n": 0}
    real_scan, real_query = achievements.scan, achievements.query

    def small_scan(**kwargs: Any) -> Any:
        page_size["n"] += 1
        return real_scan(Limit=2, **kwargs)

    def small_query(**kwargs: Any) -> Any:
        return real_query(Limit=3, **kwargs)

    achievements.scan, achievements.query = small_scan, small_query
    try:
        got = scan_achievements(achievements)
    finally:
        achievements.scan, achievements.query = real_scan, real_query
    assert len(got) == 60 and page_size["n"] > 1
    assert {(b["player_id"], b["badge_id"]) for b in got} == {
        (a.player_id, a.badge_id) for a in awards
    }


def test_a_named_table_is_read_and_written(dynamodb) -> None:  # type: ignore[no-untyped-def]
    create_table(dynamodb, ACHIEVEMENTS)  # the default table stays empty
    create_table(dynamodb, ACHIEVEMENTS.with_name("Badges2"))
    assert write_awards(dynamodb, [_award("a", 5)], table="Badges2") == 1
    assert [b["play_id"] for b in scan_achievements(dynamodb, table="Badges2")] == ["a"]
    assert scan_achievements(dynamodb) == [] and player_badges(dynamodb, "p1") == []


# ---- the PlayerState optimistic lock -------------------------------------------------------------


class _Interleaving:
    """A client whose first PlayerState PutItem first lets ``meanwhile`` run to completion."""

    def __init__(self, client: Any, meanwhile: Any) -> None:
        self._client = client
        self._meanwhile = meanwhile

    def put_item(self, **kwargs: Any) -> Any:
        if kwargs["TableName"] == PLAYER_STATE.name and self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return self._client.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _record(play: Play) -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": play.play_id, "NewImage": play_to_item(play)},
    }


def test_a_state_update_overtaken_by_another_handler_is_retried_not_lost(dynamodb) -> None:  # type: ignore[no-untyped-def]
    """Handler A folds p3 into the state {p1}; before it saves, p2 (played between them but
    written late) arrives and handler B saves {p1, p2}. A's save must fail its version check
    and retry; without the lock A's {p1, p3} overwrites B's and p2 is gone from the state
    for good (later folds see nothing missing after p3)."""
    for spec in (PLAYS, ACHIEVEMENTS, PLAYER_STATE):
        create_table(dynamodb, spec)
    settings = HandlerSettings(strategy="incremental")
    days = [T0 + timedelta(days=d) for d in range(4)]
    p1, p2, p3, p4 = (Play("p1", f"play{i}", "chess", days[i - 1], "UTC", 10) for i in (1, 2, 3, 4))
    write_play(dynamodb, p1)
    BadgeHandler(dynamodb, settings)({"Records": [_record(p1)]}, None)
    write_play(dynamodb, p3)
    b = BadgeHandler(dynamodb, settings)

    def late_play_meanwhile() -> None:
        write_play(dynamodb, p2)
        assert b({"Records": [_record(p2)]}, None) == {"batchItemFailures": []}

    a = BadgeHandler(_Interleaving(dynamodb, late_play_meanwhile), settings)
    assert a({"Records": [_record(p3)]}, None) == {"batchItemFailures": []}
    assert a.stats.state_conflicts == 1  # the lock fired
    write_play(dynamodb, p4)
    BadgeHandler(dynamodb, settings)({"Records": [_record(p4)]}, None)
    item = dynamodb.get_item(TableName=PLAYER_STATE.name, Key={"player_id": {"S": "p1"}})["Item"]
    state = PlayerState.from_dict(json.loads(item["state"]["S"]), settings.rules)
    assert state.count == 4
    assert state.to_dict() == PlayerState.from_history([p1, p2, p3, p4], settings.rules).to_dict()
    want = evaluate_batch(plays_to_frame([p1, p2, p3, p4]), settings.rules)
    got = scan_achievements(dynamodb)
    assert {(r["badge_id"], r["play_id"]) for r in got} == set(
        zip(want["badge_id"], want["play_id"], strict=True)
    )


def test_the_award_item_is_in_utc_whatever_the_machines_time_zone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The play_key (and so the earliest-play condition) compares UTC strings: a handler on a
    machine in another time zone must write the same item."""
    import time

    award = Award(
        "p1",
        "b",
        "FirstPlay",
        "{}",
        "a",
        datetime(2026, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=9))),
    )
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        item = award_item(award, 1.0)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert item["played_at"]["S"] == "2026-01-01T00:30:00Z"
    assert item["play_key"]["S"].startswith("2026-01-01T00:30:00")
