"""The Lambda context object a handler receives, on the trigger's clock.

Field names follow the Python runtime's context (function_name, function_version,
invoked_function_arn, memory_limit_in_mb, aws_request_id, log_group_name, log_stream_name,
get_remaining_time_in_millis). docs.aws.amazon.com/lambda/latest/dg/python-context.html
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field

from streamsim.clock import Clock


@dataclass
class LambdaContext:
    """What ``handler(event, context)`` gets. ``spend`` is streamsim's own addition."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    clock: Clock = field(repr=False)
    started_at: float = 0.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    #: Seconds of work the handler declared with ``spend`` (advances the virtual clock).
    spent_seconds: float = 0.0

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"streamsim/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = (
            self.clock.now() - self.started_at + (self.spent_seconds if self.clock.virtual else 0.0)
        )
        return max(0, int((self.timeout_seconds - elapsed) * 1000))

    def spend(self, seconds: float) -> None:
        """Occupy the function for ``seconds`` on the trigger's clock: sleeps on the wall clock,
        advances the invocation's duration on the virtual clock (slow handlers, timeouts)."""
        self.spent_seconds += seconds
        if not self.clock.virtual:
            time.sleep(seconds)


class RequestIds:
    """Request ids for one invoker's invocations: UUID-shaped as AWS's (version 4, the RFC 4122
    variant) and unique per invocation. A random UUID is drawn once; each id keeps its first 80
    bits and counts up in its last 48 (from a random start), so an id is one formatted number
    instead of 16 random bytes and a ``UUID`` object (a few microseconds per batch at scale).
    AWS documents no more than a unique id per request (docs/aws-fidelity.md)."""

    def __init__(self) -> None:
        seed = uuid.uuid4()
        self._prefix = str(seed)[:24]  # "xxxxxxxx-xxxx-4xxx-Vxxx-": version and variant kept
        self._counter = itertools.count(seed.int & _LOW_48)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter) & _LOW_48:012x}"


_LOW_48 = (1 << 48) - 1


def function_arn(function_name: str, region: str, account: str = "123456789012") -> str:
    """arn:aws:lambda:REGION:ACCOUNT:function:NAME."""
    return f"arn:aws:lambda:{region}:{account}:function:{function_name}"
