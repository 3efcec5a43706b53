"""Every notebook runs with small parameters (papermill), and is committed without outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from streamsim.workbench.report import SMALL

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


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


def _code_lines(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum(
        len("".join(c["source"]).splitlines())
        for c in cells
        if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin(notebook: Path) -> None:
    # The analysis lives in the package, tested there; a notebook calls it and shows results.
    assert _code_lines(notebook) <= 55


#: Findings typed into prose go stale when the data changes: they must come from
#: streamsim.findings. These are the phrases of earlier, fixed versions.
FIXED_FINDINGS = (
    "well within",
    "nothing waited",
    "a month of synthetic",
    "change three settings",
    "was set aside",
    "nothing is lost",
    "not held up",
    "sees the badge",
    "simply gone",
)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_cells_state_no_fixed_finding(notebook: Path) -> None:
    cells = json.loads(notebook.read_text())["cells"]
    prose = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").lower()
    assert [p for p in FIXED_FINDINGS if p in prose] == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_free_prose_names_no_variables(notebook: Path) -> None:
    # The report hides the code: a reader sees values, never `sweep_players` or `run_path`.
    cells = json.loads(notebook.read_text())["cells"]
    prose = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert re.findall(r"`[a-z]+_[a-z_]+`", prose) == []
