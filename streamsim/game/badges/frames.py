"""Conversions between records and DataFrames, so both evaluators' outputs compare as frames.

Plays: ``Play`` records (the handler's view) <-> a DataFrame with ``PLAY_COLUMNS`` (the
notebooks' view). Awards: ``Award`` records <-> a DataFrame with ``AWARD_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timezone

import pandas as pd

from streamsim.game.badges.rules import AWARD_COLUMNS, Award
from streamsim.game.plays import PLAY_COLUMNS, Play


def awards_to_frame(awards: Iterable[Award]) -> pd.DataFrame:
    """Award records as an awards DataFrame (same columns and dtypes as ``evaluate_batch``)."""
    rows = list(awards)
    if not rows:
        return empty_awards()
    frame = pd.DataFrame(
        {
            column: pd.Series([getattr(a, column) for a in rows], dtype=str)
            for column in AWARD_COLUMNS[:-1]
        }
    )
    frame["played_at"] = pd.Series(
        pd.to_datetime([a.played_at for a in rows], utc=True), dtype="datetime64[ns, UTC]"
    )
    return frame


def frame_to_awards(frame: pd.DataFrame) -> list[Award]:
    """An awards DataFrame as ``Award`` records (``played_at`` as aware UTC datetimes)."""
    return [
        Award(
            player_id=str(row.player_id),
            badge_id=str(row.badge_id),
            rule=str(row.rule),
            params=str(row.params),
            play_id=str(row.play_id),
            played_at=pd.Timestamp(row.played_at).to_pydatetime(),
        )
        for row in frame.loc[:, list(AWARD_COLUMNS)].itertuples(index=False)
    ]


def empty_awards() -> pd.DataFrame:
    """An awards DataFrame with no rows but the right columns and dtypes."""
    frame = pd.DataFrame({c: pd.Series([], dtype=str) for c in AWARD_COLUMNS[:-1]})
    frame["played_at"] = pd.Series([], dtype="datetime64[ns, UTC]")
    return frame


def plays_to_frame(plays: Iterable[Play]) -> pd.DataFrame:
    """Play records as a plays DataFrame (``PLAY_COLUMNS``, ``played_at`` in ns UTC)."""
    rows = list(plays)
    frame = pd.DataFrame(
        {
            "player_id": pd.Series([p.player_id for p in rows], dtype=str),
            "play_id": pd.Series([p.play_id for p in rows], dtype=str),
            "game": pd.Series([p.game for p in rows], dtype=str),
            "played_at": pd.Series(
                pd.to_datetime([p.played_at for p in rows], utc=True), dtype="datetime64[ns, UTC]"
            ),
            "tz": pd.Series([p.tz for p in rows], dtype=str),
            "score": pd.Series([p.score for p in rows], dtype="int64"),
        }
    )
    return frame.loc[:, list(PLAY_COLUMNS)]


def frame_to_plays(frame: pd.DataFrame) -> list[Play]:
    """A plays DataFrame as ``Play`` records (times truncated to microseconds, UTC)."""
    played_at = pd.DatetimeIndex(frame["played_at"]).tz_convert("UTC")
    return [
        Play(
            player_id=str(player_id),
            play_id=str(play_id),
            game=str(game),
            played_at=ts.to_pydatetime(warn=False).astimezone(timezone.utc),
            tz=str(tz),
            score=int(score),
        )
        for player_id, play_id, game, ts, tz, score in zip(
            frame["player_id"],
            frame["play_id"],
            frame["game"],
            played_at,
            frame["tz"],
            frame["score"],
            strict=True,
        )
    ]
