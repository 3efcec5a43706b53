"""Requests per play by operation: counted on the wire for the pipeline phase only, saved in
the run folder's summary and printed by ``streamsim run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsim.workbench.requests import RequestCounter, request_lines
from streamsim.workbench.run import RunConfig, run_pipeline


def test_the_counter_counts_requests_by_operation_only_while_counting(backend) -> None:
    counter = RequestCounter()
    with counter.installed(backend):
        dynamodb = backend.client("dynamodb")
    dynamodb.list_tables()  # not counting yet
    counter.counting = True
    dynamodb.list_tables()
    dynamodb.list_tables()
    backend.client("dynamodb").list_tables()  # made outside the block: not hooked
    counter.counting = False
    dynamodb.list_tables()
    assert counter.counts == {"ListTables": 2}
    summary = counter.summary(plays=4)
    assert summary["by_operation"]["ListTables"] == {"requests": 2, "per_play": 0.5}
    assert summary["per_play"] == 0.5
    lines = request_lines(summary)
    assert any(line.split() == ["ListTables", "2", "0.50"] for line in lines)


@pytest.mark.slow
def test_a_run_saves_and_prints_its_requests_per_play(backend, tmp_path: Path, capsys) -> None:
    from streamsim.workbench.cli import main

    result = run_pipeline(
        RunConfig(players=3, days=3, rate=40.0, seed=2, strategy="batched"),
        backend,
        out_dir=tmp_path / "run",
    )
    requests = result.summary["requests"]
    ops = requests["by_operation"]
    plays = result.summary["plays_written"]
    assert requests["plays"] == plays > 0
    # The writer's one PutItem per play, plus the handler's state and award writes.
    assert ops["PutItem"]["requests"] >= plays
    assert ops["BatchGetItem"]["requests"] >= 1 and ops["GetRecords"]["requests"] >= 1
    # Setup and collection are not the pipeline's cost.
    assert not {"CreateTable", "DescribeTable", "CreateQueue", "Scan"} & set(ops)
    assert sum(row["requests"] for row in ops.values()) == requests["total"]
    # Request units by AWS's rules: every play's PutItem is at least 1 write unit; the batched
    # handler reads states (BatchGetItem) and plays (Query); stream reads are not DynamoDB units.
    units = requests["units"]
    assert units["plays"] == plays
    assert units["by_operation"]["PutItem"]["write_units"] >= plays
    assert units["by_operation"]["BatchGetItem"]["read_units"] >= 1
    assert units["by_operation"]["Query"]["read_units"] >= 1
    assert "GetRecords" not in units["by_operation"]
    plays_table = json.loads((tmp_path / "run" / "config.json").read_text())["tables"]["plays"]
    writer = [
        r for r in units["by_table"] if r["table"] == plays_table and r["operation"] == "PutItem"
    ]
    assert writer and writer[0]["requests"] == plays  # the writer's one PutItem per play
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["requests"] == requests
    backend.reset()
    main(
        [
            "run",
            "--players",
            "2",
            "--days",
            "2",
            "--rate",
            "40",
            "--no-progress",
            "--strategy",
            "batched",
            "--out",
            str(tmp_path / "cli"),
        ]
    )
    out = capsys.readouterr().out
    assert "requests (pipeline)" in out and "BatchGetItem" in out
    assert "request units per play" in out
