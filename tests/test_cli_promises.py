"""Promises kept on every command (issue 11, part 4): bad input is one line and status 2.

One table over commands x bad inputs; then the signals: SIGTERM during ``run`` saves the folder
marked interrupted (a subprocess, polled for its files: no sleeping on the wall clock), and the
endpoint and credentials a handler run by the workbench sees.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamsim.workbench.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HANDLER = "def handler(event, context):\n    return None\n"

#: (name, argv after the command, words the one line must contain); {dead} is an endpoint where
#: nothing listens, {file} an existing file, {dir} an existing folder, {ro} a read-only place.
BAD_BACKEND = [
    ("unknown region", ["--region", "eu-central-9"], "not an AWS region"),
    ("malformed region", ["--region", "Frankfurt"], "is malformed"),
    ("nothing listens", ["--endpoint-url", "{dead}"], "nothing listens at"),
    ("ambiguous endpoint", ["--endpoint-url", "http://evil.example\\@127.0.0.1:1"], "ambiguous"),
    ("remote endpoint", ["--endpoint-url", "http://192.0.2.1:8000"], "refusing to use"),
]
COMMANDS = {
    "run": ["run", "--players", "1", "--days", "3", "--no-progress", "--out", "{dir}/r"],
    "trigger": ["trigger", "--table", "Plays", "--handler", "{handler}:handler", "--duration", "1"],
    "walkthrough": ["walkthrough", "--no-retries"],
}
CASES = [
    (f"{command}: {name}", [*argv, *extra], words)
    for command, argv in COMMANDS.items()
    for name, extra, words in BAD_BACKEND
] + [
    ("run: --out is a file", ["run", "--no-progress", "--out", "{file}"], "is a file"),
    ("run: --out is read-only", ["run", "--no-progress", "--out", "/proc/x/run"], "not writable"),
    ("run: --out under a file", ["run", "--no-progress", "--out", "{file}/run"], "is a file"),
    ("run: --out exists", ["run", "--no-progress", "--out", "{dir}"], "pass --force"),
    (
        "sweep: --csv into a missing folder",
        ["sweep", "--grid", "batch_size=1,10", "--csv", "{dir}/missing/out.csv"],
        "does not exist",
    ),
    ("sweep: --grid mapping", ["sweep", "--grid", "mapping=1"], "not a scalar setting"),
    ("sweep: --grid rules", ["sweep", "--grid", "rules=1"], "not a scalar setting"),
    ("sweep: --grid unknown", ["sweep", "--grid", "speed=1"], "unknown setting"),
    ("sweep: --grid bad value", ["sweep", "--grid", "batch_size=0"], "BatchSize=0"),
    (
        "sweep: --grid name twice",
        ["sweep", "--grid", "batch_size=1,10", "--grid", "batch_size=5"],
        "given twice",
    ),
    ("sweep: --grid nan", ["sweep", "--grid", "failure_rate=nan"], "failure_rate"),
    ("sweep: --grid inf", ["sweep", "--grid", "batch_size=inf"], "BatchSize=Infinity"),
    (
        "sweep: --csv exists",
        ["sweep", "--grid", "batch_size=1,10", "--csv", "{file}"],
        "pass --force",
    ),
    ("faults: --out exists", ["faults", "--out", "{dir}"], "pass --force"),
    ("faults: --out is a file", ["faults", "--out", "{file}"], "is a file"),
    ("faults: unknown fault", ["faults", "--faults", "gremlins=1"], "gremlins"),
    ("deploy package: --out is a folder", ["deploy", "package", "--out", "{dir}"], "is a folder"),
    ("deploy package: --out read-only", ["deploy", "package", "--out", "/proc/x.zip"], "--out"),
    ("deploy template: --out is a folder", ["deploy", "template", "--out", "{dir}"], "folder"),
    ("deploy template: --out under a file", ["deploy", "template", "--out", "{file}/t"], "--out"),
    ("report: --out is a file", ["report", "--small", "--only", "05", "--out", "{file}"], "--out"),
    (
        "deploy up: nothing listens",
        ["deploy", "up", "--stack", "s", "--endpoint-url", "{dead}"],
        "nothing listens at",
    ),
    (
        "deploy down: nothing listens",
        ["deploy", "down", "--stack", "s", "--endpoint-url", "{dead}"],
        "nothing listens at",
    ),
    (
        "run --stack: nothing listens",
        ["run", "--stack", "s", "--no-progress", "--endpoint-url", "{dead}"],
        "nothing listens at",
    ),
    ("run: --rate inf", ["run", "--rate", "inf", "--out", "{dir}/r"], "finite"),
    ("trigger: --duration nan", [*COMMANDS["trigger"][:-1], "nan"], "finite"),
    ("trigger: --disabled-after alone", [*COMMANDS["trigger"], "--disabled-after", "5"], "needs"),
    ("trigger: handler is a folder", ["trigger", "--table", "T", "--handler", "{dir}:h"], "folder"),
    ("scale: --hours inf", ["scale", "--hours", "inf", "--no-progress"], "finite"),
    ("scale: --rate nan", ["scale", "--rate", "nan", "--no-progress"], "finite"),
    ("scale: --out is a file", ["scale", "--hours", "1e-9", "--out", "{file}"], "is a file"),
    ("scale: too big for memory", ["scale", "--rate", "1e9", "--no-progress"], "GB of memory"),
    ("scale: --out exists", ["scale", "--hours", "1e-9", "--out", "{dir}"], "pass --force"),
]


@pytest.mark.parametrize(
    ("argv", "help_of"),
    [
        (["run", "--playrs", "5"], "streamsim run"),
        (["deploy", "package", "--output", "x"], "streamsim deploy package"),
        (["sweep", "--grid", "batch_size=1", "extra"], "streamsim sweep"),
        (["--verbose"], "streamsim"),
    ],
)
def test_a_mistyped_option_points_to_the_help_of_its_command(argv, help_of, capsys) -> None:  # type: ignore[no-untyped-def]
    assert _status(main, argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "unrecognized arguments" in lines[0], lines
    assert lines[0].endswith(f"(see '{help_of} --help')"), lines


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_status_2(argv, words, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x")
    handler = tmp_path / "h.py"
    handler.write_text(HANDLER)
    fill = {
        "dead": f"http://127.0.0.1:{_free_port()}",
        "file": str(tmp_path / "file"),
        "dir": str(tmp_path),
        "handler": str(handler),
    }
    assert _status(main, [a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err, err
    assert not (tmp_path / "missing").exists()


def _status(command, argv) -> int:  # type: ignore[no-untyped-def]
    """The exit status, whether the command returned it or argparse exited with it."""
    try:
        return int(command(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def test_sigterm_during_run_saves_the_folder_marked_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("STREAMSIM_ENDPOINT_URL", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "streamsim.workbench.cli", "run", "--players", "20", "--days", "5"]
        + ["--rate", "5", "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Wait (bounded) until the run has started: its temporary folder holds config.json.
        config = None
        for _ in range(600):
            found = list(tmp_path.glob(".run.partial-*/config.json"))
            if found:
                config = found[0]
                break
            try:
                child.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
        assert config is not None, child.communicate()
        assert json.loads(config.read_text())["status"] == "running"
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert "invariant:" in stdout
    saved = json.loads((out / "config.json").read_text())
    assert saved["status"] == "interrupted" and "SIGTERM" in saved["reason"]
    from streamsim.workbench.runfolder import load_run

    assert load_run(out).config["status"] == "interrupted"


def test_an_interrupted_sweep_prints_the_rows_it_finished(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench import sweep as sweep_module

    real = sweep_module.simulate
    calls: list[int] = []

    def simulate_then_interrupt(scenario):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(scenario)

    monkeypatch.setattr(sweep_module, "simulate", simulate_then_interrupt)
    code = main(["sweep", "--grid", "batch_size=1,10,100", "--players", "3", "--days", "3"])
    out, err = capsys.readouterr()
    assert code == 130 and "interrupted after 2 rows" in err
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert [r[0] for r in rows] == ["1", "10"]


SPY = """
import json, os, sys
SEEN = {k: os.environ.get(k) for k in (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")}
from streamsim.game import handler as badge_handler
badge_handler._deployed.handler = None
lambda_handler = badge_handler.lambda_handler
import boto3
SEEN["client_endpoint"] = boto3.client("dynamodb").meta.endpoint_url
open(OUT, "w").write(json.dumps(SEEN))
def handler(event, context):
    return None
"""


def test_a_handler_attached_by_the_workbench_sees_only_its_endpoint_and_dummy_keys(
    backend, tmp_path: Path, monkeypatch, capsys
) -> None:
    from streamsim.aws.tables import PLAYS, create_table

    create_table(backend.client("dynamodb"), PLAYS)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_PROFILE", "production")
    seen = tmp_path / "seen.json"
    spy = tmp_path / "spy.py"
    spy.write_text(f"OUT = {str(seen)!r}\n" + SPY)
    argv = ["trigger", "--endpoint-url", backend.endpoint_url, "--table", "Plays"]
    argv += ["--handler", f"{spy}:handler", "--duration", "0.5"]
    assert main(argv) == 0
    got = json.loads(seen.read_text())
    assert got["AWS_ENDPOINT_URL"] == got["AWS_ENDPOINT_URL_DYNAMODB"] == backend.endpoint_url
    assert got["client_endpoint"] == backend.endpoint_url  # boto3 itself honours it
    assert got["AWS_ACCESS_KEY_ID"] == "streamsim" and got["AWS_SECRET_ACCESS_KEY"] == "streamsim"
    assert got["AWS_SESSION_TOKEN"] is None and got["AWS_PROFILE"] is None
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAABCDEFGHIJKLMNOP"  # restored afterwards


def test_the_deployed_lambda_handler_uses_the_endpoint_from_the_environment(
    backend, monkeypatch
) -> None:
    from streamsim.aws.tables import ACHIEVEMENTS, PLAYS, create_table
    from streamsim.game import handler as badge_handler

    for spec in (PLAYS, ACHIEVEMENTS):
        create_table(backend.client("dynamodb"), spec)
    monkeypatch.delenv("STREAMSIM_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", backend.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "streamsim")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "streamsim")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setattr(badge_handler, "_deployed", badge_handler._Lazy())
    assert badge_handler.lambda_handler({"Records": []}, None) == {"batchItemFailures": []}
    assert badge_handler._deployed.handler is not None
    assert badge_handler._deployed.handler.dynamodb.meta.endpoint_url == backend.endpoint_url


def test_a_handler_module_is_not_imported_when_the_endpoint_is_refused(
    tmp_path: Path, capsys
) -> None:
    marker = tmp_path / "imported"
    spy = tmp_path / "spy.py"
    spy.write_text(f"open({str(marker)!r}, 'w').write('x')\ndef handler(e, c):\n    return None\n")
    argv = ["trigger", "--endpoint-url", "http://evil.example\\@127.0.0.1:1", "--table", "T"]
    assert main([*argv, "--handler", f"{spy}:handler"]) == 2
    assert not marker.exists()
    assert "ambiguous" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1"),
        ("http://localhost:4566/", "localhost"),
        ("http://[::1]:8000", "::1"),
        ("http://evil.example\\@127.0.0.1:8000", None),  # urllib3 would connect to evil.example
        ("http://evil.example@127.0.0.1:8000", None),
        ("http://127.0.0.1:8000@evil.example", None),
        ("http://127.0.0.1\t:8000", None),
        ("http://127.0.0.1 .evil.example:8000", None),
    ],
)
def test_endpoints_are_read_as_the_http_client_reads_them(url: str, host: str | None) -> None:
    from urllib3.util import parse_url

    from streamsim.aws.backend import endpoint_host, is_loopback_url
    from streamsim.errors import BackendError

    if host is None:
        with pytest.raises(BackendError, match="ambiguous"):
            endpoint_host(url)
        assert not is_loopback_url(url)
    else:
        assert endpoint_host(url) == host == (parse_url(url).host or "").strip("[]")
        assert is_loopback_url(url)


def test_serve_on_a_port_in_use_is_one_line_and_status_2(capsys) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _status(main, ["serve", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], err
    assert "listening" not in out
