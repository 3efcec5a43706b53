"""The witnesses on the embedded server: a live run's verdict catches a lying trigger.

The same planted trigger bugs as tests/test_accounting_witnessed.py, in ``run_pipeline`` on
moto: the handler witness is the badge handler's boundary, the destination is the SQS queue
read back, the stream is read back with a fresh reader.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamsim.aws.trigger.destinations import SqsDestination
from streamsim.aws.trigger.invoke import Invoker
from streamsim.workbench.faults.invariant import check_invariant
from streamsim.workbench.faults.plan import FaultPlan
from streamsim.workbench.run import RunConfig, run_pipeline
from streamsim.workbench.runfolder import load_run

CONFIG = RunConfig(players=3, days=3, rate=60.0, seed=2, drain_timeout_seconds=30.0)


@pytest.mark.slow
def test_a_clean_live_run_is_witnessed(backend, tmp_path: Path) -> None:
    result = run_pipeline(CONFIG, backend, out_dir=tmp_path / "run")
    acc = result.summary["accounting"]
    assert acc["witnessed"] and acc["ok"], check_invariant(result.summary)
    assert acc["witness_stream_records"] == acc["plays_written"] == acc["processed"] > 0
    assert acc["witness_handler_processed"] == acc["trigger_processed"] == acc["processed"]
    run = load_run(result.path)  # the witness tables are in the folder
    assert len(run.handler_witness) >= acc["processed"] and len(run.stream_witness) > 0


@pytest.mark.slow
def test_a_live_trigger_marking_a_record_processed_without_the_handler_fails(
    backend, tmp_path: Path, monkeypatch
) -> None:
    real_call = Invoker._call
    skipped: list[str] = []

    def call_without_one(self, event, context):  # type: ignore[no-untyped-def]
        records = event["Records"]
        if not skipped:
            skipped.append(records[-1]["dynamodb"]["SequenceNumber"])
            event = {**event, "Records": records[:-1]}
        return real_call(self, event, context)

    monkeypatch.setattr(Invoker, "_call", call_without_one)
    result = run_pipeline(CONFIG, backend, out_dir=tmp_path / "run")
    acc = result.summary["accounting"]
    assert skipped and acc["processed_without_handler"] == 1 and not acc["ok"]
    assert acc["unaccounted"] == 1


@pytest.mark.slow
def test_a_live_destination_that_receives_nothing_fails(
    backend, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(SqsDestination, "send", lambda self, message: None)
    plan = FaultPlan.parse("poison=1", seed=CONFIG.seed)
    result = run_pipeline(CONFIG, backend, out_dir=tmp_path / "run", faults=plan)
    acc = result.summary["accounting"]
    assert acc["trigger_sent_to_destination"] >= 1
    assert acc["destination_not_received"] == acc["trigger_sent_to_destination"]
    assert not acc["ok"]
