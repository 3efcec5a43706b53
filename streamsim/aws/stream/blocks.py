"""Records of one shard as a block of columns: what the trigger reads, queues, batches and finishes.

The trigger works on blocks whatever the backend: a GetRecords page from boto3 (moto, AWS) is
turned into ``StreamRecord``s and then a block of their columns; a page of the in-memory stream's
bulk rows is a block from the start, and its Lambda event records are built only when something
reads them (a real handler, a filter, a tumbling window, the on-failure destination). Either way
a record's columns (sequence number, creation time, SizeBytes, its size in the invoke payload)
are the values the ``StreamRecord`` path gives (tests compare them record by record).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from streamsim.aws.stream.records import StreamRecord


class _Origin:
    """Where a block's records come from: it builds ``StreamRecord``s for the block's ``rows``."""

    def records(self, block: RecordBlock) -> list[StreamRecord]:
        raise NotImplementedError

    def keys_texts(self, block: RecordBlock) -> list[str]:
        return [r.keys_json for r in block.records()]

    def keys_column(self, block: RecordBlock) -> list[str] | np.ndarray:
        return self.keys_texts(block)

    def event_ids(self, block: RecordBlock) -> list[str] | np.ndarray:
        return [r.event_id for r in block.records()]

    def event_names(self, block: RecordBlock) -> list[str]:
        return [r.event_name for r in block.records()]

    def sequence_number(self, block: RecordBlock, i: int) -> str:
        return str(block.seq_base + int(block.seqs[i]))


class ListOrigin(_Origin):
    """Records already built (a boto3 page): ``rows`` index this list."""

    def __init__(self, records: list[StreamRecord]) -> None:
        self.items = records

    def records(self, block: RecordBlock) -> list[StreamRecord]:
        items = self.items
        return [items[i] for i in block.rows.tolist()]

    def sequence_number(self, block: RecordBlock, i: int) -> str:
        return self.items[int(block.rows[i])].sequence_number


class RowOrigin(_Origin):
    """Rows of a bulk writer's columns (``InMemoryStream.write_rows``): records built on demand
    by ``build(rows, created_at, size_bytes, sequence numbers)`` (the stream's own record
    builder, then ``to_lambda_record``: the same records as a GetRecords page gives)."""

    def __init__(
        self,
        build: Callable[[RecordBlock], list[StreamRecord]],
        keys_texts: Callable[[np.ndarray], list[str]] | None,
        event_ids: Callable[[RecordBlock], np.ndarray],
        keys_bytes: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self._build = build
        self._keys_texts = keys_texts
        self._keys_bytes = keys_bytes
        self._event_ids = event_ids

    def records(self, block: RecordBlock) -> list[StreamRecord]:
        return self._build(block)

    def keys_texts(self, block: RecordBlock) -> list[str]:
        if self._keys_texts is None:
            return super().keys_texts(block)
        return self._keys_texts(block.rows)

    def keys_column(self, block: RecordBlock) -> list[str] | np.ndarray:
        if self._keys_bytes is None:
            return self.keys_texts(block)
        return self._keys_bytes(block.rows)

    def event_ids(self, block: RecordBlock) -> list[str] | np.ndarray:
        return self._event_ids(block)

    def event_names(self, block: RecordBlock) -> list[str]:
        return ["INSERT"] * len(block)  # bulk rows are item inserts


class RecordBlock:
    """Records of one shard in read order, as columns; slicing and taking make new blocks over
    the same origin (no record object is built for it)."""

    __slots__ = (
        "shard_id",
        "origin",
        "rows",
        "seq_base",
        "seqs",
        "created_at",
        "size_bytes",
        "payload_bytes",
        "first_invoked",
        "ordinals",
        "_records",
    )

    def __init__(
        self,
        shard_id: str,
        origin: _Origin,
        rows: np.ndarray,
        seq_base: int,
        seqs: np.ndarray,
        created_at: np.ndarray,
        size_bytes: np.ndarray,
        payload_bytes: np.ndarray,
        first_invoked: np.ndarray | None = None,
        ordinals: np.ndarray | None = None,
    ) -> None:
        self.shard_id = shard_id
        self.origin = origin
        #: Positions in the origin (rows of the bulk writer, or indexes of a record list).
        self.rows = rows
        #: Sequence numbers as offsets from ``seq_base`` (int64, or Python ints if too far apart).
        self.seq_base = seq_base
        self.seqs = seqs
        #: The backend's creation time (epoch seconds, its own precision), as ``StreamRecord``.
        self.created_at = created_at
        self.size_bytes = size_bytes
        #: Each record's size inside an invoke payload (``StreamRecord.payload_bytes``).
        self.payload_bytes = payload_bytes
        #: When each record was first handed to the handler (NaN: not yet).
        self.first_invoked = np.full(len(rows), np.nan) if first_invoked is None else first_invoked
        #: Each record's place in its shard's progress (``ShardProgress.add_block``).
        self.ordinals = ordinals
        self._records: list[StreamRecord] | None = None

    # ---- building --------------------------------------------------------------------------------
    @classmethod
    def from_records(cls, shard_id: str, records: list[StreamRecord]) -> RecordBlock:
        """A block over records already built (the boto3 path): columns from the records."""
        n = len(records)
        ints = [int(r.sequence_number) for r in records]
        base = ints[0] if ints else 0
        block = cls(
            shard_id,
            ListOrigin(records),
            np.arange(n, dtype=np.int64),
            base,
            _offsets([i - base for i in ints]),
            np.array([r.created_at for r in records], dtype=np.float64),
            np.array([r.size_bytes for r in records], dtype=np.int64),
            np.array([r.payload_bytes for r in records], dtype=np.int64),
        )
        block._records = records
        return block

    @classmethod
    def empty(cls, shard_id: str = "") -> RecordBlock:
        return cls.from_records(shard_id, [])

    def _like(self, index: Any) -> RecordBlock:
        return RecordBlock(
            self.shard_id,
            self.origin,
            self.rows[index],
            self.seq_base,
            self.seqs[index],
            self.created_at[index],
            self.size_bytes[index],
            self.payload_bytes[index],
            self.first_invoked[index],
            None if self.ordinals is None else self.ordinals[index],
        )

    def slice(self, start: int, stop: int | None = None) -> RecordBlock:
        return self._like(slice(start, stop))

    def take(self, index: np.ndarray) -> RecordBlock:
        """The records at ``index`` (positions or a mask), in that order."""
        return self._like(index)

    @staticmethod
    def concat(blocks: Sequence[RecordBlock]) -> RecordBlock:
        """One block of several of one shard, in order (records of different boto3 pages are
        gathered into one list)."""
        if len(blocks) == 1:
            return blocks[0]
        first = blocks[0]
        origin = first.origin
        if not all(b.origin is origin for b in blocks):
            records = [r for b in blocks for r in b.records()]
            origin = ListOrigin(records)
            rows = np.arange(len(records), dtype=np.int64)
        else:
            rows = np.concatenate([b.rows for b in blocks])
        base = min(b.seq_base for b in blocks)
        seqs = _offsets_concat([(b.seq_base - base, b.seqs) for b in blocks])
        ordinals = (
            None
            if any(b.ordinals is None for b in blocks)
            else np.concatenate([b.ordinals for b in blocks])  # type: ignore[misc]
        )
        return RecordBlock(
            first.shard_id,
            origin,
            rows,
            base,
            seqs,
            np.concatenate([b.created_at for b in blocks]),
            np.concatenate([b.size_bytes for b in blocks]),
            np.concatenate([b.payload_bytes for b in blocks]),
            np.concatenate([b.first_invoked for b in blocks]),
            ordinals,
        )

    # ---- reading -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def records(self) -> list[StreamRecord]:
        """The records as ``StreamRecord``s with their Lambda event records (built once)."""
        if self._records is None:
            self._records = self.origin.records(self)
        return self._records

    def events(self) -> list[dict[str, Any]]:
        """The Lambda event records, as ``{"Records": [...]}`` carries them."""
        return [r.event for r in self.records()]

    def sequence_number(self, i: int) -> str:
        return self.origin.sequence_number(self, i if i >= 0 else len(self) + i)

    def sequence_numbers(self) -> list[str]:
        if self._records is not None or isinstance(self.origin, ListOrigin):
            return [r.sequence_number for r in self.records()]
        base = self.seq_base
        return [str(base + s) for s in self.seqs.tolist()]

    def keys_texts(self) -> list[str]:
        """Each record's item key as ``keys_json`` (how captures name an item)."""
        if self._records is not None:
            return [r.keys_json for r in self._records]
        return self.origin.keys_texts(self)

    def keys_column(self) -> list[str] | np.ndarray:
        """``keys_texts`` for a capture column: texts, or a bytes array (``S`` dtype) of their
        ASCII when the origin keeps them so (the bulk writer's ``PlayRows.keys_bytes``)."""
        if self._records is not None:
            return [r.keys_json for r in self._records]
        return self.origin.keys_column(self)

    def key_hashes(self) -> np.ndarray:
        """``StreamRecord.key_hash`` of each record (parallelization lanes)."""
        return np.array([zlib.crc32(t.encode()) for t in self.keys_texts()], dtype=np.int64)

    def event_ids(self) -> list[str] | np.ndarray:
        """Each record's eventID: texts, or a fixed-width bytes array whose texts all fill its
        width (the in-memory stream's 32-character eventIDs)."""
        if self._records is not None:
            return [r.event_id for r in self._records]
        return self.origin.event_ids(self)

    def event_names(self) -> list[str]:
        if self._records is not None:
            return [r.event_name for r in self._records]
        return self.origin.event_names(self)


def _offsets(values: list[int]) -> np.ndarray:
    """Sequence-number offsets as int64, or as Python ints when they do not fit."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return np.array(values, dtype=object)


def _offsets_concat(parts: list[tuple[int, np.ndarray]]) -> np.ndarray:
    if all(shift == 0 for shift, _ in parts):
        return np.concatenate([p for _, p in parts])
    out: list[int] = []
    for shift, part in parts:
        out.extend(shift + int(v) for v in part.tolist())
    return _offsets(out)
