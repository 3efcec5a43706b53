"""Badge rules and the one evaluator, in two paths that are proven equal.

- Rules (``rules``): frozen dataclasses with tunable thresholds, predicates over ``PlayFeatures``.
- Batch (``evaluate_batch``): a DataFrame of many players' plays, vectorised, for notebooks.
- Incremental (``PlayerState``, ``badges_earned_by``, ``advance``): one play at a time, for the
  badge Lambda handler.

A badge is earned by the first play, in (played_at, play_id) order, after which its rule holds
on the player's plays; calendar days are local to the player's time zone.
"""

from streamsim.badges.batch import evaluate_batch
from streamsim.badges.frames import (
    awards_to_frame,
    empty_awards,
    frame_to_awards,
    frame_to_plays,
    plays_to_frame,
)
from streamsim.badges.incremental import (
    GameState,
    PlayerState,
    PlayOrder,
    PlayOrderError,
    StaleStateError,
    advance,
    badges_earned_by,
    play_order,
)
from streamsim.badges.localdays import local_day
from streamsim.badges.rules import (
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
    "frame_to_awards",
    "frame_to_plays",
    "local_day",
    "play_order",
    "plays_to_frame",
    "rule_from_spec",
    "rules_fingerprint",
]
