"""Run folders: the schema in code and docs agree, load_run checks it, runs() lists, compare()
sets runs side by side, and paths resolve from the project root wherever the kernel starts."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import streamsim
from streamsim import Scenario, simulate
from streamsim.errors import RunFolderError
from streamsim.workbench import runschema
from streamsim.workbench.runfolder import TABLES, load_run, save_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def virtual_run():
    return simulate(Scenario(players=4, days=2, seed=3, poison_rate=0.05))


def _save(run, folder: Path, summary: dict | None = None) -> Path:
    return save_run(folder, run.tables, run.config, summary or {"plays_written": len(run.plays)})


def test_the_doc_tables_are_the_schema_in_code() -> None:
    doc = (ROOT / "docs" / "run-folder.md").read_text()
    assert runschema.markdown().strip() in doc
    for table, columns in runschema.SCHEMA.items():
        assert f"### `{table}.parquet`" in doc
        for column in columns:
            assert re.search(rf"\| `{column.name}` \|", doc)


def test_the_schema_requires_what_the_run_folder_requires() -> None:
    for table, columns in TABLES.items():
        required = {c.name for c in runschema.SCHEMA[table] if c.required}
        assert set(columns) <= required, table


def test_every_captured_column_is_documented_and_of_its_kind(virtual_run) -> None:
    for table, columns in runschema.SCHEMA.items():
        frame = virtual_run.tables[table]
        assert set(frame.columns) <= {c.name for c in columns}, table
        runschema.check_table(table, frame)


def test_one_timestamp_convention() -> None:
    for columns in runschema.SCHEMA.values():
        for column in columns:
            if column.name.endswith("_at") and column.name != "played_at":
                assert column.kind == "epoch" and column.clock == runschema.RUN_CLOCK
            if column.name == "played_at":
                assert column.kind == "utc"


def test_load_run_refuses_a_column_of_the_wrong_kind(virtual_run, tmp_path: Path) -> None:
    folder = _save(virtual_run, tmp_path / "run")
    plays = pd.read_parquet(folder / "plays.parquet")
    plays["written_at"] = plays["written_at"].astype(str)  # a time as text: wrong convention
    plays.to_parquet(folder / "plays.parquet", index=False)
    with pytest.raises(
        RunFolderError, match=r"column written_at is .*expected float epoch seconds"
    ):
        load_run(folder)


def test_a_relative_run_path_resolves_from_the_project_root(
    virtual_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "streamsim"\n')
    _save(virtual_run, project / "data" / "runs" / "r1")
    monkeypatch.delenv("STREAMSIM_DATA_DIR", raising=False)
    monkeypatch.chdir(project / "notebooks")  # where a notebook's kernel starts
    assert len(load_run("data/runs/r1").plays) == len(virtual_run.plays)
    assert len(load_run("r1").plays) == len(virtual_run.plays)  # a bare run id
    with pytest.raises(RunFolderError, match="does not exist"):
        load_run("data/runs/nope")


def test_runs_lists_newest_first_and_latest_run_loads_it(
    virtual_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("STREAMSIM_DATA_DIR", str(tmp_path))
    with pytest.raises(RunFolderError, match="no run folders"):
        streamsim.latest_run()
    old = _save(virtual_run, tmp_path / "runs" / "b-old", {"plays_written": 1})
    new = _save(virtual_run, tmp_path / "runs" / "a-new", {"plays_written": 2})
    os.utime(old, (1_000_000, 1_000_000))
    (tmp_path / "runs" / "not-a-run").mkdir()
    table = streamsim.runs()
    assert list(table["run"]) == ["a-new", "b-old"]
    assert list(table["plays"]) == [2, 1]
    assert set(table["clock"]) == {"virtual"}
    assert streamsim.latest_run().path == new


def test_compare_gives_one_table_and_one_figure(virtual_run) -> None:
    other = simulate(Scenario(players=4, days=2, seed=3))
    result = streamsim.compare(virtual_run, other, names=["poison", "clean"])
    assert list(result.table.columns) == ["poison", "clean"]
    assert result.table.loc["lost", "poison"] >= 1 and result.table.loc["lost", "clean"] == 0
    assert isinstance(result.table.loc["retries", "poison"], int)
    assert result.figure._suptitle.get_text().startswith("Runs compared")
    import matplotlib.pyplot as plt

    plt.close(result.figure)
