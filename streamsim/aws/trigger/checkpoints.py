"""Checkpoints: how far each shard is done, so a restarted trigger resumes without skipping.

A shard's checkpoint is the highest sequence number such that it and every record before it
are finished (processed, filtered or discarded). With ParallelizationFactor > 1 batches finish
out of order, so the checkpoint only moves over a contiguous finished prefix: a restart
re-delivers what was in flight (at least once, never skipping) [D].
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from streamsim.errors import ConfigError


@dataclass
class ShardProgress:
    """Records of one shard in arrival order, and which are finished."""

    checkpoint: str | None = None
    _pending: deque[str] = field(default_factory=deque)
    _finished: set[str] = field(default_factory=set)

    def add(self, sequence_number: str) -> None:
        self._pending.append(sequence_number)

    def finish(self, sequence_number: str) -> bool:
        """Mark one record finished; return True when the checkpoint moved."""
        self._finished.add(sequence_number)
        moved = False
        while self._pending and self._pending[0] in self._finished:
            head = self._pending.popleft()
            self._finished.discard(head)
            self.checkpoint = head
            moved = True
        return moved

    @property
    def in_flight(self) -> int:
        return len(self._pending)


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
