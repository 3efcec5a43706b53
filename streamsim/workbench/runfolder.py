"""The run folder: ``data/runs/<run-id>/``, what one run saw, saved and loaded.

Tables are Parquet (plays, records, attempts, dispositions, achievements, destination), the
full configuration is ``config.json`` (with the backend's name and version and the trigger's
timing settings) and the headline figures are ``summary.json``. ``load_run`` checks the folder
and names what is missing or corrupted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from streamsim.errors import RunFolderError

#: Required tables and the columns each must have.
TABLES: dict[str, tuple[str, ...]] = {
    "plays": (
        "player_id",
        "play_id",
        "game",
        "played_at",
        "tz",
        "score",
        "play_key",
        "written_at",
        "acked_at",
    ),
    "records": ("shard_id", "sequence_number", "event_name", "keys", "created_at", "read_at"),
    "attempts": (
        "batch_id",
        "attempt",
        "retry",
        "first_sequence_number",
        "last_sequence_number",
        "records",
        "invoked_at",
        "completed_at",
        "outcome",
    ),
    "dispositions": ("sequence_number", "disposition", "at", "attempts", "condition"),
    "achievements": (
        "player_id",
        "badge_id",
        "rule",
        "params",
        "play_id",
        "played_at",
        "awarded_at",
    ),
}
FILES = ("config.json", "summary.json")
#: Tables a run folder may hold (older folders lack them): the trigger's failed stream calls
#: and the witnesses of the accounting (streamsim.workbench.faults.witness).
OPTIONAL_TABLES = ("poll_errors", "handler_witness", "stream_witness", "destination_witness")


@dataclass
class Run:
    """A loaded run: its tables, config and summary (see streamsim.workbench.analysis for derived ones)."""

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    destination: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def save_run(
    path: str | Path,
    tables: dict[str, pd.DataFrame],
    config: dict[str, Any],
    summary: dict[str, Any],
    destination: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a run folder (creating it); return its path."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        frame = tables[name]
        missing = set(TABLES[name]) - set(frame.columns)
        if missing:
            raise RunFolderError(f"table {name} lacks columns {sorted(missing)}")
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    for name in OPTIONAL_TABLES:
        if name in tables:
            tables[name].to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "config.json").write_text(json.dumps(config, indent=2, default=str))
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (folder / "destination.json").write_text(json.dumps(destination or [], indent=1))
    return folder


def load_run(path: str | Path) -> Run:
    """Load a run folder; RunFolderError names a missing, partial or corrupted part.

    A relative path resolves from the project root too (a notebook's kernel starts in
    ``notebooks/``); tables are checked against ``runschema.SCHEMA`` (docs/run-folder.md)."""
    from streamsim.workbench.runschema import check_table, resolve_run_path

    folder = resolve_run_path(path)
    if not folder.is_dir():
        raise RunFolderError(f"run folder {folder} does not exist")
    parts: dict[str, Any] = {}
    for name in FILES:
        file = folder / name
        if not file.is_file():
            raise RunFolderError(f"run folder {folder} is partial: {name} is missing")
        try:
            parts[name] = json.loads(file.read_text())
        except ValueError as exc:
            raise RunFolderError(f"{file} is corrupted: {exc}") from exc
        if not isinstance(parts[name], dict):
            raise RunFolderError(f"{file} is corrupted: expected a JSON object")
    tables: dict[str, pd.DataFrame] = {}
    for name, columns in TABLES.items():
        file = folder / f"{name}.parquet"
        if not file.is_file():
            raise RunFolderError(f"run folder {folder} is partial: {name}.parquet is missing")
        try:
            frame = pd.read_parquet(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
            raise RunFolderError(f"{file} is corrupted: {type(exc).__name__}: {exc}") from exc
        missing = set(columns) - set(frame.columns)
        if missing:
            raise RunFolderError(f"{file} is missing columns {sorted(missing)}")
        check_table(name, frame, str(file))
        tables[name] = frame
    for name in OPTIONAL_TABLES:
        file = folder / f"{name}.parquet"
        if file.is_file():
            try:
                tables[name] = pd.read_parquet(file)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
                raise RunFolderError(f"{file} is corrupted: {type(exc).__name__}: {exc}") from exc
    destination: list[dict[str, Any]] = []
    dest_file = folder / "destination.json"
    if dest_file.is_file():
        try:
            destination = json.loads(dest_file.read_text())
        except ValueError as exc:
            raise RunFolderError(f"{dest_file} is corrupted: {exc}") from exc
    return Run(folder, parts["config.json"], parts["summary.json"], tables, destination)
