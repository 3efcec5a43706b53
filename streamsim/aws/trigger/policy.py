"""The failure policy of a DynamoDB event source mapping, as pure decisions.

After each invocation the engine asks ``next_step`` what to do; before each invocation it asks
``expiry`` whether the batch may still be delivered. Facts [E]: a function error retries the
whole batch until it succeeds, MaximumRetryAttempts are used up (invocations = retries + 1),
the oldest record passes MaximumRecordAgeInSeconds, or, with the defaults (-1), the record
expires from the stream (24 h retention [S]). BisectBatchOnFunctionError splits a failed batch
in two, and a split does not count as a retry [E]. With ReportBatchItemFailures Lambda
checkpoints at the lowest failed sequence number and retries from there; with bisect too, the
batch is split at that sequence number and only the rest is retried [B].
Not documented by AWS, and so streamsim's explicit choices (configurable in TriggerTiming):
the backoff between retries (exponential), that a split batch's halves run immediately and
inherit the retry count, that a partial failure counts as a retry, and that a batch whose
records expire at 24 h is reported to the on-failure destination as RecordAgeExceeded.
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
[B] docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


class Action(str, Enum):
    DONE = "done"
    RETRY = "retry"
    RETRY_FROM = "retry_from"
    BISECT = "bisect"
    DISCARD = "discard"


@dataclass(frozen=True)
class Step:
    """What to do next. ``retries`` is the batch's retry count after this step."""

    action: Action
    retries: int
    delay_seconds: float = 0.0
    from_sequence_number: str | None = None
    condition: str | None = None


def next_step(
    *,
    outcome: str,
    batch_size: int,
    retries: int,
    failed_from: str | None,
    maximum_retry_attempts: int,
    bisect: bool,
    backoff_seconds: float,
) -> Step:
    """Decide after one invocation of a batch of ``batch_size`` records with ``retries`` so far.

    ``backoff_seconds`` is the delay to use if this step retries (the caller computes it from the
    retry number, see TriggerTiming.backoff_delay).
    """
    if outcome == "success":
        return Step(Action.DONE, retries)
    if outcome == "partial":
        # Records before the lowest failed one are checkpointed; the rest is retried [B].
        used = retries + 1
        if _exhausted(used, maximum_retry_attempts):
            return Step(
                Action.DISCARD,
                used,
                from_sequence_number=failed_from,
                condition=RETRY_ATTEMPTS_EXHAUSTED,
            )
        return Step(Action.RETRY_FROM, used, backoff_seconds, from_sequence_number=failed_from)
    if bisect and batch_size > 1:
        return Step(Action.BISECT, retries)  # a split is not a retry [E]
    used = retries + 1
    if _exhausted(used, maximum_retry_attempts):
        return Step(Action.DISCARD, used, condition=RETRY_ATTEMPTS_EXHAUSTED)
    return Step(Action.RETRY, used, backoff_seconds)


def expiry(
    *,
    oldest_created_at: float,
    now: float,
    maximum_record_age_in_seconds: int,
    retention_seconds: float,
) -> str | None:
    """The on-failure condition if the batch may no longer be delivered, else None."""
    age = now - oldest_created_at
    if maximum_record_age_in_seconds != -1 and age > maximum_record_age_in_seconds:
        return RECORD_AGE_EXCEEDED
    if age >= retention_seconds:
        return RECORD_AGE_EXCEEDED
    return None


def _exhausted(retries_used: int, maximum_retry_attempts: int) -> bool:
    return maximum_retry_attempts != -1 and retries_used > maximum_retry_attempts


def split_in_two(size: int) -> int:
    """Where BisectBatchOnFunctionError splits a batch: the first half gets the extra record."""
    return (size + 1) // 2
