"""The on-failure destination record for a discarded DynamoDB batch, against AWS's examples."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from streamsim.aws.trigger.onfailure import (
    FailureCondition,
    build_on_failure_record,
    derived_request_id,
    is_s3_arn,
    iso_millis,
    iso_seconds,
    s3_object_key,
)
from streamsim.errors import EventParseError

SAMPLE = (
    Path(__file__).parent / "events" / "powertools_dynamoStreamLambdaInvocationEvent_onfailure.json"
)
EXPECTED = json.loads(SAMPLE.read_text(encoding="utf-8"))
STREAM_ARN = "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
FUNCTION_ARN = "arn:aws:lambda:us-east-2:123456789012:function:myfunction"
SHARD = "shardId-00000001573689847184-864758bb"
ARRIVAL = 1573690399.0  # 2019-11-14T00:13:19Z
DISCARDED = 1573690429.0  # 2019-11-14T00:13:49Z

#: AWS's documented example (services-dynamodb-errors.html) [E]: the sample with milliseconds.
DOCS_EXAMPLE = {**EXPECTED, "timestamp": "2019-11-14T00:13:49.717Z"}


def record(sequence: str, created: Any = ARRIVAL) -> dict[str, Any]:
    return {
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-2",
        "dynamodb": {
            "ApproximateCreationDateTime": created,
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Id": {"N": "101"}},
            "SequenceNumber": sequence,
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }


def build(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "records": [record("800000000003126276362")],
        "shard_id": SHARD,
        "stream_arn": STREAM_ARN,
        "function_arn": FUNCTION_ARN,
        "condition": FailureCondition.RETRY_ATTEMPTS_EXHAUSTED,
        "approximate_invoke_count": 1,
        "timestamp": DISCARDED,
        "request_id": EXPECTED["requestContext"]["requestId"],
    }
    params.update(changes)
    return build_on_failure_record(**params)


def key_tree(value: Any) -> Any:
    """The nested key structure of a JSON document, in order."""
    if isinstance(value, dict):
        return [(k, key_tree(v)) for k, v in value.items()]
    return type(value).__name__


def test_matches_the_sample_key_for_key() -> None:
    message = build()
    assert key_tree(message) == key_tree(EXPECTED)
    # Every value is the sample's; the timestamp is the same instant with AWS's milliseconds
    assert {**message, "timestamp": None} == {**EXPECTED, "timestamp": None}
    assert message["timestamp"] == "2019-11-14T00:13:49.000Z"
    assert _parse(message["timestamp"]) == _parse(EXPECTED["timestamp"])


def test_reproduces_the_aws_documentation_example_exactly() -> None:
    assert build(timestamp=DISCARDED + 0.717) == DOCS_EXAMPLE
    assert json.loads(json.dumps(build())) == build()


def test_a_batch_of_several_records() -> None:
    records = [record("100", ARRIVAL), record("200", ARRIVAL + 1.5), record("300", ARRIVAL + 61)]
    info = build(records=records, approximate_invoke_count=4)["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == "100"
    assert info["endSequenceNumber"] == "300"
    assert info["approximateArrivalOfFirstRecord"] == "2019-11-14T00:13:19Z"
    assert info["approximateArrivalOfLastRecord"] == "2019-11-14T00:14:20Z"
    assert info["batchSize"] == 3


def test_sqs_and_sns_records_carry_no_payload_s3_records_do() -> None:
    records = [record("100"), record("200")]
    for arn in ("arn:aws:sqs:us-east-2:123456789012:dlq", "arn:aws:sns:us-east-2:123456789012:t"):
        assert "payload" not in build(records=records, destination_arn=arn)
    message = build(records=records, destination_arn="arn:aws:s3:::failures")
    assert list(message)[-1] == "payload"
    # The invocation payload as a JSON object, as AWS stored it (LocalStack's recording
    # test_dynamodb_event_source_mapping_with_s3_on_failure_destination) [R].
    assert message["payload"] == {"Records": records}
    assert "payload" in build(include_payload=True)
    assert "payload" not in build(destination_arn="arn:aws:s3:::failures", include_payload=False)


def test_record_age_condition_and_response_variants() -> None:
    message = build(condition="RecordAgeExceeded", approximate_invoke_count=0, status_code=None)
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert "responseContext" not in message
    # The function returned normally (partial batch failure): functionError is null, the key
    # present, as in AWS's recording test_dynamodb_report_batch_item_failures [R].
    partial = build(function_error=None)["responseContext"]
    assert partial == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None}
    assert '"functionError": null' in json.dumps(build(function_error=None))
    assert {c.value for c in FailureCondition} == {"RetryAttemptsExhausted", "RecordAgeExceeded"}
    with pytest.raises(ValueError, match="condition 'Timeout' is not one of"):
        build(condition="Timeout")


def test_request_id_is_deterministic_and_distinct() -> None:
    first = build(request_id=None)["requestContext"]["requestId"]
    assert first == build(request_id=None)["requestContext"]["requestId"]
    assert first != build(request_id=None, timestamp=DISCARDED + 1)["requestContext"]["requestId"]
    assert first == derived_request_id(
        STREAM_ARN, SHARD, "800000000003126276362", "800000000003126276362", 1, DISCARDED
    )
    assert len(first) == 36


def test_arrival_times_from_strings_and_datetimes() -> None:
    as_text = build(records=[record("1", "1573690399.0")])
    as_datetime = build(records=[record("1", datetime.fromtimestamp(ARRIVAL, tz=timezone.utc))])
    for message in (as_text, as_datetime):
        assert (
            message["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"]
            == "2019-11-14T00:13:19Z"
        )


@pytest.mark.parametrize(
    ("records", "error"),
    [
        ([], ValueError),
        ([{"eventName": "INSERT"}], EventParseError),
        ([record("")], EventParseError),
        ([record("1", created="soon")], EventParseError),
        ([record("1", created=None)], EventParseError),
    ],
)
def test_bad_batches_are_refused(records: list[Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        build(records=records)


def test_invoke_count_must_be_a_count() -> None:
    with pytest.raises(TypeError):
        build(approximate_invoke_count=True)
    with pytest.raises(ValueError):
        build(approximate_invoke_count=-1)


def test_time_formats() -> None:
    assert iso_millis(0) == "1970-01-01T00:00:00.000Z"
    assert iso_millis(DISCARDED + 0.717) == "2019-11-14T00:13:49.717Z"
    assert iso_millis(DISCARDED + 0.9996) == "2019-11-14T00:13:50.000Z"
    assert iso_seconds(ARRIVAL + 0.999) == "2019-11-14T00:13:19Z"
    with pytest.raises(ValueError):
        iso_millis(float("nan"))
    with pytest.raises(TypeError):
        iso_millis("0")  # type: ignore[arg-type]


def test_s3_object_key_convention() -> None:
    # aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID> [E]
    key = s3_object_key("esm-1", SHARD, DISCARDED, "obj-1")
    assert key == f"aws/lambda/esm-1/{SHARD}/2019/11/14/2019-11-14T00.13.49-obj-1"
    assert is_s3_arn("arn:aws:s3:::failures")
    assert not is_s3_arn("arn:aws:sqs:us-east-2:123456789012:s3")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
