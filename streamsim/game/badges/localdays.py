"""Local calendar days: the day number of an instant in a player's IANA time zone.

Both evaluators count days as days since 1970-01-01 on the player's wall calendar. The scalar
path uses ``zoneinfo``; the vectorised path gets UTC offsets from pandas ``tz_convert``, which
resolves zone names to the same ``zoneinfo`` database (the tests hold the two paths equal in
every zone, and minute by minute around DST changes). This module is the scalar path (standard
library only, for the Lambda handler); ``localdays_batch`` is the vectorised one.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streamsim.errors import PlayValidationError

_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()


def local_day(played_at: datetime, tz: str) -> int:
    """Day number of ``played_at`` on the wall calendar of ``tz`` (DST-correct)."""
    if played_at.tzinfo is None:
        raise PlayValidationError("played_at must be timezone-aware (UTC), got a naive datetime")
    return played_at.astimezone(zone(tz)).date().toordinal() - _EPOCH_ORDINAL


@lru_cache(maxsize=1024)
def zone(tz: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name, with an error that names the field."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PlayValidationError(f"tz: unknown IANA time zone {tz!r}") from exc
