"""An in-memory DynamoDB stream with the semantics of the four stream actions.

moto serves one shard that never splits or closes (docs/backends.md). This stream has several
shards, splits, closed shards, 15-minute iterator expiry and 24-hour trimming, on any clock,
so the trigger's shard handling can be tested and virtual-time scenarios can run fast. It
answers the same calls as boto3's ``dynamodbstreams`` client and raises the same ClientErrors.
[API] botocore's dynamodbstreams/2012-08-10 model; [S] the DynamoDB Streams developer guide.
"""

from __future__ import annotations

import bisect
import itertools
import uuid
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np
from botocore.exceptions import ClientError

from streamsim.aws.stream.records import keys_json, stream_record_size

#: Shard iterators expire 15 minutes after they are issued [API].
ITERATOR_LIFETIME_SECONDS = 15 * 60
#: Stream records are kept 24 hours [S].
RETENTION_SECONDS = 24 * 3600
#: GetRecords returns at most 1,000 records per call [API].
MAX_GET_RECORDS = 1000
#: ... and at most 1 MB of data, whichever comes first [API GetRecords: "The maximum size of
#: data that GetRecords can return is 1 MB"]; measured here as the records' SizeBytes.
MAX_GET_RECORDS_BYTES = 1024 * 1024


class RowSource(Protocol):
    """Items a bulk writer keeps as columns: the stream builds a record's ``Keys`` and
    ``NewImage`` from its row only when a reader asks for it (``InMemoryStream.write_rows``)."""

    def keys(self, row: int) -> dict[str, Any]: ...

    def new_image(self, row: int) -> dict[str, Any]: ...

    def items(
        self, rows: Sequence[int] | np.ndarray
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """``(keys(row), new_image(row))`` for each row, at once (a reader's page)."""
        ...


#: Sequence numbers are stored as offsets from this (they start here and fit 64 bits above it).
_SEQ_BASE = 100000000000000000000


#: Powers of ten for counting decimal digits.
_POWERS = np.array([10**i for i in range(1, 19)], dtype=np.int64)


def digit_counts(values: np.ndarray) -> np.ndarray:
    """Decimal digits of non-negative integers (``len(str(v))``), vectorised."""
    return np.searchsorted(_POWERS, values, side="right") + 1


def datetime_rounded(times: np.ndarray) -> np.ndarray:
    """``datetime.fromtimestamp(t, timezone.utc).timestamp()`` for each time: rounded to the
    microsecond, half to even, as datetime does (the creation time a GetRecords record
    carries once converted back)."""
    whole = np.trunc(times)
    micros = np.round((times - whole) * 1e6)
    # Whole microseconds as a float: exact below 2**53 (about the year 2255), as datetime's.
    return (whole * 1e6 + micros) / 1e6


@dataclass
class _Shard:
    """One shard's records as columns (8 bytes each per record): the record dicts themselves are
    kept only for single writes (``dicts``); rows written in bulk are built when read."""

    shard_id: str
    parent_shard_id: str | None
    starting_seq: int
    #: Each record's creation time (epoch seconds): visibility, trimming, without datetimes.
    times: array[float] = field(default_factory=lambda: array("d"))
    #: Each record's creation time as its GetRecords record gives it back (``datetime``'s
    #: microseconds, ``datetime_rounded``): rounded once at write, not on every read.
    created: array[float] = field(default_factory=lambda: array("d"))
    #: Each record's SizeBytes, for the 1 MB GetRecords cap.
    sizes: array[int] = field(default_factory=lambda: array("q"))
    #: Each record's sequence number minus ``_SEQ_BASE``.
    seqs: array[int] = field(default_factory=lambda: array("q"))
    #: Each record's origin: a row of the stream's row source (>= 0), or ``-1 - k`` for
    #: ``dicts[k - dicts_trimmed]`` (a record written with ``write``).
    refs: array[int] = field(default_factory=lambda: array("q"))
    #: Rows written in bulk: the JSON size of each record's Keys plus NewImage plus the digits
    #: of its SizeBytes (the variable part of its Lambda event record but for its sequence
    #: number and time, ``InMemoryStream.write_rows``); -1 when not given.
    images: array[int] = field(default_factory=lambda: array("q"))
    dicts: list[dict[str, Any]] = field(default_factory=list)
    dicts_trimmed: int = 0
    #: Whether any record kept is a single write or a bulk row without its image size (a page
    #: then has to be checked before it is served as columns).
    mixed: bool = False
    #: The largest SizeBytes written (a page that cannot reach 1 MB needs no size check).
    largest: int = 0
    ending_seq: int | None = None
    #: Records trimmed from the front (older than retention): keeps positions absolute.
    trimmed: int = 0
    #: The sequence number of the last trimmed record, if any.
    trimmed_through: int | None = None

    def __len__(self) -> int:
        return len(self.times)

    def visible(self, now: float) -> int:
        """How many records exist at ``now`` (records written ahead with a later time do not)."""
        if not self.times or self.times[-1] <= now:
            return len(self.times)
        return bisect.bisect_right(self.times, now)

    def describe(self) -> dict[str, Any]:
        seq_range: dict[str, str] = {"StartingSequenceNumber": str(self.starting_seq)}
        if self.ending_seq is not None:
            seq_range["EndingSequenceNumber"] = str(self.ending_seq)
        out: dict[str, Any] = {"ShardId": self.shard_id, "SequenceNumberRange": seq_range}
        if self.parent_shard_id is not None:
            out["ParentShardId"] = self.parent_shard_id
        return out


class InMemoryStream:
    """A stream of one table: write item changes, read them with the four stream calls."""

    def __init__(
        self,
        table_name: str = "Plays",
        *,
        clock: Callable[[], float],
        shards: int = 1,
        view_type: str = "NEW_AND_OLD_IMAGES",
        region: str = "eu-central-1",
        account: str = "123456789012",
        partition_key: str | None = None,
    ) -> None:
        """``partition_key``: route writes by that key attribute alone, as DynamoDB places an
        item in a partition (and so a shard) by its partition key's hash; default: the whole key."""
        self.table_name = table_name
        self.view_type = view_type
        self._clock = clock
        label = datetime.fromtimestamp(clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        self.stream_arn = f"arn:aws:dynamodb:{region}:{account}:table/{table_name}/stream/{label}"
        self._next_seq = _SEQ_BASE
        #: The bulk writer's columns (``write_rows``), if any.
        self._source: RowSource | None = None
        self._shard_ids = itertools.count(1)
        self._shards: dict[str, _Shard] = {}
        self._iterators: dict[str, tuple[str, int, float]] = {}
        for _ in range(shards):
            self._new_shard(None)
        self.calls: list[str] = []
        self._region = region
        self._partition_key = partition_key
        self._event_salt = uuid.uuid4().hex[:16]
        #: Iterator tokens: unique per stream (opaque to readers, as AWS's are).
        self._tokens = itertools.count(1)
        #: Open shards, in order, for routing writes (None: recompute after a split or close).
        self._open: list[_Shard] | None = None
        #: Called after every write and shard close (``subscribe``).
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(shard_id)`` after each write to and close of a shard: a reader that skips polls
        that could return nothing (``next_record_at``) looks again then."""
        self._listeners.append(listener)

    def _changed(self, shard_id: str) -> None:
        for listener in self._listeners:
            listener(shard_id)

    # ---- writing ----------------------------------------------------------------------------
    def write(
        self,
        keys: dict[str, Any],
        new_image: dict[str, Any] | None,
        old_image: dict[str, Any] | None = None,
        *,
        at: float | None = None,
        size_bytes: int | None = None,
        route_hash: int | None = None,
    ) -> dict[str, Any] | None:
        """Record one item change; return the stored record (None when nothing changed [S]).

        The stored record is shared, not copied, with every reader: treat it as read-only.
        ``at`` (default: now) is the change's time; a later time writes ahead, and the record
        stays invisible to readers until the clock reaches it (bulk writers on the virtual
        clock use this instead of one clock event per write). Writes must come in time order.
        ``size_bytes`` (the record's SizeBytes, ``stream_record_size``) and ``route_hash`` (the
        CRC-32 of the routed key's ``keys_json``) may be given when a bulk writer computed them
        for many records at once; they must equal what the stream would compute (a test checks
        the scale writer's).
        """
        if new_image is not None and new_image == old_image:
            return None  # AWS: a write that changes nothing produces no record [S].
        if old_image is None and new_image is None:
            raise ValueError("an item change needs a new or an old image")
        event_name = "INSERT" if old_image is None else "REMOVE" if new_image is None else "MODIFY"
        if self._open is None:
            self._open = [s for s in self._shards.values() if s.ending_seq is None]
        open_shards = self._open
        if route_hash is None:
            routed = (
                keys
                if self._partition_key is None
                else {self._partition_key: keys[self._partition_key]}
            )
            route_hash = zlib.crc32(keys_json(routed).encode())
        shard = open_shards[route_hash % len(open_shards)]
        when = self._clock() if at is None else at
        if shard.times and when < shard.times[-1]:
            raise ValueError("writes must come in time order")
        seq = self._take_seq()
        ddb: dict[str, Any] = {
            "ApproximateCreationDateTime": datetime.fromtimestamp(when, timezone.utc),
            "Keys": keys,
            "SequenceNumber": str(seq),
            # Keys plus the images the view type carries, by AWS's item-size rules [DOC-CAP].
            "SizeBytes": (
                stream_record_size(keys, new_image, old_image, self.view_type)
                if size_bytes is None
                else size_bytes
            ),
            "StreamViewType": self.view_type,
        }
        if new_image is not None and self.view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["NewImage"] = new_image
        if old_image is not None and self.view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["OldImage"] = old_image
        record = {
            # 32 hex digits like AWS's eventIDs; unique per stream, no uuid call per write.
            "eventID": f"{self._event_salt}{seq & 0xFFFFFFFFFFFFFFFF:016x}",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": ddb,
        }
        shard.refs.append(-1 - (shard.dicts_trimmed + len(shard.dicts)))
        shard.images.append(-1)
        shard.mixed = True
        shard.dicts.append(record)
        shard.times.append(when)
        shard.created.append(ddb["ApproximateCreationDateTime"].timestamp())
        shard.sizes.append(ddb["SizeBytes"])
        shard.largest = max(shard.largest, ddb["SizeBytes"])
        shard.seqs.append(seq - _SEQ_BASE)
        if self._listeners:
            self._changed(shard.shard_id)
        return record

    def write_rows(
        self,
        source: RowSource,
        rows: Sequence[int] | np.ndarray,
        at: Sequence[float] | np.ndarray,
        size_bytes: Sequence[int] | np.ndarray,
        route_hashes: Sequence[int] | np.ndarray,
        image_json_sizes: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        """Insert many items at once, kept as columns: exactly what ``write(source.keys(row),
        source.new_image(row), at=, size_bytes=, route_hash=)`` for each row in turn would store
        and return to readers (same shards, sequence numbers, eventIDs, times; a test compares
        them), without a record dict per row: ``source`` builds ``Keys`` and ``NewImage`` when a
        reader asks. One source per stream (a bulk writer's columns). ``image_json_sizes``: each
        row's ``json_size(Keys) + json_size(NewImage)`` as the Lambda event record carries them
        (``scale.writer.play_image_json_sizes``), so a reader of ``get_record_columns`` knows
        each record's invoke-payload size without building it."""
        if self._source is None:
            self._source = source
        elif self._source is not source:
            raise ValueError("one row source per stream")
        n = len(rows)
        if not n:
            return
        if self._open is None:
            self._open = [s for s in self._shards.values() if s.ending_seq is None]
        open_shards = self._open
        when = np.asarray(at, dtype=np.float64)
        if np.any(np.diff(when) < 0):
            raise ValueError("writes must come in time order")
        slot = np.asarray(route_hashes, dtype=np.int64) % len(open_shards)
        first = self._next_seq - _SEQ_BASE
        self._next_seq += n
        seqs = np.arange(first, first + n, dtype=np.int64)
        refs = np.asarray(rows, dtype=np.int64)
        sizes = np.asarray(size_bytes, dtype=np.int64)
        images = (
            np.full(n, -1, dtype=np.int64)
            if image_json_sizes is None
            else np.asarray(image_json_sizes, dtype=np.int64) + digit_counts(sizes)
        )
        created = datetime_rounded(when)
        # Shards in the order of their first record in the block (the order single writes
        # would notify listeners in).
        touched, first_at = np.unique(slot, return_index=True)
        for k in touched[np.argsort(first_at, kind="stable")].tolist():
            shard = open_shards[k]
            mine = np.flatnonzero(slot == k)
            t = when[mine]
            if shard.times and t[0] < shard.times[-1]:
                raise ValueError("writes must come in time order")
            shard.times.frombytes(t.tobytes())
            shard.created.frombytes(created[mine].tobytes())
            shard.sizes.frombytes(sizes[mine].tobytes())
            shard.largest = max(shard.largest, int(sizes[mine].max()))
            shard.seqs.frombytes(seqs[mine].tobytes())
            shard.refs.frombytes(refs[mine].tobytes())
            shard.images.frombytes(images[mine].tobytes())
            if image_json_sizes is None:
                shard.mixed = True
        if self._listeners:
            for k in touched[np.argsort(first_at, kind="stable")].tolist():
                self._changed(open_shards[k].shard_id)

    def release_rows(self) -> None:
        """Drop every record and the row source, keeping the shards (a bulk run is over and its
        capture holds what it needs): the stream's memory goes back."""
        for shard in self._shards.values():
            shard.trimmed += len(shard)
            shard.trimmed_through = shard.seqs[-1] + _SEQ_BASE if len(shard) else None
            shard.dicts_trimmed += len(shard.dicts)
            shard.times, shard.sizes = array("d"), array("q")
            shard.created = array("d")
            shard.seqs, shard.refs, shard.dicts = array("q"), array("q"), []
            shard.images = array("q")
        self._source = None

    def _records(self, shard: _Shard, start: int, end: int) -> list[dict[str, Any]]:
        """The stored records at positions ``start:end`` (rows of the source built at once)."""
        refs = shard.refs[start:end]
        if self._source is None or min(refs, default=-1) < 0:
            return [self._record(shard, i) for i in range(start, end)]
        return self.raw_rows(
            np.frombuffer(refs, dtype=np.int64),
            shard.times[start:end],
            shard.sizes[start:end],
            shard.seqs[start:end],
        )

    def raw_rows(
        self,
        rows: np.ndarray,
        times: Sequence[float] | np.ndarray,
        sizes: Sequence[int] | np.ndarray,
        seq_offsets: Sequence[int] | np.ndarray,
    ) -> list[dict[str, Any]]:
        """GetRecords records of bulk rows (their source rows, times, SizeBytes and sequence
        offsets), exactly as ``get_records`` returns them (not an AWS call)."""
        assert self._source is not None
        items = self._source.items(rows)
        salt, region, view = self._event_salt, self._region, self.view_type
        image = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
        out = []
        for (keys, new_image), when, size, offset in zip(
            items,
            _floats(times),
            _ints(sizes),
            _ints(seq_offsets),
            strict=True,
        ):
            seq = offset + _SEQ_BASE
            ddb: dict[str, Any] = {
                "ApproximateCreationDateTime": datetime.fromtimestamp(when, timezone.utc),
                "Keys": keys,
                "SequenceNumber": str(seq),
                "SizeBytes": size,
                "StreamViewType": view,
            }
            if image:
                ddb["NewImage"] = new_image
            out.append(
                {
                    "eventID": f"{salt}{seq & 0xFFFFFFFFFFFFFFFF:016x}",
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": region,
                    "dynamodb": ddb,
                }
            )
        return out

    def event_ids(self, seq_offsets: np.ndarray) -> np.ndarray:
        """The eventIDs of records with these sequence offsets, as 32-byte texts (vectorised:
        the same text as ``raw_rows`` writes)."""
        low = np.uint64(_SEQ_BASE & 0xFFFFFFFFFFFFFFFF) + seq_offsets.astype(np.uint64)
        digits = np.frombuffer(low.astype(">u8").tobytes().hex().encode(), dtype="S16")
        return np.char.add(np.bytes_(self._event_salt.encode()), digits)

    @property
    def row_source(self) -> RowSource | None:
        """The bulk writer's columns (``write_rows``), if any."""
        return self._source

    def _record(self, shard: _Shard, i: int) -> dict[str, Any]:
        """The stored record at position ``i`` of ``shard`` (built from the row source for rows
        written with ``write_rows``)."""
        ref = shard.refs[i]
        if ref < 0:
            return shard.dicts[-1 - ref - shard.dicts_trimmed]
        assert self._source is not None
        seq = shard.seqs[i] + _SEQ_BASE
        ddb: dict[str, Any] = {
            "ApproximateCreationDateTime": datetime.fromtimestamp(shard.times[i], timezone.utc),
            "Keys": self._source.keys(ref),
            "SequenceNumber": str(seq),
            "SizeBytes": shard.sizes[i],
            "StreamViewType": self.view_type,
        }
        if self.view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["NewImage"] = self._source.new_image(ref)
        return {
            "eventID": f"{self._event_salt}{seq & 0xFFFFFFFFFFFFFFFF:016x}",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": ddb,
        }

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def split_shard(self, shard_id: str) -> tuple[str, str]:
        """Close a shard and open two children: how DynamoDB rolls shards over [S]."""
        shard = self._shard(shard_id)
        if shard.ending_seq is not None:
            raise ValueError(f"shard {shard_id} is already closed")
        shard.ending_seq = self._take_seq()
        self._open = None
        children = self._new_shard(shard_id).shard_id, self._new_shard(shard_id).shard_id
        self._changed(shard_id)
        return children

    def roll_shard(self, shard_id: str) -> str:
        """Close a shard and open one child in its place (a periodic rollover; users report about
        every 4 hours, AWS does not document it). Returns the child's id."""
        shard = self._shard(shard_id)
        if shard.ending_seq is not None:
            raise ValueError(f"shard {shard_id} is already closed")
        if self._open is None:
            self._open = [s for s in self._shards.values() if s.ending_seq is None]
        shard.ending_seq = self._take_seq()
        child = self._new_shard(shard_id)
        self._open[self._open.index(shard)] = child  # keys keep their slot
        self._changed(shard_id)
        return child.shard_id

    def close_shard(self, shard_id: str) -> None:
        """Close a shard without children (e.g. the stream is being disabled)."""
        self._shard(shard_id).ending_seq = self._take_seq()
        self._open = None
        self._changed(shard_id)

    # ---- the four stream actions --------------------------------------------------------------
    def list_streams(self, TableName: str | None = None, **_: Any) -> dict[str, Any]:
        self.calls.append("ListStreams")
        streams = []
        if TableName in (None, self.table_name):
            streams.append(
                {
                    "StreamArn": self.stream_arn,
                    "TableName": self.table_name,
                    "StreamLabel": self.stream_arn.rsplit("/", 1)[1],
                }
            )
        return {"Streams": streams}

    def describe_stream(
        self, StreamArn: str, Limit: int = 100, ExclusiveStartShardId: str | None = None, **_: Any
    ) -> dict[str, Any]:
        self.calls.append("DescribeStream")
        self._check_arn(StreamArn)
        ids = list(self._shards)
        start = ids.index(ExclusiveStartShardId) + 1 if ExclusiveStartShardId in ids else 0
        page = ids[start : start + Limit]
        description: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "StreamStatus": "ENABLED",
            "StreamViewType": self.view_type,
            "TableName": self.table_name,
            "Shards": [self._shards[i].describe() for i in page],
        }
        if start + Limit < len(ids):
            description["LastEvaluatedShardId"] = page[-1]
        return {"StreamDescription": description}

    def get_shard_iterator(
        self,
        StreamArn: str,
        ShardId: str,
        ShardIteratorType: str,
        SequenceNumber: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        self.calls.append("GetShardIterator")
        self._check_arn(StreamArn)
        shard = self._shard(ShardId)
        self._trim(shard)
        if ShardIteratorType == "TRIM_HORIZON":
            position = 0
        elif ShardIteratorType == "LATEST":
            position = shard.visible(self._clock())
        elif ShardIteratorType in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if SequenceNumber is None:
                raise _error("ValidationException", "SequenceNumber is required")
            target = int(SequenceNumber)
            visible = shard.visible(self._clock())
            horizon = shard.trimmed_through
            at = ShardIteratorType == "AT_SEQUENCE_NUMBER"
            if horizon is not None and (target < horizon or (at and target == horizon)):
                raise _error("TrimmedDataAccessException", "the sequence number was trimmed")
            # Records before the target (and the target itself, AFTER it): seqs ascend.
            find = bisect.bisect_right if not at else bisect.bisect_left
            position = find(shard.seqs, target - _SEQ_BASE, 0, visible)
        else:
            raise _error("ValidationException", f"bad ShardIteratorType {ShardIteratorType}")
        token = f"{self.stream_arn}|{ShardId}|{uuid.uuid4().hex}"
        self._iterators[token] = (ShardId, shard.trimmed + position, self._clock())
        return {"ShardIterator": token}

    def get_records(
        self, ShardIterator: str, Limit: int = MAX_GET_RECORDS, **_: Any
    ) -> dict[str, Any]:
        self.calls.append("GetRecords")
        shard, position, end = self._page(ShardIterator, Limit)
        records = self._records(shard, position, end)
        # Records are shared read-only with the caller (no copy): readers build their own events.
        out: dict[str, Any] = {"Records": records}
        self._next(out, shard, end)
        return out

    def get_record_columns(
        self, ShardIterator: str, Limit: int = MAX_GET_RECORDS, **_: Any
    ) -> dict[str, Any]:
        """GetRecords (counted as one) for a reader that takes columns: the same page, iterator
        and errors, but rows written in bulk come as ``"Columns"`` (a ``RowPage``) instead of
        ``"Records"`` (not an AWS call; a page holding single writes comes as records)."""
        self.calls.append("GetRecords")
        shard, position, end = self._page(ShardIterator, Limit)
        out: dict[str, Any]
        refs = np.frombuffer(shard.refs[position:end], dtype=np.int64)
        images = np.frombuffer(shard.images[position:end], dtype=np.int64)
        if (
            self._source is not None
            and end > position
            and (not shard.mixed or (refs.min() >= 0 and images.min() >= 0))
        ):
            out = {
                "Columns": RowPage(
                    rows=refs,
                    created=np.frombuffer(shard.created[position:end], dtype=np.float64),
                    sizes=np.frombuffer(shard.sizes[position:end], dtype=np.int64),
                    seqs=np.frombuffer(shard.seqs[position:end], dtype=np.int64),
                    images=images,
                )
            }
        else:
            out = {"Records": self._records(shard, position, end)}
        self._next(out, shard, end)
        return out

    def _page(self, iterator: str, limit: Any) -> tuple[_Shard, int, int]:
        """The shard and positions ``start:end`` a GetRecords call with ``iterator`` returns."""
        if iterator not in self._iterators:
            raise _error("ValidationException", "invalid ShardIterator")
        shard_id, absolute, issued = self._iterators.pop(iterator)
        if self._clock() - issued > ITERATOR_LIFETIME_SECONDS:
            raise _error("ExpiredIteratorException", "Iterator expired")
        shard = self._shard(shard_id)
        self._trim(shard)
        position = absolute - shard.trimmed
        if position < 0:
            raise _error("TrimmedDataAccessException", "the records were trimmed (older than 24 h)")
        count = max(1, min(int(limit), MAX_GET_RECORDS))
        end = min(position + count, shard.visible(self._clock()))
        if end > position + 1 and (end - position) * shard.largest > MAX_GET_RECORDS_BYTES:
            # At most 1 MB per call [API], and at least one record when there is one.
            total = np.cumsum(np.frombuffer(shard.sizes[position:end], dtype=np.int64))
            over = int(np.searchsorted(total, MAX_GET_RECORDS_BYTES, side="right"))
            end = min(end, position + max(over, 1))
        return shard, position, end

    def _next(self, out: dict[str, Any], shard: _Shard, end: int) -> None:
        """The page's NextShardIterator (none once a closed shard is read to its end)."""
        closed_and_read = shard.ending_seq is not None and end >= len(shard)
        if not closed_and_read:
            token = f"{self.stream_arn}|{shard.shard_id}|{self._event_salt}{next(self._tokens)}"
            self._iterators[token] = (shard.shard_id, shard.trimmed + end, self._clock())
            out["NextShardIterator"] = token

    # ---- for readers that skip empty polls (not an AWS call) ---------------------------------
    def next_record_at(self, shard_iterator: str) -> float:
        """When a GetRecords call with this iterator could first return something new: the
        next record's creation time, 0 when it could now (a record, the end of a closed shard,
        an expired or unknown iterator: let the call say), infinity while the shard is open and
        has nothing after the iterator. A poller may skip the polls before that time: they
        would return no record."""
        entry = self._iterators.get(shard_iterator)
        if entry is None:
            return 0.0
        shard_id, absolute, issued = entry
        shard = self._shards[shard_id]
        position = absolute - shard.trimmed
        if position < 0 or self._clock() - issued > ITERATOR_LIFETIME_SECONDS:
            return 0.0
        if position < len(shard):
            return shard.times[position]
        return 0.0 if shard.ending_seq is not None else float("inf")

    def renew_iterator(self, shard_iterator: str) -> None:
        """The iterator as if just issued: the skipped polls would each have taken a new one."""
        entry = self._iterators.get(shard_iterator)
        if entry is not None:
            self._iterators[shard_iterator] = (entry[0], entry[1], self._clock())

    # ---- internals -------------------------------------------------------------------------------
    def _new_shard(self, parent: str | None) -> _Shard:
        n = next(self._shard_ids)
        shard = _Shard(f"shardId-{n:020d}-{uuid.uuid4().hex[:8]}", parent, self._take_seq())
        self._shards[shard.shard_id] = shard
        return shard

    def _shard(self, shard_id: str) -> _Shard:
        if shard_id not in self._shards:
            raise _error("ResourceNotFoundException", f"shard {shard_id} not found")
        return self._shards[shard_id]

    def _check_arn(self, arn: str) -> None:
        if arn != self.stream_arn:
            raise _error("ResourceNotFoundException", f"stream {arn} not found")

    def _trim(self, shard: _Shard) -> None:
        """Drop records older than the retention period [S]."""
        horizon = self._clock() - RETENTION_SECONDS
        if not shard.times or shard.times[0] >= horizon:
            return
        drop = bisect.bisect_left(shard.times, horizon)
        if drop:
            shard.trimmed_through = shard.seqs[drop - 1] + _SEQ_BASE
            dicts = sum(1 for ref in shard.refs[:drop] if ref < 0)
            del shard.dicts[:dicts]
            shard.dicts_trimmed += dicts
            del shard.times[:drop]
            del shard.created[:drop]
            del shard.sizes[:drop]
            del shard.seqs[:drop]
            del shard.refs[:drop]
            del shard.images[:drop]
            shard.trimmed += drop


@dataclass(frozen=True)
class RowPage:
    """Bulk rows of one GetRecords page as columns (``InMemoryStream.get_record_columns``)."""

    #: Rows of the stream's row source.
    rows: np.ndarray
    #: Creation times as the records give them (``datetime_rounded`` of the write times),
    #: SizeBytes, sequence numbers minus the stream's base.
    created: np.ndarray
    sizes: np.ndarray
    seqs: np.ndarray
    #: ``json_size(Keys) + json_size(NewImage) + len(str(SizeBytes))`` of each record
    #: (``write_rows``).
    images: np.ndarray

    #: Sequence numbers are ``SEQ_BASE + seqs``.
    seq_base: int = _SEQ_BASE


def _floats(values: Any) -> list[float]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _ints(values: Any) -> list[int]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, code)
