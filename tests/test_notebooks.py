"""Every notebook runs with small parameters (papermill), and is committed without outputs."""

from __future__ import annotations

import ast
import json
import re
import shlex
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


@pytest.mark.timeout(900)  # the shared small report (conftest.small_report) may be built here
@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(notebook: Path, small_report) -> None:  # type: ignore[no-untyped-def]
    # Executed once for the session by `streamsim report --small` (tests/smallreport.py), with
    # the SMALL parameters, and notebook 02 comparing with another run folder.
    line = small_report.line(notebook.stem)
    assert line and "FAILED" not in line, small_report.stdout + small_report.stderr
    cells = json.loads((small_report.out / "executed" / notebook.name).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == [] and all(c.get("execution_count") for c in code)  # every cell ran
    injected = "".join(  # papermill's cell (none when there is nothing to inject)
        "".join(c["source"])
        for c in code
        if "injected-parameters" in c.get("metadata", {}).get("tags", [])
    )
    expected = dict(SMALL[notebook.stem])
    if notebook.stem == "02_stream_latency":
        expected["compare_with"] = str(small_report.compare_with)
    assert _assigned(injected) == expected
    if notebook.stem == "02_stream_latency":
        last = "".join(
            "".join(o.get("data", {}).get("text/html", "")) for o in cells[-1]["outputs"]
        )
        # The comparison's table: this machine's live run and the given folder, side by side.
        assert "this machine" in last and "other-run (virtual)" in last
        assert "write → processed p95 (s)" in last


def _assigned(source: str) -> dict[str, object]:
    """The names and literal values a cell assigns."""
    return {
        target.id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _small_run_folder(folder: Path) -> Path:
    """A run folder in a second: a small virtual run, saved as ``streamsim`` saves runs."""
    from tests.smallreport import small_run_folder

    return small_run_folder(folder)


def test_compare_with_run_without_a_run_says_how_to_give_one() -> None:
    from streamsim import Scenario, experiments, simulate

    said: list[str] = []
    local = simulate(Scenario(players=3, days=2, rate=20.0, seed=1))
    assert experiments.compare_with_run(local, None, say=said.append) is None
    assert said and "compare_with parameter" in said[0] and "streamsim collect" in said[0]


def test_compare_with_run_reads_a_folder_and_names_an_aws_run_by_its_stack(
    tmp_path: Path, monkeypatch
) -> None:
    import matplotlib.pyplot as plt

    from streamsim import experiments, load_run
    from streamsim.workbench.runfolder import save_run

    monkeypatch.setenv("STREAMSIM_DATA_DIR", str(tmp_path))
    folder = _small_run_folder(tmp_path / "runs" / "other-run")
    local = load_run(folder)
    said: list[str] = []
    comparison = experiments.compare_with_run(local, "other-run", say=said.append)  # a run id
    assert comparison is not None and said == []
    assert list(comparison.table.columns) == ["this machine", "other-run (virtual)"]
    assert comparison.table.loc["plays written"].tolist() == [len(local.plays)] * 2
    # A collected AWS run (streamsim collect) carries its clocks' note: said before the table.
    aws = {**local.config, "clock": "aws", "stack": "badges", "percentile_note": "whole seconds"}
    save_run(tmp_path / "aws-1", local.tables, aws, local.summary, local.destination)
    comparison = experiments.compare_with_run(local, tmp_path / "aws-1", say=said.append)
    assert comparison is not None
    assert list(comparison.table.columns) == ["this machine", "AWS (stack badges)"]
    assert comparison.table.loc["clock"].tolist() == ["virtual clock", "AWS clocks"]
    assert said == ["AWS (stack badges): whole seconds"]
    plt.close("all")


def test_the_readme_compares_in_notebook_02_with_its_parameter() -> None:
    """README's "Outgrowing one machine" names notebook 02's compare parameter, which exists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Outgrowing one machine")[1].split("\n## ")[0]
    (line,) = [ln for ln in section.splitlines() if ln.startswith("papermill ")]
    _, notebook, _, flag, name, _ = shlex.split(line)
    assert (ROOT / notebook).is_file() and (flag, name) == ("-p", "compare_with")
    cells = json.loads((ROOT / "notebooks" / "02_stream_latency.ipynb").read_text())["cells"]
    (parameters,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert re.search(r"^compare_with = None", "".join(parameters["source"]), re.M)
    code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "experiments.compare_with_run(run, compare_with)" in code


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
    assert _code_lines(notebook) <= 40


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
