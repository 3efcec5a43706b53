"""``streamsim sweep``: run a grid of settings on the virtual clock, one tidy row per setting.

Settings are named as in ``streamsim.workbench.virtual.with_settings`` (batch_size, batching_window,
poll_interval, failure_rate, parallelization_factor, ...). Each row holds the settings and the
measured figures: latency percentiles (write → processed, virtual seconds), invocations,
retries, mean batch size, and the accounting.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from streamsim.errors import ConfigError
from streamsim.workbench.analysis import accounting, latency_components
from streamsim.workbench.virtual import Scenario, simulate, with_settings


def sweep(
    grid: Mapping[str, Sequence[Any]],
    base: Scenario | None = None,
    progress: Callable[[int, int], None] | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Every combination of ``grid`` values on ``base``; one row each. ``rows`` (if given)
    receives each row as it finishes: what an interrupted sweep got done."""
    base = base or Scenario()
    check_grid(grid, base)
    names = list(grid)
    combos = list(itertools.product(*(list(grid[n]) for n in names)))
    rows = [] if rows is None else rows
    for i, values in enumerate(combos):
        settings = dict(zip(names, values, strict=True))
        run = simulate(with_settings(base, **settings))
        rows.append({**settings, **_figures(run)})
        if progress is not None:
            progress(i + 1, len(combos))
    return pd.DataFrame(rows)


#: Scenario fields that are not scalar settings (a grid cannot set them).
_NOT_SCALAR = ("mapping", "timing", "rules")


def check_grid(grid: Mapping[str, Sequence[Any]], base: Scenario) -> None:
    """ConfigError naming an empty grid, a setting that is not a scalar one, or a bad value;
    before any row is computed."""
    if not grid:
        raise ConfigError("the sweep grid is empty: name at least one setting and its values")
    for name, values in grid.items():
        if name in _NOT_SCALAR:
            raise ConfigError(
                f"{name!r} is not a scalar setting: a grid sets numbers or true/false "
                "(e.g. batch_size, batching_window, failure_rate)"
            )
        for value in values:
            with_settings(base, **{name: value})  # unknown names and bad values, now


def check_csv_target(path: Path, *, force: bool = False) -> None:
    """ConfigError if the CSV cannot be written there (before computing); an existing file is
    replaced only with ``force`` (a table is never overwritten silently)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"--csv {path} is a folder")
    if path.exists() and not force:
        raise ConfigError(f"--csv {path} already exists; pass --force to replace it")
    if not folder.is_dir():
        raise ConfigError(f"--csv {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"--csv {path}: the folder {folder} is not writable")


def _figures(run: Any) -> dict[str, Any]:
    long = latency_components(run)
    processed = long.loc[long["component"] == "write_to_processed", "seconds"]
    attempts = run.attempts
    acc = accounting(run)
    return {
        "plays": acc["plays_written"],
        "p50_s": processed.quantile(0.5),
        "p95_s": processed.quantile(0.95),
        "p99_s": processed.quantile(0.99),
        "max_s": processed.max(),
        "invocations": len(attempts),
        "retries": int((attempts["retry"] > 0).sum()) if len(attempts) else 0,
        "mean_batch": float(attempts["records"].mean()) if len(attempts) else 0.0,
        "processed": acc["processed"],
        "sent_to_destination": acc["sent_to_destination"],
        "lost": acc["lost"],
        "clock": "virtual",
    }


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["batch_size=1,10,100", "failure_rate=0,0.01"]`` → a grid (values as int/float/bool)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ConfigError(f"grid entry {item!r} must look like name=v1,v2,...")
        if name.strip() in grid:  # the second would silently replace the first
            raise ConfigError(f"grid setting {name.strip()!r} is given twice: list its values once")
        grid[name.strip()] = [_value(v.strip(), name) for v in values.split(",")]
    return grid


def _value(text: str, name: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise ConfigError(f"grid value {text!r} for {name} is not a number or true/false")
