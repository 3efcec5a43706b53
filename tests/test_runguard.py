"""Failures outside the pipeline keep the data and the verdict (issue 11, part 3).

Disk full while saving, a server that dies mid-run, a handler that hangs forever, a handler
that exits: each ends with a folder ``load_run`` reads, marked with its status and reason, and
a verdict; never a traceback. The folder is written under a temporary name and renamed; its
config.json says ``running`` from the start; two runs cannot write one folder.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from streamsim.aws.backend import open_backend
from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from streamsim.workbench import run as run_module
from streamsim.workbench.run import RunConfig, run_pipeline
from streamsim.workbench.runfolder import load_run
from streamsim.workbench.runguard import (
    OutputError,
    RunAborted,
    RunGuard,
    check_output,
)

SMALL = RunConfig(players=2, days=2, rate=80.0, seed=1, drain_timeout_seconds=20.0)
QUEUE = "arn:aws:sqs:eu-central-1:123456789012:streamsim-on-failure"


def test_config_json_says_running_from_the_start_and_complete_at_the_end(
    backend, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []
    out = tmp_path / "run"

    def progress(*_: int) -> None:
        if not seen:
            (partial,) = tmp_path.glob(".run.partial-*")
            seen.append(json.loads((partial / "config.json").read_text()))
            assert not out.exists()  # the target appears only once it is complete

    result = run_pipeline(SMALL, backend, out_dir=out, progress=progress)
    assert seen and seen[0]["status"] == "running" and seen[0]["players"] == 2
    assert result.path == out and load_run(out).config["status"] == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no lock, no temp left
    rate = result.summary["write_rate"]
    assert rate["requested"] == 80.0 and rate["achieved"] > 0
    assert "poll_errors" in load_run(out).tables


def test_disk_full_while_saving_ends_with_a_failed_folder_and_a_verdict(
    backend, tmp_path: Path, monkeypatch
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_module, "save_run", full)
    with pytest.raises(RunAborted) as caught:
        run_pipeline(SMALL, backend, out_dir=tmp_path / "run")
    aborted = caught.value
    assert aborted.status == "failed" and "No space left on device" in aborted.reason
    run = load_run(tmp_path / "run")
    assert run.config["status"] == "failed" and "No space left" in run.config["reason"]
    assert aborted.summary is not None and "accounting" in aborted.summary
    assert len(run.plays) > 0 and len(run.handler_witness) > 0


def test_a_server_that_dies_mid_run_ends_with_a_failed_folder(tmp_path: Path) -> None:
    backend = open_backend(None)
    backend.reset()  # moto's state is shared by the servers of one process
    calls: list[int] = []

    def kill_the_server(handler: Any) -> Any:
        def handle(event: Any, context: Any) -> Any:
            if not calls:
                calls.append(1)
                backend.close()  # the server goes away under the running pipeline
            return handler(event, context)

        return handle

    config = RunConfig(players=2, days=2, rate=80.0, seed=1, drain_timeout_seconds=3.0)
    try:
        with pytest.raises(RunAborted) as caught:
            run_pipeline(config, backend, out_dir=tmp_path / "run", handler_wrapper=kill_the_server)
    finally:
        backend.close()
    assert caught.value.status == "failed"
    run = load_run(tmp_path / "run")
    assert run.config["status"] == "failed" and run.config["reason"]
    assert len(run.plays) > 0


def test_a_handler_that_hangs_forever_ends_the_run_with_a_verdict(backend, tmp_path: Path) -> None:
    release = threading.Event()

    def hang(handler: Any) -> Any:
        return lambda event, context: release.wait(60)

    mapping = EventSourceMapping.from_aws(
        {
            "StartingPosition": "TRIM_HORIZON",
            "MaximumRetryAttempts": 1,
            "BatchSize": 100,
            "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
        }
    )
    timing = TriggerTiming(function_timeout_seconds=0.3, initial_backoff_seconds=0.05)
    config = RunConfig(players=2, days=2, rate=80.0, seed=1, mapping=mapping, timing=timing)
    try:
        result = run_pipeline(config, backend, out_dir=tmp_path / "run", handler_wrapper=hang)
    finally:
        release.set()
    acc = result.summary["accounting"]
    assert acc["ok"] and acc["processed"] == 0 and acc["plays_written"] == 8
    assert acc["sent_to_destination"] == 8
    assert set(load_run(result.path).attempts["outcome"]) == {"timeout"}


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_a_handler_raising_a_base_exception_is_a_failed_invocation(error: BaseException) -> None:
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now)
    stream.write({"pk": {"S": "a"}}, {"pk": {"S": "a"}})
    calls: list[int] = []

    def handler(event: Any, context: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise error

    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    trigger.start()
    trigger.run_for(60)
    outcomes = [(a.outcome, a.error_type) for a in trigger.capture.attempts]
    assert outcomes == [("error", type(error).__name__), ("success", None)]
    assert [d.disposition for d in trigger.capture.dispositions] == ["processed"]


def test_a_run_failing_before_it_starts_still_leaves_a_readable_folder(
    backend, tmp_path: Path
) -> None:
    from streamsim.aws.tables import PLAYS, create_table

    create_table(backend.client("dynamodb"), PLAYS)  # provisioning will fail: it exists
    with pytest.raises(RunAborted, match="Table already exists"):
        run_pipeline(SMALL, backend, out_dir=tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.config["status"] == "failed" and "Table already exists" in run.summary["reason"]
    assert len(run.plays) == 0 and "accounting" not in run.summary


def test_an_existing_folder_is_not_replaced_without_force(backend, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(OutputError, match="already exists; pass --force"):
        run_pipeline(SMALL, backend, out_dir=out)
    assert (out / "mine.txt").read_text() == "keep"
    result = run_pipeline(SMALL, backend, out_dir=out, force=True)
    assert not (out / "mine.txt").exists() and load_run(result.path).config["status"] == "complete"


def test_an_existing_empty_folder_is_used(backend, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    result = run_pipeline(SMALL, backend, out_dir=out)
    assert result.path == out and load_run(out).config["status"] == "complete"


def test_two_runs_cannot_write_one_folder(tmp_path: Path) -> None:
    first = RunGuard.open(tmp_path / "run")
    try:
        with pytest.raises(OutputError, match="another run is writing"):
            RunGuard.open(tmp_path / "run")
    finally:
        first.close()
    RunGuard.open(tmp_path / "run").close()  # free again once the first let go


def test_a_lock_held_by_another_process_is_respected(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; "
        "from streamsim.workbench.runguard import RunGuard; "
        f"g = RunGuard.open(Path({str(tmp_path / 'run')!r})); print('locked', flush=True); "
        "sys.stdin.readline(); g.close()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match="another run is writing"):
            RunGuard.open(tmp_path / "run")
    finally:
        child.communicate("\n", timeout=30)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: (p.write_text("x"), p)[1], "is a file"),
        (lambda p: (p.write_text("x"), p / "sub")[1], "is a file, not a folder"),
        (lambda p: Path("/proc/streamsim-run"), "is not writable"),
    ],
)
def test_unusable_output_locations_are_refused_before_any_work(
    tmp_path: Path, make: Any, words: str
) -> None:
    with pytest.raises(OutputError, match=words):
        check_output(make(tmp_path / "out"))


def test_the_process_exits_even_with_a_hung_thread(tmp_path: Path) -> None:
    script = (
        "import threading; from concurrent.futures import ThreadPoolExecutor; "
        "from streamsim.workbench.runguard import exit_process; "
        "pool = ThreadPoolExecutor(1); pool.submit(threading.Event().wait); "
        "print('done', flush=True); exit_process(7, grace_seconds=0.1)"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 7 and finished.stdout == "done\n"
