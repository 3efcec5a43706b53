"""CloudWatch-style 1-minute series, as AWS defines the metrics of a stream-triggered function.

IteratorAge: emitted when the function finishes a batch, the age of the batch's last record at
that moment (Lambda docs, monitoring-metrics / events-dynamodb-metrics), in milliseconds as
CloudWatch reports it; the minute's Maximum.
Invocations (Sum), Errors (Sum: function errors and timeouts, not partial batch responses),
Throttles (Sum), ConcurrentExecutions (Maximum). Backlog (records written, not yet finished;
the minute's Maximum, exact at every write and finish, so a backlog that builds and drains
inside one minute still shows) is the workbench's own figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MINUTE = 60.0


def arrow_text(values: Any, combine: bool = True) -> Any:
    """A text column (pandas or Arrow) as one Arrow large_string array, without copying a str
    column into Python objects; ``combine=False``: its chunks as they are (no copy)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.Array | pa.ChunkedArray):
        data = values
    elif hasattr(values.array, "__arrow_array__"):
        data = values.array.__arrow_array__()
    else:
        data = pa.array(values.astype(str).to_numpy(dtype=object), from_pandas=True)
    if data.type != pa.large_string():
        data = pc.cast(data, pa.large_string())
    if isinstance(data, pa.ChunkedArray) and combine:  # one chunk as it is (combining copies)
        return data.chunk(0) if data.num_chunks == 1 else data.combine_chunks()
    return data


def first_match(values: Any, among: Any) -> np.ndarray:
    """For each of ``values``, the position of its first occurrence in ``among`` (-1: none):
    a left join on a unique key (``drop_duplicates(keep="first")`` then ``map``/``merge``)
    computed by Arrow on the text itself, without a Python string per row (tens of millions of
    sequence numbers and keys at scale)."""
    import pyarrow.compute as pc

    if not len(values):
        return np.zeros(0, dtype=np.int64)
    if not len(among):
        return np.full(len(values), -1, dtype=np.int64)
    found = pc.index_in(arrow_text(values), value_set=arrow_text(among))
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def first_rows(column: pd.Series) -> np.ndarray:
    """A mask of each value's first occurrence (``~duplicated(keep="first")``): by number for
    sequence numbers (``sequence_offsets``), else by Arrow on the text."""
    numbers = sequence_offsets(column)
    if numbers is None:
        return first_match(column, column) == np.arange(len(column))
    values = numbers[0]
    order = np.argsort(values, kind="stable")  # equal values: the first row first
    ordered = values[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    del ordered
    mask = np.zeros(len(order), dtype=bool)
    mask[order[starts]] = True
    return mask


#: Rows converted at a time (bounds the transient text slices of ``sequence_offsets``).
_CHUNK = 1 << 18
#: Digits of a sequence number's low part (fits int64); the part above must be the same text.
_LOW_DIGITS = 18


def sequence_offsets(*columns: Any) -> list[np.ndarray] | None:
    """Decimal texts (sequence numbers) of several columns as int64 numbers on one scale, such
    that two values are equal exactly when their texts are: when every value is a plain decimal
    (ASCII digits, no leading zero) and all share the digits above their last 18 (DynamoDB's
    21-digit sequence numbers of one stream do). None otherwise (missing values, other texts):
    join on the text then. Numbers sort and join in 8 bytes a row, without a hash table over
    tens of millions of texts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: list[np.ndarray] = []
    high: Any = None
    for column in columns:
        text = arrow_text(column, combine=False)
        if text.null_count:
            return None
        numbers = np.empty(len(text), dtype=np.int64)
        for start in range(0, len(text), _CHUNK):
            part = text.slice(start, _CHUNK)
            if not pc.all(pc.ascii_is_decimal(part)).as_py():
                return None
            zero_led = pc.and_(pc.starts_with(part, "0"), pc.greater(pc.utf8_length(part), 1))
            if pc.any(zero_led).as_py():
                return None
            tops = pc.utf8_slice_codeunits(part, 0, -_LOW_DIGITS)
            if high is None:
                high = tops[0].as_py()
            if not pc.all(pc.equal(tops, pa.scalar(high, tops.type))).as_py():
                return None
            low = pc.utf8_slice_codeunits(part, -_LOW_DIGITS)
            numbers[start : start + len(part)] = pc.cast(low, pa.int64()).to_numpy()
        out.append(numbers)
    return out


def first_match_numbers(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """``first_match`` on int64 numbers: by a stable sort of ``among`` and a binary search
    (the first occurrence is the smallest position among equal values); when ``values`` are
    fewer, by their sorted distinct values and ``among`` a chunk at a time (memory bounded by
    ``values``, not by ``among``: the batches' last records among every record)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    if not len(among):
        return np.full(len(values), -1, dtype=np.int64)
    if len(values) < len(among):
        return _first_match_scanning(values, among)
    order = np.argsort(among, kind="stable")
    ordered = among[order]
    at = np.minimum(np.searchsorted(ordered, values, side="left"), len(among) - 1)
    del ordered
    position = order[at].astype(np.int64, copy=False)
    del order, at
    position[among[position] != values] = -1
    return position


def _first_match_scanning(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """``first_match_numbers`` scanning ``among`` in chunks against ``values``' distinct
    numbers: each distinct number keeps the first position where it was seen."""
    distinct, inverse = np.unique(values, return_inverse=True)
    first = np.full(len(distinct), -1, dtype=np.int64)
    for start in range(0, len(among), _CHUNK):
        part = among[start : start + _CHUNK]
        at = np.minimum(np.searchsorted(distinct, part), len(distinct) - 1)
        hit = np.flatnonzero(distinct[at] == part)
        if not len(hit):
            continue
        which, seen = np.unique(at[hit], return_index=True)  # first in this chunk
        new = first[which] < 0
        first[which[new]] = start + hit[seen[new]]
    return first[inverse.reshape(-1)]


def first_match_sequence(values: Any, among: Any) -> np.ndarray:
    """``first_match`` for sequence-number columns: by number when ``sequence_offsets`` can
    (at scale, always), else on the text."""
    numbers = sequence_offsets(values, among)
    if numbers is None:
        return first_match(values, among)
    return first_match_numbers(numbers[0], numbers[1])


def backlog_maximum(
    written: np.ndarray, finished: np.ndarray, origin: float, minutes: int
) -> np.ndarray:
    """Per minute from ``origin``, the most records written and not yet finished at any instant
    (a write and a finish at the same instant: the write counts first).

    The backlog only rises at a write, so a minute's most is its level as it begins or just
    after one of its writes: (writes at or before the instant) - (finishes before it), counted
    by binary search on the sorted times, the writes a chunk at a time (no event table of
    every write and finish: tens of millions at scale)."""
    written = np.asarray(written, dtype=float)
    if len(written) > 1 and not bool(np.all(written[1:] >= written[:-1])):
        written = np.sort(written)
    finished = np.sort(np.asarray(finished, dtype=float))
    starts = origin + MINUTE * np.arange(minutes)
    # the level as each minute begins (what the events before it left)
    out = (
        np.searchsorted(written, starts, side="left")
        - np.searchsorted(finished, starts, side="left")
    ).astype(np.int64)
    for first in range(0, len(written), _CHUNK):
        part = written[first : first + _CHUNK]
        level = np.searchsorted(written, part, side="right") - np.searchsorted(
            finished, part, side="left"
        )
        minute = np.clip(((part - origin) // MINUTE).astype(np.int64), 0, minutes - 1)
        np.maximum.at(out, minute, level)
    return out


def cloudwatch_metrics(
    attempts: pd.DataFrame,
    records: pd.DataFrame,
    dispositions: pd.DataFrame,
    *,
    written: np.ndarray,
    throttles: np.ndarray,
    concurrency: Sequence[tuple[float, int]],
) -> pd.DataFrame:
    """One row per minute from the first write to the last event: the metrics above."""
    times = [np.asarray(written, dtype=float)]
    if len(attempts):
        times.append(attempts["completed_at"].to_numpy(dtype=float))
    stamps = np.concatenate(times) if times else np.array([])
    if not len(stamps):
        return pd.DataFrame(
            columns=[
                "Invocations",
                "Errors",
                "Throttles",
                "ConcurrentExecutions",
                "IteratorAge",
                "Backlog",
            ]
        )
    origin = float(np.floor(stamps.min() / MINUTE) * MINUTE)
    minutes = int((stamps.max() - origin) // MINUTE) + 1

    def minute_of(t: np.ndarray) -> np.ndarray:
        return np.clip(((t - origin) // MINUTE).astype(np.int64), 0, minutes - 1)

    def count(t: np.ndarray) -> np.ndarray:
        return np.bincount(minute_of(t), minlength=minutes) if len(t) else np.zeros(minutes, int)

    def maximum(t: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = np.zeros(minutes)
        if len(t):
            np.maximum.at(out, minute_of(t), v)
        return out

    invocations = (
        count(attempts["invoked_at"].to_numpy(dtype=float))
        if len(attempts)
        else count(np.array([]))
    )
    if len(attempts):
        errors = count(
            attempts.loc[attempts["outcome"].isin(["error", "timeout"]), "invoked_at"].to_numpy(
                dtype=float
            )
        )
        at = first_match_sequence(attempts["last_sequence_number"], records["sequence_number"])
        created = records["created_at"].to_numpy(dtype=float)
        last_created = np.where(at >= 0, created[np.maximum(at, 0)] if len(created) else 0, np.nan)
        done = attempts["completed_at"].to_numpy(dtype=float)
        age = maximum(done, np.nan_to_num(done - last_created))
    else:
        errors = count(np.array([]))
        age = np.zeros(minutes)
    conc = np.asarray(concurrency, dtype=float).reshape(-1, 2)
    concurrent = maximum(conc[:, 0], conc[:, 1])
    finished = dispositions["at"].to_numpy(dtype=float)[first_rows(dispositions["sequence_number"])]
    backlog = backlog_maximum(np.asarray(written, dtype=float), finished, origin, minutes)
    index = pd.to_datetime(origin + MINUTE * np.arange(minutes), unit="s", utc=True)
    return pd.DataFrame(
        {
            "Invocations": invocations,
            "Errors": errors,
            "Throttles": count(throttles),
            "ConcurrentExecutions": concurrent.astype(int),
            "IteratorAge": age * 1000.0,
            "Backlog": backlog,
        },
        index=pd.Index(index, name="minute"),
    )
