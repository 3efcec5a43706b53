"""The run folder's schema: every table and column with its type, unit and clock.

One timestamp convention across tables: **every pipeline time** (a column ending in ``_at``,
except ``played_at``) is float64 **epoch seconds on the run's clock**, named by the table's
``clock`` column and ``config.json``'s ``clock`` ("wall": this machine's ``time.time()``;
"virtual": the simulation's clock, starting at 0). ``played_at`` is the other kind of time, the
play's own: when the player finished the game by their device, a UTC timestamp (ms precision)
in the plays and in the achievements it earned. ``docs/run-folder.md`` is generated from
``SCHEMA`` (``python -m streamsim.workbench.runschema``) and a test checks they agree;
``load_run`` checks each table against it (``check_table``).

Also here: where run folders live, resolved from the project root wherever a kernel starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from streamsim.errors import RunFolderError

RUN_CLOCK = "run's clock (epoch s)"


@dataclass(frozen=True)
class Column:
    """One column: name, type (str, int, float, epoch seconds, UTC timestamp), unit, clock."""

    name: str
    kind: str  # "str" | "int" | "float" | "epoch" | "utc" | "json"
    unit: str
    clock: str
    meaning: str
    required: bool = True
    nullable: bool = False


def _t(name: str, meaning: str, required: bool = True, nullable: bool = False) -> Column:
    return Column(name, "epoch", "s", RUN_CLOCK, meaning, required, nullable)


def _s(name: str, meaning: str, required: bool = True, nullable: bool = False) -> Column:
    return Column(name, "str", "", "", meaning, required, nullable)


def _i(name: str, unit: str, meaning: str, required: bool = True) -> Column:
    return Column(name, "int", unit, "", meaning, required)


_CLOCK = _s("clock", "the clock every time in the row is on: 'wall' or 'virtual'", False)
_MAPPING = _s("mapping", "the event source mapping's name", False)
_PLAYED_AT = Column(
    "played_at",
    "utc",
    "ms",
    "player's device (UTC)",
    "when the game was finished (the play's own time)",
)

SCHEMA: dict[str, tuple[Column, ...]] = {
    "plays": (
        _s("player_id", "the player"),
        _s("play_id", "the play (unique)"),
        _s("game", "the game played"),
        _PLAYED_AT,
        _s("tz", "the player's IANA time zone (local days for streaks)"),
        _i("score", "points", "the play's score (>= 0)"),
        _s("play_key", "the Plays table's sort key"),
        _t("written_at", "PutItem sent by the writer"),
        _t("acked_at", "PutItem acknowledged", nullable=True),
    ),
    "records": (
        _MAPPING,
        _s("shard_id", "the stream shard"),
        _s("sequence_number", "the record's sequence number (unique per stream)"),
        _s("event_id", "the record's eventID", False),
        _s("event_name", "INSERT, MODIFY or REMOVE"),
        _s("keys", "the item's key as DynamoDB JSON (joins plays: analysis.record_key)"),
        _t("created_at", "ApproximateCreationDateTime: the record entered the stream"),
        _t("read_at", "returned by GetRecords to the trigger's poller"),
        _i("size_bytes", "bytes", "the record's size", False),
        _CLOCK,
    ),
    "attempts": (
        _MAPPING,
        _s("shard_id", "the stream shard", False),
        _i("lane", "", "the lane within the shard (ParallelizationFactor)", False),
        _i("batch_id", "", "the batch (stable across its retries and bisected halves)"),
        _i("attempt", "count", "1 for the first invocation of the batch, then 2, 3, ..."),
        _i("retry", "count", "retries before this invocation (attempt - 1, per bisected part)"),
        Column("backoff_seconds", "float", "s", RUN_CLOCK, "the wait before this attempt", False),
        _s("first_sequence_number", "the batch's first record"),
        _s("last_sequence_number", "the batch's last record"),
        _i("records", "records", "records in the batch"),
        _i("payload_bytes", "bytes", "the event's size", False),
        _t("invoked_at", "the handler was invoked"),
        _t("completed_at", "the invocation returned (or timed out)"),
        _s("outcome", "success, partial, error or timeout"),
        _s("error_type", "the handler's error type", False, True),
        _s("error_message", "the handler's error message", False, True),
        _s("failed_from", "first failed sequence number (partial batch response)", False, True),
        _s("request_id", "the invocation's request id", False),
        _s("log_lines", "the handler's log lines, newline-joined", False),
        _CLOCK,
    ),
    "dispositions": (
        _MAPPING,
        _s("shard_id", "the stream shard", False),
        _s("sequence_number", "the record"),
        _s("disposition", "processed, filtered, destination (on-failure queue) or discarded"),
        _t("at", "the record reached its disposition"),
        _i("attempts", "count", "invocations that included the record"),
        _s("condition", "why it was given up (e.g. RetryAttemptsExhausted)", True, True),
        _CLOCK,
        _t(
            "first_invoked_at",
            "first handed to the handler (empty: filtered or expired)",
            False,
            True,
        ),
    ),
    "achievements": (
        _s("player_id", "the player"),
        _s("badge_id", "the badge (e.g. streak:10:chess)"),
        _s("rule", "the rule's name (e.g. DailyStreak)"),
        Column("params", "json", "", "", "the rule's parameters as JSON"),
        _s("play_id", "the play that earned it"),
        _PLAYED_AT,
        _t("awarded_at", "the badge was stored"),
    ),
}


def check_table(name: str, frame: pd.DataFrame, where: str = "") -> None:
    """RunFolderError naming a required column that is missing or a column of the wrong kind."""
    columns = SCHEMA.get(name, ())
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        raise RunFolderError(f"{where or name} is missing columns {missing}")
    for column in columns:
        if column.name not in frame.columns or frame.empty:
            continue
        series = frame[column.name]
        if not _kind_ok(column, series):
            raise RunFolderError(
                f"{where or name}: column {column.name} is {series.dtype}, expected "
                f"{_KIND_TEXT[column.kind]} ({RUN_CLOCK if column.kind == 'epoch' else column.unit or 'no unit'})"
            )


_KIND_TEXT = {
    "str": "text",
    "json": "JSON text",
    "int": "an integer",
    "float": "a number",
    "epoch": "float epoch seconds",
    "utc": "a UTC timestamp",
}


def _kind_ok(column: Column, series: pd.Series) -> bool:
    from pandas.api import types

    if column.kind in ("str", "json"):
        if isinstance(series.dtype, pd.CategoricalDtype):
            # A text column may be stored dictionary-encoded (a categorical of strings: a code
            # per row; the run tables' repeated shard ids, mappings, clocks): its values are
            # still strings. A categorical of anything else is not text.
            categories = series.dtype.categories
            return bool(
                types.is_string_dtype(categories) or types.is_object_dtype(categories)
            ) and all(isinstance(value, str) for value in categories)
        values = series.dropna()
        return bool(types.is_string_dtype(series) or types.is_object_dtype(series)) and (
            values.empty or isinstance(values.iloc[0], str)
        )
    if column.kind == "int":
        return bool(types.is_integer_dtype(series))
    if column.kind in ("float", "epoch"):
        return bool(types.is_numeric_dtype(series)) and not types.is_bool_dtype(series)
    if column.kind == "utc":
        return isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dt.tz) == "UTC"
    return True


def markdown() -> str:
    """The schema as Markdown tables: the body of docs/run-folder.md after its marker."""
    lines = []
    for table, columns in SCHEMA.items():
        lines += [
            f"### `{table}.parquet`",
            "",
            "| column | type | unit | clock | required | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for c in columns:
            kind = _KIND_TEXT[c.kind] + (" or empty" if c.nullable else "")
            lines.append(
                f"| `{c.name}` | {kind} | {c.unit or '—'} | {c.clock or '—'} | "
                f"{'yes' if c.required else 'no'} | {c.meaning} |"
            )
        lines.append("")
    return "\n".join(lines)


# ---- where run folders are -----------------------------------------------------------------


def project_root(start: str | Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` (default: the working directory) holding
    streamsim's pyproject.toml; None outside a checkout."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        project = folder / "pyproject.toml"
        if project.is_file() and 'name = "streamsim"' in project.read_text(errors="replace"):
            return folder
    return None


def data_dir() -> Path:
    """``$STREAMSIM_DATA_DIR``, else ``<project root>/data``, else ``./data``."""
    if os.environ.get("STREAMSIM_DATA_DIR"):
        return Path(os.environ["STREAMSIM_DATA_DIR"])
    root = project_root()
    return (root / "data") if root else Path("data")


def runs_dir() -> Path:
    """Where run folders live: ``<data dir>/runs``."""
    return data_dir() / "runs"


def resolve_run_path(path: str | Path) -> Path:
    """A run folder path as a user types it: as given when it exists; else, for a relative
    path, under the project root (``data/runs/<id>`` from ``notebooks/``) or the runs
    directory (a bare run id)."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    root = project_root()
    for candidate in (
        *([root / given] if root else []),
        data_dir().parent / given,
        runs_dir() / given,
    ):
        if candidate.exists():
            return candidate
    return given


if __name__ == "__main__":  # pragma: no cover - regenerates the doc's tables
    print(markdown())
