"""The fault matrix, one live run per scenario on the embedded server, and the invariant after
each: every play written is processed, filtered or at the on-failure destination; no badge
twice; badges = the batch evaluator's on the processed plays. Plus: the invariant is not
vacuous (a real loss is caught), and ``streamsim run --faults`` prints it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.workbench.analysis import accounting
from streamsim.workbench.cli import main
from streamsim.workbench.faults import check_invariant, invariant_lines
from streamsim.workbench.faults import matrix as fault_matrix
from streamsim.workbench.faults.matrix import SCENARIOS, FaultScenario, ScenarioResult, run_scenario
from streamsim.workbench.runfolder import load_run
from streamsim.workbench.virtual import Scenario, simulate

BY_NAME = {s.name: s for s in SCENARIOS}


#: Every scenario with the read-all handler; with the incremental one (its PlayerState lock),
#: the scenarios that redeliver, duplicate, restart or do everything at once.
INCREMENTAL = ("duplicates", "handler-timeout", "kill-trigger", "everything")
CASES = [(name, "read-all") for name in BY_NAME] + [(name, "incremental") for name in INCREMENTAL]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "strategy"), CASES)
def test_scenario_keeps_the_invariant(name: str, strategy: str, backend, tmp_path: Path) -> None:
    result = run_scenario(BY_NAME[name], backend, out_dir=tmp_path, strategy=strategy)
    assert result.strategy == strategy
    assert result.ok, result.problems  # the invariant held, and the fault did fire
    acc = result.summary["accounting"]
    assert acc["lost"] == 0 and acc["unaccounted"] == 0 and acc["duplicate_badges"] == 0
    assert acc["badges_match_batch_evaluator"]
    assert acc["processed"] + acc["filtered"] + acc["sent_to_destination"] == acc["plays_written"]
    assert acc["plays_written"] + acc["not_written"] == 44  # the writer's every play, somewhere
    run = load_run(result.path)
    SPECIFIC[name](result, run)


def _baseline(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert result.summary["retries"] == 0 and result.summary["faults"]["injected"] == {}


def _filtered(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    filtered = run.dispositions.query("disposition == 'filtered'")
    assert len(filtered) == result.summary["accounting"]["filtered"] == 12  # the sudoku plays


def _poison(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert result.summary["accounting"]["sent_to_destination"] >= 1
    assert result.summary["retries"] == 10  # MaximumRetryAttempts of the default mapping
    assert {m["requestContext"]["condition"] for m in run.destination} == {"RetryAttemptsExhausted"}


def _timeout(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert "timeout" in set(run.attempts["outcome"])
    assert run.config["trigger_timing"]["function_timeout_seconds"] == 3.0


def _duplicates(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert result.summary["retries"] > 0
    # Processed more often than there are plays, yet every badge is written once.
    assert run.config["handler_stats"]["plays"] > len(run.plays)
    assert run.config["handler_stats"]["awards_written"] == len(run.achievements)


def _client_faults(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert sum(result.summary["faults"]["injected"].values()) > 0


def _unreachable(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    acc = result.summary["accounting"]
    assert set(acc["not_written_reasons"]) <= {"EndpointConnectionError"}
    assert len(run.config["send_failures"]) == acc["not_written"]


def _kill(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert len(run.config["trigger_restarts"]) == 1


def _everything(result: ScenarioResult, run) -> None:  # type: ignore[no-untyped-def]
    assert len(result.summary["faults"]["injected"]) >= 6


SPECIFIC = {
    "baseline": _baseline,
    "filtered": _filtered,
    "handler-errors": _client_faults,
    "poison": _poison,
    "handler-timeout": _timeout,
    "duplicates": _duplicates,
    "throttle": _client_faults,
    "server-errors": _client_faults,
    "unreachable": _unreachable,
    "kill-trigger": _kill,
    "expire-iterators": _client_faults,
    "everything": _everything,
}


def test_every_scenario_has_its_own_checks() -> None:
    assert set(SPECIFIC) == set(BY_NAME)


def test_the_invariant_catches_a_real_loss() -> None:
    # Poison plays and no on-failure destination: the records are discarded, i.e. lost.
    mapping = EventSourceMapping.from_aws(
        {
            "StartingPosition": "TRIM_HORIZON",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 1,
        }
    )
    run = simulate(
        Scenario(players=10, days=5, rate=10.0, seed=2, mapping=mapping, poison_rate=0.1)
    )
    summary = {"accounting": accounting(run), "drained": True}
    problems = check_invariant(summary)
    assert summary["accounting"]["discarded"] > 0 and not summary["accounting"]["ok"]
    assert any("discarded: no on-failure destination was set" in p for p in problems)
    assert invariant_lines(summary)[0].startswith("invariant: VIOLATED")


def test_the_invariant_names_every_kind_of_violation() -> None:
    acc = {
        "unaccounted": 3,
        "discarded": 1,
        "duplicate_badges": 2,
        "badges_match_batch_evaluator": False,
        "badges_missing": 1,
        "badges_unexpected": 0,
        "not_written": 2,
        "not_written_reasons": {"EndpointConnectionError": 2},
    }
    summary = {"accounting": acc, "drained": False, "faults": None}
    problems = check_invariant(summary)
    assert len(problems) == 4 and "the trigger did not drain" in problems[0]
    lines = invariant_lines(summary)
    assert any("not written: 2" in line and "EndpointConnectionError 2" in line for line in lines)


@pytest.mark.slow
def test_run_with_faults_prints_the_invariant(backend, tmp_path: Path, capsys) -> None:
    argv = ["run", "--endpoint-url", backend.endpoint_url, "--players", "4", "--days", "4"]
    argv += ["--rate", "40", "--no-progress", "--out", str(tmp_path / "run")]
    argv += ["--faults", "handler-errors=0.3", "--faults", "expire-iterators=0.2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "invariant: OK" in out
    assert "faults: handler-errors=0.3,expire-iterators=0.2 (seed 1); injected: " in out
    assert "for this live fault run: retry backoff 0.05 s x2 up to 0.5 s" in out
    summary = load_run(tmp_path / "run").summary
    assert summary["faults"]["injected"]["handler-errors"] >= 1


def test_the_matrix_command_exits_1_when_a_scenario_fails(monkeypatch, capsys) -> None:
    def fake_matrix(backend, scenarios, *, config, out_dir, on_result):  # type: ignore[no-untyped-def]
        good = _fake_result(scenarios[0], [])
        bad = _fake_result(FaultScenario("broken", "poison=1", "x"), ["2 plays were discarded"])
        for result in (good, bad):
            on_result(result)
        return [good, bad]

    monkeypatch.setattr(fault_matrix, "run_matrix", fake_matrix)
    monkeypatch.setattr(fault_matrix, "_embedded_backend", _NoBackend)
    args = argparse.Namespace(
        only=["baseline"], faults=None, players=None, days=None, rate=None, seed=None, out=None
    )
    assert fault_matrix.main(args) == 1
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("scenario"))
    for column in ("plays", "processed", "filtered", "to destination", "lost", "dup badges"):
        assert column in header
    assert "retries" in header and "max latency s" in header
    assert "broken (read-all): 2 plays were discarded" in out
    assert "invariant: FAILED in broken" in out


def test_a_bad_fault_spec_for_the_matrix_is_one_line(capsys) -> None:
    assert main(["faults", "--faults", "poison=x"]) == 2
    assert "fault spec 'poison=x'" in capsys.readouterr().err


class _NoBackend:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _fake_result(scenario: FaultScenario, problems: list[str]) -> ScenarioResult:
    acc = {
        "plays_written": 10,
        "not_written": 0,
        "processed": 10,
        "filtered": 0,
        "sent_to_destination": 0,
        "lost": 0,
        "duplicate_badges": 0,
    }
    summary = {"accounting": acc, "retries": 0, "faults": {"injected": {}}}
    return ScenarioResult(scenario, summary, 0.5, 1.0, Path("."), problems)


def test_results_frame_is_tidy() -> None:
    rows = [_fake_result(s, []).row() for s in SCENARIOS[:2]]
    assert list(pd.DataFrame(rows)["scenario"]) == ["baseline", "filtered"]
