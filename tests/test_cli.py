"""The command line: bad input is one clear line and exit status 2."""

from __future__ import annotations

import json

import pytest

from streamsim.workbench.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["walkthrough", "--bad"], "unrecognized arguments: --bad"),
        (["serve", "--port", "70000"], "port 70000 is out of range"),
        (["trigger", "--table", "T"], "the following arguments are required: --handler"),
        (
            ["trigger", "--table", "T", "--handler", "missing.py:f"],
            "handler file missing.py does not exist",
        ),
        (["trigger", "--table", "T", "--handler", "nocolon"], "must look like FILE.py:FUNCTION"),
        (["run", "--writers", "0"], "'0' must be at least 1"),
        (["run", "--writers", "x"], "'x' is not a whole number"),
        (["run", "--writers", "17"], "writers must be an integer <= 16, got 17"),
        (
            ["walkthrough", "--endpoint-url", "http://dynamodb.example.invalid:8000"],
            "--allow-remote",
        ),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith("streamsim")
    assert message in err


def test_trigger_command_prints_handler_log_lines(backend, tmp_path, capsys) -> None:
    from streamsim.aws.tables import TableSpec, create_table

    dynamodb = backend.client("dynamodb")
    create_table(dynamodb, TableSpec("CliTable", ("pk", "S"), None, "NEW_IMAGE"))  # type: ignore[arg-type]
    dynamodb.put_item(TableName="CliTable", Item={"pk": {"S": "x"}})
    handler = tmp_path / "h.py"
    handler.write_text(
        "def handle(event, context):\n    print('got', len(event['Records']), event['Records'][0]['eventName'])\n"
    )
    code = main(
        [
            "trigger",
            "--table",
            "CliTable",
            "--handler",
            f"{handler}:handle",
            "--starting-position",
            "TRIM_HORIZON",
            "--duration",
            "1.5",
            "--endpoint-url",
            backend.endpoint_url,
        ]
    )
    assert code == 0
    assert "got 1 INSERT" in capsys.readouterr().out


def test_serve_prints_its_endpoint_and_serves_until_stopped() -> None:
    import os
    import signal
    import subprocess
    import sys

    import boto3

    process = subprocess.Popen(
        [sys.executable, "-m", "streamsim.workbench.cli", "serve"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "listening at http://127.0.0.1:" in first
        endpoint = first.rsplit(" ", 1)[1].strip()
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="eu-central-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        assert client.list_tables()["TableNames"] == []
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_sweep_prints_progress(capsys) -> None:
    from streamsim.workbench.cli import main as cli_main

    assert cli_main(["sweep", "--grid", "batch_size=1,10", "--players", "3", "--days", "1"]) == 0
    captured = capsys.readouterr()
    assert "sweep: 1/2 settings simulated" in captured.err
    assert "sweep: 2/2 settings simulated" in captured.err


def _options_with_help(parser, name="streamsim"):  # type: ignore[no-untyped-def]
    """(command, action) for every option of every command and subcommand."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _options_with_help(child, f"{name} {sub}")
        elif action.option_strings:
            yield name, action


def _shown(value) -> str:  # type: ignore[no-untyped-def]
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_every_default_an_option_has_is_stated_in_its_help() -> None:
    from streamsim.workbench.cli import build_parser

    missing = [
        f"{command} {action.option_strings[-1]} (default {action.default!r})"
        for command, action in _options_with_help(build_parser())
        if action.default not in (None, False, [], "==SUPPRESS==")
        and f"default {_shown(action.default)}" not in (action.help or "")
        and "(default:" not in (action.help or "")
    ]
    assert not missing, missing


def test_the_defaults_help_states_are_the_ones_the_commands_use() -> None:
    """run and faults resolve omitted options from their configs: the help must name those."""
    from streamsim.workbench.cli import build_parser
    from streamsim.workbench.faults.matrix import matrix_config
    from streamsim.workbench.runconfig import RunConfig

    helps = {
        (command, action.option_strings[-1]): action.help or ""
        for command, action in _options_with_help(build_parser())
    }
    for command, config in (("streamsim run", RunConfig()), ("streamsim faults", matrix_config())):
        for option in ("players", "days", "rate", "seed"):
            value = _shown(float(getattr(config, option)))
            assert f"(default {value})" in helps[(command, f"--{option}")], (command, option)
    assert f"default {RunConfig().strategy}" in helps[("streamsim run", "--strategy")]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"TumblingWindowInSeconds": 60}, "TumblingWindowInSeconds"),
        ({"Enabled": False}, "Enabled: false"),
    ],
)
def test_run_refuses_mapping_settings_its_pipeline_cannot_honour(
    params, words, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Accepted, they made a two-minute run end VIOLATED (every batch failed, or none ran)."""
    config = tmp_path / "esm.json"
    config.write_text(json.dumps({"StartingPosition": "TRIM_HORIZON", **params}))
    argv = ["run", "--config", str(config), "--no-progress", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "r").exists()


def test_sweep_replaces_an_existing_csv_only_with_force(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench.cli import main as cli_main

    csv = tmp_path / "sweep.csv"
    csv.write_text("kept\n")
    argv = [
        "sweep",
        "--grid",
        "batch_size=1,10",
        "--players",
        "3",
        "--days",
        "1",
        "--csv",
        str(csv),
    ]
    try:
        status = cli_main(argv)
    except SystemExit as exc:
        status = exc.code
    assert status == 2 and csv.read_text() == "kept\n"
    assert "pass --force" in capsys.readouterr().err
    assert cli_main([*argv, "--force"]) == 0
    assert csv.read_text().splitlines()[0].startswith("batch_size,")
    assert len(csv.read_text().splitlines()) == 3  # header and one row per setting
