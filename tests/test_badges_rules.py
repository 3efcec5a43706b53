"""Each badge rule on small, hand-checked histories: which play earns which badge.

Every example runs through both evaluators (``evaluate_batch`` and ``PlayerState.fold``) and
``badges_earned_by``, and all three must agree before the expectation is checked.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from streamsim.errors import ConfigError
from streamsim.game.badges import (
    DEFAULT_RULES,
    BadgeRule,
    Comeback,
    DailyStreak,
    FirstPlay,
    PersonalBest,
    PlayerState,
    TotalPlays,
    awards_to_frame,
    badges_earned_by,
    check_rules,
    evaluate_batch,
    play_order,
    plays_to_frame,
    rule_from_spec,
)
from streamsim.game.plays import Play


def local(when: str, tz: str) -> datetime:
    """An aware UTC datetime from a local wall-clock time in ``tz``."""
    return datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def utc(when: str) -> datetime:
    return datetime.fromisoformat(when).replace(tzinfo=timezone.utc)


def play(
    play_id: str,
    at: datetime,
    game: str = "chess",
    score: int = 0,
    tz: str = "Europe/Amsterdam",
    player: str = "p1",
) -> Play:
    return Play(player_id=player, play_id=play_id, game=game, played_at=at, tz=tz, score=score)


def earned(plays: list[Play], *rules: BadgeRule) -> dict[str, str]:
    """badge_id -> play_id of one player's plays, checked equal across all three evaluators."""
    batch = evaluate_batch(plays_to_frame(plays), rules)
    state = PlayerState(rules=rules)
    folded = [a for p in sorted(plays, key=play_order) for a in state.fold(p)]
    one_by_one = [a for p in plays for a in badges_earned_by(p, plays, rules)]
    assert awards_to_frame(folded).equals(batch)
    assert sorted(one_by_one, key=lambda a: a.badge_id) == sorted(folded, key=lambda a: a.badge_id)
    assert batch["player_id"].eq("p1").all()
    return dict(zip(batch["badge_id"], batch["play_id"], strict=True))


# FirstPlay ---------------------------------------------------------------------------------


def test_first_play_one_badge_per_game_by_its_first_play() -> None:
    plays = [
        play("a", utc("2024-05-01T10:00")),
        play("b", utc("2024-05-01T11:00")),
        play("c", utc("2024-05-02T09:00"), game="sudoku"),
    ]
    assert earned(plays, FirstPlay()) == {"first_play:chess": "a", "first_play:sudoku": "c"}


def test_ties_in_played_at_are_broken_by_play_id() -> None:
    same = utc("2024-05-01T10:00")
    plays = [play("b", same), play("a", same), play("c", same)]
    assert earned(plays, FirstPlay(), TotalPlays(count=3)) == {
        "first_play:chess": "a",
        "total_plays:3": "c",
    }


def test_order_is_by_time_not_by_list_position() -> None:
    plays = [play("late", utc("2024-05-02T10:00")), play("early", utc("2024-05-01T10:00"))]
    assert earned(plays, FirstPlay()) == {"first_play:chess": "early"}


# DailyStreak -------------------------------------------------------------------------------


def test_streak_earned_by_first_play_on_the_nth_day() -> None:
    plays = [
        play("d1", local("2024-05-01T20:00", "Europe/Amsterdam")),
        play("d2", local("2024-05-02T20:00", "Europe/Amsterdam")),
        play("d3a", local("2024-05-03T09:00", "Europe/Amsterdam")),
        play("d3b", local("2024-05-03T21:00", "Europe/Amsterdam")),
        play("d4", local("2024-05-04T21:00", "Europe/Amsterdam")),
    ]
    assert earned(plays, DailyStreak(days=3)) == {"streak:3:chess": "d3a"}
    assert earned(plays, DailyStreak(days=4)) == {"streak:4:chess": "d4"}
    assert earned(plays, DailyStreak(days=5)) == {}


def test_streak_threshold_n_minus_one_is_not_enough() -> None:
    plays = [play(f"d{d}", local(f"2024-05-0{d}T12:00", "UTC"), tz="UTC") for d in (1, 2)]
    assert earned(plays, DailyStreak(days=3)) == {}
    assert earned(plays, DailyStreak(days=2)) == {"streak:2:chess": "d2"}


def test_streak_resets_after_a_missed_day_and_counts_per_game() -> None:
    days = [1, 2, 4, 5, 6]
    plays = [play(f"d{d}", local(f"2024-05-0{d}T12:00", "UTC"), tz="UTC") for d in days]
    plays.append(play("s3", local("2024-05-03T12:00", "UTC"), game="sudoku", tz="UTC"))
    assert earned(plays, DailyStreak(days=3)) == {"streak:3:chess": "d6"}


def test_streak_days_are_the_players_local_days() -> None:
    # 23:30 and 00:30 in New York are two calendar days there, one afternoon in Tokyo.
    instants = [
        local("2024-03-04T23:30", "America/New_York"),
        local("2024-03-05T00:30", "America/New_York"),
    ]
    in_new_york = [play(f"ny{i}", t, tz="America/New_York") for i, t in enumerate(instants)]
    in_tokyo = [play(f"tk{i}", t, tz="Asia/Tokyo") for i, t in enumerate(instants)]
    assert earned(in_new_york, DailyStreak(days=2)) == {"streak:2:chess": "ny1"}
    assert earned(in_tokyo, DailyStreak(days=2)) == {}


def test_streak_across_a_dst_change_counts_local_days_not_utc_days() -> None:
    # Amsterdam springs forward on 2024-03-31: 00:30 CET on the 30th is still the 29th in UTC,
    # and 23:30 CEST on the 31st is 21:30 UTC: local days 30, 31 are consecutive, UTC days not.
    plays = [
        play("sat", local("2024-03-30T00:30", "Europe/Amsterdam")),
        play("sun", local("2024-03-31T23:30", "Europe/Amsterdam")),
    ]
    assert plays[0].played_at.date().isoformat() == "2024-03-29"
    assert earned(plays, DailyStreak(days=2)) == {"streak:2:chess": "sun"}


def test_local_day_never_goes_backwards_when_the_clock_is_turned_back_at_midnight() -> None:
    # Goose Bay fell back at 00:01 local on 2010-11-07: 03:00:30Z is 7 Nov 00:00:30, and
    # 03:30Z is 6 Nov 23:30 again. The player's days stay 5, 7, 7 (not 5, 7, 6), then 8.
    tz = "America/Goose_Bay"
    plays = [
        play("nov5", local("2010-11-05T12:00", tz), tz=tz),
        play("nov7", utc("2010-11-07T03:00:30"), tz=tz),
        play("nov6-again", utc("2010-11-07T03:30"), tz=tz),
        play("nov8", local("2010-11-08T12:00", tz), tz=tz),
    ]
    assert plays[2].played_at.astimezone(ZoneInfo(tz)).day == 6
    assert earned(plays, DailyStreak(days=2)) == {"streak:2:chess": "nov8"}


def test_travel_west_does_not_replay_a_day() -> None:
    # Tokyo 01:00 on 11 May, then Los Angeles 10:00 on 10 May an hour later: still day 11.
    plays = [
        play("tokyo", utc("2024-05-10T16:00"), tz="Asia/Tokyo"),
        play("la", utc("2024-05-10T17:00"), tz="America/Los_Angeles"),
        play("la-next", utc("2024-05-11T17:00"), tz="America/Los_Angeles"),
        play("la-after", utc("2024-05-12T17:00"), tz="America/Los_Angeles"),
    ]
    assert earned(plays, DailyStreak(days=2)) == {"streak:2:chess": "la-after"}


# TotalPlays --------------------------------------------------------------------------------


def test_total_plays_earned_by_the_nth_play_of_any_game() -> None:
    games = ["chess", "sudoku", "chess", "wordle"]
    plays = [play(f"n{i}", utc(f"2024-05-0{i + 1}T10:00"), game=g) for i, g in enumerate(games)]
    assert earned(plays, TotalPlays(count=3)) == {"total_plays:3": "n2"}
    assert earned(plays[:2], TotalPlays(count=3)) == {}
    assert earned(plays, TotalPlays(count=1)) == {"total_plays:1": "n0"}


# Comeback ----------------------------------------------------------------------------------


def test_comeback_needs_n_whole_local_days_without_play() -> None:
    jan1 = play("jan1", local("2024-01-01T23:30", "Europe/Amsterdam"))
    jan31 = play("jan31", local("2024-01-31T00:30", "Europe/Amsterdam"))  # 29 days away
    feb1 = play("feb1", local("2024-02-01T00:30", "Europe/Amsterdam"))  # 30 days away
    assert earned([jan1, jan31], Comeback(days_away=30)) == {}
    assert earned([jan1, feb1], Comeback(days_away=30)) == {"comeback:30": "feb1"}
    assert earned([jan1, jan31], Comeback(days_away=29)) == {"comeback:29": "jan31"}


def test_comeback_is_earned_once_and_counts_any_game() -> None:
    plays = [
        play("a", utc("2024-01-01T12:00")),
        play("b", utc("2024-01-05T12:00"), game="sudoku"),  # 3 days away
        play("c", utc("2024-01-06T12:00")),
        play("d", utc("2024-01-20T12:00"), game="wordle"),  # 13 days away
    ]
    assert earned(plays, Comeback(days_away=3)) == {"comeback:3": "b"}
    assert earned(plays, Comeback(days_away=4)) == {"comeback:4": "d"}


# PersonalBest ------------------------------------------------------------------------------


def test_personal_best_beats_every_earlier_score_after_min_plays() -> None:
    scores = [5, 3, 4, 5, 6, 9]
    plays = [play(f"s{i}", utc(f"2024-05-0{i + 1}T10:00"), score=s) for i, s in enumerate(scores)]
    # s2 (4) and s3 (5, a tie) do not beat 5; s4 (6) does.
    assert earned(plays, PersonalBest(min_plays=2)) == {"personal_best:chess": "s4"}
    # With one earlier play required, s1 (3) does not beat 5 either.
    assert earned(plays, PersonalBest(min_plays=1)) == {"personal_best:chess": "s4"}
    assert earned(plays, PersonalBest(min_plays=5)) == {"personal_best:chess": "s5"}
    assert earned(plays, PersonalBest(min_plays=6)) == {}


def test_personal_best_min_plays_threshold_and_per_game() -> None:
    plays = [
        play("c1", utc("2024-05-01T10:00"), score=1),
        play("s1", utc("2024-05-01T11:00"), game="sudoku", score=50),
        play("c2", utc("2024-05-02T10:00"), score=9),
        play("s2", utc("2024-05-02T11:00"), game="sudoku", score=10),
    ]
    assert earned(plays, PersonalBest(min_plays=1)) == {"personal_best:chess": "c2"}
    assert earned(plays, PersonalBest(min_plays=2)) == {}
    assert earned(plays, PersonalBest(min_plays=0)) == {
        "personal_best:chess": "c1",
        "personal_best:sudoku": "s1",
    }


# The rule set ------------------------------------------------------------------------------


def test_default_rules_hold_the_blogs_two_badges() -> None:
    assert FirstPlay() in DEFAULT_RULES
    assert DailyStreak(days=10) in DEFAULT_RULES
    assert {r.name for r in DEFAULT_RULES} == {
        "FirstPlay",
        "DailyStreak",
        "TotalPlays",
        "Comeback",
        "PersonalBest",
    }


def test_award_rows_name_the_rule_and_its_parameters() -> None:
    plays = [play(f"d{d}", local(f"2024-05-0{d}T12:00", "UTC"), tz="UTC") for d in (1, 2)]
    awards = evaluate_batch(plays_to_frame(plays), [DailyStreak(days=2)])
    row = awards.iloc[0]
    assert (row["rule"], json.loads(row["params"])) == ("DailyStreak", {"days": 2})
    assert rule_from_spec(row["rule"], row["params"]) == DailyStreak(days=2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: DailyStreak(days=0),
        lambda: TotalPlays(count=0),
        lambda: Comeback(days_away=0),
        lambda: PersonalBest(min_plays=-1),
        lambda: rule_from_spec("NoSuchRule"),
        lambda: rule_from_spec("DailyStreak", {"weeks": 2}),
    ],
)
def test_invalid_rules_are_config_errors(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_rules_whose_badge_ids_collide_are_rejected() -> None:
    with pytest.raises(ConfigError, match="same badge ids"):
        check_rules([PersonalBest(min_plays=1), PersonalBest(min_plays=3)])
    assert len(check_rules([DailyStreak(days=3), DailyStreak(days=10)])) == 2


def test_a_new_rule_is_one_small_class_and_both_paths_evaluate_it() -> None:
    from dataclasses import dataclass
    from typing import ClassVar

    from streamsim.game.badges import RULE_TYPES, PlayFeatures
    from streamsim.game.badges.rules import Scope

    @dataclass(frozen=True)
    class WeekendPlay(BadgeRule):
        """A play on a local Saturday or Sunday (1970-01-01, day 0, was a Thursday)."""

        scope: ClassVar[Scope] = "player"

        def badge_id(self, game: str) -> str:
            return "weekend"

        def holds(self, f: PlayFeatures) -> object:
            return (f.local_day + 3) % 7 >= 5

    try:
        plays = [
            play("fri", local("2024-05-03T23:30", "Europe/Amsterdam")),
            play("sat", local("2024-05-04T00:30", "Europe/Amsterdam")),  # Friday in UTC
            play("sun", local("2024-05-05T12:00", "Europe/Amsterdam")),
        ]
        assert earned(plays, WeekendPlay()) == {"weekend": "sat"}
        assert RULE_TYPES["WeekendPlay"] is WeekendPlay
    finally:
        RULE_TYPES.pop("WeekendPlay", None)
