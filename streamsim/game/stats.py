"""``HandlerStats``: what the badge handler did, counted the same way by every strategy.

Its own module so that the handler (streamsim.game.handler) and the batched strategy it imports
(streamsim.game.batched) share one set of counters and one ``add``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class HandlerStats:
    """What the handler did (for benchmarks and run summaries)."""

    plays: int = 0
    skipped: int = 0
    failed: int = 0
    awards_written: int = 0
    folds: int = 0
    rebuilds: int = 0
    state_conflicts: int = 0
    plays_read: int = 0

    def add(self, other: HandlerStats) -> None:
        """Add another handler's counts (a player's, evaluated on another thread)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
