"""Badge rules as data: small frozen dataclasses with tunable thresholds.

A rule never walks a player's history itself. Both evaluators (batch over a DataFrame, and the
incremental ``PlayerState``) compute the same few running aggregates per play, the
``PlayFeatures``, and a rule is a predicate over them. The same expression runs on Python ints
(one play) and on aligned numpy arrays (millions of plays), so the two paths cannot drift apart.

A badge is earned by the first play, in (played_at, play_id) order, at which its rule's
predicate holds within the rule's scope: the player ("total_plays:100") or the player's game
("first_play:chess"). Every predicate is a threshold that, once crossed, defines the moment the
rule first holds on the player's plays so far, so each badge is earned at most once, by one play.

Adding a rule: subclass ``BadgeRule`` as a frozen dataclass, set ``scope``, write ``badge_id``
and ``holds``, add it to a test (subclasses register themselves in ``RULE_TYPES``). If it needs an aggregate not in ``PlayFeatures``, add the field
to both evaluators (``batch._features`` and ``PlayerState._features``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar, Literal

from streamsim.errors import ConfigError

#: An int (one play, incremental path) or an int64 numpy array aligned over many plays (batch).
Column = Any
#: A bool (one play) or a bool numpy array (many plays): the result of ``BadgeRule.holds``.
Truth = Any
Scope = Literal["player", "game"]

#: Columns of an awards DataFrame, in order (one row per (player_id, badge_id)).
AWARD_COLUMNS: tuple[str, ...] = ("player_id", "badge_id", "rule", "params", "play_id", "played_at")


@dataclass(frozen=True)
class Award:
    """A badge earned by one play. ``params`` is the rule's parameters as a JSON string."""

    player_id: str
    badge_id: str
    rule: str
    params: str
    play_id: str
    played_at: datetime


@dataclass(frozen=True)
class PlayFeatures:
    """What a rule may look at for a play: aggregates of the player's plays up to it.

    Days are local calendar days (days since 1970-01-01 in the player's time zone), made
    non-decreasing per player so that a clock turned back (travel west, a DST change at
    midnight) never un-plays a day.
    """

    #: This play's score.
    score: Column
    #: This play's local day.
    local_day: Column
    #: Number of the player's earlier plays (any game).
    plays_before: Column
    #: Local calendar days without any play between the previous play and this one; -1 for the
    #: player's first play and for a play on the same day as the previous one.
    days_away: Column
    #: Number of the player's earlier plays of this game.
    game_plays_before: Column
    #: Length, in local days, of the run of consecutive days with a play of this game that ends
    #: with this play's day (1 if the game was not played the day before).
    game_run: Column
    #: Best earlier score in this game; -1 if none (scores are >= 0).
    game_best_before: Column


#: Rule classes by name (every ``BadgeRule`` subclass registers itself), to rebuild a rule
#: from an award row or a JSON config.
RULE_TYPES: dict[str, type[BadgeRule]] = {}


class BadgeRule:
    """Base of every rule: a frozen dataclass whose fields are its tunable parameters."""

    #: "player": at most one badge per player; "game": at most one per player and game.
    scope: ClassVar[Scope]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RULE_TYPES[cls.__name__] = cls

    @property
    def name(self) -> str:
        """The rule's name in award rows (its class name)."""
        return type(self).__name__

    def params(self) -> dict[str, Any]:
        """The rule's parameters, e.g. ``{"days": 10}``."""
        return asdict(self)  # type: ignore[call-overload]

    def params_json(self) -> str:
        """Parameters as the canonical JSON string stored in award rows."""
        return _params_json(self)

    def badge_id(self, game: str) -> str:
        """Stable id of the badge this rule awards for ``game`` (ignored by player rules)."""
        raise NotImplementedError

    def holds(self, f: PlayFeatures) -> Truth:
        """Whether the play(s) described by ``f`` meet the rule (scalar or elementwise)."""
        raise NotImplementedError


@lru_cache(maxsize=1024)
def _params_json(rule: BadgeRule) -> str:
    return json.dumps(rule.params(), sort_keys=True)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class FirstPlay(BadgeRule):
    """'You have played this game for the first time': one badge per game played."""

    scope: ClassVar[Scope] = "game"

    def badge_id(self, game: str) -> str:
        return f"first_play:{game}"

    def holds(self, f: PlayFeatures) -> Truth:
        return f.game_plays_before == 0


@dataclass(frozen=True)
class DailyStreak(BadgeRule):
    """'You have played this game N days in a row': N consecutive local calendar days."""

    scope: ClassVar[Scope] = "game"
    days: int = 10

    def __post_init__(self) -> None:
        _require(self.days >= 1, f"DailyStreak.days must be >= 1, got {self.days!r}")

    def badge_id(self, game: str) -> str:
        return f"streak:{self.days}:{game}"

    def holds(self, f: PlayFeatures) -> Truth:
        return f.game_run >= self.days


@dataclass(frozen=True)
class TotalPlays(BadgeRule):
    """N plays in total, any game: earned by the N-th play."""

    scope: ClassVar[Scope] = "player"
    count: int = 100

    def __post_init__(self) -> None:
        _require(self.count >= 1, f"TotalPlays.count must be >= 1, got {self.count!r}")

    def badge_id(self, game: str) -> str:
        return f"total_plays:{self.count}"

    def holds(self, f: PlayFeatures) -> Truth:
        return f.plays_before + 1 >= self.count


@dataclass(frozen=True)
class Comeback(BadgeRule):
    """Played again after at least N whole local days without any play (any game).

    Played on 1 January and next on 1 February: 30 days away (2..31 January).
    """

    scope: ClassVar[Scope] = "player"
    days_away: int = 30

    def __post_init__(self) -> None:
        _require(self.days_away >= 1, f"Comeback.days_away must be >= 1, got {self.days_away!r}")

    def badge_id(self, game: str) -> str:
        return f"comeback:{self.days_away}"

    def holds(self, f: PlayFeatures) -> Truth:
        return f.days_away >= self.days_away


@dataclass(frozen=True)
class PersonalBest(BadgeRule):
    """A score strictly above every earlier score in the game, once the game is familiar.

    ``min_plays`` earlier plays of the game are required, so a second play is not a 'best'
    by default. One badge per game, earned by the first such play.
    """

    scope: ClassVar[Scope] = "game"
    min_plays: int = 5

    def __post_init__(self) -> None:
        _require(
            self.min_plays >= 0, f"PersonalBest.min_plays must be >= 0, got {self.min_plays!r}"
        )

    def badge_id(self, game: str) -> str:
        return f"personal_best:{game}"

    def holds(self, f: PlayFeatures) -> Truth:
        return (f.game_plays_before >= self.min_plays) & (f.score > f.game_best_before)


#: The blog's two badges (first play of a game, 10 days in a row) and the others.
DEFAULT_RULES: tuple[BadgeRule, ...] = (
    FirstPlay(),
    DailyStreak(days=10),
    TotalPlays(count=100),
    Comeback(days_away=30),
    PersonalBest(min_plays=5),
)


def rule_from_spec(rule: str, params: str | Mapping[str, Any] = "{}") -> BadgeRule:
    """Rebuild a rule from its name and parameters (as in an award row or a config file)."""
    cls = RULE_TYPES.get(rule)
    if cls is None:
        raise ConfigError(f"unknown badge rule {rule!r}; known: {', '.join(sorted(RULE_TYPES))}")
    values = json.loads(params) if isinstance(params, str) else dict(params)
    allowed = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - allowed
    if unknown:
        raise ConfigError(
            f"{rule} has no parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    return cls(**values)


def check_rules(rules: Iterable[BadgeRule]) -> tuple[BadgeRule, ...]:
    """Validate a rule set: rule instances whose badge ids cannot collide."""
    checked = tuple(rules)
    try:
        return _checked(checked)
    except TypeError:  # an unhashable object in the rule set: not a rule
        return _check(checked)


@lru_cache(maxsize=256)
def _checked(rules: tuple[BadgeRule, ...]) -> tuple[BadgeRule, ...]:
    """``check_rules`` once per rule set: a handler builds a state per play."""
    return _check(rules)


def _check(checked: tuple[BadgeRule, ...]) -> tuple[BadgeRule, ...]:
    seen: dict[str, BadgeRule] = {}
    for rule in checked:
        if not isinstance(rule, BadgeRule):
            raise ConfigError(f"not a badge rule: {rule!r}")
        if rule.scope not in ("player", "game"):
            raise ConfigError(f"{rule.name}.scope must be 'player' or 'game', got {rule.scope!r}")
        probe = rule.badge_id("\x00game")
        if probe in seen:
            raise ConfigError(f"{rule!r} and {seen[probe]!r} award the same badge ids")
        seen[probe] = rule
    return checked


def rules_fingerprint(rules: Iterable[BadgeRule]) -> str:
    """Short hash of a rule set, stored with a ``PlayerState`` to detect a changed rule set."""
    return _fingerprint(tuple(rules))


@lru_cache(maxsize=256)
def _fingerprint(rules: tuple[BadgeRule, ...]) -> str:
    spec = [[rule.name, rule.params()] for rule in rules]
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return digest[:12]
