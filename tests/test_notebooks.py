"""Every notebook runs with small parameters (papermill), and is committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Small parameters per notebook, so the suite stays fast.
SMALL: dict[str, dict[str, Any]] = {
    "01_stream_walkthrough": {},
    "02_stream_latency": {
        "players": 4,
        "days": 3,
        "sweep_players": 20,
        "sweep_days": 2,
        "batch_sizes": [1, 100],
        "batching_windows": [0, 1],
        "poll_intervals": [0.25, 1.0],
        "loads": [5, 50],
    },
    "03_retry_behaviour": {
        "players": 20,
        "days": 2,
        "seed": 5,
        "poison_rate": 0.006,
        "quiet_rate": 0.05,
    },
    "04_badge_tuning": {"players": 200, "days": 14, "live_players": 4, "live_days": 3},
    "05_stakeholder_report": {
        "players": 4,
        "days": 3,
        "population_players": 200,
        "population_days": 14,
        "failure_players": 20,
        "failure_days": 2,
        "failure_seed": 5,
        "poison_rate": 0.006,
        "failure_rate_per_second": 0.05,
    },
}


def test_every_notebook_has_small_parameters() -> None:
    assert {nb.stem for nb in NOTEBOOKS} == set(SMALL)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_a_parameters_cell(notebook: Path) -> None:
    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch) -> None:
    import papermill

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    papermill.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        parameters=SMALL[notebook.stem],
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
