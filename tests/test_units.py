"""Request units per play of each handler strategy, measured from the real handler on moto
(streamsim.workbench.scale.units), carried to deep histories, read from a live run, and used by
the cost table and ``streamsim scale``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsim.errors import ConfigError
from streamsim.workbench.cli import main
from streamsim.workbench.cost import MONTH_SECONDS, load_prices
from streamsim.workbench.scale import experiments as x
from streamsim.workbench.scale.run import ScaleScenario, simulate_scale
from streamsim.workbench.scale.units import (
    HandlerUnits,
    at_depth,
    measure_units,
    units_from_run,
)


def _totals(units: HandlerUnits) -> dict[str, tuple[float, float, float]]:
    """(requests, read units, write units) by operation, in all (not per play)."""
    return {
        op: tuple(round(v * units.plays, 6) for v in row.values())
        for op, row in units.by_operation.items()
    }


# 3 players x 2 plays after 20 earlier plays each (~210-byte plays: 20 of them pass 4 KB).
WORKLOAD = {"players": 3, "plays_per_player": 2, "history": 20}


def test_read_all_queries_every_earlier_play_once_per_play(backend) -> None:
    units = measure_units("read-all", backend=backend, **WORKLOAD)
    # One strongly consistent Query per play, 20-21 earlier plays of ~210 bytes: 2 units each;
    # no award is earned this late in the workload.
    assert _totals(units) == {"Query": (6, 12, 0)}
    assert units.read_units_per_play == 2.0 and units.write_units_per_play == 0.0


def test_incremental_reads_its_state_and_checks_three_plays(backend) -> None:
    units = measure_units("incremental", backend=backend, **WORKLOAD)
    # GetItem of the state (under 4 KB: 1), the Limit-3 key check (1), the state's PutItem (1).
    assert _totals(units) == {
        "GetItem": (6, 6, 0),
        "Query": (6, 6, 0),
        "PutItem": (6, 0, 6),
    }


def test_batched_reads_states_once_per_batch(backend) -> None:
    one_per_player = measure_units("batched", backend=backend, **WORKLOAD)
    assert _totals(one_per_player) == {
        "BatchGetItem": (2, 6, 0),  # one request per batch, each state rounded on its own
        "Query": (6, 6, 0),
        "PutItem": (6, 0, 6),
    }
    # Two plays of each player in one batch: half the requests and units.
    two_per_player = measure_units("batched", backend=backend, batch_size=6, **WORKLOAD)
    assert _totals(two_per_player) == {
        "BatchGetItem": (1, 3, 0),
        "Query": (3, 3, 0),
        "PutItem": (3, 0, 3),
    }


# Exact away from a 4 KB boundary; at 39-41 earlier plays (~8.2 KB, just past 8 KB) the plays'
# own sizes (their scores and games differ) decide the last unit: one unit apart at most.
@pytest.mark.parametrize(("history", "tolerance"), [(0, 0.0), (18, 0.0), (39, 1.0)])
def test_the_read_all_extrapolation_agrees_with_the_measurement(
    backend, history, tolerance
) -> None:
    shallow = measure_units("read-all", backend=backend, players=2, plays_per_player=3)
    measured = measure_units(
        "read-all", backend=backend, players=2, plays_per_player=3, history=history
    )
    carried = at_depth(shallow, history, 3)
    assert carried.history_plays == measured.history_plays
    reads = measured.by_operation["Query"]["read_units"]
    assert abs(carried.history_read_units_per_play - reads) <= tolerance
    assert carried.read_units_per_play == pytest.approx(measured.read_units_per_play, abs=tolerance)
    # Incremental does not depend on depth: at_depth keeps its units.
    incremental = HandlerUnits("incremental", 6, 2.0, 1.0, 0.0, 210.0)
    assert at_depth(incremental, 10_000, 100).read_units_per_play == 2.0


def test_a_deep_history_costs_read_all_by_aws_rounding() -> None:
    units = HandlerUnits("read-all", 6, 1.0, 0.0, 0.0, 1000.0, history_read_units_per_play=1.0)
    # Plays with 0..9 earlier plays of 1,000 bytes: 1,1,1,1,1,2,2,2,2,3 units (per 4 KB).
    assert at_depth(units, 0, 10).read_units_per_play == pytest.approx(1.6)
    assert at_depth(units, 41, 1).read_units_per_play == 11.0  # 41,000 bytes -> 11 units


def _run_folder(path: Path) -> Path:
    path.mkdir()
    by_table = [
        {"operation": "PutItem", "table": "Plays", "requests": 10, "read_units": 0, "write_units": 10},
        {"operation": "PutItem", "table": "PlayerState", "requests": 10, "read_units": 0, "write_units": 10},
        {"operation": "GetItem", "table": "PlayerState", "requests": 10, "read_units": 10, "write_units": 0},
        {"operation": "Query", "table": "Plays", "requests": 10, "read_units": 10, "write_units": 0},
    ]  # fmt: skip
    summary = {"requests": {"units": {"plays": 10, "by_table": by_table}}}
    (path / "summary.json").write_text(json.dumps(summary))
    config = {"strategy": "incremental", "tables": {"plays": "Plays"}}
    (path / "config.json").write_text(json.dumps(config))
    return path


def test_units_from_a_live_run_leave_out_the_writers_play(tmp_path) -> None:
    units = units_from_run(_run_folder(tmp_path / "run"))
    assert units.strategy == "incremental"
    assert units.read_units_per_play == 2.0 and units.write_units_per_play == 1.0
    assert units.by_operation["PutItem"] == {"requests": 1, "read_units": 0, "write_units": 1}
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "summary.json").write_text("{}")
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no request units"):
        units_from_run(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not a run folder"):
        units_from_run(tmp_path / "missing")


def test_the_cost_table_prices_each_strategys_units() -> None:
    result = simulate_scale(ScaleScenario(rate=100.0, seconds=5.0, players=10))
    units = {
        "read-all": HandlerUnits("read-all", 6, 2.0, 0.0, 20.5, 210.0, {}, 2.0),
        "incremental": HandlerUnits("incremental", 6, 2.0, 1.0, 20.5, 210.0),
        "batched": HandlerUnits("batched", 6, 1.0, 0.5, 20.5, 210.0),
    }
    costs = x.strategy_costs(result, players=10, units=units)
    assert list(costs.columns) == ["read-all", "incremental", "batched"]
    price = load_prices()
    per_month = 100.0 * MONTH_SECONDS
    per_player = per_month / 10  # 2,592,000 plays each: read-all reads ~1.3 M earlier plays
    read_all_units = costs.attrs["units"]["read-all"]["read_units_per_play"]
    assert read_all_units == pytest.approx(per_player / 2 * 210 / 4096, rel=0.01)
    expected = read_all_units * per_month * price.per_unit("dynamodb_read_request_unit")
    assert costs.loc["DynamoDB reads", "read-all"] == pytest.approx(expected)
    incremental_reads = 2.0 * per_month * price.per_unit("dynamodb_read_request_unit")
    assert costs.loc["DynamoDB reads", "incremental"] == pytest.approx(incremental_reads)
    # Writes: the play's PutItem (~210 bytes: 1 unit) plus the handler's.
    writes = (1 + 0.5) * per_month * price.per_unit("dynamodb_write_request_unit")
    assert costs.loc["DynamoDB writes", "batched"] == pytest.approx(writes)
    assert costs.loc["total"].idxmin() == "batched"
    text = x.cost_finding(costs)
    assert "**batched** costs about" in text and "for read-all" in text


def test_the_scale_command_takes_a_live_runs_units(tmp_path, capsys) -> None:
    run = _run_folder(tmp_path / "live")
    argv = ["scale", "--rate", "100", "--hours", "0.001", "--no-progress"]
    assert main([*argv, "--units-from", str(run), "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "handler request units per play: read 2.000  write 1.000" in out
    assert f"measured in the live run {run}" in out
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["handler_units"]["read_units_per_play"] == 2.0
    assert main([*argv, "--units-from", str(tmp_path / "nowhere")]) == 2
    assert main([*argv, "--units-from", str(run), "--strategy", "batched"]) == 2


def test_the_scale_command_measures_a_strategys_units(tmp_path, capsys) -> None:
    argv = ["scale", "--rate", "100", "--hours", "0.001", "--no-progress"]
    assert main([*argv, "--strategy", "incremental", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    # GetItem + the key check Query; the state's PutItem (the calibration: tests above).
    assert "handler request units per play: read 2.000  write 1.000" in out
    assert "measured: the incremental handler on moto" in out
