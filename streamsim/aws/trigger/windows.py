"""Tumbling windows (TumblingWindowInSeconds 1–900): pure rules, the engine applies them.

AWS [T] (docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html, archived as
awsdocs/aws-lambda-developer-guide doc_source/with-ddb.md "Time windows"):
- "Lambda determines tumbling window boundaries based on the time when records were inserted
  into the stream": each record belongs to the window holding its ApproximateCreationDateTime.
- Each invocation gets ``window {start, end}``, ``state``, ``shardId``, ``eventSourceARN``,
  ``isFinalInvokeForWindow``, ``isWindowTerminatedEarly`` next to ``Records`` (the doc's
  "Example DynamodbTimeWindowEvent"; window times ISO 8601 UTC at whole seconds).
- "your Lambda function response must contain a state property. If the response does not
  contain a state property, Lambda considers this a failed invocation."
- "At the end of the window, the flag isFinalInvokeForWindow is set to true … After processing,
  the window completes … and then the state is dropped." "If invocation is unsuccessful, your
  Lambda function suspends further processing until a successful invocation."
- "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda terminates
  the window early." isWindowTerminatedEarly: "Subsequent invoke will continue the same window
  with a fresh state" (aws-lambda-go TimeWindowProperties, mirrored in aws_lambda_events).
- "When the shard ends, Lambda considers the window closed."
- "Tumbling windows fully support the existing retry policies maxRetryAttempts and maxRecordAge."

streamsim's choices where AWS is silent (docs/aws-fidelity.md): windows are aligned to
multiples of the window length since the epoch; a batch never spans two windows; the final
invocation is a separate invocation with ``Records: []`` once the window's end has passed and
every record of it was delivered (or the shard ended); an early termination is also a separate
invocation with no records, the oversized state and ``isWindowTerminatedEarly: true``; the first
invocation of a window gets ``state: {}``; ``state`` must be a JSON object; the state a handler
returns with a partial batch failure is kept (the handler aggregates only what it did not report
as failed); a failed invocation keeps the state from before it; state is kept per
parallelization lane (per shard with the default factor 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from streamsim.aws.trigger.onfailure import iso_seconds

#: "Your state can be a maximum of 1 MB per shard" [T]; the state's JSON size, in bytes.
MAX_STATE_BYTES = 1024 * 1024


def window_start(approximate_creation: float, seconds: int) -> float:
    """The start of the window holding a record created at ``approximate_creation`` [T]."""
    return math.floor(approximate_creation / seconds) * seconds


@dataclass
class Window:
    """One open window of a lane: its bounds and the state the handler last returned."""

    start: float
    end: float
    state: dict[str, Any] = field(default_factory=dict)
    #: The state outgrew MAX_STATE_BYTES: the next invocation terminates the window early.
    terminate_early: bool = False

    def fields(self, shard_id: str, stream_arn: str, *, final: bool, early: bool) -> dict[str, Any]:
        """The window fields of the invoke payload, in the doc example's order [T]. The state is
        a copy, as Lambda sends JSON: a handler mutating it cannot change what is kept."""
        return {
            "window": {"start": iso_seconds(self.start), "end": iso_seconds(self.end)},
            "state": json.loads(json.dumps(self.state)),
            "shardId": shard_id,
            "eventSourceARN": stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }

    def keep(self, response: Any) -> None:
        """Take the state from a successful (or partially failed) invocation's response."""
        state = response.get("state") if isinstance(response, dict) else None
        if isinstance(state, dict):
            self.state = state
            self.terminate_early = state_bytes(state) > MAX_STATE_BYTES


def state_bytes(state: Any) -> int:
    """The state's size as JSON text (UTF-8), compared with the 1 MB cap [T]."""
    return len(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())


def missing_state(response: Any) -> str | None:
    """Why a tumbling-window response fails the invocation, or None when it carries a state [T]."""
    if not isinstance(response, dict) or "state" not in response:
        return "a tumbling-window response must contain a state property"
    if not isinstance(response["state"], dict):
        return f"state must be a JSON object, got {type(response['state']).__name__}"
    return None
