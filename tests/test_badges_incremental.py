"""The incremental path: PlayerState, badges_earned_by and the handler's ``advance`` decision."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from streamsim.errors import PlayValidationError
from streamsim.game.badges import (
    DEFAULT_RULES,
    DailyStreak,
    FirstPlay,
    PlayerState,
    PlayOrderError,
    StaleStateError,
    TotalPlays,
    advance,
    badges_earned_by,
    play_order,
)
from streamsim.game.plays import Play

START = datetime(2024, 5, 1, 18, tzinfo=timezone.utc)
RULES = (FirstPlay(), DailyStreak(days=2), TotalPlays(count=3))


def history(n: int = 4, player: str = "p1") -> list[Play]:
    """One chess play a day, ids in time order."""
    return [
        Play(player, f"play{i}", "chess", START + timedelta(days=i), "Europe/Amsterdam", i)
        for i in range(n)
    ]


def badge_ids(awards: list) -> list[str]:  # type: ignore[type-arg]
    return [a.badge_id for a in awards]


def test_fold_returns_the_badges_each_play_earns() -> None:
    state = PlayerState(rules=RULES)
    earned = [badge_ids(state.fold(p)) for p in history()]
    assert earned == [["first_play:chess"], ["streak:2:chess"], ["total_plays:3"], []]
    assert state.count == 4 and state.last_key == play_order(history()[-1])


def test_fold_rejects_a_play_that_is_not_after_the_last_one() -> None:
    plays = history()
    state = PlayerState.from_history(plays[:3], RULES)
    with pytest.raises(PlayOrderError, match="not after"):
        state.fold(plays[1])
    with pytest.raises(PlayOrderError, match="not after"):
        state.fold(plays[2])  # the same play again
    with pytest.raises(PlayOrderError, match="player"):
        state.fold(history(player="p2")[3])
    assert state == PlayerState.from_history(plays[:3], RULES)  # unchanged by the refusals


def test_fold_validates_the_play_like_the_batch_path() -> None:
    state = PlayerState(rules=RULES)
    good = history()[0]
    for bad, field in [
        (Play("p1", "x", "chess", START, "Mars/Olympus", 1), "tz"),
        (Play("p1", "x", "chess", START, "UTC", -1), "score"),
        (Play("p1", "x", "chess", START.replace(tzinfo=None), "UTC", 1), "timezone-aware"),
    ]:
        with pytest.raises(PlayValidationError, match=field):
            state.fold(bad)
    assert badge_ids(state.fold(good)) == ["first_play:chess"]


def test_state_round_trips_through_json_and_dynamodb_numbers() -> None:
    state = PlayerState.from_history(history(), DEFAULT_RULES)
    data = json.loads(json.dumps(state.to_dict()))
    assert PlayerState.from_dict(data) == state
    # boto3 hands numbers back as Decimal.
    as_dynamodb = {
        **data,
        "count": Decimal(data["count"]),
        "last_day": Decimal(data["last_day"]),
        "games": {g: [Decimal(v) for v in values] for g, values in data["games"].items()},
    }
    assert PlayerState.from_dict(as_dynamodb) == state


def test_state_stays_small() -> None:
    games = ["chess", "sudoku", "wordle", "tetris", "solitaire"]
    plays = [
        Play(
            "p1", f"id-{i:06d}", games[i % 5], START + timedelta(hours=9 * i), "Europe/Amsterdam", i
        )
        for i in range(2_000)
    ]
    state = PlayerState.from_history(plays)
    assert len(json.dumps(state.to_dict())) < 1_000


def test_a_state_built_with_other_rules_is_stale_and_advance_rebuilds_it() -> None:
    plays = history()
    saved = PlayerState.from_history(plays[:2], RULES).to_dict()
    state = PlayerState.from_dict(saved, (FirstPlay(), DailyStreak(days=3)))
    assert not state.is_current
    with pytest.raises(StaleStateError):
        state.fold(plays[2])
    new_state, awards = advance(state, plays[2], plays[:2])
    assert new_state.is_current and new_state.count == 3
    assert badge_ids(awards) == ["streak:3:chess"]


def test_badges_earned_by_ignores_plays_at_or_after_the_play() -> None:
    plays = history()
    assert badge_ids(badges_earned_by(plays[1], plays, RULES)) == ["streak:2:chess"]
    assert badge_ids(badges_earned_by(plays[1], plays[:1], RULES)) == ["streak:2:chess"]
    with pytest.raises(PlayOrderError, match="player"):
        badges_earned_by(plays[1], history(player="p2"), RULES)


class TestAdvance:
    """The handler's decision; prior plays are those before the play in the Plays table."""

    plays = history()

    def prior(self, play: Play) -> list[Play]:
        return [p for p in self.plays if play_order(p) < play_order(play)]

    def test_in_order_delivery_folds_without_touching_the_given_state(self) -> None:
        state = PlayerState.from_history(self.plays[:2], RULES)
        before = state.copy()
        new_state, awards = advance(state, self.plays[2], self.prior(self.plays[2]))
        assert badge_ids(awards) == ["total_plays:3"]
        assert new_state == PlayerState.from_history(self.plays[:3], RULES)
        assert state == before

    def test_a_duplicate_delivery_awards_the_same_badges_and_keeps_the_state(self) -> None:
        state = PlayerState.from_history(self.plays[:3], RULES)
        new_state, awards = advance(state, self.plays[1], self.prior(self.plays[1]))
        assert badge_ids(awards) == ["streak:2:chess"]
        assert awards[0].play_id == "play1"
        assert new_state is state

    def test_a_play_delivered_before_an_earlier_one_rebuilds_forward(self) -> None:
        state = PlayerState.from_history(self.plays[:1], RULES)  # play1 not delivered yet
        new_state, awards = advance(state, self.plays[2], self.prior(self.plays[2]))
        assert badge_ids(awards) == ["total_plays:3"]
        assert new_state == PlayerState.from_history(self.plays[:3], RULES)
        # The late play1 then earns its own badge and leaves the newer state alone.
        late_state, late = advance(new_state, self.plays[1], self.prior(self.plays[1]))
        assert badge_ids(late) == ["streak:2:chess"] and late_state is new_state

    def test_an_empty_state_and_no_prior_plays_fold_the_first_play(self) -> None:
        new_state, awards = advance(PlayerState(rules=RULES), self.plays[0], [])
        assert badge_ids(awards) == ["first_play:chess"] and new_state.count == 1

    def test_a_state_of_another_player_is_refused(self) -> None:
        state = PlayerState.from_history(history(player="p2")[:1], RULES)
        with pytest.raises(PlayOrderError):
            advance(state, self.plays[0], [])
