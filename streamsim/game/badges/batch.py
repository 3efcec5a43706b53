"""Batch evaluation: every badge earned in a DataFrame of plays, vectorised.

The notebook path. It computes, for every play at once, the same ``PlayFeatures`` the
incremental ``PlayerState`` computes one play at a time, then asks each rule for the first play
per player (or per player and game) at which it holds. No Python loop runs per play: two sorts
of packed int64 keys (numpy's SIMD sort, several times faster than an argsort) put the plays in
(player, time) and (player, game, time) order, and cumulative numpy operations do the rest.
At 10 million plays every pass over a column costs tens of milliseconds, so the code below
works in place where it can.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from streamsim.errors import PlayValidationError
from streamsim.game.badges.frames import empty_awards
from streamsim.game.badges.localdays_batch import NS_PER_DAY, ZoneCalendar, local_days
from streamsim.game.badges.rules import DEFAULT_RULES, BadgeRule, PlayFeatures, check_rules
from streamsim.game.plays import PLAY_COLUMNS

Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]
Index = npt.NDArray[np.intp]
_STRING_COLUMNS = ("player_id", "play_id", "game", "tz")


def evaluate_batch(
    plays: pd.DataFrame, rules: Iterable[BadgeRule] = DEFAULT_RULES, *, workers: int | None = None
) -> pd.DataFrame:
    """Every badge the plays earn: one row per (player_id, badge_id), columns ``AWARD_COLUMNS``.

    ``plays`` has the columns of ``streamsim.game.plays.PLAY_COLUMNS`` (others are ignored) in any
    row order. String columns may be str, object or categorical; categorical (as read from
    Parquet dictionary columns) is fastest. Rows come out ordered by player_id, then by the
    earning play, then by rule order. Large inputs are split by player across ``workers``
    threads (default: one per CPU, at most 4); numpy releases the GIL, so they run in parallel.
    """
    rule_set = check_rules(rules)
    return _evaluate(_validated(plays), rule_set, workers)


def evaluate_chunks(
    chunks: Iterable[pd.DataFrame],
    rules: Iterable[BadgeRule] = DEFAULT_RULES,
    *,
    workers: int | None = None,
) -> pd.DataFrame:
    """``evaluate_batch`` of all the chunks' plays together, evaluated one chunk at a time.

    For populations too large to hold as one DataFrame: ``chunks`` yields DataFrames (a
    generator reading or generating them), each holding *all* the plays of its players; only
    one chunk is held at a time (plus the awards so far). Awards never cross players, so the
    result equals ``evaluate_batch(pd.concat(chunks))`` row for row. A player whose plays are in
    two chunks is refused (``PlayValidationError`` naming the player and both chunks) rather
    than silently evaluated twice. Chunks in increasing player_id order (each chunk's players
    after the previous chunk's) need no final sort.
    """
    rule_set = check_rules(rules)
    parts: list[pd.DataFrame] = []
    seen: list[pd.Index] = []  # the players of each non-empty chunk
    numbers: list[int] = []  # and its number in the input
    in_order = True
    for number, chunk in enumerate(chunks):
        table = _validated(chunk)
        present = table.players[_player_counts(table) > 0]
        del chunk
        if len(present) == 0:
            continue
        if seen and not present[0] > seen[-1][-1]:
            in_order = False
            earlier = seen[0].append(seen[1:]) if len(seen) > 1 else seen[0]
            clash = present[present.isin(earlier)]
            if len(clash):
                first = next(k for k, index in enumerate(seen) if clash[0] in index)
                raise PlayValidationError(
                    f"player_id={clash[0]!r} has plays in chunk {numbers[first]} and "
                    f"chunk {number}: each chunk must hold all the plays of its players"
                )
        seen.append(present)
        numbers.append(number)
        if rule_set:
            parts.append(_evaluate(table, rule_set, workers))
        del table
    parts = [part for part in parts if len(part)]
    if not parts:
        return empty_awards()
    awards = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if not in_order:
        awards = awards.sort_values("player_id", kind="stable", ignore_index=True)
    return awards


def _evaluate(table: _Table, rule_set: tuple[BadgeRule, ...], workers: int | None) -> pd.DataFrame:
    """The awards of a validated table."""
    if table.n == 0 or not rule_set:
        return empty_awards()
    threads = _workers(workers, table.n)
    rows, rule_no = _earned_by_chunks(table, rule_set, threads)
    return _awards_frame(table, rule_set, rows, rule_no, threads=threads)


def _workers(workers: int | None, n: int) -> int:
    """Threads to use: splitting only pays off above about a million plays."""
    if workers is not None:
        return max(int(workers), 1)
    if n < 1_000_000:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(min(cpus or 1, 4), 1)


def _player_ranges(table: _Table, parts: int) -> list[tuple[int, int]]:
    """Split player codes into ``parts`` contiguous ranges holding about equal numbers of plays."""
    n_players = len(table.players)
    if parts <= 1 or n_players < 2:
        return [(0, n_players)]
    ends = np.cumsum(_player_counts(table))
    cuts = np.searchsorted(ends, [table.n * k // parts for k in range(1, parts)])
    bounds = [0, *sorted({int(c) + 1 for c in cuts if 0 <= c < n_players - 1}), n_players]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _player_counts(table: _Table) -> Ints:
    """Plays per player code, counted slice by slice: ``bincount`` converts its input to
    int64, and a temporary of all rows would be fresh pages (page faults) at every call."""
    counts = np.zeros(len(table.players), dtype=np.int64)
    step = 8 * CHUNK_PLAYS
    for lo in range(0, table.n, step):
        counts += np.bincount(table.player[lo : lo + step], minlength=len(table.players))
    return counts


#: Plays per chunk of players. Awards never cross players, so the plays are cut into ranges of
#: players of about this many plays and evaluated range by range: a range's arrays stay small
#: and the memory of a call stays bounded. 2**17 (arrays of about 1 MiB) rather than 2**20:
#: glibc hands the freed memory of 8 MiB arrays back to the OS after each range, and every
#: range then page-faults its arrays in again (a quarter of the CPU time at 10 M plays); at
#: 1 MiB it reuses them (bench_badges.py: minor faults 110,000 -> 6,000, sys 0.4 -> 0.1 s).
CHUNK_PLAYS = 1 << 17


def _earned_by_chunks(
    table: _Table, rules: tuple[BadgeRule, ...], threads: int
) -> tuple[Index, Index]:
    """(input rows, rule numbers) of the earning plays, range of players by range (``threads``
    ranges at a time), in (player, time, rule) order.

    The award rows are assembled once, after the ranges: building a DataFrame per range costs
    more than the strings it decodes.
    """
    parts = max(threads, -(-table.n // CHUNK_PLAYS))
    ranges = _player_ranges(table, min(parts, -(-table.n // 1_000)))
    calendar = ZoneCalendar.build(
        int(table.utc_ns.min()), int(table.utc_ns.max()), table.zones, table.n
    )
    table = replace(table, calendar=calendar)
    if len(ranges) == 1:
        return _earned(table, rules)
    log = _LogPartition.of(table, ranges, threads)
    if log is not None:

        def earned(k: int) -> tuple[Index, Index]:
            return _earned_in(log.ordered(k), rules, len(table.games))

    else:
        partition = _Partition.of(table, ranges)

        def earned(k: int) -> tuple[Index, Index]:
            return _earned(partition.part(k), rules)

    if threads == 1:
        found = [earned(k) for k in range(len(ranges))]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            found = list(pool.map(earned, range(len(ranges))))
    return (
        np.concatenate([rows for rows, _ in found]),
        np.concatenate([rule_no for _, rule_no in found]),
    )


@dataclass(frozen=True)
class _Partition:
    """The rows of a table grouped by range of players (one stable radix sort of range numbers);
    each range's sub-table is gathered only when it is evaluated, so few exist at once."""

    table: _Table
    rows: Index  # input rows, range by range, ascending within a range
    ends: Ints  # end of each range's rows in ``rows``
    packed: Ints | None  # (score, game, zone) of each input row in one int64 when they fit
    bits_zone: int
    bits_game: int

    @classmethod
    def of(cls, table: _Table, ranges: list[tuple[int, int]]) -> _Partition:
        dtype = np.uint8 if len(ranges) <= 256 else np.uint16 if len(ranges) <= 65536 else np.int64
        range_of = np.repeat(np.arange(len(ranges), dtype=dtype), [e - f for f, e in ranges])
        part = range_of[table.player]
        rows = np.argsort(part, kind="stable")  # radix sort for 8- and 16-bit keys
        ends = np.cumsum(np.bincount(part, minlength=len(ranges)))
        del part
        # Gathering by ``rows`` misses the cache once per column: pack three columns into one.
        bits_zone = max(len(table.zones) - 1, 0).bit_length()
        bits_game = max(len(table.games) - 1, 0).bit_length()
        packed = None
        if int(table.score.max()).bit_length() + bits_game + bits_zone <= 63:
            packed = table.score << (bits_game + bits_zone)
            packed |= table.game.astype(np.int64) << bits_zone
            packed |= table.zone
        return cls(table, rows, ends, packed, bits_zone, bits_game)

    def part(self, k: int) -> _Table:
        start = int(self.ends[k - 1]) if k else 0
        rows = self.rows[start : int(self.ends[k])]
        if self.packed is None:
            return self.table.take(rows)
        packed = self.packed[rows]
        zone = (packed & ((1 << self.bits_zone) - 1)).astype(np.int32)
        packed >>= self.bits_zone
        game = (packed & ((1 << self.bits_game) - 1)).astype(np.int32)
        packed >>= self.bits_game
        return replace(
            self.table,
            n=len(rows),
            player=self.table.player[rows],
            game=game,
            zone=zone,
            utc_ns=self.table.utc_ns[rows],
            score=packed,
            rows=self.table.global_rows(rows),
        )


@dataclass(frozen=True)
class _LogPartition:
    """The plays of a log (rows in played_at order) grouped by range of players, each play's
    (player, local day, game, score, tied) packed in one int64 before grouping.

    Each slice of input rows is packed and then grouped by range in place (a gather within
    the slice, which stays in cache), so a range's plays are contiguous pieces, one per slice,
    rather than rows spread over the whole input (a gather of those misses the cache at every
    row). Their rows being in time order, a stable sort by player puts a range's plays in
    (player, time) order. Local days are computed here, slice by slice in threads. "Tied" marks
    a play sharing its player and instant with another (rare): those are put in play_id order
    after the sort.
    """

    table: _Table
    rows: list[tuple[Index, Ints]]  # per slice of input rows: its rows by range, range ends
    starts: list[int]  # first input row of each slice
    packed: Ints  # each slice's plays grouped by range (the order of ``rows``)
    low_day: int
    bits: tuple[int, int, int]  # day, game, score
    ranges: list[tuple[int, int]]

    @classmethod
    def of(cls, table: _Table, ranges: list[tuple[int, int]], threads: int) -> _LogPartition | None:
        """None unless the table is a log (rows in played_at order) and the packed fields fit
        in 63 bits."""
        t, calendar = table.utc_ns, table.calendar
        if calendar is None or not (t[1:] >= t[:-1]).all():
            return None
        low_day = int(t[0]) // NS_PER_DAY - 1  # a local day is within a day of the UTC day
        bits_day = (int(t[-1]) // NS_PER_DAY + 1 - low_day).bit_length()
        bits_game = max(len(table.games) - 1, 0).bit_length()
        bits_score = int(table.score.max()).bit_length()
        bits_player = max(len(table.players) - 1, 0).bit_length()
        if bits_player + bits_day + bits_game + bits_score + 1 > 63:
            return None
        dtype = np.uint8 if len(ranges) <= 256 else np.uint16 if len(ranges) <= 65536 else np.int64
        range_of = np.repeat(np.arange(len(ranges), dtype=dtype), [e - f for f, e in ranges])
        packed = np.empty(table.n, dtype=np.int64)
        tied = _tied_rows(table)

        def pack(lo: int, hi: int) -> tuple[Index, Ints]:
            out = packed[lo:hi]
            np.copyto(out, table.player[lo:hi])
            out <<= bits_day
            days = calendar.days(t[lo:hi], table.zone[lo:hi])
            days -= low_day
            out |= days
            del days
            out <<= bits_game
            out |= table.game[lo:hi]
            out <<= bits_score
            out |= table.score[lo:hi]
            out <<= 1
            ties = tied[np.searchsorted(tied, lo) : np.searchsorted(tied, hi)]
            out[ties - lo] |= 1
            part = range_of[table.player[lo:hi]]
            rows = np.argsort(part, kind="stable")  # radix sort for 8- and 16-bit keys
            out[:] = out[rows]
            rows += lo
            return rows, np.cumsum(np.bincount(part, minlength=len(ranges)))

        # Slices of about CHUNK_PLAYS rows: temporaries of that size are reused by the
        # allocator, where ones of all rows would be fresh pages (page faults) at every call.
        step = -(-table.n // max(threads, -(-table.n // CHUNK_PLAYS)))
        slices = [(lo, min(lo + step, table.n)) for lo in range(0, table.n, step)]
        if threads > 1 and len(slices) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                rows = list(pool.map(lambda s: pack(*s), slices))
        else:
            rows = [pack(*s) for s in slices]
        starts = [lo for lo, _ in slices]
        bits = (bits_day, bits_game, bits_score)
        return cls(table, rows, starts, packed, low_day, bits, ranges)

    def ordered(self, k: int) -> _Ordered:
        """Range ``k``'s plays in A and B order (input rows: ``rows[by_time]``)."""
        bounds = [(int(e[k - 1]) if k else 0, int(e[k])) for _, e in self.rows]
        rows = [r[start:end] for (r, _), (start, end) in zip(self.rows, bounds, strict=True)]
        by_row = np.concatenate(rows) if len(rows) > 1 else rows[0].copy()
        pieces = [
            self.packed[lo + start : lo + end]
            for lo, (start, end) in zip(self.starts, bounds, strict=True)
        ]
        packed = np.concatenate(pieces) if len(pieces) > 1 else pieces[0].copy()
        bits_day, bits_game, bits_score = self.bits
        low = self.ranges[k][0]
        player = packed >> (bits_day + bits_game + bits_score + 1)
        player -= low
        order, player = _stable_order(player, consume=True)  # rows in time order: (player, time)
        packed = packed[order]
        tied = np.flatnonzero(_low_bit(packed))
        if len(tied):  # a player's plays at one instant (adjacent now): in play_id order
            rows_tied = by_row[order[tied]]
            exact = _positions(rows_tied, _exact_order(rows_tied, self.table))
            order[tied] = order[tied[exact]]
            packed[tied] = packed[tied[exact]]
        packed >>= 1
        player_a = player.astype(np.int32)
        player_a += low
        del player
        score_a = packed & ((1 << bits_score) - 1)
        packed >>= bits_score
        game_a = (packed & ((1 << bits_game) - 1)).astype(np.int32)
        packed >>= bits_game
        packed &= (1 << bits_day) - 1
        packed += self.low_day
        ordered = _in_game_order(order, player_a, game_a, packed, score_a, len(self.table.games))
        return replace(ordered, rows=by_row)  # input rows: by_row[by_time], for the few needed


def _positions(values: Index, wanted: Index) -> Index:
    """Where each of ``wanted`` is in ``values`` (distinct values, the same set)."""
    sorter = np.argsort(values)
    return sorter[np.searchsorted(values, wanted, sorter=sorter)]


def _earned(table: _Table, rules: tuple[BadgeRule, ...]) -> tuple[Index, Index]:
    """(input rows, rule numbers) of the plays that earn badges, in (player, time, rule) order."""
    if table.n == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
    rows, rule_no = _earned_in(_ordered(table), rules, len(table.games))
    return table.global_rows(rows), rule_no


def _earned_in(
    ordered: _Ordered, rules: tuple[BadgeRule, ...], n_games: int
) -> tuple[Index, Index]:
    """(values of ``ordered.by_time``, rule numbers) of the plays that earn badges, in (player,
    time, rule) order."""
    if len(ordered.by_time) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
    features = _features(ordered)
    earners = [_first_plays(rule, features, ordered, n_games) for rule in rules]
    rule_no = np.repeat(np.arange(len(rules), dtype=np.int64), [len(e) for e in earners])
    bits_rule = len(rules).bit_length()
    packed = np.concatenate(earners).astype(np.int64) << bits_rule
    packed |= rule_no
    packed.sort()  # A position then rule number: (player, time, rule) order
    earned_a = packed >> bits_rule
    earned = ordered.by_time[earned_a]
    if ordered.rows is not None:
        earned = ordered.rows[earned]
    return earned, packed & ((1 << bits_rule) - 1)


@dataclass(frozen=True)
class _Table:
    """The plays as integer arrays: codes for strings, ns for times.

    Either all plays in input row order, or (``rows`` set) the plays of a range of players,
    ``rows`` giving each one's input row.
    """

    n: int
    player: Codes  # code in sorted player_id order
    players: pd.Index
    game: Codes
    games: list[str]
    zone: Codes
    zones: list[str]
    utc_ns: Ints
    score: Ints
    play_id: pd.Series
    rows: Index | None = None
    calendar: ZoneCalendar | None = None  # local days of the whole input's time range

    def take(self, rows: Index) -> _Table:
        """The plays at ``rows`` (ascending input rows) of this table."""
        return replace(
            self,
            n=len(rows),
            player=self.player[rows],
            game=self.game[rows],
            zone=self.zone[rows],
            utc_ns=self.utc_ns[rows],
            score=self.score[rows],
            rows=self.global_rows(rows),
        )

    def global_rows(self, rows: Index) -> Index:
        """Input row numbers of rows of this table."""
        return rows if self.rows is None else self.rows[rows]

    def play_ids(self, rows: Index) -> pd.Series:
        """play_id of some rows as a str Series (taken in row order: fast on chunked Arrow)."""
        rows = self.global_rows(rows)
        ascending = _sort_packed(rows.astype(np.int64), np.arange(len(rows), dtype=np.int64))
        return self.play_ids_sorted(rows[ascending], ascending)

    def play_ids_sorted(self, sorted_rows: Index, ascending: Index) -> pd.Series:
        """play_id at input rows ``rows`` as a str Series, given ``sorted_rows = rows[ascending]``
        (ascending input rows)."""
        taken = self.play_id.iloc[sorted_rows]
        back = np.empty_like(ascending)
        back[ascending] = np.arange(len(ascending))
        permuted = _permute_fixed_width(taken, back)
        if permuted is not None:
            return permuted
        return taken.iloc[back].reset_index(drop=True).astype(str)


def _permute_fixed_width(strings: pd.Series, order: Index) -> pd.Series | None:
    """``strings.iloc[order]`` as a str Series when all are Arrow strings of one byte length
    (ids usually are): the bytes are permuted as fixed-width rows by numpy, several times
    faster than Arrow's take of variable-width strings at scattered rows. None otherwise."""
    if not (isinstance(strings.dtype, pd.StringDtype) and strings.dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa  # present whenever a column is Arrow-backed

    values = pa.array(strings.array)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    if n == 0 or values.null_count or not pa.types.is_large_string(values.type):
        return None
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[values.offset : values.offset + n + 1]
    width = int(offsets[1] - offsets[0])
    if (
        width == 0
        or int(offsets[-1] - offsets[0]) != width * n
        or (np.diff(offsets) != width).any()
    ):
        return None
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    rows = data.view(f"V{width}")[order]
    out = pa.Array.from_buffers(
        pa.large_string(),
        n,
        [
            None,
            pa.py_buffer(np.arange(0, width * (n + 1), width, dtype=np.int64)),
            pa.py_buffer(rows),
        ],
    )
    return pd.Series(pd.arrays.ArrowStringArray(out), dtype=strings.dtype)


@dataclass(frozen=True)
class _Ordered:
    """The plays in two orders, and the columns the features need in them.

    A order is (player, played_at, play_id); B order is (player, game, played_at, play_id).
    A player's plays occupy the same index range in both orders.
    """

    by_time: Index  # input row of each A position
    b_to_a: Index  # A position of each B position
    player_a: Codes
    game_a: Codes
    day_a: Ints  # local day, not yet made non-decreasing
    score_a: Ints
    player_game_b: Ints  # player * n_games + game, non-decreasing
    #: When set, ``by_time`` holds positions in ``rows``, which holds the input rows.
    rows: Index | None = None


def _validated(plays: pd.DataFrame) -> _Table:
    """Check columns and dtypes (naming the problem) and turn the plays into arrays."""
    if not isinstance(plays, pd.DataFrame):
        raise PlayValidationError(f"plays must be a pandas DataFrame, got {type(plays).__name__}")
    missing = [c for c in PLAY_COLUMNS if c not in plays.columns]
    if missing:
        raise PlayValidationError(
            f"plays is missing column(s) {missing}; expected {list(PLAY_COLUMNS)}"
        )
    doubled = [c for c in PLAY_COLUMNS if (plays.columns == c).sum() > 1]
    if doubled:
        raise PlayValidationError(f"plays has duplicate column(s) {doubled}")
    for column in PLAY_COLUMNS:
        if plays[column].isna().any():
            count = int(plays[column].isna().sum())
            raise PlayValidationError(f"{column}: {count} missing value(s)")
    for column in _STRING_COLUMNS:
        _check_strings(plays[column], column)
    played_at = plays["played_at"]
    if not isinstance(played_at.dtype, pd.DatetimeTZDtype):
        raise PlayValidationError(
            f"played_at must be timezone-aware datetime64 (UTC), got dtype {played_at.dtype}"
        )
    score = plays["score"]
    if not pd.api.types.is_integer_dtype(score.dtype):
        raise PlayValidationError(f"score must be an integer dtype, got {score.dtype}")
    score_values = score.to_numpy(dtype=np.int64)
    if len(score_values) and score_values.min() < 0:
        bad = int(np.argmin(score_values))
        raise PlayValidationError(
            f"score must be >= 0, got {score_values[bad]} "
            f"for play_id={plays['play_id'].iloc[bad]!r}"
        )
    # Hashing plain string columns is the slowest step; Arrow releases the GIL, so use threads.
    columns = [plays[c] for c in ("player_id", "game", "tz")]
    sort = [True, False, False]
    workers = _workers(None, len(plays))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            coded = list(pool.map(_codes, columns, sort))
    else:
        coded = list(map(_codes, columns, sort))
    (player, players), (game, games), (zone, zones) = coded
    return _Table(
        n=len(plays),
        player=player,
        players=players,
        game=game,
        games=[str(g) for g in games],
        zone=zone,
        zones=[str(z) for z in zones],
        utc_ns=_epoch_ns(played_at),
        score=score_values,
        play_id=plays["play_id"],
    )


def _check_strings(series: pd.Series, column: str) -> None:
    """String columns: str dtype, object holding str, or categorical of str."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        kind = pd.api.types.infer_dtype(dtype.categories, skipna=False)
    elif isinstance(dtype, pd.StringDtype):
        kind = "string"
    elif pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(series, skipna=False)
    else:
        kind = str(dtype)
    if kind not in ("string", "empty"):
        raise PlayValidationError(f"{column} must hold strings, got {kind} values (dtype {dtype})")


def _epoch_ns(played_at: pd.Series) -> Ints:
    """UTC nanoseconds since the epoch, whatever the column's unit (no copy when ns)."""
    index = pd.DatetimeIndex(played_at)
    values = index.asi8
    scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[index.unit]
    return values * scale if scale != 1 else values


def _codes(series: pd.Series, sort: bool) -> tuple[Codes, pd.Index]:
    """Integer codes and the distinct values; with ``sort``, codes follow the values' order."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int32, copy=False)
        uniques = pd.Index(series.cat.categories)
    else:
        codes, uniques = _factorize_strings(series)
    if sort and len(uniques) > 1 and not uniques.is_monotonic_increasing:
        order = uniques.argsort()
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        codes = rank[codes]
        uniques = uniques[order]
    return codes, uniques


def _factorize_strings(series: pd.Series) -> tuple[Codes, pd.Index]:
    """Factorize strings; Arrow-backed strings use Arrow's hash kernel, on slices in parallel."""
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        codes, uniques = pd.factorize(series)
        return codes.astype(np.int32), pd.Index(uniques, dtype=str)
    import pyarrow as pa  # present whenever a column is Arrow-backed
    import pyarrow.compute as pc

    if len(series) == 0:
        return np.empty(0, dtype=np.int32), pd.Index([], dtype=str)
    values = pa.array(series)
    pieces = list(values.chunks) if isinstance(values, pa.ChunkedArray) else [values]
    workers = _workers(None, len(series))
    if len(pieces) < workers:
        n = len(values)
        whole = pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]
        step = -(-n // (2 * workers))
        pieces = [whole.slice(start, step) for start in range(0, n, step)]
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            encoded = list(pool.map(pc.dictionary_encode, pieces))
    else:
        encoded = [pc.dictionary_encode(piece) for piece in pieces]
    unified = pa.chunked_array(encoded, type=encoded[0].type).unify_dictionaries()
    codes = np.concatenate(
        [chunk.indices.to_numpy(zero_copy_only=False) for chunk in unified.chunks]
    ).astype(np.int32)
    dictionary = unified.chunks[0].dictionary if unified.num_chunks else pa.array([], pa.string())
    return codes, pd.Index(dictionary.to_pandas(), dtype=str)


def _ordered(table: _Table) -> _Ordered:
    """Sort the plays into A and B order and lay out the columns the features need."""
    by_time, player_a = _order_by_player_time(table)
    if table.calendar is not None:
        days = table.calendar.days(table.utc_ns, table.zone)
    else:
        days = local_days(table.utc_ns, table.zone, table.zones)
    game_a, day_a, score_a = _gather3(table.game, days, table.score, by_time)
    del days
    return _in_game_order(by_time, player_a, game_a, day_a, score_a, len(table.games))


def _in_game_order(
    by_time: Index, player_a: Codes, game_a: Codes, day_a: Ints, score_a: Ints, games: int
) -> _Ordered:
    """The ``_Ordered`` of plays in A order: adds the B order (player, game, time)."""
    n_games = max(games, 1)
    low = int(player_a[0]) if len(player_a) else 0  # player_a is sorted
    player_game = player_a.astype(np.int64)
    if low:
        player_game -= low
    player_game *= n_games
    player_game += game_a
    # Stable sort by (player, game) of plays already in time order: one sort of the A position
    # packed under the key, which also yields the sorted keys.
    b_to_a, player_game_b = _stable_order(player_game, consume=True)
    return _Ordered(
        by_time=by_time,
        b_to_a=b_to_a,
        player_a=player_a,
        game_a=game_a,
        day_a=day_a,
        score_a=score_a,
        player_game_b=player_game_b,
    )


def _low_bit(values: Ints) -> npt.NDArray[Any]:
    """The lowest bit of each value, read from its lowest byte (no int64 temporary)."""
    if sys.byteorder == "little":
        return values.view(np.uint8)[:: values.itemsize] & 1
    return (values & 1).astype(np.uint8)


def _stable_order(keys: Ints, *, consume: bool = False) -> tuple[Index, Ints]:
    """The stable sorting permutation of non-negative ``keys`` and the sorted keys.

    One SIMD sort of (key, position) packed in a uint32 when the pair fits in 32 bits (a
    range of players: twice the lanes of an int64 sort, about 2.5 times faster), else in an
    int64 (faster than numpy's stable radix argsort even for 16-bit keys); lexsort when the
    pair does not fit in 63 bits.
    """
    n = len(keys)
    bits = n.bit_length()
    key_bits = int(keys.max()).bit_length() if n else 0
    if n and key_bits + bits <= 32:
        small = keys.astype(np.uint32)
        small <<= np.uint32(bits)
        small |= np.arange(n, dtype=np.uint32)
        small.sort()
        order = (small & np.uint32((1 << bits) - 1)).astype(np.intp)
        small >>= np.uint32(bits)
        return order, small.astype(np.int64)
    if n == 0 or key_bits + bits > 63:
        order = np.lexsort((np.arange(n), keys)).astype(np.intp)
        return order, keys[order]
    if consume and keys.dtype == np.int64:  # the caller's array becomes the sort buffer
        packed = keys
        packed <<= bits
    else:
        packed = keys.astype(np.int64) << bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    order = packed & ((1 << bits) - 1)
    packed >>= bits
    return order.astype(np.intp, copy=False), packed


def _order_by_player_time(table: _Table) -> tuple[Index, Codes]:
    """Row numbers in (player, played_at, play_id) order, and the player code of each.

    One sort of (player, coarse time, row) packed into an int64, then an exact re-sort of the
    few runs that share a player and a coarse time bucket (ties included, broken by play_id).
    """
    logged = _order_of_logged(table)
    if logged is not None:
        return logged
    n = table.n
    bits_row = n.bit_length()
    low = int(table.player.min())  # a range of players: code - low needs fewer bits
    bits_player = (int(table.player.max()) - low).bit_length()
    bits_time = 63 - bits_row - bits_player
    if bits_time < 1:
        order = _exact_order(np.arange(n, dtype=np.intp), table)
        return order, table.player[order]
    # Times span up to ~585 years (pandas' range), which overflows int64 ns: wrap to uint64.
    rel = (table.utc_ns - table.utc_ns.min()).view(np.uint64)
    rel >>= np.uint64(max(int(rel.max()).bit_length() - bits_time, 0))
    packed = rel.view(np.int64)
    del rel
    player = table.player.astype(np.int64)
    if low:
        player -= low
    player <<= bits_time
    packed |= player
    del player
    packed <<= bits_row
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    order = np.bitwise_and(packed, (1 << bits_row) - 1)
    packed >>= bits_row
    _order_ties(order, packed[1:] == packed[:-1], table)
    packed >>= bits_time
    player_a = packed.astype(np.int32)
    if low:
        player_a += low
    return order, player_a


def _order_ties(order: Index, same: np.ndarray, table: _Table) -> None:
    """Put the rows of each run of ties (``same[i]``: rows ``i`` and ``i + 1`` of ``order``
    tie) in exact order, in place."""
    if not same.any():
        return
    in_run = np.zeros(len(order), dtype=bool)
    in_run[1:] = same
    in_run[:-1] |= same
    where = np.flatnonzero(in_run)
    order[where] = _exact_order(order[where], table)


def _order_of_logged(table: _Table) -> tuple[Index, Codes] | None:
    """``_order_by_player_time`` for rows already in played_at order (a log of plays), else None.

    Then a stable sort by player is the whole sort; a player's plays at one instant (rare)
    are then put in play_id order.
    """
    n, t = table.n, table.utc_ns
    if n < 2:
        return None
    low = int(table.player.min())
    if not (t[1:] >= t[:-1]).all():
        return None
    relative = table.player.astype(np.int64)
    relative -= low
    order, player = _stable_order(relative)
    del relative
    player_a = player.astype(np.int32)
    player_a += low
    del player
    if _same_player_same_instant(table):  # ordered by play_id
        t_a = t[order]
        _order_ties(order, (player_a[1:] == player_a[:-1]) & (t_a[1:] == t_a[:-1]), table)
    return order, player_a


def _same_player_same_instant(table: _Table) -> bool:
    """Whether a player has two plays at one instant, in a table in played_at order."""
    return len(_tied_rows(table)) > 0


def _tied_rows(table: _Table) -> Index:
    """The rows sharing their player and instant with another row, in a table in played_at
    order (ascending). Plays at one instant are adjacent in such a table, so only the few rows
    in runs of equal times are compared (no pass over the plays in player order)."""
    t = table.utc_ns
    tied = np.flatnonzero(t[1:] == t[:-1])
    if len(tied) == 0:
        return tied
    rows = np.union1d(tied, tied + 1)
    player, at = table.player[rows], t[rows]
    order = np.lexsort((player, at))
    rows, player, at = rows[order], player[order], at[order]
    same = (player[1:] == player[:-1]) & (at[1:] == at[:-1])
    in_tie = np.zeros(len(rows), dtype=bool)
    in_tie[1:] = same
    in_tie[:-1] |= same
    return np.sort(rows[in_tie])


def _exact_order(rows: Index, table: _Table) -> Index:
    """``rows`` sorted exactly by (player, played_at, play_id); duplicate plays are rejected."""
    rows = rows[np.lexsort((table.utc_ns[rows], table.player[rows]))]
    player, t = table.player[rows], table.utc_ns[rows]
    tie = (player[1:] == player[:-1]) & (t[1:] == t[:-1])
    if not tie.any():
        return rows
    in_tie = np.zeros(len(rows), dtype=bool)
    in_tie[1:] = tie
    in_tie[:-1] |= tie
    where = np.flatnonzero(in_tie)
    tied = pd.DataFrame(
        {"player": player[where], "t": t[where], "play_id": table.play_ids(rows[where])}
    ).sort_values(["player", "t", "play_id"], kind="stable")
    dup = tied.duplicated()
    if dup.any():
        first = tied[dup].iloc[0]
        raise PlayValidationError(
            f"duplicate play: player_id={table.players[first['player']]!r} "
            f"play_id={first['play_id']!r} at the same played_at appears more than once"
        )
    rows[where] = rows[where][tied.index.to_numpy()]
    return rows


def _gather3(game: Codes, day: Ints, score: Ints, rows: Index) -> tuple[Codes, Ints, Ints]:
    """``game[rows], day[rows], score[rows]`` with one random-access gather when they fit.

    Gathering by a permutation is the costliest memory access here (cache misses); packing the
    three columns into one int64 pays it once instead of three times.
    """
    low = int(day.min())
    bits_score = int(score.max()).bit_length()
    bits_game = max(int(game.max()), 0).bit_length()
    bits_day = (int(day.max()) - low).bit_length()
    if bits_score + bits_game + bits_day > 63:
        return game[rows], day[rows], score[rows]
    packed = day - low
    packed <<= bits_game
    packed |= game
    packed <<= bits_score
    packed |= score
    packed = packed[rows]
    score_a = packed & ((1 << bits_score) - 1)
    packed >>= bits_score
    game_a = (packed & ((1 << bits_game) - 1)).astype(np.int32)
    packed >>= bits_game
    packed += low
    return game_a, packed, score_a


def _sort_packed(keys: Ints, values: Ints) -> Index:
    """``values`` reordered by ``keys`` (stable): one sort of (key, value) packed in an int64.

    ``values`` must be 0..n-1; falls back to lexsort when the pair does not fit in 63 bits.
    """
    n = len(values)
    bits_value = n.bit_length()
    if int(keys.max(initial=0)).bit_length() + bits_value > 63:
        return values[np.lexsort((values, keys))].astype(np.intp)
    packed = keys << bits_value
    packed |= values
    packed.sort()
    packed &= (1 << bits_value) - 1
    return packed.astype(np.intp, copy=False)


def _features(o: _Ordered) -> PlayFeatures:
    """``PlayFeatures`` for every play, aligned in B order (player, game, time)."""
    n = len(o.by_time)
    idx = np.arange(n, dtype=np.int64)
    b = o.b_to_a
    # Player aggregates, in A order (player, time).
    new_player = _starts(o.player_a)
    day_a = o.day_a
    days_away_a = _diff(day_a)
    if ((days_away_a < 0) & ~new_player).any():  # a clock turned back: days never go backwards
        day_a = _segmented_cummax(day_a, o.player_a)
        days_away_a = _diff(day_a)
    days_away_a -= 1
    days_away_a[new_player] = -1
    plays_before = _group_start(new_player)
    np.subtract(b, plays_before, out=plays_before)  # same index range per player in A and B
    del new_player
    # Game aggregates, in B order (player, game, time).
    day = day_a[b]
    score = o.score_a[b]
    new_game = _starts(o.player_game_b)
    new_run = _diff(day) > 1
    new_run |= new_game
    run_starts = np.flatnonzero(new_run)
    game_run = np.repeat(day[run_starts], np.diff(run_starts, append=n))
    np.subtract(day, game_run, out=game_run)
    game_run += 1
    del run_starts
    del new_run
    best_before = np.empty(n, dtype=np.int64)
    best_before[1:] = _segmented_cummax(score, o.player_game_b)[:-1]
    best_before[new_game] = -1
    game_plays_before = _group_start(new_game)
    np.subtract(idx, game_plays_before, out=game_plays_before)
    return PlayFeatures(
        score=score,
        local_day=day,
        plays_before=plays_before,
        days_away=days_away_a[b],
        game_plays_before=game_plays_before,
        game_run=game_run,
        game_best_before=best_before,
    )


def _group_start(starts: npt.NDArray[np.bool_]) -> Ints:
    """For each element, the index of the start of its group (``starts`` marks group starts,
    ``starts[0]`` is True): each start repeated over its group."""
    first = np.flatnonzero(starts)
    return np.repeat(first, np.diff(first, append=len(starts)))


def _diff(values: Ints) -> Ints:
    """values[i] - values[i - 1], and 0 for the first element."""
    out = np.empty_like(values)
    out[0] = 0
    np.subtract(values[1:], values[:-1], out=out[1:])
    return out


def _starts(group: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
    """True where a sorted group column starts a new group."""
    first = np.empty(len(group), dtype=bool)
    first[0] = True
    np.not_equal(group[1:], group[:-1], out=first[1:])
    return first


def _segmented_cummax(values: Ints, group: npt.NDArray[np.integer]) -> Ints:
    """Running max within each group of a non-decreasing group column (no per-group loop).

    Lifts each group above all earlier ones so one ``maximum.accumulate`` never carries a max
    across groups; uses pandas' groupby when the lift would overflow int64.
    """
    low = min(int(values.min()), 0)
    span = int(values.max()) - low + 1
    if (int(group[-1]) + 1) * span >= 2**62:
        return pd.Series(values).groupby(group).cummax().to_numpy(dtype=np.int64)
    lift = group * span if group.dtype == np.int64 else group.astype(np.int64) * span
    if low:
        lift -= low
    lifted = values + lift
    np.maximum.accumulate(lifted, out=lifted)
    lifted -= lift
    return lifted


def _first_plays(rule: BadgeRule, f: PlayFeatures, o: _Ordered, n_games: int) -> Index:
    """A positions of the plays that earn ``rule``'s badges: the first hit per scope."""
    n = len(o.by_time)
    hits = np.flatnonzero(np.broadcast_to(np.asarray(rule.holds(f), dtype=bool), (n,)))
    if len(hits) == 0:
        return np.empty(0, dtype=np.intp)
    scope = o.player_game_b[hits]
    if rule.scope == "game":
        # within a (player, game) the B order is time order: the first hit is the earliest
        return o.b_to_a[hits[_starts(scope)]].astype(np.intp, copy=False)
    scope //= max(n_games, 1)
    first = np.minimum.reduceat(o.b_to_a[hits], np.flatnonzero(_starts(scope)))
    return first.astype(np.intp)


def _awards_frame(
    table: _Table,
    rules: tuple[BadgeRule, ...],
    rows: Index,
    rule_no: Index,
    *,
    threads: int = 1,
) -> pd.DataFrame:
    """Assemble award rows from the earning plays' input rows and rule numbers.

    The input columns are read at the rows in ascending order (a sweep, not cache misses all
    over the input), then put back in award order; the string columns are taken by Arrow, in
    ``threads`` threads (Arrow releases the GIL).
    """
    if len(rows) == 0:
        return empty_awards()
    import pyarrow as pa  # a project dependency

    def strings(values: pd.Index | list[str]) -> Any:
        return pa.array(np.asarray(values, dtype=object), pa.large_string())

    rows = table.global_rows(rows)
    ascending = _sort_packed(rows.astype(np.int64), np.arange(len(rows), dtype=np.int64))
    sorted_rows = rows[ascending]

    def unsorted(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        out = np.empty_like(values)
        out[ascending] = values
        return out

    player = unsorted(table.player[sorted_rows])
    badge = rule_no * len(table.games)
    badge += unsorted(table.game[sorted_rows])
    utc_ns = unsorted(table.utc_ns[sorted_rows])
    jobs: dict[str, Any] = {
        "player_id": lambda: _strings(player, strings(table.players)),
        "badge_id": lambda: _strings(
            badge, strings([rule.badge_id(g) for rule in rules for g in table.games])
        ),
        "rule": lambda: _strings(rule_no, strings([rule.name for rule in rules])),
        "params": lambda: _strings(rule_no, strings([rule.params_json() for rule in rules])),
        "play_id": lambda: table.play_ids_sorted(sorted_rows, ascending),
    }
    if threads > 1 and len(rows) >= 100_000:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            columns = {name: future.result() for name, future in futures.items()}
    else:
        columns = {name: job() for name, job in jobs.items()}
    played_at = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC")
    columns["played_at"] = pd.Series(played_at)
    return pd.DataFrame(columns)


_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default str dtype (pyarrow-backed)


def _strings(codes: npt.NDArray[np.integer], values: Any) -> pd.Series:
    """A str Series ``values[codes]`` (``values`` an Arrow large_string array), taken by Arrow."""
    import pyarrow as pa

    taken = values.take(pa.array(codes.astype(np.int32, copy=False)))
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([taken])), dtype=_STR, copy=False)
