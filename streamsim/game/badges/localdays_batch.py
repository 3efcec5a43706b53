"""Local calendar days, vectorised: the batch path of ``localdays`` (pandas and numpy).

Day numbers since 1970-01-01 on each player's wall calendar, for millions of plays at once; equal
to ``localdays.local_day`` play by play (tests/test_badges_properties.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from streamsim.game.badges.localdays import zone

NS_PER_DAY = 86_400 * 10**9


def local_days(
    utc_ns: npt.NDArray[np.int64], zone_codes: npt.NDArray[np.integer], zones: list[str]
) -> npt.NDArray[np.int64]:
    """Day numbers for many instants (int64 ns since the epoch, UTC), each in its own zone.

    ``zones[zone_codes[i]]`` is row i's zone. The UTC offset of every (zone, UTC day) is looked
    up in a small table; rows on a UTC day whose offset changes during the day (a DST change)
    are converted exactly, row by row in vectorised form. The table is exact because no zone in
    the tz database has two transitions within 24 hours (the closest pair is ~95 hours apart),
    so equal offsets at a day's first and last nanosecond mean one offset all day.
    """
    for name in zones:
        zone(name)  # a clear error for an unknown zone, before pandas raises its own
    if len(utc_ns) == 0:
        return np.empty(0, dtype=np.int64)
    first_day = int(utc_ns.min()) // NS_PER_DAY
    n_days = int(utc_ns.max()) // NS_PER_DAY - first_day + 1
    if len(zones) * n_days > max(len(utc_ns) // 4, 100_000):
        return _local_days_by_zone(utc_ns, zone_codes, zones)
    edges = (first_day + np.arange(n_days + 1, dtype=np.int64)) * NS_PER_DAY
    starts, ends = edges[:-1], edges[1:] - 1
    offset = np.empty((len(zones), n_days), dtype=np.int64)
    exact = np.empty((len(zones), n_days), dtype=bool)
    for code, name in enumerate(zones):
        offset[code] = _wall_clock_ns(starts, name) - starts
        exact[code] = offset[code] == _wall_clock_ns(ends, name) - ends
    cell = zone_codes.astype(np.int64) * n_days
    cell += utc_ns // NS_PER_DAY
    cell -= first_day
    days = utc_ns + offset.ravel()[cell]
    days //= NS_PER_DAY
    changing = np.flatnonzero(~exact.ravel()[cell])
    if len(changing):
        days[changing] = _local_days_by_zone(utc_ns[changing], zone_codes[changing], zones)
    return days


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
