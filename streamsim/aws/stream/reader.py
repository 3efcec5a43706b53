"""Read every shard of a stream with only the blog's four IAM actions.

DescribeStream, GetShardIterator, GetRecords and ListStreams: nothing more (the blog's policy).
Follows DescribeStream pagination, reads a parent shard before its children [S], recognises a
closed shard (an EndingSequenceNumber; GetRecords returns no NextShardIterator [API]),
re-acquires an expired iterator (they live 15 minutes [API]) after the last record read, and
survives TrimmedDataAccessException by restarting at TRIM_HORIZON (and counting it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamsim.aws.stream.records import StreamRecord, to_lambda_record
from streamsim.aws.tables import table_region
from streamsim.errors import ConfigError

#: GetRecords returns at most 1,000 records per call [API].
GET_RECORDS_LIMIT = 1000
#: ... and at most 1 MB [API]. A page whose records (SizeBytes) come within the largest possible
#: record of this may have been cut by it, so the cursor reads on at once.
GET_RECORDS_BYTES = 1024 * 1024
#: The largest stream record: Keys plus a new and an old image of at most 400 KB each [DOC-CAP].
MAX_RECORD_BYTES = 2 * 400 * 1024 + 4 * 1024


@dataclass(frozen=True)
class Shard:
    """A shard as DescribeStream describes it."""

    shard_id: str
    parent_shard_id: str | None
    starting_sequence_number: str
    ending_sequence_number: str | None

    @property
    def closed(self) -> bool:
        return self.ending_sequence_number is not None


class StreamReader:
    """Shards and records of one stream through a ``dynamodbstreams`` client (or a fake)."""

    def __init__(self, streams: Any, stream_arn: str, region: str | None = None) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        # awsRegion must be the table's region, whatever the backend reports (moto: us-east-1).
        self.region = region or table_region(stream_arn)

    def shards(self) -> list[Shard]:
        """All shards, following DescribeStream pagination (LastEvaluatedShardId)."""
        shards: list[Shard] = []
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start is not None:
                kwargs["ExclusiveStartShardId"] = start
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            for raw in description.get("Shards", []):
                seq_range = raw.get("SequenceNumberRange", {})
                shards.append(
                    Shard(
                        shard_id=raw["ShardId"],
                        parent_shard_id=raw.get("ParentShardId"),
                        starting_sequence_number=seq_range.get("StartingSequenceNumber", "0"),
                        ending_sequence_number=seq_range.get("EndingSequenceNumber"),
                    )
                )
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def cursor(
        self, shard: Shard, starting_position: str = "TRIM_HORIZON", after: str | None = None
    ) -> ShardCursor:
        """A cursor on ``shard``: after a checkpoint's sequence number, else the starting position."""
        return ShardCursor(self, shard, starting_position, after)

    def read_all(self, starting_position: str = "TRIM_HORIZON") -> Iterator[StreamRecord]:
        """Every record now in the stream, parents before children (for tests and walkthroughs)."""
        for shard in parents_first(self.shards()):
            cursor = self.cursor(shard, starting_position)
            while True:
                batch = cursor.read()
                yield from batch
                if cursor.finished or not batch:
                    break


def parents_first(shards: list[Shard]) -> list[Shard]:
    """Order shards so every parent comes before its children [S] (a parent that is no longer
    described, e.g. trimmed, does not hold its children back)."""
    known = {s.shard_id for s in shards}
    done: set[str] = set()
    ordered: list[Shard] = []
    pending = list(shards)
    while pending:
        progressed = False
        for shard in list(pending):
            parent = shard.parent_shard_id
            if parent is None or parent not in known or parent in done:
                ordered.append(shard)
                done.add(shard.shard_id)
                pending.remove(shard)
                progressed = True
        if not progressed:  # a cycle cannot happen in DynamoDB; do not loop forever on bad input
            raise ConfigError(f"shard lineage has a cycle among {[s.shard_id for s in pending]}")
    return ordered


@dataclass
class ShardCursor:
    """Reads one shard forward, keeping just enough state to resume after any error."""

    reader: StreamReader
    shard: Shard
    starting_position: str
    after: str | None = None
    finished: bool = False
    iterator: str | None = None
    reacquired_expired: int = 0
    trimmed_restarts: int = 0
    calls: int = 0
    _last_error: str | None = field(default=None, repr=False)

    def read(self, limit: int = GET_RECORDS_LIMIT) -> list[StreamRecord]:
        """Up to ``limit`` (at most 1,000) records: one GetRecords call, more when the 1 MB cap
        may have cut the page short [API] (moto ignores both caps: docs/backends.md)."""
        records = self._read_page(limit)
        while (
            records
            and len(records) < min(limit, GET_RECORDS_LIMIT)
            and not self.finished
            and sum(r.size_bytes for r in records[-GET_RECORDS_LIMIT:])
            > GET_RECORDS_BYTES - MAX_RECORD_BYTES
        ):
            try:
                more = self._read_page(min(limit, GET_RECORDS_LIMIT) - len(records))
            except (ClientError, BotoCoreError):
                break  # keep what was read; the next read meets the error again
            if not more:
                break
            records.extend(more)
        return records

    def _read_page(self, limit: int) -> list[StreamRecord]:
        """One GetRecords call (after acquiring an iterator when needed)."""
        if self.finished:
            return []
        if self.iterator is None:
            self.iterator = self._acquire()
        try:
            response = self.reader.streams.get_records(
                ShardIterator=self.iterator, Limit=min(limit, GET_RECORDS_LIMIT)
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExpiredIteratorException":
                self.reacquired_expired += 1
                self.iterator = None
                return self._read_page(limit)
            if code == "TrimmedDataAccessException":
                # The records we wanted are gone (older than 24 h): restart at the oldest kept.
                self.trimmed_restarts += 1
                self.after = None
                self.starting_position = "TRIM_HORIZON"
                self.iterator = None
                return self._read_page(limit)
            self.iterator = None  # the next read re-acquires from the last sequence number
            raise
        finally:
            self.calls += 1
        records = [
            to_lambda_record(
                raw,
                stream_arn=self.reader.stream_arn,
                region=self.reader.region,
                shard_id=self.shard.shard_id,
            )
            for raw in response.get("Records", [])
        ]
        if records:
            self.after = records[-1].sequence_number
        self.iterator = response.get("NextShardIterator")
        if self.iterator is None:
            self.finished = True  # a closed shard, read to its end [API]
        return records

    def _acquire(self) -> str:
        kwargs: dict[str, Any] = {
            "StreamArn": self.reader.stream_arn,
            "ShardId": self.shard.shard_id,
        }
        if self.after is not None:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.after)
        else:
            kwargs["ShardIteratorType"] = self.starting_position
        try:
            return str(self.reader.streams.get_shard_iterator(**kwargs)["ShardIterator"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TrimmedDataAccessException":
                self.trimmed_restarts += 1
                self.after = None
                self.starting_position = "TRIM_HORIZON"
                return self._acquire()
            raise
