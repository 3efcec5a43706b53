"""Checkpoints: how far each shard is done, so a restarted trigger resumes without skipping.

A shard's checkpoint is the highest sequence number such that it and every record before it
are finished (processed, filtered or discarded). With ParallelizationFactor > 1 batches finish
out of order, so the checkpoint only moves over a contiguous finished prefix: a restart
re-delivers what was in flight (at least once, never skipping) [D].
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from streamsim.errors import ConfigError


class _Numbered(Protocol):
    """What ``ShardProgress.add_block`` needs of a block of records."""

    def __len__(self) -> int: ...

    def sequence_number(self, i: int) -> str: ...


@dataclass
class ShardProgress:
    """Records of one shard in arrival order, and which are finished.

    Records are numbered in arrival order (ordinals); blocks of them are added and finished at
    once (``add_block``, ``finish_ordinals``), a flag per record, so no per-record Python object
    is kept; the checkpoint's sequence number is looked up in its block only when it moves."""

    checkpoint: str | None = None
    #: Ordinal of the first record not yet passed (everything before it is finished).
    _head: int = 0
    #: Ordinal of the next record to arrive.
    _next: int = 0
    #: Finished flags of ordinals ``_base`` onwards (room to grow beyond ``_next``).
    _done: np.ndarray = field(default_factory=lambda: np.zeros(1024, dtype=bool))
    _base: int = 0
    #: Blocks of records by the ordinal of their first record (for the checkpoint's text).
    _starts: list[int] = field(default_factory=list)
    _blocks: list[_Numbered] = field(default_factory=list)

    def add_block(self, block: _Numbered) -> np.ndarray:
        """Records arrived, in order: return their ordinals."""
        n = len(block)
        first = self._next
        if n:
            self._starts.append(first)
            self._blocks.append(block)
            self._next += n
            self._room(self._next)
        return np.arange(first, first + n, dtype=np.int64)

    def finish_ordinals(self, ordinals: np.ndarray) -> bool:
        """Mark records finished; return True when the checkpoint moved."""
        n = len(ordinals)
        if not n:
            return False
        first, last = int(ordinals[0]), int(ordinals[-1])
        head = self._head - self._base
        end = self._next - self._base
        if first == self._head and last - first + 1 == n:
            # The next records in order (the usual case): no search unless later ones were
            # finished before them.
            self._done[head : head + n] = True
            head += n
            if head < end and self._done[head]:
                pending = self._done[head:end]
                head += int(np.argmin(pending)) if not pending.all() else len(pending)
            self._head = head + self._base
            self.checkpoint = self._sequence_number(self._head - 1)
            self._compact()
            return True
        self._done[np.asarray(ordinals, dtype=np.int64) - self._base] = True
        if head >= end or not self._done[head]:
            return False
        pending = self._done[head:end]
        passed = int(np.argmin(pending)) if not pending.all() else len(pending)
        self._head += passed
        self.checkpoint = self._sequence_number(self._head - 1)
        self._compact()
        return True

    # ---- one record at a time (sequence numbers) ---------------------------------------------
    def add(self, sequence_number: str) -> None:
        self.add_block(_One(sequence_number))

    def finish(self, sequence_number: str) -> bool:
        """Mark one record finished (the first pending record with this sequence number);
        return True when the checkpoint moved. An unknown sequence number changes nothing."""
        for ordinal in range(self._head, self._next):
            if not self._done[ordinal - self._base] and (
                self._sequence_number(ordinal) == sequence_number
            ):
                return self.finish_ordinals(np.array([ordinal]))
        return False

    @property
    def in_flight(self) -> int:
        return self._next - self._head

    # ---- internals -------------------------------------------------------------------------------
    def _sequence_number(self, ordinal: int) -> str:
        k = bisect.bisect_right(self._starts, ordinal) - 1
        return self._blocks[k].sequence_number(ordinal - self._starts[k])

    def _room(self, upto: int) -> None:
        if upto - self._base > len(self._done):
            grown = np.zeros(max(2 * len(self._done), upto - self._base), dtype=bool)
            grown[: len(self._done)] = self._done
            self._done = grown

    def _compact(self) -> None:
        """Forget blocks and flags wholly before the head."""
        k = bisect.bisect_right(self._starts, self._head) - 1
        if k > 0:
            del self._starts[:k]
            del self._blocks[:k]
        shift = self._head - self._base
        if shift >= 4096 and shift * 2 >= len(self._done):
            kept = self._done[shift:]
            self._done = np.zeros(max(1024, len(kept) * 2), dtype=bool)
            self._done[: len(kept)] = kept
            self._base = self._head


@dataclass(frozen=True)
class _One:
    """A block of one record (``ShardProgress.add``)."""

    sequence_number_text: str

    def __len__(self) -> int:
        return 1

    def sequence_number(self, i: int) -> str:
        return self.sequence_number_text


class CheckpointStore:
    """Checkpoints by shard id, optionally persisted as JSON (written atomically)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._checkpoints: dict[str, str] = {}
        self._finished_shards: set[str] = set()
        if self.path is not None and self.path.exists():
            self._load()

    def get(self, shard_id: str) -> str | None:
        return self._checkpoints.get(shard_id)

    def is_finished(self, shard_id: str) -> bool:
        return shard_id in self._finished_shards

    def save(self, shard_id: str, sequence_number: str) -> None:
        self._checkpoints[shard_id] = sequence_number
        self._write()

    def finish_shard(self, shard_id: str) -> None:
        """A closed shard read to its end and fully processed: its children may start."""
        self._finished_shards.add(shard_id)
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"checkpoints": self._checkpoints, "finished_shards": sorted(self._finished_shards)}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoints-")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(tmp, self.path)

    def _load(self) -> None:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text())
            checkpoints = data["checkpoints"]
            finished = data["finished_shards"]
            if not isinstance(checkpoints, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v.isdigit()
                for k, v in checkpoints.items()
            ):
                raise ValueError("checkpoints must map stream|shard keys to sequence numbers")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"checkpoint file {self.path} is unreadable: {exc}") from exc
        self._checkpoints = dict(checkpoints)
        self._finished_shards = set(finished)
