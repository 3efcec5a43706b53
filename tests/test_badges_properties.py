"""Property tests: the batch and the incremental evaluator award exactly the same badges.

For any history (players, games, time zones with DST changes and clock turn-backs, travel,
ties in played_at, scores, thresholds), in any delivery order with any duplicates, replaying
the deliveries through ``advance`` (the table being the full history, the state stored as JSON
between deliveries, as the handler does) awards exactly what ``evaluate_batch`` awards, each
(player, badge) by one play.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamsim.game.badges import (
    Award,
    BadgeRule,
    Comeback,
    DailyStreak,
    FirstPlay,
    PersonalBest,
    PlayerState,
    TotalPlays,
    advance,
    badges_earned_by,
    evaluate_batch,
    frame_to_awards,
    local_day,
    play_order,
    plays_to_frame,
)
from streamsim.game.badges.localdays_batch import local_days
from streamsim.game.plays import Play

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONES = [
    "UTC",
    "Europe/Amsterdam",  # DST change on 2024-03-31
    "America/New_York",
    "Asia/Tokyo",
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # 30-minute DST, ends 2024-04-07
    "America/Santiago",  # DST ends at local midnight on 2024-04-07
    "Pacific/Kiritimati",  # +14
    "Pacific/Pago_Pago",  # -11
]
GAMES = ["chess", "go", "wordle"]
BASE = datetime(2024, 3, 27, tzinfo=timezone.utc)
# Instants that many plays share (ties): some plain, some at or next to DST changes.
SHARED = [BASE + timedelta(days=d, hours=h) for d in (1, 4) for h in (0, 11, 23)] + [
    datetime.fromisoformat(t)
    for t in (
        "2024-03-31T00:59:59.999+00:00",  # Amsterdam: the last CET millisecond
        "2024-03-31T01:00:00+00:00",  # Amsterdam: 03:00 CEST
        "2024-03-31T22:30:00+00:00",  # Amsterdam: 00:30 CEST on 1 April
        "2024-04-06T14:59:59.999+00:00",  # Lord Howe: 01:59:59.999 +11
        "2024-04-06T15:00:00+00:00",  # Lord Howe: 01:30 +10:30
        "2024-04-07T02:59:59.999+00:00",  # Santiago: 23:59:59.999 -03 on the 6th
        "2024-04-07T03:00:00+00:00",  # Santiago: 23:00 -04 on the 6th again
    )
]


# Strategies built once (building them per draw costs more than drawing).
ZONE = st.sampled_from(ZONES)
SHARED_AT = st.sampled_from(SHARED)
DAY = st.integers(0, 20)
TIME_OF_DAY_MS = st.one_of(st.integers(0, 86_399_999), st.sampled_from([0, 1, 86_399_999]))
ONE_IN_10 = st.integers(0, 9)
ONE_IN_15 = st.integers(0, 14)
SCORE = st.integers(0, 5)
PREFIX = st.sampled_from("abcxyz")
# A player's next game: mostly their first, sometimes one of three.
GAME = [st.sampled_from(GAMES[:k]) for k in (1, 2, 3)]
VARIETY = st.integers(0, 2)


@st.composite
def histories(draw: st.DrawFn) -> list[Play]:
    """Up to 24 plays of up to 3 players over 3 weeks, ms precision, ids in random order."""
    n_players = draw(st.integers(1, 3))
    home = [draw(ZONE) for _ in range(n_players)]
    player_of = st.integers(0, n_players - 1)
    plays = []
    for i in range(draw(st.integers(1, 24))):
        player = draw(player_of)
        if draw(ONE_IN_10) == 0:
            at = draw(SHARED_AT)
        else:
            at = BASE + timedelta(days=draw(DAY), milliseconds=draw(TIME_OF_DAY_MS))
        plays.append(
            Play(
                player_id=f"p{player}",
                play_id=f"{draw(PREFIX)}{i}",
                game=draw(GAME[draw(VARIETY)]),
                played_at=at,
                tz=draw(ZONE) if draw(ONE_IN_15) == 0 else home[player],
                score=draw(SCORE),
            )
        )
    return plays


@st.composite
def rule_sets(draw: st.DrawFn) -> tuple[BadgeRule, ...]:
    """Small thresholds, so that every rule fires in short histories."""
    streaks = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2, unique=True))
    return (
        FirstPlay(),
        *(DailyStreak(days=d) for d in streaks),
        TotalPlays(count=draw(st.integers(1, 8))),
        Comeback(days_away=draw(st.integers(1, 4))),
        PersonalBest(min_plays=draw(st.integers(0, 3))),
    )


def batch_awards(plays: list[Play], rules: tuple[BadgeRule, ...]) -> set[Award]:
    frame = evaluate_batch(plays_to_frame(plays), rules)
    assert not frame.duplicated(["player_id", "badge_id"]).any()
    return set(frame_to_awards(frame))


def by_player(plays: list[Play]) -> dict[str, list[Play]]:
    players: dict[str, list[Play]] = defaultdict(list)
    for play in plays:
        players[play.player_id].append(play)
    return players


@SETTINGS
@given(plays=histories(), rules=rule_sets())
def test_folding_in_order_and_reading_all_prior_plays_equal_batch(
    plays: list[Play], rules: tuple[BadgeRule, ...]
) -> None:
    expected = batch_awards(plays, rules)
    folded: list[Award] = []
    for history in by_player(plays).values():
        state = PlayerState(rules=rules)
        for play in sorted(history, key=play_order):
            folded += state.fold(play)
    table = by_player(plays)
    one_by_one = [a for p in plays for a in badges_earned_by(p, table[p.player_id], rules)]
    assert len(folded) == len(expected) and set(folded) == expected
    assert len(one_by_one) == len(expected) and set(one_by_one) == expected


@SETTINGS
@given(plays=histories(), rules=rule_sets(), data=st.data())
def test_any_delivery_order_with_duplicates_awards_exactly_the_batch_badges(
    plays: list[Play], rules: tuple[BadgeRule, ...], data: st.DataObject
) -> None:
    deliveries = data.draw(st.permutations(plays))
    again = data.draw(st.lists(st.sampled_from(plays), max_size=10))
    for play in again:  # redeliver some plays, each at some later point
        deliveries.insert(data.draw(st.integers(0, len(deliveries))), play)
    table = by_player(plays)
    stored: dict[str, dict[str, object]] = {}
    emitted: dict[tuple[str, str], set[Award]] = defaultdict(set)
    for play in deliveries:
        saved = stored.get(play.player_id)
        state = PlayerState(rules=rules) if saved is None else PlayerState.from_dict(saved, rules)
        prior = [p for p in table[play.player_id] if play_order(p) < play_order(play)]
        state, awards = advance(state, play, prior)
        stored[play.player_id] = json.loads(json.dumps(state.to_dict()))
        for award in awards:
            emitted[(award.player_id, award.badge_id)].add(award)
    # The same (player, badge) is always awarded by the same play, and the set equals batch.
    assert all(len(awards) == 1 for awards in emitted.values())
    assert {a for awards in emitted.values() for a in awards} == batch_awards(plays, rules)
    # Every player's stored state ends as the summary of their whole history.
    for player, history in table.items():
        final = PlayerState.from_dict(stored[player], rules)
        assert final == PlayerState.from_history(history, rules)


@SETTINGS
@given(plays=histories(), rules=rule_sets())
def test_player_state_round_trips_through_json_after_every_play(
    plays: list[Play], rules: tuple[BadgeRule, ...]
) -> None:
    for history in by_player(plays).values():
        state = PlayerState(rules=rules)
        for play in sorted(history, key=play_order):
            state.fold(play)
            loaded = PlayerState.from_dict(json.loads(json.dumps(state.to_dict())), rules)
            assert loaded == state
            assert loaded.is_current


@settings(max_examples=30, deadline=None)
@given(plays=histories(), seed=st.integers(0, 2**16))
def test_batch_ignores_row_order_and_string_dtype(plays: list[Play], seed: int) -> None:
    frame = plays_to_frame(plays)
    expected = evaluate_batch(frame)
    shuffled = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    categorical = shuffled.astype({"player_id": "category", "game": "category", "tz": "category"})
    as_object = shuffled.astype({c: object for c in ("player_id", "play_id", "game", "tz")})
    for variant in (shuffled, categorical, as_object):
        pd.testing.assert_frame_equal(evaluate_batch(variant), expected)


# DST changes (UTC instant, zone): local days go wrong near them if offsets are misapplied.
CHANGES = [
    ("2024-03-31T01:00:00+00:00", "Europe/Amsterdam"),
    ("2024-03-10T07:00:00+00:00", "America/New_York"),
    ("2024-04-06T15:00:00+00:00", "Australia/Lord_Howe"),
    ("2024-04-07T03:00:00+00:00", "America/Santiago"),
    ("2010-11-07T03:01:00+00:00", "America/Goose_Bay"),
]
NEAR_A_CHANGE = st.tuples(st.sampled_from(CHANGES), st.integers(-30 * 3_600_000, 30 * 3_600_000))


@SETTINGS
@given(instants=st.lists(NEAR_A_CHANGE, min_size=1, max_size=20))
def test_vectorised_local_days_equal_zoneinfo_near_dst_changes(
    instants: list[tuple[tuple[str, str], int]],
) -> None:
    at = [datetime.fromisoformat(t) + timedelta(milliseconds=ms) for (t, _), ms in instants]
    zones = [zone for (_, zone), _ in instants]
    codes, names = pd.factorize(pd.Series(zones))
    utc_ns = pd.to_datetime(at, utc=True).as_unit("ns").asi8
    got = local_days(utc_ns, codes, [str(n) for n in names])
    assert got.tolist() == [local_day(t, z) for t, z in zip(at, zones, strict=True)]
