"""What the deployed handler records per record it processes, for the workbench's analysis.

One CloudWatch Embedded Metric Format (EMF) log line per record of every invocation: the
record's SequenceNumber, ApproximateCreationDateTime, event name and keys; the invocation's
start and end (the function's clock), Lambda's request id and the record's position in the
batch (batch and attempt identity: a retry is a new request id for the same first record); and
the outcome (``ok``, ``failed`` when reported in ``batchItemFailures``, ``error`` when the
invocation raised). ``streamsim collect`` reads them back (streamsim.workbench.remote).

Why log lines and not a Deliveries table: a log line costs no DynamoDB write units (a table
would add one write request unit per record: as much as the play itself), needs no IAM grant
on a data table, cannot throttle or fail the batch, and adds no network call to the
invocation. Lambda ships stdout to CloudWatch Logs (log group ``/aws/lambda/<function>``);
the cost is log ingestion (about 400 bytes a record). EMF is the documented JSON shape that
CloudWatch turns into metrics: each line also counts one ``Deliveries`` data point per
outcome, so the dashboard needs no extra call.
[EMF] docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Set on the function (``STREAMSIM_DELIVERIES=emf``) to record deliveries.
DELIVERIES_ENV = "STREAMSIM_DELIVERIES"
#: The EMF namespace of the ``Deliveries`` metric and the marker ``collect`` looks for.
NAMESPACE = "streamsim"
MARKER = "streamsim_delivery"
#: The version of the line's fields: ``collect`` refuses lines it does not understand.
VERSION = 1


@dataclass(frozen=True)
class DeliveryRecorder:
    """Writes one EMF line per record of an invocation through ``emit`` (``print`` on Lambda)."""

    function_name: str = "streamsim-badges"
    emit: Callable[[str], None] = print

    def record(
        self,
        event: Any,
        context: Any,
        started: float,
        ended: float,
        failed: set[str] | None,
    ) -> None:
        """``failed``: the sequence numbers reported as failures; None: the invocation raised."""
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            return
        request_id = str(getattr(context, "aws_request_id", "") or "")
        for position, record in enumerate(records):
            self.emit(
                json.dumps(
                    delivery_line(
                        record,
                        position,
                        len(records),
                        request_id,
                        started,
                        ended,
                        failed,
                        self.function_name,
                    ),
                    separators=(",", ":"),
                )
            )


def delivery_line(
    record: Any,
    position: int,
    batch_size: int,
    request_id: str,
    started: float,
    ended: float,
    failed: set[str] | None,
    function_name: str,
) -> dict[str, Any]:
    """The EMF document for one record of one invocation."""
    stream = record.get("dynamodb") if isinstance(record, dict) else None
    stream = stream if isinstance(stream, dict) else {}
    sequence_number = stream.get("SequenceNumber")
    if failed is None:
        outcome = "error"
    elif sequence_number in failed:
        outcome = "failed"
    else:
        outcome = "ok"
    return {
        "_aws": {
            "Timestamp": int(ended * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName", "Outcome"]],
                    "Metrics": [{"Name": "Deliveries", "Unit": "Count"}],
                }
            ],
        },
        "FunctionName": function_name,
        "Outcome": outcome,
        "Deliveries": 1,
        MARKER: VERSION,
        "request_id": request_id,
        "position": position,
        "batch_size": batch_size,
        "sequence_number": sequence_number,
        "approximate_creation_date_time": stream.get("ApproximateCreationDateTime"),
        "event_name": record.get("eventName") if isinstance(record, dict) else None,
        "keys": stream.get("Keys"),
        "event_source_arn": record.get("eventSourceARN") if isinstance(record, dict) else None,
        "invocation_start": started,
        "invocation_end": ended,
    }


def recorder_from_env(env: Mapping[str, str] = os.environ) -> DeliveryRecorder | None:
    """The recorder the function's environment asks for (``STREAMSIM_DELIVERIES=emf``), or None."""
    if env.get(DELIVERIES_ENV, "") != "emf":
        return None
    return DeliveryRecorder(function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", "streamsim-badges"))
