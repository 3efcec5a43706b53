"""CloudWatch-style 1-minute series, as AWS defines the metrics of a stream-triggered function.

IteratorAge: emitted when the function finishes a batch, the age of the batch's last record at
that moment (Lambda docs, monitoring-metrics / events-dynamodb-metrics), in milliseconds as
CloudWatch reports it; the minute's Maximum.
Invocations (Sum), Errors (Sum: function errors and timeouts, not partial batch responses),
Throttles (Sum), ConcurrentExecutions (Maximum). Backlog (records written, not yet finished)
is the workbench's own figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

MINUTE = 60.0


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
        created = records.drop_duplicates("sequence_number").set_index("sequence_number")[
            "created_at"
        ]
        last_created = attempts["last_sequence_number"].map(created).to_numpy(dtype=float)
        done = attempts["completed_at"].to_numpy(dtype=float)
        age = maximum(done, np.nan_to_num(done - last_created))
    else:
        errors = count(np.array([]))
        age = np.zeros(minutes)
    conc = np.asarray(concurrency, dtype=float).reshape(-1, 2)
    concurrent = maximum(conc[:, 0], conc[:, 1])
    finished = dispositions.drop_duplicates("sequence_number")["at"].to_numpy(dtype=float)
    ends = origin + MINUTE * np.arange(1, minutes + 1)
    backlog = np.searchsorted(np.sort(written), ends, side="right") - np.searchsorted(
        np.sort(finished), ends, side="right"
    )
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
