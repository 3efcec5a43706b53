"""streamsim deploy: the template from the same configs, cfn-lint offline, moto's CloudFormation,
up and down with change sets, the plan printed before anything is created.

moto's own event source mapping invokes the function on every write and then clears the
stream's records (no Docker here): the stacks below are never read by a local trigger.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.workbench.cli import main
from streamsim.workbench.deploy import stack
from streamsim.workbench.deploy.package import build_package
from streamsim.workbench.deploy.plan import Assumptions, plan_text, workload
from streamsim.workbench.deploy.template import (
    StackSettings,
    build_template,
    esm_properties,
    mapping_from_properties,
    render,
    resolve,
    stack_mapping,
    stack_policy,
)
from streamsim.workbench.runconfig import default_mapping

ACCOUNT = "123456789012"  # moto's
#: A mapping with every field away from AWS's defaults.
EVERY_FIELD = {
    "StartingPosition": "LATEST",
    "BatchSize": 250,
    "MaximumBatchingWindowInSeconds": 5,
    "ParallelizationFactor": 3,
    "MaximumRetryAttempts": 7,
    "MaximumRecordAgeInSeconds": 3600,
    "BisectBatchOnFunctionError": True,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
    "TumblingWindowInSeconds": 30,
    "Enabled": False,
    "DestinationConfig": {
        "OnFailure": {"Destination": "arn:aws:sqs:eu-central-1:123456789012:mine"}
    },
    "KMSKeyArn": "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "MetricsConfig": {"Metrics": ["EventCount"]},
    "Tags": {"team": "games"},
}


def test_every_mapping_field_round_trips_through_the_template() -> None:
    mapping = EventSourceMapping.from_aws(EVERY_FIELD)
    settings = StackSettings(name="rt")
    deployed = stack_mapping(mapping, settings)
    props = esm_properties(deployed)
    assert "KmsKeyArn" in props and "KMSKeyArn" not in props  # CloudFormation's spelling
    assert props["Tags"] == [{"Key": "team", "Value": "games"}]
    assert mapping_from_properties(props) == deployed
    # Only the destination changed: the stack's queue instead of the config's.
    for key, value in EVERY_FIELD.items():
        if key not in ("DestinationConfig", "KMSKeyArn", "Tags"):
            assert props[key] == value, key
    # The template's mapping is exactly that, on the stack's stream and function.
    template = build_template(mapping, settings)
    esm = resolve(template["Resources"]["BadgeMapping"]["Properties"], "eu-central-1", ACCOUNT)
    assert esm.pop("EventSourceArn") == {"Fn::GetAtt": ["PlaysTable", "StreamArn"]}
    assert esm.pop("FunctionName") == {"Ref": "BadgeFunction"}
    assert esm["DestinationConfig"] == {
        "OnFailure": {"Destination": f"arn:aws:sqs:eu-central-1:{ACCOUNT}:rt-on-failure"}
    }
    back = mapping_from_properties(esm)
    assert back.to_aws() | {"DestinationConfig": None} == deployed.to_aws() | {
        "DestinationConfig": None
    }


def test_an_sns_destination_is_refused_one_line() -> None:
    mapping = default_mapping("arn:aws:sns:eu-central-1:123456789012:topic")
    with pytest.raises(Exception, match="SQS queue; the config names arn:aws:sns"):
        build_template(mapping, StackSettings())


@pytest.mark.parametrize("strategy", ["read-all", "incremental", "batched"])
@pytest.mark.parametrize("config", [None, EVERY_FIELD])
def test_the_role_has_exactly_the_policy_streamsim_policy_prints(
    strategy, config, tmp_path, capsys
) -> None:
    args = ["policy", "--stack", "pol", "--region", "us-east-1", "--account", ACCOUNT]
    args += ["--strategy", strategy]
    mapping = default_mapping()
    if config is not None:
        (tmp_path / "esm.json").write_text(json.dumps(config))
        args += ["--config", str(tmp_path / "esm.json")]
        mapping = EventSourceMapping.from_aws(config)
    template = build_template(mapping, StackSettings(name="pol", strategy=strategy))
    role = template["Resources"]["BadgeRole"]["Properties"]
    (inline,) = role["Policies"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert resolve(inline["PolicyDocument"], "us-east-1", ACCOUNT) == printed
    # ... and nothing else: no managed policy (AWSLambdaBasicExecutionRole grants logs on "*").
    assert set(role) == {"AssumeRolePolicyDocument", "Policies"}
    by_sid = {s["Sid"]: s for s in printed["Statement"]}
    assert by_sid["FunctionWritesItsLogs"] == {
        "Sid": "FunctionWritesItsLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/pol-badges:*",
    }
    # The log group the role writes is the one the template creates, before the function.
    logs = template["Resources"]["FunctionLogs"]["Properties"]["LogGroupName"]
    assert logs == "/aws/lambda/pol-badges"
    assert "FunctionLogs" in template["Resources"]["BadgeFunction"]["DependsOn"]
    # Lambda sends the on-failure record with the execution role: the stack's queue is in it.
    assert by_sid["OnFailureDestination"]["Resource"] == (
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:pol-on-failure"
    )


def test_the_function_gets_the_environment_the_handler_reads() -> None:
    from streamsim.game.badges import FirstPlay
    from streamsim.game.handler import HandlerSettings

    settings = StackSettings(name="env", strategy="incremental", rules=(FirstPlay(),))
    function = build_template(default_mapping(), settings)["Resources"]["BadgeFunction"]
    env = function["Properties"]["Environment"]["Variables"]
    read = HandlerSettings.from_env(env)
    assert read == HandlerSettings(
        plays_table="env-Plays",
        achievements_table="env-Achievements",
        state_table="env-PlayerState",
        strategy="incremental",
        rules=(FirstPlay(),),
    )
    assert function["Properties"]["Handler"] == "streamsim.game.handler.lambda_handler"
    assert env["STREAMSIM_DELIVERIES"] == "emf"


def test_alarms_watch_iterator_age_and_the_on_failure_queue() -> None:
    resources = build_template(default_mapping(), StackSettings())["Resources"]
    age, queue = (
        resources["IteratorAgeAlarm"]["Properties"],
        resources["OnFailureAlarm"]["Properties"],
    )
    assert (age["Namespace"], age["MetricName"]) == ("AWS/Lambda", "IteratorAge")
    assert (queue["Namespace"], queue["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert queue["Threshold"] == 0 and queue["ComparisonOperator"] == "GreaterThanThreshold"


def _cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    return subprocess.run(
        [str(cfn_lint), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_cfn_lint_passes_the_template_and_catches_a_planted_error(tmp_path) -> None:
    out = tmp_path / "template.yaml"
    config = tmp_path / "esm.json"
    config.write_text(json.dumps({**EVERY_FIELD, "KMSKeyArn": EVERY_FIELD["KMSKeyArn"]}))
    assert main(["deploy", "template", "--config", str(config), "--out", str(out)]) == 0
    result = _cfn_lint(out)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = json.loads(out.read_text())
    bad["Resources"]["BadgeMapping"]["Properties"]["ParallelizationFactor"] = 11
    out.write_text(json.dumps(bad))
    result = _cfn_lint(out)
    assert result.returncode != 0 and "11 is greater than the maximum of 10" in result.stdout


@pytest.mark.slow
def test_the_template_deploys_to_motos_cloudformation(backend, tmp_path) -> None:
    mapping = EventSourceMapping.from_aws(
        {k: v for k, v in EVERY_FIELD.items() if k not in ("KMSKeyArn", "MetricsConfig")}
    )
    settings = StackSettings(name="cfn", strategy="incremental")
    package = build_package(tmp_path / "badges.zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deployed = stack.up(backend, "cfn", render(build_template(mapping, settings)), package)
    assert deployed.status == "CREATE_COMPLETE"
    assert deployed.change_set_type == "CREATE"
    # moto 5.2 cannot create CloudWatch alarms from a template (it skips them, with a warning).
    skipped = {str(w.message) for w in caught}
    assert all("AWS::CloudWatch::Alarm" in m for m in skipped if "not supported" in m)
    (read,) = backend.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    expected = stack_mapping(mapping, settings).to_aws()
    expected["DestinationConfig"] = {
        "OnFailure": {"Destination": f"arn:aws:sqs:eu-central-1:{ACCOUNT}:cfn-on-failure"}
    }
    for key, value in expected.items():
        if key in ("Enabled", "Tags"):
            continue  # read back as State, and through ListTags
        assert read[key] == value, key
    assert read["State"] == "Disabled"
    assert read["EventSourceArn"].startswith(
        f"arn:aws:dynamodb:eu-central-1:{ACCOUNT}:table/cfn-Plays/stream/"
    )
    tables = backend.client("dynamodb").list_tables()["TableNames"]
    assert sorted(tables) == ["cfn-Achievements", "cfn-PlayerState", "cfn-Plays"]
    plays = backend.client("dynamodb").describe_table(TableName="cfn-Plays")["Table"]
    assert plays["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    config = backend.client("lambda").get_function(FunctionName="cfn-badges")["Configuration"]
    assert (config["Runtime"], config["MemorySize"], config["Timeout"]) == ("python3.12", 256, 60)
    # The role as IAM holds it: the one inline policy, no managed policy.
    iam = backend.client("iam")
    role = config["Role"].rsplit("/", 1)[1]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # moto 5.2 keeps CloudFormation's dict as its Python repr
        import ast

        document = ast.literal_eval(document)
    expected_policy = stack_policy(mapping, settings, region="eu-central-1", account=ACCOUNT)
    assert document == expected_policy


@pytest.mark.slow
def test_deploy_up_prints_the_plan_first_and_down_tears_it_all_down(backend, capsys) -> None:
    endpoint = ["--endpoint-url", backend.endpoint_url]
    assert main(["deploy", "up", "--stack", "cli", "--rate", "50", *endpoint]) == 0
    out = capsys.readouterr().out
    assert out.index("will create 9 resources:") < out.index("estimated cost at 50 plays/s")
    assert out.index("estimated cost") < out.index("stack cli: CREATE_COMPLETE")
    assert "prices of 2025-08" in out and "total: $" in out
    assert "s3://streamsim-deploy-123456789012-eu-central-1/cli/badges-" in out
    again = main(["deploy", "up", "--stack", "cli", *endpoint])
    assert again == 0 and "CREATE_COMPLETE (no changes to deploy)" in capsys.readouterr().out
    bigger = main(["deploy", "up", "--stack", "cli", "--memory", "512", *endpoint])
    assert bigger == 0 and "UPDATE_COMPLETE (UPDATE change set)" in capsys.readouterr().out
    config = backend.client("lambda").get_function(FunctionName="cli-badges")["Configuration"]
    assert config["MemorySize"] == 512
    assert main(["deploy", "down", "--stack", "cli", *endpoint]) == 0
    down = capsys.readouterr().out
    assert "deleted stack cli" in down and "deleted bucket streamsim-deploy" in down
    assert backend.client("dynamodb").list_tables()["TableNames"] == []
    assert backend.client("s3").list_buckets()["Buckets"] == []
    assert backend.client("sqs").list_queues().get("QueueUrls", []) == []
    assert backend.client("logs").describe_log_groups()["logGroups"] == []
    assert backend.client("lambda").list_functions()["Functions"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "up", "--stack", "x", "--endpoint-url", "aws"], "refusing to use real AWS"),
        (["deploy", "down", "--stack", "x", "--endpoint-url", "aws"], "refusing to use real AWS"),
        (["deploy", "up", "--stack", "x"], "deploy needs --endpoint-url"),
        (["deploy", "template", "--name", "1bad", "--out", "t.yaml"], "stack name '1bad'"),
        (["deploy", "template", "--memory", "64", "--out", "t.yaml"], "memory 64 MB"),
        (["deploy", "up", "--stack", "x", "--rate", "0"], "must be greater than 0"),
        (["deploy"], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, monkeypatch) -> None:
    monkeypatch.delenv("STREAMSIM_ENDPOINT_URL", raising=False)
    try:
        status = main(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_down_of_a_missing_stack_is_one_line(backend, capsys) -> None:
    assert main(["deploy", "down", "--stack", "nope", "--endpoint-url", backend.endpoint_url]) == 2
    assert "stack nope does not exist" in capsys.readouterr().err


def test_the_estimate_follows_the_mapping_and_the_rate() -> None:
    mapping = default_mapping()
    a = Assumptions(handler_ms_per_play=40.0)
    slow = workload(1.0, "read-all", mapping, 512, a)
    assert slow.invocations_per_play == 1.0  # each play its own invocation at 1/s
    fast = workload(10_000.0, "read-all", mapping, 512, a)
    assert fast.invocations_per_play == pytest.approx(1 / 100)  # full batches of 100
    assert fast.lambda_gb_seconds_per_play == pytest.approx(0.5 * 0.040)
    text = plan_text(
        build_template(mapping, StackSettings()),
        rate=10.0,
        strategy="read-all",
        mapping=mapping,
        memory_mb=256,
        region="mars-1",
    )
    assert "no cost estimate: no prices for region 'mars-1'" in text


def test_tables_are_on_demand() -> None:
    resources = build_template(default_mapping(), StackSettings(strategy="incremental"))
    tables = [r for r in resources["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 3
    assert {t["Properties"]["BillingMode"] for t in tables} == {"PAY_PER_REQUEST"}


def test_the_readme_commands_exist() -> None:
    """Every command line in the README's "Outgrowing one machine" section parses."""
    import shlex

    from streamsim.workbench.cli import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Outgrowing one machine")[1].split("\n## ")[0]
    lines = [ln.split("#")[0] for ln in section.splitlines() if ln.startswith("streamsim ")]
    assert len(lines) == 7  # package, template, plan, up, run, collect, down
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.func is not None


@pytest.mark.parametrize(
    ("strategy", "keeps_state"), [("read-all", False), ("incremental", True), ("batched", True)]
)
def test_the_stack_has_a_player_state_table_exactly_when_the_strategy_keeps_state(
    strategy: str, keeps_state: bool
) -> None:
    """Every strategy `streamsim run` offers deploys: a stack whose handler reads PlayerState
    has that table, and its function is told the strategy."""
    template = build_template(default_mapping(), StackSettings(name="s", strategy=strategy))
    assert ("PlayerStateTable" in template["Resources"]) is keeps_state
    env = template["Resources"]["BadgeFunction"]["Properties"]["Environment"]["Variables"]
    assert env["BADGE_STRATEGY"] == strategy
    # the deployed function's settings read back as the ones the workbench runs with
    from streamsim.game.handler import HandlerSettings

    deployed = HandlerSettings.from_env(env)
    assert (
        deployed.strategy == strategy
        and deployed.player_workers == HandlerSettings().player_workers
    )


def _live_run_folder(path: Path, strategy: str = "incremental") -> Path:
    """A run folder as `streamsim run` writes it (the request units part; tests/test_requests.py
    checks a live run's): 10 plays, the writer's PutItem 1 unit each, the handler's 3 write and
    2.5 read units per play."""
    path.mkdir()
    by_table = [
        {"operation": "PutItem", "table": "run-Plays", "requests": 10, "read_units": 0, "write_units": 10},
        {"operation": "PutItem", "table": "run-PlayerState", "requests": 10, "read_units": 0, "write_units": 20},
        {"operation": "PutItem", "table": "run-Achievements", "requests": 5, "read_units": 0, "write_units": 10},
        {"operation": "GetItem", "table": "run-PlayerState", "requests": 10, "read_units": 5, "write_units": 0},
        {"operation": "Query", "table": "run-Plays", "requests": 10, "read_units": 20, "write_units": 0},
    ]  # fmt: skip
    summary = {"requests": {"units": {"plays": 10, "by_table": by_table}}}
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "config.json").write_text(
        json.dumps({"strategy": strategy, "tables": {"plays": "run-Plays"}})
    )
    return path


def _dynamodb_costs(out: str) -> dict[str, float]:
    """The estimate's DynamoDB rows: line item -> USD a month."""
    costs = {}
    for line in out.splitlines():
        if line.startswith("DynamoDB"):
            *name, value = line.split()
            costs[" ".join(name[:2])] = float(value.replace(",", ""))
    return costs


def test_the_plan_takes_its_units_from_a_live_run_and_says_so(tmp_path, capsys) -> None:
    run = _live_run_folder(tmp_path / "live")
    argv = ["deploy", "plan", "--strategy", "incremental", "--rate", "100"]
    assert main(argv) == 0
    assumed = capsys.readouterr().out
    assert "will create 10 resources:" in assumed and "total: $" in assumed
    assert "assumed per play (not measured): 2.1 write units, 2 read units" in assumed
    assert "measured" not in assumed.replace("not measured", "")
    assert main([*argv, "--units-from", str(run)]) == 0
    measured = capsys.readouterr().out
    # The play's own write (1) plus the handler's (3); the handler's reads (2.5).
    line = f"per play: 4.000 write units, 2.500 read units measured from {run}; "
    assert line in measured
    assert "assumed (not measured): 30 ms of handler time" in measured
    # The estimate uses them: DynamoDB cost scales with the units per play.
    before, after = _dynamodb_costs(assumed), _dynamodb_costs(measured)
    assert set(before) == set(after) == {"DynamoDB writes", "DynamoDB reads"}
    for name, ratio in (("DynamoDB writes", 4.0 / 2.1), ("DynamoDB reads", 2.5 / 2.0)):
        assert after[name] == pytest.approx(before[name] * ratio, rel=1e-3)


@pytest.mark.parametrize(
    ("make", "strategy", "message"),
    [
        (lambda p: p, "incremental", "is not a run folder with a summary"),
        (lambda p: _live_run_folder(p, "batched"), "incremental", "strategy is 'batched'"),
    ],
)
def test_a_bad_units_from_folder_is_one_line(tmp_path, capsys, make, strategy, message) -> None:
    run = make(tmp_path / "run")
    for command in (["plan"], ["up", "--stack", "s", "--endpoint-url", "http://127.0.0.1:9"]):
        argv = ["deploy", *command, "--strategy", strategy, "--units-from", str(run)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
