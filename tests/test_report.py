"""``streamsim report``: notebooks chosen by name, parameters that exist, code-free HTML."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamsim.workbench.cli import main
from streamsim.workbench.report import NOTEBOOKS_DIR, REPORT, SMALL, select_notebooks

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _parameter_names(notebook: Path) -> set[str]:
    """The names a notebook's papermill ``parameters`` cell assigns."""
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_every_notebook_has_report_parameters() -> None:
    assert set(REPORT) == {nb.stem for nb in NOTEBOOKS}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_report_and_small_parameters_name_real_notebook_parameters(notebook: Path) -> None:
    # papermill injects unknown names silently: a typo would run the notebook at full size.
    names = _parameter_names(notebook)
    assert set(REPORT.get(notebook.stem, {})) <= names
    assert set(SMALL.get(notebook.stem, {})) <= names


def test_every_notebook_has_small_parameters() -> None:
    assert set(SMALL) == {nb.stem for nb in NOTEBOOKS}


def test_notebooks_are_chosen_by_name_file_name_or_unique_prefix() -> None:
    first, third = NOTEBOOKS[0], NOTEBOOKS[2]
    assert select_notebooks(None) == NOTEBOOKS
    assert select_notebooks([third.stem, first.name, third.stem[:2]]) == [first, third]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", r"unknown notebook 'nope'; known: 01_stream_walkthrough, "),
        ("0", r"notebook name '0' is ambiguous: it matches 01_stream_walkthrough, "),
    ],
)
def test_a_bad_notebook_name_is_one_line_and_exit_2(
    name: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["report", "--only", name, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.match(r"streamsim: error: " + message, err)
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


@pytest.mark.slow
def test_report_writes_code_free_html_with_embedded_figures(tmp_path: Path) -> None:
    out = tmp_path / "tmp"
    command = [
        sys.executable,
        "-c",
        "import sys; from streamsim.workbench.cli import main; sys.exit(main(sys.argv[1:]))",
        "report",
        "--small",
        "--only",
        "01_stream_walkthrough",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    page = (out / "01_stream_walkthrough.html").read_text()
    body = page[page.index("<body") :]
    assert "<title>01 · The blog, reproduced</title>" in page
    assert re.search(r'<img [^>]*src="data:image/png;base64,', body)  # the figure, embedded
    code_cells = re.findall(r'class="jp-Cell jp-CodeCell[^"]*"', body)
    assert code_cells and all("jp-mod-noInput" in c for c in code_cells)
    assert "jp-InputArea-editor" not in body
    assert "run_walkthrough(" not in body and "open_backend(" not in body
    assert "The blog, reproduced" in body  # the prose stays
    index = (out / "index.html").read_text()
    assert 'href="01_stream_walkthrough.html"' in index
    assert "small (test) parameters" in index
    assert (out / "executed" / "01_stream_walkthrough.ipynb").is_file()
    assert "01_stream_walkthrough" in done.stdout
