"""Witnesses of a run that do not take the trigger's word: the handler, the destination, the stream.

The trigger logs a disposition for every record (processed, filtered, destination); a trigger
bug can log "processed" for a record it never delivered, or "destination" for one it never
sent. The verdict (streamsim.workbench.analysis.accounting) therefore compares three sources
that share no code with that log:

- ``HandlerWitness`` wraps whatever handler is attached (outermost, in the handler's own
  thread) and records each invocation: the records it received (sequence numbers, keys,
  play ids) and what came back: a return value, an exception (any ``BaseException``), or a
  return after the function's deadline. A record is *processed* when an invocation that
  received it returned in time, and the answer leaves it before the lowest reported failure:
  AWS checkpoints at the lowest failed sequence number and retries from there [B], so records
  behind a failure are not done. An invalid answer fails the whole batch [B].
- ``read_queue`` reads the on-failure queue back after the run (ReceiveMessage until empty):
  the messages' ``DDBStreamBatchInfo`` ranges say which records really reached it [E].
- ``read_stream`` reads the stream back after the run with a fresh reader (TRIM_HORIZON on
  every shard): every record, including those of ambiguous writes the writer believes failed.

[B] docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

Handler = Callable[[dict[str, Any], Any], Any]

#: Columns of the witness tables in a run folder.
HANDLER_COLUMNS = (
    "invocation",
    "position",
    "sequence_number",
    "keys",
    "play_id",
    "outcome",
    "started_at",
    "ended_at",
    "error_type",
)
STREAM_COLUMNS = (
    "shard_id",
    "sequence_number",
    "event_name",
    "keys",
    "play_id",
    "player_id",
    "image",
)
DESTINATION_COLUMNS = (
    "shard_id",
    "start_sequence_number",
    "end_sequence_number",
    "batch_size",
    "condition",
)

#: Per-record outcomes the handler witness records.
SUCCESS = "success"  # returned in time, before the lowest reported failure
REPORTED_FAILED = "reported-failed"  # at or behind the lowest failure in batchItemFailures
RAISED = "raised"  # the handler raised (any BaseException, SystemExit included)
LATE = "late"  # returned after the function's deadline: Lambda would have timed it out
INVALID = "invalid-response"  # an answer that fails the whole batch [B]
IN_FLIGHT = "in-flight"  # still running when the run was collected (a hung handler)


@dataclass(frozen=True)
class Received:
    """One record of one invocation as the handler witness saw it."""

    invocation: int
    position: int
    sequence_number: str
    keys: str
    play_id: str | None
    outcome: str
    started_at: float
    ended_at: float | None
    error_type: str | None


class HandlerWitness:
    """Wraps a handler; records what it received and what it returned, record by record.

    ``report_batch_item_failures``: the mapping's FunctionResponseTypes (without it the return
    value is ignored [B]). ``now``: the witness's own time source (the handler's clock).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        report_batch_item_failures: bool,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.handler = handler
        self.report_batch_item_failures = report_batch_item_failures
        self.now = now
        self._lock = threading.Lock()
        self._invocations: list[list[Received]] = []

    def __call__(self, event: Any, context: Any) -> Any:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            return self.handler(event, context)
        started = self.now()
        with self._lock:
            number = len(self._invocations)
            self._invocations.append(
                [
                    _received(number, i, r, IN_FLIGHT, started, None, None)
                    for i, r in enumerate(records)
                ]
            )
        try:
            response = self.handler(event, context)
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised unchanged
            self._settle(number, records, [RAISED] * len(records), type(exc).__name__)
            raise
        late = _remaining_ms(context) <= 0
        outcomes = [LATE] * len(records) if late else self._judge(response, records)
        self._settle(number, records, outcomes, None)
        return response

    def _judge(self, response: Any, records: list[Any]) -> list[str]:
        seqs = [_seq(r) for r in records]
        try:
            json.dumps(response)
        except (TypeError, ValueError):
            return [INVALID] * len(records)
        if not self.report_batch_item_failures or not isinstance(response, dict):
            return [SUCCESS] * len(records)
        failures = response.get("batchItemFailures")
        if not failures:
            return [SUCCESS] * len(records)
        if not isinstance(failures, list):
            return [INVALID] * len(records)
        listed = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in seqs:
                return [INVALID] * len(records)
            listed.append(seqs.index(identifier))
        first_failed = min(listed)
        return [SUCCESS if i < first_failed else REPORTED_FAILED for i in range(len(records))]

    def _settle(
        self, number: int, records: list[Any], outcomes: list[str], error: str | None
    ) -> None:
        ended = self.now()
        with self._lock:
            started = self._invocations[number][0].started_at if records else ended
            self._invocations[number] = [
                _received(number, i, r, outcome, started, ended, error)
                for i, (r, outcome) in enumerate(zip(records, outcomes, strict=True))
            ]

    def frame(self) -> pd.DataFrame:
        """One row per record per invocation (the ``handler_witness`` table)."""
        with self._lock:
            rows = [asdict(r) for invocation in self._invocations for r in invocation]
        return pd.DataFrame(rows, columns=list(HANDLER_COLUMNS))


def read_stream(streams: Any, stream_arn: str, *, empty_pages: int = 3) -> pd.DataFrame:
    """Every record of every shard, read from TRIM_HORIZON with a fresh reader.

    An open shard is read until ``empty_pages`` pages in a row come back empty (GetRecords may
    return an empty page before the tip); a closed shard until it has no next iterator.
    """
    rows: list[dict[str, Any]] = []
    for shard_id in _shard_ids(streams, stream_arn):
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        empty = 0
        while iterator and empty < empty_pages:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            empty = 0 if records else empty + 1
            for record in records:
                change = record.get("dynamodb", {})
                image = change.get("NewImage") or {}
                rows.append(
                    {
                        "shard_id": shard_id,
                        "sequence_number": str(change.get("SequenceNumber")),
                        "event_name": record.get("eventName"),
                        "keys": json.dumps(change.get("Keys"), sort_keys=True),
                        "play_id": image.get("play_id", {}).get("S"),
                        "player_id": image.get("player_id", {}).get("S"),
                        "image": json.dumps(image, sort_keys=True),
                    }
                )
            iterator = page.get("NextShardIterator")
    return pd.DataFrame(rows, columns=list(STREAM_COLUMNS))


def _shard_ids(streams: Any, stream_arn: str) -> list[str]:
    ids: list[str] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        ids += [shard["ShardId"] for shard in description.get("Shards", [])]
        last = description.get("LastEvaluatedShardId")
        if not last:
            return ids
        kwargs["ExclusiveStartShardId"] = last


def read_queue(sqs: Any, queue_url: str, *, empty_pages: int = 2) -> list[dict[str, Any]]:
    """Every message in the queue (received, then deleted: the run is over)."""
    out: list[dict[str, Any]] = []
    empty = 0
    while empty < empty_pages:
        page = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        )
        messages = page.get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return out


def destination_frame(messages: list[dict[str, Any]]) -> pd.DataFrame:
    """The batch ranges the destination holds (the ``destination_witness`` table)."""
    rows = []
    for message in messages:
        info = message.get("DDBStreamBatchInfo") if isinstance(message, dict) else None
        if not isinstance(info, dict):
            continue
        rows.append(
            {
                "shard_id": str(info.get("shardId")),
                "start_sequence_number": str(info.get("startSequenceNumber")),
                "end_sequence_number": str(info.get("endSequenceNumber")),
                "batch_size": int(info.get("batchSize") or 0),
                "condition": str((message.get("requestContext") or {}).get("condition")),
            }
        )
    return pd.DataFrame(rows, columns=list(DESTINATION_COLUMNS))


def at_destination(sequence_number: str, shard_id: str | None, destination: pd.DataFrame) -> bool:
    """True when a message the destination holds covers this record (same shard, in range)."""
    seq = int(sequence_number)
    for row in destination.itertuples(index=False):
        if shard_id is not None and row.shard_id != shard_id:
            continue
        if int(row.start_sequence_number) <= seq <= int(row.end_sequence_number):
            return True
    return False


def _received(
    number: int,
    position: int,
    record: Any,
    outcome: str,
    started: float,
    ended: float | None,
    error: str | None,
) -> Received:
    change = record.get("dynamodb", {}) if isinstance(record, dict) else {}
    image = change.get("NewImage") or {} if isinstance(change, dict) else {}
    play = image.get("play_id") if isinstance(image, dict) else None
    return Received(
        invocation=number,
        position=position,
        sequence_number=_seq(record),
        keys=json.dumps(change.get("Keys") if isinstance(change, dict) else None, sort_keys=True),
        play_id=play.get("S") if isinstance(play, dict) else None,
        outcome=outcome,
        started_at=started,
        ended_at=ended,
        error_type=error,
    )


def _seq(record: Any) -> str:
    change = record.get("dynamodb") if isinstance(record, dict) else None
    return str(change.get("SequenceNumber")) if isinstance(change, dict) else "None"


def _remaining_ms(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return 1.0
    try:
        return float(remaining())
    except Exception:  # noqa: BLE001 - a context without a deadline: not late
        return 1.0


def witness_tables(
    witness: HandlerWitness,
    *,
    streams: Any,
    stream_arn: str,
    sqs: Any | None,
    queue_url: str | None,
) -> dict[str, pd.DataFrame]:
    """The three witness tables of a finished run (the queue and the stream are read back)."""
    messages = read_queue(sqs, queue_url) if sqs is not None and queue_url else []
    return {
        "handler_witness": witness.frame(),
        "stream_witness": read_stream(streams, stream_arn),
        "destination_witness": destination_frame(messages),
    }
