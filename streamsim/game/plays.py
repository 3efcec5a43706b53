"""The play: the blog's unit of work ("a customer finished playing a game").

One schema shared by the play API, the Plays table, synthetic traffic and the badge evaluator.
A DataFrame of plays has exactly the columns in ``PLAY_COLUMNS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

#: Columns of a plays DataFrame, in order.
#: - player_id: str
#: - play_id: str, unique per play
#: - game: str
#: - played_at: datetime64[ns, UTC], when the play finished
#: - tz: str, the player's IANA time zone (calendar days are counted in it)
#: - score: int64, >= 0
PLAY_COLUMNS: tuple[str, ...] = ("player_id", "play_id", "game", "played_at", "tz", "score")

#: Games the play API accepts by default (a run config may replace the catalogue).
DEFAULT_GAMES: tuple[str, ...] = ("chess", "sudoku", "wordle", "tetris", "solitaire")


@dataclass(frozen=True)
class Play:
    """One finished play. ``played_at`` is timezone-aware UTC."""

    player_id: str
    play_id: str
    game: str
    played_at: datetime
    tz: str
    score: int

    def row(self) -> dict[str, object]:
        """The play as a plays-table row: ``PLAY_COLUMNS`` plus its ``play_key``."""
        return {
            "player_id": self.player_id,
            "play_id": self.play_id,
            "game": self.game,
            "played_at": self.played_at,
            "tz": self.tz,
            "score": self.score,
            "play_key": self.play_key,
        }

    @property
    def play_key(self) -> str:
        """The Plays table's sort key: time-ordered, unique (ISO-8601 UTC to the ms, then id)."""
        return play_key(self.played_at, self.play_id)


def play_key(played_at: datetime, play_id: str) -> str:
    """Sort key that orders a player's plays by time with one Query (ties broken by play_id)."""
    utc = played_at.astimezone(timezone.utc)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}Z#{play_id}"
