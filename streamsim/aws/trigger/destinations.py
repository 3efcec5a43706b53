"""On-failure destinations: where a discarded batch's on-failure record goes [E].

An SQS queue, SNS topic or S3 bucket on the same backend (the emulated path), or a list in
memory for virtual-time scenarios. SQS gets the record as the message body and SNS as the
notification's Message [R]; S3 gets one object per record (with the payload) under
``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`` [E].
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html · [R] LocalStack's AWS
recordings test_dynamodb_event_source_mapping_with_{on_failure_destination_config,
sns_on_failure_destination_config, s3_on_failure_destination}.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from streamsim.aws.trigger.onfailure import s3_object_key
from streamsim.errors import ConfigError


class Destination(Protocol):
    arn: str

    def send(self, message: dict[str, Any]) -> None: ...


@dataclass
class MemoryDestination:
    """Keeps on-failure records in a list."""

    arn: str = "arn:aws:sqs:eu-central-1:123456789012:streamsim-on-failure"
    messages: list[dict[str, Any]] = field(default_factory=list)

    def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


class SqsDestination:
    """An SQS queue named by its ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) on the backend."""

    def __init__(self, sqs: Any, arn: str) -> None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise ConfigError(f"on-failure destination {arn!r} is not an SQS queue ARN")
        self.arn = arn
        self._sqs = sqs
        self.queue_url = sqs.get_queue_url(QueueName=parts[5])["QueueUrl"]

    def send(self, message: dict[str, Any]) -> None:
        self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))

    def receive_all(self, max_messages: int = 10_000) -> list[dict[str, Any]]:
        """Drain the queue (for tests and run capture)."""
        out: list[dict[str, Any]] = []
        while len(out) < max_messages:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return out


def create_queue(sqs: Any, name: str) -> str:
    """Create an SQS queue on the backend; return its ARN."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return str(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )


class SnsDestination:
    """An SNS topic named by its ARN on the backend: the record is the notification's Message."""

    def __init__(self, sns: Any, arn: str) -> None:
        if arn.split(":")[2:3] != ["sns"]:
            raise ConfigError(f"on-failure destination {arn!r} is not an SNS topic ARN")
        self.arn = arn
        self._sns = sns
        sns.get_topic_attributes(TopicArn=arn)  # raises NotFound when the topic is missing

    def send(self, message: dict[str, Any]) -> None:
        self._sns.publish(TopicArn=self.arn, Message=json.dumps(message))


class S3Destination:
    """An S3 bucket (arn:aws:s3:::BUCKET): one object per on-failure record, named as AWS
    names it [E]; the record carries the invocation payload (onfailure.build_on_failure_record
    adds it for S3 ARNs)."""

    def __init__(self, s3: Any, arn: str, mapping_id: str) -> None:
        if not arn.startswith("arn:") or arn.split(":")[2:3] != ["s3"]:
            raise ConfigError(f"on-failure destination {arn!r} is not an S3 bucket ARN")
        self.arn = arn
        self.bucket = arn.rsplit(":", 1)[1]
        self.mapping_id = mapping_id
        self._s3 = s3
        s3.head_bucket(Bucket=self.bucket)  # raises when the bucket is missing

    def send(self, message: dict[str, Any]) -> None:
        moment = datetime.strptime(message["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        key = s3_object_key(
            self.mapping_id,
            message["DDBStreamBatchInfo"]["shardId"],
            moment.replace(tzinfo=timezone.utc).timestamp(),
            str(uuid.uuid4()),
        )
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(message).encode())
