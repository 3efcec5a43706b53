"""``streamsim run`` end to end on the embedded server, the run folder, and its analysis."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from streamsim.errors import ConfigError, RunFolderError
from streamsim.workbench.analysis import (
    accounting,
    badge_rates,
    iterator_age,
    latency_percentiles,
    play_timeline,
    throughput,
)
from streamsim.workbench.run import RunConfig, run_pipeline
from streamsim.workbench.runfolder import load_run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, _server):  # type: ignore[no-untyped-def]
    _server.reset()
    out = tmp_path_factory.mktemp("runs") / "small"
    ticks: list[tuple[int, int, int]] = []
    result = run_pipeline(
        RunConfig(players=6, days=6, rate=50.0, seed=3),
        _server,
        out_dir=out,
        progress=lambda *t: ticks.append(t),
    )
    return result, ticks


@pytest.mark.slow
def test_run_writes_a_folder_that_load_run_reads(small_run) -> None:
    result, ticks = small_run
    run = load_run(result.path)
    assert len(run.plays) == result.summary["plays_written"] > 10
    assert ticks and ticks[-1][0] == ticks[-1][1] == len(run.plays)
    config = run.config
    assert config["backend"]["name"] == "moto" and config["backend"]["version"]
    assert config["trigger_timing"]["poll_interval_seconds"] == 0.25
    assert config["event_source_mapping"]["StartingPosition"] == "TRIM_HORIZON"
    assert config["clock"] == "wall"
    assert config["writers"] == 2  # the default: two writer lanes, split by player
    # Two lanes, yet the plays table is in schedule (played_at) order and every player's plays
    # were written in time order.
    assert run.plays["played_at"].is_monotonic_increasing
    for _, mine in run.plays.sort_values("written_at", kind="stable").groupby("player_id"):
        assert mine["played_at"].is_monotonic_increasing
    acc = run.summary["accounting"]
    assert acc["ok"] and acc["lost"] == 0 and acc["processed"] == len(run.plays)
    assert acc["badges_match_batch_evaluator"]
    assert accounting(run) == acc


@pytest.mark.slow
def test_run_analysis_tables(small_run) -> None:
    run = load_run(small_run[0].path)
    timeline = play_timeline(run)
    assert len(timeline) == len(run.plays)
    assert timeline["sequence_number"].notna().all()
    order = ["written_at", "created_at", "read_at", "first_invoked_at", "processed_at"]
    for earlier, later in zip(order, order[1:], strict=False):
        assert (timeline[later] >= timeline[earlier] - 0.002).all(), (earlier, later)
    pct = latency_percentiles(run)
    assert list(pct.columns) == ["p50", "p95", "p99", "count"]
    assert (pct["p50"] <= pct["p95"]).all() and (pct["p95"] <= pct["p99"]).all()
    assert pct.loc["write_to_processed", "count"] == len(run.plays)
    assert (iterator_age(run)["iterator_age_seconds"] >= 0).all()
    tp = throughput(run)
    assert tp["written"].sum() == len(run.plays) and tp["processed"].sum() == len(run.plays)
    rates = badge_rates(run)
    assert rates.loc["FirstPlay", "players"] == run.plays["player_id"].nunique()


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: (p / "summary.json").unlink(), "summary.json is missing"),
        (lambda p: (p / "config.json").write_text("{not json"), "config.json is corrupted"),
        (
            lambda p: (p / "attempts.parquet").write_bytes(b"garbage"),
            "attempts.parquet is corrupted",
        ),
        (lambda p: (p / "plays.parquet").unlink(), "plays.parquet is missing"),
    ],
)
def test_damaged_run_folders_are_named(small_run, tmp_path: Path, damage, message) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(small_run[0].path, copy)
    damage(copy)
    with pytest.raises(RunFolderError, match=message):
        load_run(copy)


def test_missing_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="does not exist"):
        load_run(tmp_path / "nope")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("players", 0, "players must be an integer >= 1"),
        ("rate", -1, "rate must be"),
        ("strategy", "fast", "BADGE_STRATEGY"),
        ("writers", 17, "writers must be an integer <= 16"),
    ],
)
def test_bad_run_config_names_the_field(field, value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig(**{field: value})


def test_summary_is_json(small_run) -> None:  # type: ignore[no-untyped-def]
    json.dumps(small_run[0].summary)


@pytest.mark.slow
def test_two_runs_on_a_shared_endpoint_get_their_own_tables(_server, tmp_path: Path) -> None:
    from streamsim.aws.backend import open_backend

    _server.reset()
    shared = open_backend(_server.endpoint_url)  # as a user's DynamoDB Local would be
    assert not shared.info.embedded
    results = [
        run_pipeline(
            RunConfig(players=3, days=3, rate=60.0, seed=s), shared, out_dir=tmp_path / str(s)
        )
        for s in (1, 2)
    ]
    tables = [load_run(r.path).config["tables"]["plays"] for r in results]
    assert tables[0] != tables[1] and all(t.startswith("Plays-") for t in tables)
    for result in results:
        assert result.summary["accounting"]["ok"]
        assert result.summary["stream_records"] == result.summary["plays_written"]  # no replay
