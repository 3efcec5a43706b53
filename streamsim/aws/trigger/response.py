"""Reading a handler's answer: success, a partial batch failure, or a whole-batch failure.

With FunctionResponseTypes ["ReportBatchItemFailures"] the handler returns
``{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}`` [B]. Lambda checkpoints at
the lowest failed sequence number and retries from there. An empty or null list, an empty or
null response: success. An empty or null identifier, a wrongly named key, or a sequence number
not in the batch: the whole batch failed [B, R]. Without ReportBatchItemFailures the return
value is ignored [B]. streamsim's choice where [B] is silent: a response that is not a JSON
object (e.g. the blog's string) reports no failures, so it is a success.
[B] docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class BatchVerdict:
    """``failed_from``: the lowest failed sequence number (partial); ``invalid``: why the
    response failed the whole batch."""

    failed_from: str | None = None
    invalid: str | None = None

    @property
    def success(self) -> bool:
        return self.failed_from is None and self.invalid is None


def judge_response(
    response: Any, sequence_numbers: Sequence[str], report_batch_item_failures: bool
) -> BatchVerdict:
    """The verdict on a handler's return value for a batch with these sequence numbers."""
    if not report_batch_item_failures or not isinstance(response, dict) or not response:
        return BatchVerdict()
    failures = response.get("batchItemFailures")
    if failures is None:
        return BatchVerdict()
    if not isinstance(failures, list):
        return BatchVerdict(invalid=f"batchItemFailures is a {type(failures).__name__}, not a list")
    in_batch = set(sequence_numbers)
    failed: list[int] = []
    for item in failures:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            return BatchVerdict(invalid=f"batch item failure {item!r} has no itemIdentifier key")
        identifier = item["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier:
            return BatchVerdict(invalid=f"itemIdentifier {identifier!r} is empty or not a string")
        if identifier not in in_batch:
            return BatchVerdict(
                invalid=f"itemIdentifier {identifier!r} is not a sequence number in the batch"
            )
        failed.append(int(identifier))
    if not failed:
        return BatchVerdict()
    return BatchVerdict(failed_from=str(min(failed)))
