"""On-failure destinations: where a discarded batch's on-failure record goes [E].

SQS on the same backend (the emulated path), or a list in memory for virtual-time scenarios.
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

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
