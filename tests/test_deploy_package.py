"""The Lambda zip: the game wing without its batch path, importable with boto3 alone.

The slow test makes a fresh venv, installs only boto3 (from PyPI or pip's cache), unpacks the
zip as Lambda does, and runs the handler on a recorded-shape event (the shape of
aws-samples/powertools_dynamoStreamEvent.json, with a play's images) against the embedded
server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from streamsim.aws.tables import ACHIEVEMENTS, PLAYS, create_table
from streamsim.workbench.cli import main
from streamsim.workbench.deploy.package import BATCH_PATH, build_package


def test_the_zip_holds_the_game_wing_without_its_batch_path(tmp_path, capsys) -> None:
    assert main(["deploy", "package", "--out", str(tmp_path / "b.zip")]) == 0
    out = capsys.readouterr().out
    size = (tmp_path / "b.zip").stat().st_size
    assert f"{size:,} bytes" in out
    names = zipfile.ZipFile(tmp_path / "b.zip").namelist()
    assert "streamsim/game/handler.py" in names and "streamsim/errors.py" in names
    assert "streamsim/game/deliveries.py" in names
    for batch in BATCH_PATH:
        assert f"streamsim/game/{batch}" not in names
    assert not any(n.startswith(("streamsim/workbench", "streamsim/aws")) for n in names)
    assert not any("__pycache__" in n for n in names)


def test_the_zip_is_reproducible(tmp_path) -> None:
    one, two = build_package(tmp_path / "1.zip"), build_package(tmp_path / "2.zip")
    assert one.sha256 == two.sha256


SAMPLE = Path(__file__).parent / "events" / "powertools_dynamoStreamEvent.json"


def _event(written: dict) -> dict:
    """The recorded event's first record (its shape, field for field) carrying a play."""
    record = json.loads(SAMPLE.read_text(encoding="utf-8"))["Records"][0]
    record["dynamodb"]["Keys"] = {k: written[k] for k in ("player_id", "play_key")}
    record["dynamodb"]["NewImage"] = written
    return {"Records": [record]}


def _link_distribution(name: str, into: Path, seen: set[str]) -> None:
    """Link ``name``'s top-level modules, and those of what it requires (extras aside), from
    this interpreter's install into ``into``: boto3 and its dependencies, nothing else (what
    `pip install boto3` would give, without the download)."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    if name.lower() in seen:
        return
    seen.add(name.lower())
    dist = distribution(name)
    tops = {Path(f).parts[0] for f in dist.files or []}
    for top in tops:
        if top.endswith((".dist-info", ".data")) or top in ("..", "bin", "__pycache__"):
            continue
        source = Path(str(dist.locate_file(top)))
        if source.exists() and not (into / top).exists():
            (into / top).symlink_to(source)
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            _link_distribution(requirement.name, into, seen)


@pytest.mark.slow
def test_the_handler_runs_from_the_zip_in_a_venv_with_only_boto3(backend, tmp_path) -> None:
    from datetime import datetime, timezone

    from streamsim.game.playstore import play_to_item, validate_play, write_play

    package = build_package(tmp_path / "badges.zip")
    print(f"zip size: {package.size_bytes} bytes")
    unpacked = tmp_path / "task"  # Lambda unpacks the zip into /var/task
    zipfile.ZipFile(package.path).extractall(unpacked)
    venv = tmp_path / "venv"  # no site-packages of its own, none of the system's
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    runtime = tmp_path / "runtime"  # what Lambda's Python runtime adds: boto3 and its needs
    runtime.mkdir()
    _link_distribution("boto3", runtime, set())
    assert {"boto3", "botocore"} <= {p.name for p in runtime.iterdir()}

    dynamodb = backend.client("dynamodb")
    create_table(dynamodb, PLAYS)
    create_table(dynamodb, ACHIEVEMENTS)
    play = validate_play(
        player_id="p1",
        game="chess",
        played_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
        tz="UTC",
        score=10,
        play_id="a1",
    )
    write_play(dynamodb, play)
    event = _event(play_to_item(play))
    script = (
        "import json, sys\n"
        "for banned in ('pandas', 'numpy'):\n"
        "    try:\n"
        "        __import__(banned)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        sys.exit(banned + ' is importable: not a boto3-only venv')\n"
        "from streamsim.game.handler import lambda_handler\n"
        "event = json.load(sys.stdin)\n"
        "print(json.dumps(lambda_handler(event, None)))\n"
        "print('modules', sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'numpy')))\n"
    )
    env = {
        "PYTHONPATH": f"{unpacked}:{runtime}",
        "STREAMSIM_ENDPOINT_URL": backend.endpoint_url,
        "AWS_ACCESS_KEY_ID": "streamsim",
        "AWS_SECRET_ACCESS_KEY": "streamsim",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "STREAMSIM_DELIVERIES": "emf",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [str(python), "-c", script],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    delivery = json.loads(lines[0])  # the recorder's EMF line comes first
    assert delivery["sequence_number"] == "111" and delivery["Outcome"] == "ok"
    assert json.loads(lines[1]) == {"batchItemFailures": []}
    assert lines[2] == "modules []"
    badges = dynamodb.scan(TableName="Achievements")["Items"]
    assert {b["rule"]["S"] for b in badges} == {"FirstPlay"}
