"""What the trigger saw and did, as rows: every record, every delivery attempt, every outcome.

Row types are immutable named tuples (cheap to build per record, and a list of them is a
DataFrame without per-row conversion); ``Capture.frames()`` turns them into pandas DataFrames for
the notebooks. Every timestamp is epoch seconds on the run's clock, named in the ``clock`` column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from streamsim.aws.trigger.columns import RowColumns


class Disposition(str, Enum):
    """Where a record ended. ``discarded`` means lost: no on-failure destination was set."""

    PROCESSED = "processed"
    FILTERED = "filtered"
    DESTINATION = "destination"
    DISCARDED = "discarded"


class RecordRow(NamedTuple):
    """A record as the poller read it."""

    mapping: str
    shard_id: str
    sequence_number: str
    event_id: str
    event_name: str
    keys: str
    created_at: float
    read_at: float
    size_bytes: int
    clock: str


class AttemptRow(NamedTuple):
    """One invocation of the handler for one batch."""

    mapping: str
    shard_id: str
    lane: int
    batch_id: int
    attempt: int
    retry: int
    backoff_seconds: float
    first_sequence_number: str
    last_sequence_number: str
    records: int
    payload_bytes: int
    invoked_at: float
    completed_at: float
    outcome: str
    error_type: str | None
    error_message: str | None
    failed_from: str | None
    request_id: str
    log_lines: tuple[str, ...]
    clock: str


class DispositionRow(NamedTuple):
    """Where a record ended, when, and after how many attempts."""

    mapping: str
    shard_id: str
    sequence_number: str
    disposition: str
    at: float
    attempts: int
    condition: str | None
    clock: str
    #: When the record was first handed to the handler (None: filtered or expired unread).
    first_invoked_at: float | None = None


class PollErrorRow(NamedTuple):
    """A failed stream call (throttling, 5xx, unreachable): retried, never counted as a retry [E]."""

    mapping: str
    shard_id: str
    at: float
    error_type: str
    error_message: str
    clock: str


#: How the per-record rows are kept (``RowColumns``): a few bytes per field, not objects.
RECORD_COLUMNS = {
    "mapping": "code",
    "shard_id": "code",
    "sequence_number": "decimal",
    "event_id": "hex",
    "event_name": "code",
    "keys": "text",
    "created_at": "float",
    "read_at": "float",
    "size_bytes": "int",
    "clock": "code",
}
DISPOSITION_COLUMNS = {
    "mapping": "code",
    "shard_id": "code",
    "sequence_number": "decimal",
    "disposition": "code",
    "at": "float",
    "attempts": "int",
    "condition": "code",
    "clock": "code",
    "first_invoked_at": "optional_float",
}


def record_rows() -> RowColumns[RecordRow]:
    return RowColumns(RecordRow, RECORD_COLUMNS)


def disposition_rows() -> RowColumns[DispositionRow]:
    return RowColumns(DispositionRow, DISPOSITION_COLUMNS)


@dataclass
class Capture:
    """Collects rows; ``on_attempt`` lets a CLI print log lines as they come. Per-record rows
    (records, dispositions) are kept as columns (``RowColumns``: a list of the same tuples to
    its users), so a run of tens of millions of records fits in memory."""

    records: RowColumns[RecordRow] = field(default_factory=record_rows)
    attempts: list[AttemptRow] = field(default_factory=list)
    dispositions: RowColumns[DispositionRow] = field(default_factory=disposition_rows)
    poll_errors: list[PollErrorRow] = field(default_factory=list)
    destination_messages: list[dict[str, Any]] = field(default_factory=list)
    on_attempt: Callable[[AttemptRow], None] | None = None

    def attempt(self, row: AttemptRow) -> None:
        self.attempts.append(row)
        if self.on_attempt is not None:
            self.on_attempt(row)

    def counts(self) -> dict[str, int]:
        """Records by final disposition, plus records read and invocations."""
        out = {d.value: 0 for d in Disposition}
        for row in self.dispositions:
            out[row.disposition] += 1
        out["records"] = len(self.records)
        out["invocations"] = len(self.attempts)
        return out

    def frames(self, release: bool = False) -> dict[str, Any]:
        """DataFrames: records, attempts, dispositions, poll_errors. ``release``: empty the
        per-record stores while converting them (a finished run's capture, at scale)."""
        import pandas as pd

        def frame(rows: Any, cls: Any) -> pd.DataFrame:
            if isinstance(rows, RowColumns):
                return rows.frame(release)
            columns = list(cls._fields)
            if not rows:
                return pd.DataFrame(columns=columns)
            return pd.DataFrame.from_records(rows, columns=columns)

        attempts = frame(self.attempts, AttemptRow)
        dispositions = frame(self.dispositions, DispositionRow)
        # Optional times are None in rows; keep them float (NaN) so frames compute.
        dispositions["first_invoked_at"] = dispositions["first_invoked_at"].astype(float)
        attempts["log_lines"] = attempts["log_lines"].map(lambda lines: "\n".join(lines))
        return {
            "records": frame(self.records, RecordRow),
            "attempts": attempts,
            "dispositions": dispositions,
            "poll_errors": frame(self.poll_errors, PollErrorRow),
        }
