"""The virtual-time pipeline and sweeps: exact, instant, and accounted for."""

from __future__ import annotations

import pytest

from streamsim.errors import ConfigError
from streamsim.workbench.analysis import accounting, latency_percentiles
from streamsim.workbench.sweep import parse_grid, sweep
from streamsim.workbench.virtual import Scenario, simulate, with_settings

SMALL = Scenario(players=20, days=5, rate=10.0, seed=2)


def test_a_clean_virtual_run_processes_every_play_and_awards_the_evaluators_badges() -> None:
    run = simulate(SMALL)
    acc = accounting(run)
    assert acc["ok"] and acc["processed"] == len(run.plays) > 20
    assert run.config["clock"] == "virtual" and set(run.attempts["clock"]) == {"virtual"}
    # With no propagation delay, a play is read at the next poll (<= 0.25 s) and processed
    # after the modelled handler time.
    pct = latency_percentiles(run)
    assert pct.loc["stream_record_to_read", "p99"] <= 0.25 + 1e-9
    assert pct.loc["write_to_processed", "p50"] > 0


def test_virtual_runs_are_reproducible() -> None:
    a, b = simulate(SMALL), simulate(SMALL)
    assert a.attempts[["invoked_at", "records"]].equals(b.attempts[["invoked_at", "records"]])


def test_propagation_delay_is_an_explicit_assumption() -> None:
    slow = simulate(with_settings(SMALL, propagation_seconds=2.0))
    pct = latency_percentiles(slow)
    assert pct.loc["write_to_stream_record", "p50"] == pytest.approx(2.0)


def test_poison_plays_go_to_the_destination_and_nothing_is_lost() -> None:
    from streamsim.aws.trigger.config import EventSourceMapping

    mapping = EventSourceMapping.from_aws(
        {
            "StartingPosition": "TRIM_HORIZON",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {"Destination": "arn:aws:sqs:eu-central-1:123456789012:q"}
            },
        }
    )
    run = simulate(
        with_settings(
            Scenario(players=20, days=5, rate=10.0, seed=2, mapping=mapping), poison_rate=0.05
        )
    )
    acc = accounting(run)
    assert acc["sent_to_destination"] > 0 and acc["lost"] == 0 and acc["ok"]
    assert len(run.destination) >= 1
    assert {m["requestContext"]["condition"] for m in run.destination} == {"RetryAttemptsExhausted"}


def test_sweep_returns_one_tidy_row_per_setting() -> None:
    table = sweep({"batch_size": [1, 50], "failure_rate": [0.0, 0.05]}, SMALL)
    assert list(table[["batch_size", "failure_rate"]].itertuples(index=False, name=None)) == [
        (1, 0.0),
        (1, 0.05),
        (50, 0.0),
        (50, 0.05),
    ]
    assert (table["lost"] == 0).all()
    clean = table[table["failure_rate"] == 0]
    assert (clean["retries"] == 0).all()
    assert (table.loc[table["failure_rate"] > 0, "retries"] > 0).all()
    # One record per invocation with batch size 1: invocations = plays when nothing fails.
    assert int(clean.loc[clean["batch_size"] == 1, "invocations"].iloc[0]) == int(
        clean["plays"].iloc[0]
    )


@pytest.mark.parametrize(
    "items, message",
    [(["batch_size"], "must look like name=v1,v2"), (["batch_size=a"], "not a number")],
)
def test_bad_grids_are_named(items, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_grid(items)


def test_unknown_setting_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'batchsize'"):
        with_settings(SMALL, batchsize=10)
    with pytest.raises(ConfigError, match="failure_rate must be a probability"):
        Scenario(failure_rate=2)
    assert parse_grid(["bisect=true,false", "rate=1.5"]) == {"bisect": [True, False], "rate": [1.5]}


def test_a_scenario_can_switch_the_mapping_off_for_an_hour() -> None:
    """The backlog experiment: Enabled false from 60 s to 3,660 s; nothing is invoked then, and
    every play is still processed (resumed from where the mapping stopped)."""
    from tests.helpers import T0

    scenario = with_settings(
        SMALL, max_plays=100, rate=0.02, disabled_from_seconds=60, disabled_for_seconds=3600
    )
    run = simulate(scenario)  # a play every ~50 s: about 70 are written while it is off
    offsets = run.attempts["invoked_at"] - T0
    assert not ((offsets > 60) & (offsets < 3660)).any()
    assert (offsets == 3660).any()
    assert accounting(run)["ok"]
    assert (run.dispositions["disposition"] == "processed").sum() == 100
    backlog = run.attempts.loc[offsets == 3660, "records"].sum()
    assert backlog > 50


def test_a_scenario_with_tumbling_windows_processes_every_play() -> None:
    """The model handler returns the window's state, as a windowed handler must [T]."""
    from dataclasses import replace

    scenario = with_settings(SMALL, max_plays=50, rate=1.0)
    scenario = replace(scenario, mapping=replace(scenario.mapping, tumbling_window_in_seconds=10))
    run = simulate(scenario)
    assert accounting(run)["ok"]
    assert (run.dispositions["disposition"] == "processed").sum() == 50
    assert set(run.attempts["outcome"]) == {"success"}
    assert (run.attempts["records"] == 0).sum() >= 5  # a final invocation per 10 s window
