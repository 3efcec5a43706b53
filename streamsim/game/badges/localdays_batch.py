"""Local calendar days, vectorised: the batch path of ``localdays`` (pandas and numpy).

Day numbers since 1970-01-01 on each player's wall calendar, for millions of plays at once; equal
to ``localdays.local_day`` play by play (tests/test_badges_properties.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from streamsim.game.badges.localdays import zone

NS_PER_DAY = 86_400 * 10**9
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ZoneCalendar:
    """The UTC offset of every (zone, UTC day) in a time range: a small table built once.

    Built once per evaluation and shared by every range of players (``days`` is called chunk by
    chunk). Offsets come from the zones' transitions as pandas applies them (``tz_convert`` of
    the days' first and last nanosecond), not from converting each play. The table is exact
    because no zone in the tz database has two transitions within 24 hours (the closest pair is
    ~95 hours apart), so equal offsets at a day's first and last nanosecond mean one offset all
    day; rows on a day with a transition are converted exactly (few rows, vectorised per zone).
    """

    zones: list[str]
    first_day: int
    n_days: int
    offset: Ints  # zone * n_days + day - first_day -> offset (ns) at the start of the UTC day
    exact: npt.NDArray[np.bool_]  # same index -> the offset holds all day

    @classmethod
    def build(cls, lo_ns: int, hi_ns: int, zones: list[str], rows: int) -> ZoneCalendar | None:
        """The table for instants in [lo_ns, hi_ns]; None when it would be larger than worth
        it for ``rows`` rows (a range of centuries: then convert per zone)."""
        for name in zones:
            zone(name)  # a clear error for an unknown zone, before pandas raises its own
        first_day = lo_ns // NS_PER_DAY
        n_days = hi_ns // NS_PER_DAY - first_day + 1
        if len(zones) * n_days > max(rows // 4, 100_000):
            return None
        edges = (first_day + np.arange(n_days + 1, dtype=np.int64)) * NS_PER_DAY
        starts, ends = edges[:-1], edges[1:] - 1
        offset = np.empty((len(zones), n_days), dtype=np.int64)
        exact = np.empty((len(zones), n_days), dtype=bool)
        for code, name in enumerate(zones):
            offset[code] = _wall_clock_ns(starts, name) - starts
            exact[code] = offset[code] == _wall_clock_ns(ends, name) - ends
        return cls(zones, int(first_day), int(n_days), offset.ravel(), exact.ravel())

    def days(self, utc_ns: Ints, zone_codes: npt.NDArray[np.integer]) -> Ints:
        """Local day numbers of instants inside the table's range, each in its row's zone."""
        if len(utc_ns) == 0:
            return np.empty(0, dtype=np.int64)
        cell = utc_ns // NS_PER_DAY
        cell -= self.first_day
        cell += zone_codes.astype(np.int64) * self.n_days
        days = self.offset[cell]
        days += utc_ns
        days //= NS_PER_DAY
        changing = np.flatnonzero(~self.exact[cell])
        if len(changing):
            days[changing] = _local_days_by_zone(utc_ns[changing], zone_codes[changing], self.zones)
        return days


def local_days(
    utc_ns: npt.NDArray[np.int64], zone_codes: npt.NDArray[np.integer], zones: list[str]
) -> npt.NDArray[np.int64]:
    """Day numbers for many instants (int64 ns since the epoch, UTC), each in its own zone.

    ``zones[zone_codes[i]]`` is row i's zone. Uses a ``ZoneCalendar`` of the rows' time range,
    or converts per zone when that table would be too large.
    """
    for name in zones:
        zone(name)
    if len(utc_ns) == 0:
        return np.empty(0, dtype=np.int64)
    calendar = ZoneCalendar.build(int(utc_ns.min()), int(utc_ns.max()), zones, len(utc_ns))
    if calendar is None:
        return _local_days_by_zone(utc_ns, zone_codes, zones)
    return calendar.days(utc_ns, zone_codes)


def _local_days_by_zone(
    utc_ns: npt.NDArray[np.int64], zone_codes: npt.NDArray[np.integer], zones: list[str]
) -> npt.NDArray[np.int64]:
    """Day numbers by converting all rows of each zone at once (pandas' ``tz_convert``)."""
    days = np.empty(len(utc_ns), dtype=np.int64)
    groups = _group_rows(zone_codes, len(zones))
    for code, name in enumerate(zones):
        rows = groups[code]
        if len(rows):
            days[rows] = _wall_clock_ns(utc_ns[rows], name) // NS_PER_DAY
    return days


def _wall_clock_ns(utc_ns: npt.NDArray[np.int64], tz: str) -> npt.NDArray[np.int64]:
    """Wall-clock time in ``tz`` as naive int64 ns (pandas' vectorised zone conversion)."""
    if tz == "UTC":
        return utc_ns
    index = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC")
    return index.tz_convert(tz).tz_localize(None).asi8


def _group_rows(codes: npt.NDArray[np.integer], n_groups: int) -> list[npt.NDArray[np.intp]]:
    """Row indices per code, via one sort of packed (code, row) integers (no argsort)."""
    n = len(codes)
    shift = max(n.bit_length(), 1)
    packed = (codes.astype(np.int64) << shift) | np.arange(n, dtype=np.int64)
    packed.sort()
    rows = (packed & ((1 << shift) - 1)).astype(np.intp)
    bounds = np.searchsorted(packed >> shift, np.arange(n_groups + 1))
    return [rows[bounds[i] : bounds[i + 1]] for i in range(n_groups)]
