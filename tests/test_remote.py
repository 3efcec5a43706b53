"""A run on a deployed stack, end to end on the embedded server: deploy up, run --stack, collect.

moto cannot run a Lambda function without Docker, so the LOCAL TRIGGER STANDS IN FOR LAMBDA:
the stack is deployed without its mapping (moto's would consume the stream), the trigger runs
the deployed handler (badge handler + delivery recorder, configured from the function's
environment) on the stack's stream, and does what Lambda does with the output: the function's
stdout goes to its CloudWatch Logs group and IteratorAge to CloudWatch. Then ``collect`` reads
them back as it would on AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from streamsim import analysis, load_run
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import WallClock
from streamsim.game.deliveries import DeliveryRecorder, delivery_line
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.workbench.cli import main
from streamsim.workbench.remote import parse_delivery, run_tables

ONFAILURE = (
    Path(__file__).parent / "events" / "powertools_dynamoStreamLambdaInvocationEvent_onfailure.json"
)
STREAM = "arn:aws:dynamodb:eu-central-1:123456789012:table/s-Plays/stream/x"


PLAY_IMAGE = {
    "player_id": {"S": "p"},
    "play_key": {"S": "2026-01-01T00:00:00.000Z#i"},
    "play_id": {"S": "i"},
    "game": {"S": "chess"},
    "played_at": {"S": "2026-01-01T00:00:00Z"},
    "tz": {"S": "UTC"},
    "score": {"N": "1"},
}


def _record(seq: str, created: float) -> dict[str, Any]:
    keys = {"player_id": {"S": "p"}, "play_key": {"S": seq}}
    return {
        "eventName": "INSERT",
        "eventSourceARN": STREAM,
        "dynamodb": {"SequenceNumber": seq, "ApproximateCreationDateTime": created, "Keys": keys},
    }


PLAY_EVENT = {
    "Records": [
        {**_record("3", 5.0), "dynamodb": {**_record("3", 5.0)["dynamodb"], "NewImage": PLAY_IMAGE}}
    ]
}


def _lines(records: list, request: str, start: float, end: float, failed: Any) -> list[dict]:
    return [
        parse_delivery(
            json.dumps(delivery_line(r, i, len(records), request, start, end, failed, "f"))
        )
        for i, r in enumerate(records)
    ]


def test_deliveries_become_the_run_folders_tables() -> None:
    a, b, c = _record("100", 10.0), _record("200", 10.0), _record("300", 11.0)
    rows = _lines([a, b], "r1", 12.0, 12.5, {"200"})  # 200 failed, reported
    rows += _lines([b], "r2", 14.0, 14.2, set())  # retried from 200: ok
    rows += _lines([c], "r3", 15.0, 15.1, None)  # raised
    rows += _lines([c], "r4", 16.0, 16.1, None)  # raised again, then given up
    from streamsim.workbench.remote import deliveries_frame

    message = json.loads(ONFAILURE.read_text())
    message["DDBStreamBatchInfo"] |= {
        "startSequenceNumber": "300",
        "endSequenceNumber": "300",
        "streamArn": STREAM,
    }
    tables = run_tables(pd.DataFrame(), deliveries_frame(rows), [message], STREAM)
    attempts = tables["attempts"].set_index("request_id")
    assert list(attempts["outcome"]) == ["partial", "success", "error", "error"]
    assert list(attempts["batch_id"]) == [1, 2, 3, 3]  # named by the first record
    assert list(attempts["attempt"]) == [1, 1, 1, 2] and list(attempts["retry"]) == [0, 0, 0, 1]
    assert attempts.loc["r1", "last_sequence_number"] == "200"
    disp = tables["dispositions"].set_index("sequence_number")
    assert disp.loc["100", "disposition"] == "processed" and disp.loc["100", "at"] == 12.5
    assert disp.loc["200", "at"] == 14.2 and disp.loc["200", "attempts"] == 2
    assert disp.loc["300", "disposition"] == "destination"
    assert disp.loc["300", "condition"] == message["requestContext"]["condition"]
    records = tables["records"].set_index("sequence_number")
    assert records.loc["200", "read_at"] == 12.0  # the first invocation's start: a bound
    assert records.loc["100", "keys"] == '{"play_key":{"S":"100"},"player_id":{"S":"p"}}'


def test_the_recorder_writes_a_line_per_record_even_when_the_handler_raises() -> None:
    lines: list[str] = []

    class Context:
        aws_request_id = "req-1"

    handler = BadgeHandler(None, recorder=DeliveryRecorder(emit=lines.append))
    # A MODIFY is skipped (ok); a record without images fails by sequence number.
    event = {"Records": [{**_record("1", 5.0), "eventName": "MODIFY"}, _record("2", 5.0)]}
    response = handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    docs = [json.loads(line) for line in lines]
    assert [(d["sequence_number"], d["Outcome"]) for d in docs] == [("1", "ok"), ("2", "failed")]
    assert {d["request_id"] for d in docs} == {"req-1"} and [d["position"] for d in docs] == [0, 1]
    assert docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "Deliveries", "Unit": "Count"}
    ]
    lines.clear()
    with pytest.raises(Exception, match="no Records list"):
        handler({"Records": None}, Context())
    assert lines == []  # nothing to record: no records

    class Down:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("the backend is down")

    broken = BadgeHandler(Down(), recorder=DeliveryRecorder(emit=lines.append))
    with pytest.raises(RuntimeError):
        broken(PLAY_EVENT, Context())
    assert [json.loads(line)["Outcome"] for line in lines] == ["error"]


def _stand_in_for_lambda(backend: Any, stack: str) -> Trigger:
    """Run the deployed function on the stack's stream with the local trigger (see module doc)."""
    from streamsim.game.deliveries import recorder_from_env
    from streamsim.workbench.deploy.template import (
        StackSettings,
        esm_properties,
        mapping_from_properties,
        resolve,
        stack_mapping,
    )
    from streamsim.workbench.remote import StackRefs
    from streamsim.workbench.runconfig import default_mapping

    refs = StackRefs.of(backend, stack)
    function = backend.client("lambda").get_function_configuration(FunctionName=refs.function)
    env = function["Environment"]["Variables"] | {"AWS_LAMBDA_FUNCTION_NAME": refs.function}
    deployed = stack_mapping(default_mapping(), StackSettings(name=stack))
    from streamsim.workbench.deploy.template import _sub

    mapping = mapping_from_properties(
        resolve(_sub(esm_properties(deployed)), backend.region, "123456789012")
    )
    assert isinstance(mapping, EventSourceMapping)
    from streamsim.aws.trigger.destinations import SqsDestination

    handler = BadgeHandler(
        backend.client("dynamodb"), HandlerSettings.from_env(env), recorder=recorder_from_env(env)
    )
    trigger = Trigger(
        mapping,
        handler,
        streams=backend.client("dynamodbstreams"),
        stream_arn=refs.stream_arn,
        clock=WallClock(),
        destination=SqsDestination(backend.client("sqs"), mapping.on_failure_destination),
        region=backend.region,
        function_name=refs.function,
    )
    try:
        assert trigger.run_until_drained(60)
    finally:
        trigger.close()
    # What Lambda does with an invocation's output and its batch's age.
    logs, cloudwatch = backend.client("logs"), backend.client("cloudwatch")
    logs.create_log_stream(logGroupName=refs.log_group, logStreamName="stand-in")
    created = {r.sequence_number: r.created_at for r in trigger.capture.records}
    for attempt in trigger.capture.attempts:
        logs.put_log_events(
            logGroupName=refs.log_group,
            logStreamName="stand-in",
            logEvents=[
                {"timestamp": int(attempt.completed_at * 1000), "message": line}
                for line in attempt.log_lines
            ],
        )
        age = attempt.completed_at - created[attempt.last_sequence_number]
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "IteratorAge",
                    "Dimensions": [{"Name": "FunctionName", "Value": refs.function}],
                    "Value": age * 1000,
                    "Unit": "Milliseconds",
                }
            ],
        )
    return trigger


@pytest.mark.slow
def test_run_on_a_stack_and_collect_it_into_a_run_folder(backend, tmp_path, capsys) -> None:
    endpoint = ["--endpoint-url", backend.endpoint_url]
    assert main(["deploy", "up", "--stack", "live", "--no-mapping", *endpoint]) == 0
    assert backend.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    folder = tmp_path / "run"
    argv = ["run", "--stack", "live", "--players", "3", "--days", "3", "--rate", "200"]
    assert main([*argv, "--out", str(folder), "--no-progress", *endpoint]) == 0
    assert "streamsim collect --stack live" in capsys.readouterr().out

    trigger = _stand_in_for_lambda(backend, "live")

    assert main(["collect", "--stack", "live", "--run", str(folder), *endpoint]) == 0
    run = load_run(folder)
    plays = len(run.plays)
    assert plays > 0
    assert run.summary["accounting"]["processed"] == plays
    assert run.summary["accounting"]["ok"], run.summary["accounting"]
    # The same invocations the stand-in made, under Lambda's request ids.
    assert sorted(run.attempts["request_id"]) == sorted(
        a.request_id for a in trigger.capture.attempts
    )
    assert (run.records["created_at"] % 1 == 0).all()  # AWS's whole seconds
    assert "rounded down" in run.config["clocks"]["created_at"]
    pct = analysis.latency_percentiles(run)
    assert "write_to_processed" in pct.index
    # notebook 02's other tables work unchanged on the collected run
    assert len(analysis.latency_steps(run)) == plays
    assert analysis.iterator_age(run)["iterator_age_seconds"].notna().all()
    assert analysis.throughput(run)["written"].sum() == plays
    ages = pd.read_parquet(folder / "iterator_age.parquet")
    assert len(ages) >= 1 and ages["maximum_ms"].max() >= 0
    assert run.destination == []
    # ... and notebook 02's comparison (compare_with): this machine's run next to the real one.
    from streamsim import Scenario, experiments, simulate

    said: list[str] = []
    local = simulate(Scenario(players=3, days=3, rate=200.0, seed=1))
    comparison = experiments.compare_with_run(local, folder, say=said.append)
    assert comparison is not None
    assert list(comparison.table.columns) == ["this machine", "AWS (stack live)"]
    assert comparison.table.loc["clock", "AWS (stack live)"] == "AWS clocks"
    assert comparison.table.loc["plays written", "AWS (stack live)"] == plays
    assert said and "rounded down to the second" in said[0]


def test_collect_refuses_a_folder_that_is_not_a_run_on_a_stack(tmp_path, capsys) -> None:
    assert main(["collect", "--stack", "s", "--run", str(tmp_path)]) == 2
    assert "is not a run on a stack" in capsys.readouterr().err


def test_run_on_a_stack_refuses_local_only_options(capsys) -> None:
    assert main(["run", "--stack", "s", "--faults", "poison=1"]) == 2
    assert "--faults does not apply with --stack" in capsys.readouterr().err


def test_run_on_a_missing_stack_is_one_line(backend, capsys) -> None:
    assert main(["run", "--stack", "gone", "--endpoint-url", backend.endpoint_url]) == 2
    assert "stack gone has no table gone-Plays" in capsys.readouterr().err
