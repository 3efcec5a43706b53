"""Runs side by side: list run folders, pick the latest, compare runs in one table and figure.

``runs()`` lists ``data/runs/`` (resolved from the project root wherever the kernel started, or
``$STREAMSIM_DATA_DIR``), newest first, with each run's settings and headline figures from its
``summary.json``. ``compare(a, b, ...)`` takes runs, run folders or run ids (live, virtual, and
later a real AWS run: anything ``load_run`` reads) and returns one table (latency percentiles,
retries, losses, badges; a row per figure, a column per run) and one figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from streamsim.errors import RunFolderError
from streamsim.workbench.runfolder import Run, load_run
from streamsim.workbench.runschema import runs_dir


def runs(directory: str | Path | None = None) -> pd.DataFrame:
    """Run folders, newest first: id, path, clock, backend, players/days/rate, plays, p50/p95
    write → processed (s), retries, lost, badges. Folders that are not runs are skipped."""
    base = Path(directory) if directory else runs_dir()
    rows = []
    folders = [f for f in base.iterdir() if f.is_dir()] if base.is_dir() else []
    for folder in folders:
        try:
            summary, config = (
                _read_json(folder / "summary.json"),
                _read_json(folder / "config.json"),
            )
        except (OSError, ValueError):
            continue
        latency = (summary.get("latency_seconds") or {}).get("write_to_processed") or {}
        settings = config.get("scenario") or config
        accounting = summary.get("accounting") or {}
        rows.append(
            {
                "run": folder.name,
                "modified": pd.Timestamp(folder.stat().st_mtime, unit="s", tz="UTC"),
                "clock": config.get("clock"),
                "backend": (config.get("backend") or {}).get("name"),
                "players": settings.get("players"),
                "days": settings.get("days"),
                "rate": settings.get("rate"),
                "plays": summary.get("plays_written"),
                "p50_s": latency.get("p50"),
                "p95_s": latency.get("p95"),
                "retries": summary.get("retries"),
                "lost": accounting.get("lost"),
                "badges": sum((summary.get("badges_by_rule") or {}).values()),
                "path": str(folder),
            }
        )
    columns = ["run", "modified", "clock", "backend", "players", "days", "rate", "plays",
               "p50_s", "p95_s", "retries", "lost", "badges", "path"]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["modified", "run"], ascending=False).reset_index(drop=True)


def latest_run(directory: str | Path | None = None) -> Run:
    """The newest run folder, loaded; RunFolderError when there is none."""
    table = runs(directory)
    if table.empty:
        where = Path(directory) if directory else runs_dir()
        raise RunFolderError(f"no run folders in {where}: run `streamsim run` first")
    return load_run(table["path"].iloc[0])


@dataclass
class Comparison:
    """``compare``'s result: the table (a row per figure, a column per run) and the figure."""

    table: pd.DataFrame
    figure: Figure

    def _repr_html_(self) -> str:  # a notebook shows the table; the figure is shown by plt
        return str(self.table._repr_html_())


def compare(*items: Run | str | Path, names: list[str] | None = None) -> Comparison:
    """Runs side by side: write → processed p50/p95/p99 and max, retries, plays processed,
    queued and lost, badges awarded; the figure draws the percentiles and the counts."""
    if len(items) < 1:
        raise ValueError("compare needs at least one run")
    loaded = [item if isinstance(item, Run) else load_run(item) for item in items]
    labels = names or [_label(run) for run in loaded]
    if len(set(labels)) < len(labels):
        labels = [f"{i + 1}. {label}" for i, label in enumerate(labels)]
    table = pd.DataFrame({label: _figures(run) for label, run in zip(labels, loaded, strict=True)})
    return Comparison(table, _figure(table))


def _figures(run: Run) -> pd.Series:
    from streamsim.workbench.analysis import accounting, clock_label, latency_percentiles

    pct = latency_percentiles(run)
    processed = (
        pct.loc["write_to_processed"]
        if "write_to_processed" in pct.index
        else pd.Series(dtype=float)
    )
    acc = accounting(run)
    attempts = run.attempts
    values: dict[str, Any] = {
        "clock": clock_label(run),
        "plays written": int(acc["plays_written"]),
        "write → processed p50 (s)": round(float(processed.get("p50", float("nan"))), 3),
        "write → processed p95 (s)": round(float(processed.get("p95", float("nan"))), 3),
        "write → processed p99 (s)": round(float(processed.get("p99", float("nan"))), 3),
        "invocations": int(len(attempts)),
        "retries": int((attempts["retry"] > 0).sum()) if len(attempts) else 0,
        "processed": int(acc["processed"]),
        "sent to the on-failure queue": int(acc["sent_to_destination"]),
        "lost": int(acc["lost"]),
        "badges awarded": int(len(run.achievements)),
    }
    return pd.Series(values, dtype=object)


_PERCENTILES = (
    "write → processed p50 (s)",
    "write → processed p95 (s)",
    "write → processed p99 (s)",
)
_COUNTS = ("retries", "sent to the on-failure queue", "lost", "badges awarded")


def _figure(table: pd.DataFrame) -> Figure:
    import matplotlib.pyplot as plt
    import numpy as np

    from streamsim.workbench.plots import OUTCOME_COLOURS

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
    runs_ = list(table.columns)
    x = np.arange(len(_PERCENTILES))
    width = 0.8 / max(len(runs_), 1)
    for i, run in enumerate(runs_):
        values = [float(table.loc[p, run]) for p in _PERCENTILES]
        bars = left.bar(x + i * width, values, width, label=f"{run} ({table.loc['clock', run]})")
        left.bar_label(bars, fmt="%.2f", fontsize="x-small", padding=2)
    left.set_xticks(x + width * (len(runs_) - 1) / 2, ["p50", "p95", "p99"])
    left.set_ylabel("write → processed (s, each run's clock)")
    left.set_title("Latency percentiles")
    left.legend(fontsize="small")
    colours = (
        "#4c72b0",
        OUTCOME_COLOURS["sent_to_destination"],
        OUTCOME_COLOURS["lost"],
        "#8172b2",
    )
    y = np.arange(len(runs_))
    height = 0.8 / len(_COUNTS)
    for j, (count, colour) in enumerate(zip(_COUNTS, colours, strict=True)):
        values = [int(table.loc[count, run]) for run in runs_]
        bars = right.barh(y + j * height, values, height, label=count, color=colour)
        right.bar_label(bars, fontsize="x-small", padding=2)
    right.set_yticks(y + height * (len(_COUNTS) - 1) / 2, runs_)
    right.invert_yaxis()
    right.set_xlabel("count")
    right.set_title("Retries, queued and lost plays, badges")
    right.legend(fontsize="small", loc="lower right")
    fig.suptitle(f"Runs compared: {', '.join(runs_)}")
    fig.tight_layout()
    return fig


def _label(run: Run) -> str:
    from streamsim.workbench.analysis import clock_label

    run_id = run.config.get("run_id") or (run.path.name if str(run.path) not in ("", ".") else "")
    return f"{run_id or 'run'} ({clock_label(run).split()[0]})"


def _read_json(path: Path) -> dict[str, Any]:
    import json

    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value
