"""Read every shard of a stream with only the blog's four IAM actions.

DescribeStream, GetShardIterator, GetRecords and ListStreams: nothing more (the blog's policy).
Follows DescribeStream pagination, reads a parent shard before its children [S], recognises a
closed shard (an EndingSequenceNumber; GetRecords returns no NextShardIterator [API]),
re-acquires an expired iterator (they live 15 minutes [API]) after the last record read, and
survives TrimmedDataAccessException by restarting at TRIM_HORIZON (and counting it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from streamsim.aws.stream.blocks import RecordBlock, RowOrigin
from streamsim.aws.stream.memory import InMemoryStream, digit_counts
from streamsim.aws.stream.records import StreamRecord, event_json_size, to_lambda_record
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

    _row_origin: RowOrigin | None = field(default=None, repr=False)
    _payload_fixed: int | None = field(default=None, repr=False)

    def read(self, limit: int = GET_RECORDS_LIMIT) -> list[StreamRecord]:
        """Up to ``limit`` records as ``StreamRecord``s (``read_block``'s records)."""
        return self.read_block(limit).records()

    def read_block(self, limit: int = GET_RECORDS_LIMIT) -> RecordBlock:
        """Up to ``limit`` (at most 1,000) records as a block: one GetRecords call, more when
        the 1 MB cap may have cut the page short [API] (moto ignores both caps:
        docs/backends.md)."""
        cap = min(limit, GET_RECORDS_LIMIT)
        pages = [self._read_page(limit)]
        count = len(pages[0])
        while (
            count
            and count < cap
            and not self.finished
            and _last_sizes(pages, GET_RECORDS_LIMIT) > GET_RECORDS_BYTES - MAX_RECORD_BYTES
        ):
            try:
                more = self._read_page(cap - count)
            except (ClientError, BotoCoreError):
                break  # keep what was read; the next read meets the error again
            if not len(more):
                break
            pages.append(more)
            count += len(more)
        return RecordBlock.concat(pages)

    def _read_page(self, limit: int) -> RecordBlock:
        """One GetRecords call (after acquiring an iterator when needed)."""
        if self.finished:
            return RecordBlock.empty(self.shard.shard_id)
        if self.iterator is None:
            self.iterator = self._acquire()
        streams = self.reader.streams
        columns = streams.get_record_columns if _serves_columns(streams) else None
        try:
            call = streams.get_records if columns is None else columns
            response = call(ShardIterator=self.iterator, Limit=min(limit, GET_RECORDS_LIMIT))
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
        page = response.get("Columns")
        if page is not None:
            block = self._row_block(page)
        else:
            block = RecordBlock.from_records(
                self.shard.shard_id,
                [
                    to_lambda_record(
                        raw,
                        stream_arn=self.reader.stream_arn,
                        region=self.reader.region,
                        shard_id=self.shard.shard_id,
                    )
                    for raw in response.get("Records", [])
                ],
            )
        if len(block):
            self.after = block.sequence_number(-1)
        self.iterator = response.get("NextShardIterator")
        if self.iterator is None:
            self.finished = True  # a closed shard, read to its end [API]
        return block

    # ---- bulk rows of the in-memory stream, as columns -------------------------------------------
    def _origin(self) -> RowOrigin:
        if self._row_origin is None:
            streams = self.reader.streams
            source = streams.row_source
            keys_texts = getattr(source, "keys_texts", None)
            self._row_origin = RowOrigin(
                build=self._build_rows,
                keys_texts=keys_texts,
                keys_bytes=getattr(source, "keys_bytes", None),
                event_ids=lambda block: streams.event_ids(block.seqs),
            )
        return self._row_origin

    def _build_rows(self, block: RecordBlock) -> list[StreamRecord]:
        raws = self.reader.streams.raw_rows(
            block.rows, block.created_at, block.size_bytes, block.seqs
        )
        return [
            to_lambda_record(
                raw,
                stream_arn=self.reader.stream_arn,
                region=self.reader.region,
                shard_id=self.shard.shard_id,
            )
            for raw in raws
        ]

    def _row_block(self, page: Any) -> RecordBlock:
        """A block of bulk rows: the columns as a page of records would give them, each
        record's invoke-payload size from the parts all share (measured on the cursor's first
        record) and the lengths that vary
        (``tests/test_stream_blocks.py`` compares every column with the built records)."""
        created = page.created
        origin = self._origin()
        block = RecordBlock(
            self.shard.shard_id,
            origin,
            page.rows,
            page.seq_base,
            page.seqs,
            created,
            page.sizes,
            np.zeros(len(page.rows), dtype=np.int64),
        )
        seq_lengths = _seq_lengths(page.seq_base, page.seqs)
        stamp_lengths = _stamp_lengths(created)
        if seq_lengths is None or stamp_lengths is None:
            return RecordBlock.from_records(self.shard.shard_id, block.records())
        varying = page.images + (seq_lengths + stamp_lengths)  # images: with SizeBytes' digits
        if self._payload_fixed is None:
            # The parts every record of this cursor shares (eventID width, eventName, region,
            # stream ARN, view type, member names): from the first record built.
            first = block.slice(0, 1).records()[0]
            if first.created_at != created[0]:
                return RecordBlock.from_records(self.shard.shard_id, block.records())
            self._payload_fixed = event_json_size(first.event) - int(varying[0])
        block.payload_bytes = varying + self._payload_fixed
        return block

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


def _serves_columns(streams: Any) -> bool:
    """The in-memory stream itself (not a wrapper that intercepts ``get_records``, such as a
    fault injector) serves bulk rows as columns."""
    kind = type(streams)
    return (
        getattr(kind, "get_records", None) is InMemoryStream.get_records
        and getattr(kind, "get_record_columns", None) is InMemoryStream.get_record_columns
    )


#: Times below this many seconds have exact float microseconds (2**53 of them, about 2255).
_EXACT_SECONDS = 2**53 // 10**6


def _stamp_lengths(created: np.ndarray) -> np.ndarray | int | None:
    """``len(repr(float(floor(c))))`` (ApproximateCreationDateTime in the event), or None
    outside the range where that is the integer's digits plus ``.0`` (one number when all
    have the same length)."""
    if not len(created):
        return 0
    first, last = math.floor(created[0]), math.floor(created[-1])  # times ascend in a shard
    if first < 0 or last >= _EXACT_SECONDS:
        return None  # beyond the exact microseconds of ``datetime_rounded``: build records
    if len(str(first)) == len(str(last)):
        return len(str(first)) + 2
    return digit_counts(np.floor(created).astype(np.int64)) + 2


def _seq_lengths(base: int, seqs: np.ndarray) -> int | None:
    """The length of the sequence numbers' texts (None when they do not all have one)."""
    if not len(seqs):
        return 0
    # Sequence numbers ascend in a shard.
    first, last = len(str(base + int(seqs[0]))), len(str(base + int(seqs[-1])))
    return first if first == last else None


def _last_sizes(pages: list[RecordBlock], count: int) -> int:
    """The SizeBytes of the last ``count`` records of these pages."""
    if len(pages) == 1 and len(pages[0]) <= count:
        return int(pages[0].size_bytes.sum())
    total = 0
    for page in reversed(pages):
        take = page.size_bytes[-count:]
        total += int(take.sum())
        count -= len(take)
        if count <= 0:
            break
    return total
