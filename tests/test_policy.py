"""``streamsim policy``: the least-privilege IAM policy, and a real run that stays inside it.

Every operation the trigger (stream reader), the badge handler and the on-failure destination
send during a live run on the embedded server is recorded (botocore ``before-call`` hooks via
``Backend.client_hooks``) and checked, action and resource, against the printed policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streamsim.aws.tables import latest_stream_arn
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.workbench.cli import main
from streamsim.workbench.faults.plan import FaultPlan
from streamsim.workbench.policy import STREAM_ACTIONS, allows, build_policy
from streamsim.workbench.run import RunConfig, run_pipeline

ACCOUNT, REGION = "123456789012", "eu-central-1"  # moto's account; the backend's region


def printed_policy(capsys, *argv: str) -> dict[str, Any]:
    assert main(["policy", "--account", ACCOUNT, "--region", REGION, *argv]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_the_default_policy_is_the_blogs_four_actions_plus_the_handlers(capsys) -> None:
    policy = printed_policy(capsys)
    statements = {s["Sid"]: s for s in policy["Statement"]}
    stream = statements["TriggerReadsTheStream"]
    assert stream["Action"] == list(STREAM_ACTIONS)
    assert stream["Resource"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Plays/stream/*"
    assert statements["BadgeHandlerReadsPlays"]["Action"] == ["dynamodb:Query"]
    assert statements["BadgeHandlerWritesAchievements"]["Action"] == ["dynamodb:PutItem"]
    assert "BadgeHandlerKeepsPlayerState" not in statements  # read-all needs no state
    assert statements["OnFailureDestination"] == {
        "Sid": "OnFailureDestination",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:streamsim-on-failure",
    }
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    assert not allows(policy, "dynamodb:Scan", table + "Plays")
    assert not allows(policy, "dynamodb:PutItem", table + "Plays")  # the handler never writes plays
    assert not allows(policy, "dynamodb:GetRecords", table + "Other/stream/x")
    assert allows(policy, "DynamoDB:getrecords", table + "Plays/stream/2026-01-01T00:00:00.000")


def test_a_config_names_the_stream_and_the_destination(tmp_path: Path, capsys) -> None:
    stream = (
        "arn:aws:dynamodb:us-west-2:111122223333:table/GameScores/stream/2024-01-01T00:00:00.000"
    )
    config = tmp_path / "esm.json"
    config.write_text(
        json.dumps(
            {
                "StartingPosition": "LATEST",
                "EventSourceArn": stream,
                "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::dlq-bucket"}},
            }
        )
    )
    assert main(["policy", "--config", str(config), "--strategy", "incremental"]) == 0
    policy = json.loads(capsys.readouterr().out)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["TriggerReadsTheStream"]["Resource"] == stream  # exactly that stream
    assert by_sid["BadgeHandlerReadsPlays"]["Resource"].endswith(":111122223333:table/GameScores")
    assert by_sid["BadgeHandlerKeepsPlayerState"]["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]
    assert allows(policy, "s3:PutObject", "arn:aws:s3:::dlq-bucket/shard/x.json")
    assert allows(policy, "s3:ListBucket", "arn:aws:s3:::dlq-bucket")
    assert not allows(policy, "s3:PutObject", "arn:aws:s3:::dlq-bucket")


def test_the_function_writes_only_its_own_log_group(capsys) -> None:
    """AWSLambdaBasicExecutionRole's log actions, narrowed to the function's log group, and
    without CreateLogGroup: the stack creates the group (tests/test_deploy.py)."""
    assert main(["policy", "--account", ACCOUNT, "--region", REGION]) == 0
    out, err = capsys.readouterr()
    policy = json.loads(out)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/streamsim-badges"
    stream = f"{group}:log-stream:2026/01/01/[$LATEST]0123456789abcdef"
    assert allows(policy, "logs:CreateLogStream", stream)
    assert allows(policy, "logs:PutLogEvents", stream)
    assert not allows(policy, "logs:CreateLogGroup", group)
    assert not allows(policy, "logs:CreateLogGroup", "*")
    other = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other:log-stream:x"
    assert not allows(policy, "logs:PutLogEvents", other)
    assert not allows(policy, "logs:PutLogEvents", stream.replace(REGION, "us-east-1"))
    assert "log group /aws/lambda/streamsim-badges, which must exist" in err
    assert "grants no logs:CreateLogGroup" in err


def test_the_log_group_follows_the_function_name(tmp_path: Path, capsys) -> None:
    config = tmp_path / "esm.json"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-badges:live"
    config.write_text(json.dumps({"StartingPosition": "LATEST", "FunctionName": arn}))
    printed = printed_policy(capsys, "--config", str(config))
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/my-badges"
    assert allows(printed, "logs:PutLogEvents", f"{group}:log-stream:x")
    printed = printed_policy(capsys, "--function", "mine")
    assert allows(printed, "logs:PutLogEvents", f"{group[: -len('my-badges')]}mine:log-stream:x")
    assert main(["policy", "--config", str(config), "--function", "other"]) == 2
    err = capsys.readouterr().err
    assert "--function other differs from the config's FunctionName (my-badges)" in err


def test_a_stacks_policy_names_the_stacks_resources(capsys) -> None:
    printed = printed_policy(capsys, "--stack", "prod", "--strategy", "incremental")
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    assert allows(printed, "dynamodb:GetRecords", table + "prod-Plays/stream/2026-01-01T00:00:00")
    assert allows(printed, "dynamodb:Query", table + "prod-Plays")
    assert allows(printed, "dynamodb:PutItem", table + "prod-Achievements")
    assert allows(printed, "dynamodb:GetItem", table + "prod-PlayerState")
    assert not allows(printed, "dynamodb:Query", table + "Plays")
    assert allows(printed, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:prod-on-failure")
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/prod-badges"
    assert allows(printed, "logs:PutLogEvents", f"{group}:log-stream:x")


def test_a_mapping_without_destination_grants_no_queue() -> None:
    mapping = EventSourceMapping(starting_position="LATEST")
    policy = build_policy(mapping=mapping)
    assert not any(a.startswith("sqs:") for s in policy["Statement"] for a in s["Action"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--account", "12"], "account '12' is not a 12-digit AWS account id"),
        (["--region", "mars"], "region 'mars' is not an AWS region"),
        (["--table", "a b"], "table 'a b' is not a DynamoDB table name"),
        (["--strategy", "fast"], "invalid choice: 'fast'"),
        (["--stack", "s", "--table", "T"], "--stack names the table and the function"),
        (["--stack", "1bad"], "stack name '1bad'"),
    ],
)
def test_bad_policy_options_are_one_line(argv: list[str], message: str, capsys) -> None:
    try:
        code = main(["policy", *argv])
    except SystemExit as exc:  # argparse's own errors exit from the parser
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


_AUDIT = {("sqs", "ReceiveMessage"), ("sqs", "DeleteMessage")}


@dataclass
class Call:
    client: Any
    service: str
    operation: str
    params: dict[str, Any]
    after_setup: bool


class Recorder:
    """A Backend.client_hooks entry: every operation of every client, with its parameters."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.after_setup = False

    def install(self, client: Any, service: str) -> None:
        def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
            # ``params`` is the request as sent: a JSON body for all three services.
            body = json.loads(params.get("body") or b"{}")
            self.calls.append(Call(client, service, model.name, body, self.after_setup))

        client.meta.events.register("before-call", hook)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["read-all", "incremental", "batched"])
def test_a_real_run_stays_inside_the_printed_policy(
    strategy: str, backend, tmp_path: Path, capsys
) -> None:
    recorder = Recorder()
    handlers: list[Any] = []

    def keep(handler: Any) -> Any:
        handlers.append(handler)  # the BadgeHandler: its client is the handler's
        recorder.after_setup = True  # tables, queue and destination are set up by now
        return handler

    backend.client_hooks.append(recorder.install)
    try:
        run_pipeline(
            RunConfig(players=4, days=4, rate=40.0, seed=1, strategy=strategy),
            backend,
            out_dir=tmp_path / "run",
            handler_wrapper=keep,
            faults=FaultPlan.parse("poison=1"),  # so the on-failure destination is used too
        )
    finally:
        backend.client_hooks.remove(recorder.install)
    stream_arn = latest_stream_arn(backend.client("dynamodb"), "Plays")
    policy = printed_policy(capsys, "--strategy", strategy)
    (badge_handler,) = handlers
    pipeline = [
        c
        for c in recorder.calls
        if c.client is badge_handler.dynamodb
        or c.service == "dynamodbstreams"
        or (c.service == "sqs" and c.after_setup)
    ]
    # The run's audit reads the queue back after the run (streamsim.workbench.faults.witness):
    # the workbench's check, not something the deployed trigger does.
    pipeline = [c for c in pipeline if (c.service, c.operation) not in _AUDIT]
    checked = set()
    for call in pipeline:
        action, resource = _iam(call, stream_arn)
        assert allows(policy, action, resource), f"{action} on {resource} is not in the policy"
        checked.add(action)
    expected = {
        "dynamodb:DescribeStream",
        "dynamodb:GetShardIterator",
        "dynamodb:GetRecords",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "sqs:SendMessage",
    }
    if strategy == "incremental":
        expected.add("dynamodb:GetItem")
    if strategy == "batched":
        expected.add("dynamodb:BatchGetItem")
    assert checked == expected


def _iam(call: Call, stream_arn: str) -> tuple[str, str]:
    """The IAM action and resource ARN of one recorded call."""
    if call.service == "sqs":
        account, name = call.params["QueueUrl"].rstrip("/").split("/")[-2:]
        return f"sqs:{call.operation}", f"arn:aws:sqs:{REGION}:{account}:{name}"
    if call.service == "dynamodbstreams":
        # GetRecords names its stream through the iterator; IAM checks it against that stream.
        return f"dynamodb:{call.operation}", call.params.get("StreamArn", stream_arn)
    if call.operation == "BatchGetItem":  # one table per batch here: the PlayerState table
        (table,) = call.params["RequestItems"]
        return f"dynamodb:{call.operation}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    table = call.params["TableName"]
    return f"dynamodb:{call.operation}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
