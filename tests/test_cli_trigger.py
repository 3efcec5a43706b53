"""``streamsim trigger --config`` honours every field: on-failure destinations (SQS, SNS, S3 on
the same endpoint), ``--starting-position`` over the file, Enabled/--disabled-for, warnings for
what is not emulated; it reports where every record went, and explains a missing table on the
embedded server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streamsim.aws.tables import TableSpec, create_table
from streamsim.workbench.cli import main

POISON = "def handle(event, context):\n    raise ValueError('poison')\n"
PRINTER = "def handle(event, context):\n    print('got', len(event['Records']))\n"


def setup(backend: Any, tmp_path: Path, body: str, **config: Any) -> list[str]:
    dynamodb = backend.client("dynamodb")
    create_table(dynamodb, TableSpec("CliTable", ("pk", "S"), None, "NEW_IMAGE"))  # type: ignore[arg-type]
    dynamodb.put_item(TableName="CliTable", Item={"pk": {"S": "x"}})
    handler = tmp_path / "h.py"
    handler.write_text(body)
    esm = tmp_path / "esm.json"
    esm.write_text(json.dumps({"StartingPosition": "TRIM_HORIZON", **config}))
    return [
        "trigger",
        "--table",
        "CliTable",
        "--handler",
        f"{handler}:handle",
        "--config",
        str(esm),
        "--endpoint-url",
        backend.endpoint_url,
    ]


def run(argv: list[str], capsys: Any, duration: str = "1.5") -> tuple[int, str, str]:
    code = main([*argv, "--duration", duration])
    out, err = capsys.readouterr()
    return code, out, err


def line(out: str, label: str) -> str:
    (found,) = [row for row in out.splitlines() if row.strip().startswith(label)]
    return found


def test_an_sqs_on_failure_destination_receives_the_record(backend, tmp_path, capsys) -> None:
    sqs = backend.client("sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    argv = setup(
        backend,
        tmp_path,
        POISON,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    code, out, _ = run(argv, capsys)
    assert code == 0
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["responseContext"]["functionError"] == "Unhandled"
    assert "1  on-failure records sent to " + arn in line(out, "destination")
    assert line(out, "discarded").split()[1] == "0"
    assert line(out, "processed").split()[1] == "0"
    assert "1 records read, 1 invocations" in out


def test_an_sns_on_failure_destination_publishes_the_record(backend, tmp_path, capsys) -> None:
    sns, sqs = backend.client("sns"), backend.client("sqs")
    topic = sns.create_topic(Name="failures")["TopicArn"]
    url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    argv = setup(
        backend,
        tmp_path,
        POISON,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": topic}},
    )
    code, out, _ = run(argv, capsys)
    assert code == 0
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    notification = json.loads(message["Body"])
    assert notification["Type"] == "Notification" and notification["TopicArn"] == topic
    record = json.loads(notification["Message"])  # the same record as SQS's body [R]
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert "payload" not in record
    assert topic in line(out, "destination")


def test_an_s3_on_failure_destination_stores_the_record_with_its_payload(
    backend, tmp_path, capsys
) -> None:
    s3 = backend.client("s3")
    s3.create_bucket(
        Bucket="failures", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    argv = setup(
        backend,
        tmp_path,
        POISON,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::failures"}},
    )
    code, out, _ = run(argv, capsys)
    assert code == 0
    (obj,) = s3.list_objects_v2(Bucket="failures")["Contents"]
    parts = obj["Key"].split("/")
    # aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID> [E]
    assert parts[:2] == ["aws", "lambda"] and len(parts) == 8
    record = json.loads(s3.get_object(Bucket="failures", Key=obj["Key"])["Body"].read())
    assert parts[3] == record["DDBStreamBatchInfo"]["shardId"]
    (event_record,) = record["payload"]["Records"]  # the invocation payload as an object [R]
    assert event_record["dynamodb"]["Keys"] == {"pk": {"S": "x"}}


def test_a_missing_destination_is_one_line_and_status_2(backend, tmp_path, capsys) -> None:
    argv = setup(
        backend,
        tmp_path,
        POISON,
        DestinationConfig={
            "OnFailure": {"Destination": "arn:aws:sqs:eu-central-1:123456789012:nope"}
        },
    )
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert "arn:aws:sqs:eu-central-1:123456789012:nope does not exist" in err


def test_without_a_destination_the_report_says_the_record_was_lost(
    backend, tmp_path, capsys
) -> None:
    argv = setup(backend, tmp_path, POISON, MaximumRetryAttempts=0)
    _, out, _ = run(argv, capsys)
    assert "1  lost: no on-failure destination" in line(out, "discarded")


def test_starting_position_overrides_the_config(backend, tmp_path, capsys) -> None:
    argv = setup(backend, tmp_path, PRINTER)
    (tmp_path / "esm.json").write_text(json.dumps({"StartingPosition": "LATEST"}))
    _, out, _ = run(argv, capsys)
    assert "got 1" not in out  # LATEST: the item written before is not delivered
    _, out, _ = run([*argv, "--starting-position", "TRIM_HORIZON"], capsys)
    assert "got 1" in out
    assert "(TRIM_HORIZON)" in out
    assert line(out, "processed").split()[1] == "1"


def test_a_disabled_mapping_polls_nothing(backend, tmp_path, capsys) -> None:
    argv = setup(backend, tmp_path, PRINTER, Enabled=False)
    _, out, _ = run(argv, capsys, duration="1")
    assert "disabled (Enabled: false)" in out
    assert "0 records read, 0 invocations" in out
    argv = setup_again(tmp_path, argv, {"StartingPosition": "TRIM_HORIZON"})
    _, out, _ = run([*argv, "--disabled-for", "30"], capsys, duration="1")
    assert "0 records read, 0 invocations" in out
    _, out, _ = run([*argv, "--disabled-for", "0.3"], capsys, duration="1.5")
    assert "got 1" in out  # enabled again after 0.3 s: it delivers what was waiting


def setup_again(tmp_path: Path, argv: list[str], config: dict[str, Any]) -> list[str]:
    (tmp_path / "esm.json").write_text(json.dumps(config))
    return argv


def test_config_warnings_are_printed(backend, tmp_path, capsys) -> None:
    argv = setup(backend, tmp_path, PRINTER, Tags={"team": "games"})
    code, _, err = run(argv, capsys, duration="0.3")
    assert code == 0
    assert "streamsim: warning: Tags is accepted as AWS does but not emulated" in err


def test_run_prints_config_warnings_too(tmp_path, capsys) -> None:
    esm = tmp_path / "esm.json"
    esm.write_text(json.dumps({"StartingPosition": "TRIM_HORIZON", "Tags": {"a": "b"}}))
    # A bad fault spec ends the command before any backend starts; the warning came first.
    assert main(["run", "--config", str(esm), "--faults", "bogus=1"]) == 2
    err = capsys.readouterr().err
    assert "streamsim: warning: Tags is accepted as AWS does but not emulated" in err


def test_a_missing_table_on_the_embedded_server_explains_how_to_share_a_server(
    tmp_path, capsys
) -> None:
    handler = tmp_path / "h.py"
    handler.write_text(PRINTER)
    code = main(["trigger", "--table", "Nope", "--handler", f"{handler}:handle"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "'streamsim serve'" in err and "--endpoint-url" in err
    assert "not found" not in err


@pytest.mark.parametrize("value", ["-1", "x"])
def test_bad_disabled_options_are_one_line(value, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["trigger", "--table", "T", "--handler", "h.py:f", "--disabled-after", value])
    assert info.value.code == 2


def test_an_event_source_arn_of_another_stream_is_warned_about(backend, tmp_path, capsys) -> None:
    other = "arn:aws:dynamodb:us-east-1:111111111111:table/Other/stream/2024-01-01T00:00:00.000"
    argv = setup(backend, tmp_path, PRINTER, EventSourceArn=other)
    code, _, err = run(argv, capsys, duration="0.3")
    assert code == 0
    assert f"streamsim: warning: EventSourceArn {other} is not the stream this trigger" in err
    assert err.count("streamsim: warning:") == 1


def test_policy_prints_config_warnings_too(tmp_path, capsys) -> None:
    esm = tmp_path / "esm.json"
    esm.write_text(json.dumps({"StartingPosition": "LATEST", "MetricsConfig": {"Metrics": []}}))
    assert main(["policy", "--config", str(esm)]) == 0
    err = capsys.readouterr().err
    assert "streamsim: warning: MetricsConfig is accepted as AWS does but not emulated" in err
