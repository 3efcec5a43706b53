"""Incremental evaluation: one play at a time, as the badge Lambda handler sees them.

``PlayerState`` is the compact summary of a player's plays so far that every rule needs (the
``PlayFeatures`` aggregates, plus which badges are already earned). It folds the next play in
(played_at, play_id) order and fits in a DynamoDB item via ``to_dict``. ``badges_earned_by``
is the blog's read-all strategy: rebuild from all prior plays, then fold the play. ``advance``
is the handler's decision between the two under retries, duplicates and out-of-order delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, NamedTuple

from streamsim.errors import PlayValidationError
from streamsim.game.badges.localdays import local_day, zone
from streamsim.game.badges.rules import (
    DEFAULT_RULES,
    Award,
    BadgeRule,
    PlayFeatures,
    check_rules,
    rules_fingerprint,
)
from streamsim.game.plays import Play

#: Where a play sits in its player's history: (played_at in UTC, play_id).
PlayOrder = tuple[datetime, str]
_STATE_VERSION = 1


class PlayOrderError(ValueError):
    """A play was folded out of order, twice, or into another player's state."""


class StaleStateError(ValueError):
    """A ``PlayerState`` was built under a different rule set; rebuild it from history."""


def play_order(play: Play) -> PlayOrder:
    """The order of a player's plays: by played_at, ties broken by play_id."""
    at = play.played_at
    if at.tzinfo is not timezone.utc:
        if at.tzinfo is None:
            raise PlayValidationError(f"played_at of play {play.play_id!r} must be timezone-aware")
        at = at.astimezone(timezone.utc)
    return (at, play.play_id)


class GameState(NamedTuple):
    """Per-game aggregates: plays so far, last local day played, streak run, best score."""

    plays: int
    last_day: int
    run: int
    best: int


@dataclass
class PlayerState:
    """What the rules need to know about a player's plays up to ``last_key``.

    Equal to ``PlayerState.from_history(plays)`` for the player's ``count`` first plays.
    """

    rules: tuple[BadgeRule, ...] = DEFAULT_RULES
    player_id: str | None = None
    count: int = 0
    last_key: PlayOrder | None = None
    #: Local day of the last play (days never go backwards, see ``PlayFeatures``).
    last_day: int | None = None
    games: dict[str, GameState] = field(default_factory=dict)
    earned: set[str] = field(default_factory=set)
    #: Fingerprint of the rule set the state was built with (set from ``rules`` if empty).
    built_with: str = ""

    def __post_init__(self) -> None:
        self.rules = check_rules(self.rules)
        self._fingerprint = rules_fingerprint(self.rules)
        if not self.built_with:
            self.built_with = self._fingerprint

    @classmethod
    def from_history(
        cls, plays: Iterable[Play], rules: Iterable[BadgeRule] = DEFAULT_RULES
    ) -> PlayerState:
        """State after folding a player's plays (given in any order) from scratch."""
        state = cls(rules=tuple(rules))
        for play in sorted(plays, key=play_order):
            state.fold(play)
        return state

    @property
    def is_current(self) -> bool:
        """False when the state was built with another rule set than ``rules``."""
        return self.built_with == self._fingerprint

    def fold(self, play: Play) -> list[Award]:
        """Fold the player's next play into the state; return the badges it earns."""
        if not self.is_current:
            raise StaleStateError("state was built with another rule set; rebuild from history")
        key = play_order(play)
        if self.player_id is not None and play.player_id != self.player_id:
            raise PlayOrderError(
                f"play {play.play_id!r} is of player {play.player_id!r}, state is of {self.player_id!r}"
            )
        if self.last_key is not None and key <= self.last_key:
            raise PlayOrderError(
                f"play {play.play_id!r} at {key[0].isoformat()} is not after the last folded play "
                f"{self.last_key[1]!r} at {self.last_key[0].isoformat()}"
            )
        _check_play(play)
        features = self._features(play)
        awards = []
        for rule in self.rules:
            badge = rule.badge_id(play.game)
            if badge not in self.earned and bool(rule.holds(features)):
                self.earned.add(badge)
                awards.append(
                    Award(
                        player_id=play.player_id,
                        badge_id=badge,
                        rule=rule.name,
                        params=rule.params_json(),
                        play_id=play.play_id,
                        played_at=key[0],
                    )
                )
        self.player_id = play.player_id
        self.count += 1
        self.last_key = key
        self.last_day = features.local_day
        self.games[play.game] = GameState(
            plays=features.game_plays_before + 1,
            last_day=features.local_day,
            run=features.game_run,
            best=max(features.game_best_before, play.score),
        )
        return awards

    def _features(self, play: Play) -> PlayFeatures:
        """The aggregates of ``batch._features``, for one play, from the state."""
        day = local_day(play.played_at, play.tz)
        if self.last_day is not None:
            day = max(day, self.last_day)
        game = self.games.get(play.game)
        if game is None:
            run, plays, best = 1, 0, -1
        else:
            plays, best = game.plays, game.best
            run = (
                game.run
                if day == game.last_day
                else game.run + 1
                if day == game.last_day + 1
                else 1
            )
        return PlayFeatures(
            score=play.score,
            local_day=day,
            plays_before=self.count,
            days_away=-1 if self.last_day is None else day - self.last_day - 1,
            game_plays_before=plays,
            game_run=run,
            game_best_before=best,
        )

    def copy(self) -> PlayerState:
        """An independent copy (``fold`` mutates the state)."""
        return replace(self, games=dict(self.games), earned=set(self.earned))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (ints, strings, lists), small enough for a DynamoDB item."""
        return {
            "v": _STATE_VERSION,
            "rules": self.built_with,
            "player_id": self.player_id,
            "count": self.count,
            "last_key": None
            if self.last_key is None
            else [self.last_key[0].isoformat(), self.last_key[1]],
            "last_day": self.last_day,
            "games": {game: list(state) for game, state in sorted(self.games.items())},
            "earned": sorted(self.earned),
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], rules: Iterable[BadgeRule] = DEFAULT_RULES
    ) -> PlayerState:
        """Inverse of ``to_dict``. Numbers may come back as ``Decimal`` (boto3); that is fine.

        A state saved under another rule set loads with ``is_current`` False.
        """
        if data.get("v") != _STATE_VERSION:
            raise ValueError(f"unsupported PlayerState version {data.get('v')!r}")
        last_key = data["last_key"]
        last_day = data["last_day"]
        return cls(
            rules=tuple(rules),
            player_id=None if data["player_id"] is None else str(data["player_id"]),
            count=int(data["count"]),
            last_key=None
            if last_key is None
            else (datetime.fromisoformat(str(last_key[0])), str(last_key[1])),
            last_day=None if last_day is None else int(last_day),
            games={
                str(game): GameState(*(int(v) for v in values))
                for game, values in data["games"].items()
            },
            earned={str(b) for b in data["earned"]},
            built_with=str(data["rules"]),
        )


def badges_earned_by(
    play: Play, prior_plays: Iterable[Play], rules: Iterable[BadgeRule] = DEFAULT_RULES
) -> list[Award]:
    """The badges ``play`` earns, from the player's earlier plays (the blog's read-all way).

    A pure function of the play and the plays before it: ``prior_plays`` may be in any order,
    and plays at or after ``play`` (including ``play`` itself) are ignored.
    """
    return PlayerState.from_history(_before(play, prior_plays), rules).fold(play)


def advance(
    state: PlayerState, play: Play, prior_plays: Iterable[Play]
) -> tuple[PlayerState, list[Award]]:
    """The handler's step for one delivered play: (state to store, awards to write).

    ``prior_plays`` are the player's plays before ``play`` as read from the Plays table. If the
    state summarises exactly those plays, fold the play into a copy (cheap, the usual case).
    Otherwise (a duplicate, a retry, out-of-order delivery, a changed rule set) compute the
    awards from the prior plays and keep whichever state reaches further. ``state`` is not
    modified.
    """
    key = play_order(play)
    if state.player_id is not None and state.player_id != play.player_id:
        raise PlayOrderError(
            f"play {play.play_id!r} is of player {play.player_id!r}, state is of {state.player_id!r}"
        )
    before = _before(play, prior_plays)
    if (
        state.is_current
        and state.count == len(before)
        and (state.last_key is None or state.last_key < key)
    ):
        folded = state.copy()
        return folded, folded.fold(play)
    rebuilt = PlayerState.from_history(before, state.rules)
    awards = rebuilt.fold(play)
    moves_forward = not state.is_current or state.last_key is None or state.last_key < key
    return (rebuilt if moves_forward else state), awards


def _before(play: Play, plays: Iterable[Play]) -> list[Play]:
    """The player's plays strictly before ``play``; other players' plays are an error."""
    key = play_order(play)
    before = []
    for other in plays:
        if other.player_id != play.player_id:
            raise PlayOrderError(
                f"prior play {other.play_id!r} is of player {other.player_id!r}, "
                f"not {play.player_id!r}"
            )
        if play_order(other) < key:
            before.append(other)
    return before


def _check_play(play: Play) -> None:
    """The checks ``evaluate_batch`` makes on a DataFrame, for one play."""
    for name in ("player_id", "play_id", "game", "tz"):
        if not isinstance(getattr(play, name), str):
            raise PlayValidationError(f"{name} must be a string, got {getattr(play, name)!r}")
    zone(play.tz)
    if isinstance(play.score, bool) or not isinstance(play.score, int):
        raise PlayValidationError(f"score must be an integer, got {play.score!r}")
    if play.score < 0:
        raise PlayValidationError(
            f"score must be >= 0, got {play.score} for play_id={play.play_id!r}"
        )
