"""Badge rules and the one evaluator, in two paths that are proven equal.

- Rules (``rules``): frozen dataclasses with tunable thresholds, predicates over ``PlayFeatures``.
- Batch (``evaluate_batch``): a DataFrame of many players' plays, vectorised, for notebooks;
  ``evaluate_chunks`` for populations evaluated chunk by chunk of players.
- Incremental (``PlayerState``, ``badges_earned_by``, ``advance``): one play at a time, for the
  badge Lambda handler.

A badge is earned by the first play, in (played_at, play_id) order, after which its rule holds
on the player's plays; calendar days are local to the player's time zone.

The batch path needs pandas and numpy, which the Lambda runtime lacks: its names are imported
on first use (``__getattr__`` below), so the handler imports this package with boto3 alone.
"""

from __future__ import annotations

import importlib
from typing import Any

from streamsim.game.badges.incremental import (
    GameState,
    PlayerState,
    PlayOrder,
    PlayOrderError,
    StaleStateError,
    advance,
    badges_earned_by,
    play_order,
)
from streamsim.game.badges.localdays import local_day
from streamsim.game.badges.rules import (
    AWARD_COLUMNS,
    DEFAULT_RULES,
    RULE_TYPES,
    Award,
    BadgeRule,
    Comeback,
    DailyStreak,
    FirstPlay,
    PersonalBest,
    PlayFeatures,
    TotalPlays,
    check_rules,
    rule_from_spec,
    rules_fingerprint,
)

__all__ = [
    "AWARD_COLUMNS",
    "DEFAULT_RULES",
    "RULE_TYPES",
    "Award",
    "BadgeRule",
    "Comeback",
    "DailyStreak",
    "FirstPlay",
    "GameState",
    "PersonalBest",
    "PlayFeatures",
    "PlayOrder",
    "PlayOrderError",
    "PlayerState",
    "StaleStateError",
    "TotalPlays",
    "advance",
    "awards_to_frame",
    "badges_earned_by",
    "check_rules",
    "empty_awards",
    "evaluate_batch",
    "evaluate_chunks",
    "frame_to_awards",
    "frame_to_plays",
    "local_day",
    "play_order",
    "plays_to_frame",
    "rule_from_spec",
    "rules_fingerprint",
]


#: Names of the batch path (pandas, numpy), loaded on first use.
_BATCH = {
    "evaluate_batch": "streamsim.game.badges.batch",
    "evaluate_chunks": "streamsim.game.badges.batch",
    "awards_to_frame": "streamsim.game.badges.frames",
    "empty_awards": "streamsim.game.badges.frames",
    "frame_to_awards": "streamsim.game.badges.frames",
    "frame_to_plays": "streamsim.game.badges.frames",
    "plays_to_frame": "streamsim.game.badges.frames",
}


def __getattr__(name: str) -> Any:
    if name in _BATCH:
        return getattr(importlib.import_module(_BATCH[name]), name)
    raise AttributeError(f"module 'streamsim.game.badges' has no attribute {name!r}")
