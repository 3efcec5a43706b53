"""The on-failure destination record Lambda sends when it discards a DynamoDB stream batch.

When retries or record age run out, Lambda discards the batch, sends a JSON document describing
it to the mapping's on-failure destination, and moves on [E]. The record names the shard and the
first and last sequence numbers so the records can be read back from the stream before they
expire; it does not contain them, except for S3 destinations, whose record adds ``payload``: the
invocation payload itself, a JSON object ``{"Records": [...]}`` ("For Amazon S3 destinations,
Lambda also sends the entire invocation record along with the metadata" [E]; the object form is
what AWS stored in a real recording [R-S3]).

Shape and formats, from AWS's own example [E] and a real-AWS recording [R]::

    {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion", "functionError"},  # not for age [R-K]
     "version": "1.0",
     "timestamp": "2019-11-14T00:13:49.717Z",              # milliseconds [E, R]
     "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
                            "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",  # seconds
                            "approximateArrivalOfLastRecord", "batchSize", "streamArn"},
     "payload": {"Records": [...]}}                        # S3 only [E, R-S3]

``responseContext.functionError`` is ``"Unhandled"`` when the function raised (or timed out:
the Invoke API reports a timeout as an unhandled error) and JSON ``null``, the key present, when
it returned normally but the batch still failed (a partial batch failure, an invalid item
identifier) [R]. A ``RecordAgeExceeded`` record has no ``responseContext`` and its
``approximateInvokeCount`` is 1 in every AWS recording, even for a record never invoked [R-K].

Pure: no clock, no randomness. The caller passes the discard time; the request id, unless given,
is a UUID derived from the batch so reruns are identical.

Sources: [E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html ·
[R] LocalStack ``test_lambda_integration_dynamodbstreams.snapshot.json``
(``test_dynamodb_event_source_mapping_with_on_failure_destination_config``,
``test_dynamodb_report_batch_item_failures``, recorded on AWS) · [R-S3] the same file,
``test_dynamodb_event_source_mapping_with_s3_on_failure_destination`` · [R-K] LocalStack
``test_lambda_integration_kinesis.snapshot.json`` ``test_kinesis_maximum_record_age_exceeded*``
(the same mapping engine, recorded on AWS 2025-04-13).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from streamsim.errors import EventParseError

#: ``version`` of every record [E].
RECORD_VERSION = "1.0"
#: ``executedVersion`` when the unqualified function ran [E].
LATEST_VERSION = "$LATEST"
#: ``functionError`` for an error the function did not catch [E, R].
UNHANDLED = "Unhandled"
#: ``approximateInvokeCount`` of a ``RecordAgeExceeded`` record in every AWS recording [R-K].
RECORD_AGE_INVOKE_COUNT = 1


class FailureCondition(str, Enum):
    """Why a batch was discarded: ``requestContext.condition``.

    - ``RetryAttemptsExhausted``: MaximumRetryAttempts used up. AWS's example [E] and a real-AWS
      recording [R] show it.
    - ``RecordAgeExceeded``: MaximumRecordAgeInSeconds passed. AWS documents no example of this
      value; it is the string LocalStack's event source mapping emulator sends. Unverified
      against AWS.
    """

    RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
    RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


def build_on_failure_record(
    *,
    records: Sequence[Mapping[str, Any]],
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    condition: FailureCondition | str,
    approximate_invoke_count: int,
    timestamp: float,
    status_code: int | None = 200,
    function_error: str | None = UNHANDLED,
    executed_version: str = LATEST_VERSION,
    request_id: str | None = None,
    destination_arn: str | None = None,
    include_payload: bool | None = None,
) -> dict[str, Any]:
    """The JSON document Lambda sends to the on-failure destination for a discarded batch [E].

    ``records`` are the batch's Lambda event records in stream order (each with
    ``dynamodb.SequenceNumber`` and ``dynamodb.ApproximateCreationDateTime``); ``timestamp`` is
    the discard time in epoch seconds from the caller's clock. ``status_code=None`` leaves out
    ``responseContext`` (AWS's ``RecordAgeExceeded`` records [R-K]), and
    ``function_error=None`` writes ``"functionError": null`` (the function returned normally,
    e.g. a partial batch failure [R]). The ``payload`` is added for S3: pass
    ``destination_arn`` (an ``arn:…:s3:::`` ARN adds it) or force it with ``include_payload``.
    """
    if not records:
        raise ValueError("an on-failure record describes at least one record; the batch is empty")
    reason = _condition(condition)
    if isinstance(approximate_invoke_count, bool) or not isinstance(approximate_invoke_count, int):
        raise TypeError(
            f"approximate_invoke_count must be an int, got {approximate_invoke_count!r}"
        )
    if approximate_invoke_count < 0:
        raise ValueError(f"approximate_invoke_count must be >= 0, got {approximate_invoke_count}")
    first, last = records[0], records[-1]
    start_sequence = _sequence_number(first, 0)
    end_sequence = _sequence_number(last, len(records) - 1)
    if request_id is None:
        request_id = derived_request_id(
            stream_arn, shard_id, start_sequence, end_sequence, approximate_invoke_count, timestamp
        )
    message: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": reason.value,
            "approximateInvokeCount": approximate_invoke_count,
        },
    }
    if status_code is not None:
        message["responseContext"] = {
            "statusCode": status_code,
            "executedVersion": executed_version,
            "functionError": function_error,  # null (key present) when it returned [R]
        }
    message["version"] = RECORD_VERSION
    message["timestamp"] = iso_millis(timestamp)
    message["DDBStreamBatchInfo"] = {
        "shardId": shard_id,
        "startSequenceNumber": start_sequence,
        "endSequenceNumber": end_sequence,
        "approximateArrivalOfFirstRecord": iso_seconds(_arrival(first, 0)),
        "approximateArrivalOfLastRecord": iso_seconds(_arrival(last, len(records) - 1)),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    if include_payload is None:
        include_payload = destination_arn is not None and is_s3_arn(destination_arn)
    if include_payload:
        message["payload"] = {"Records": [dict(r) for r in records]}
    return message


def s3_object_key(esm_uuid: str, shard_id: str, timestamp: float, object_uuid: str) -> str:
    """Key of the S3 object holding the record:
    ``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`` [E]."""
    moment = _utc(timestamp)
    return (
        f"aws/lambda/{esm_uuid}/{shard_id}/{moment:%Y/%m/%d}/"
        f"{moment:%Y-%m-%dT%H.%M.%S}-{object_uuid}"
    )


def is_s3_arn(arn: str) -> bool:
    """Whether a destination ARN names an S3 bucket (whose record carries the payload) [E]."""
    parts = arn.split(":", 3)
    return len(parts) == 4 and parts[0] == "arn" and parts[2] == "s3"


def derived_request_id(
    stream_arn: str,
    shard_id: str,
    start_sequence: str,
    end_sequence: str,
    invoke_count: int,
    timestamp: float,
) -> str:
    """A UUID fixed by the batch and discard time: deterministic where AWS uses a random one."""
    name = "|".join(
        [stream_arn, shard_id, start_sequence, end_sequence, str(invoke_count), repr(timestamp)]
    )
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "streamsim:on-failure:" + name))


def iso_millis(epoch_seconds: float) -> str:
    """``2019-11-14T00:13:49.717Z``: the record's ``timestamp`` form [E, R]."""
    moment = _utc(epoch_seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def iso_seconds(epoch_seconds: float) -> str:
    """``2019-11-14T00:13:19Z``: the ``approximateArrival…`` form, whole seconds [E, R]."""
    return f"{_utc(epoch_seconds):%Y-%m-%dT%H:%M:%S}Z"


def _utc(epoch_seconds: float) -> datetime:
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, int | float):
        raise TypeError(f"expected epoch seconds as a number, got {epoch_seconds!r}")
    if not math.isfinite(epoch_seconds):
        raise ValueError(f"expected finite epoch seconds, got {epoch_seconds!r}")
    # Integer milliseconds first, so 0.717 renders as .717 and never as .716999.
    millis = round(epoch_seconds * 1000)
    return datetime.fromtimestamp(millis // 1000, tz=timezone.utc).replace(
        microsecond=(millis % 1000) * 1000
    )


def _condition(condition: FailureCondition | str) -> FailureCondition:
    try:
        return FailureCondition(condition)
    except ValueError:
        allowed = ", ".join(c.value for c in FailureCondition)
        raise ValueError(f"condition {condition!r} is not one of {allowed}") from None


def _dynamodb(record: Mapping[str, Any], index: int) -> Mapping[str, Any]:
    body = record.get("dynamodb") if isinstance(record, Mapping) else None
    if not isinstance(body, Mapping):
        raise EventParseError(f"batch record {index} has no 'dynamodb' object")
    return body


def _sequence_number(record: Mapping[str, Any], index: int) -> str:
    value = _dynamodb(record, index).get("SequenceNumber")
    if not isinstance(value, str) or not value:
        raise EventParseError(f"batch record {index} has no dynamodb.SequenceNumber string")
    return value


def _arrival(record: Mapping[str, Any], index: int) -> float:
    """``ApproximateCreationDateTime``: epoch seconds in the Lambda event [R]; a numeric string
    (as in AWS's filtering example) or a datetime (as boto3's GetRecords returns) also work."""
    value = _dynamodb(record, index).get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise EventParseError(
        f"batch record {index} has no usable dynamodb.ApproximateCreationDateTime: {value!r}"
    )
