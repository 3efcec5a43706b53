"""Checkpoints move only over a finished prefix, persist atomically and refuse a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsim.aws.trigger.checkpoints import CheckpointStore, ShardProgress
from streamsim.errors import ConfigError


def test_the_checkpoint_moves_over_the_finished_prefix_only() -> None:
    progress = ShardProgress()
    for seq in ("1", "2", "3", "4"):
        progress.add(seq)
    assert progress.in_flight == 4 and progress.checkpoint is None
    assert progress.finish("2") is False and progress.checkpoint is None  # 1 is not done
    assert progress.finish("3") is False and progress.in_flight == 4
    assert progress.finish("1") is True and progress.checkpoint == "3"
    assert progress.in_flight == 1
    assert progress.finish("4") is True and progress.checkpoint == "4" and progress.in_flight == 0


def test_a_finished_record_is_forgotten_once_passed() -> None:
    progress = ShardProgress()
    progress.add("1")
    progress.finish("1")
    progress.add("1")  # redelivered after a restart: pending again, not finished
    assert progress.finish("0") is False and progress.checkpoint == "1" and progress.in_flight == 1


def test_checkpoints_persist_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "checkpoints.json"
    store = CheckpointStore(path)
    assert store.get("a") is None and not store.is_finished("a")
    store.save("a", "10")
    store.save("b", "20")
    store.finish_shard("a")
    assert json.loads(path.read_text()) == {
        "checkpoints": {"a": "10", "b": "20"},
        "finished_shards": ["a"],
    }
    again = CheckpointStore(path)
    assert again.get("a") == "10" and again.get("b") == "20"
    assert again.is_finished("a") and not again.is_finished("b")
    assert [p.name for p in path.parent.iterdir()] == ["checkpoints.json"]  # no temp files left


def test_a_memory_store_writes_nothing(tmp_path: Path) -> None:
    store = CheckpointStore()
    store.save("a", "1")
    store.finish_shard("a")
    assert store.get("a") == "1" and store.is_finished("a") and store.path is None


def test_a_checkpoint_file_with_bad_sequence_numbers_says_what_they_must_be(
    tmp_path: Path,
) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_text('{"checkpoints": {"a": "x"}, "finished_shards": []}')
    with pytest.raises(ConfigError, match="must map stream.shard keys to sequence numbers"):
        CheckpointStore(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"checkpoints": {}}',
        '{"finished_shards": []}',
        '{"checkpoints": [], "finished_shards": []}',
        '{"checkpoints": {"a": 5}, "finished_shards": []}',
        '{"checkpoints": {"a": "x5"}, "finished_shards": []}',
    ],
)
def test_an_unreadable_checkpoint_file_is_refused_with_its_name(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="checkpoint file .*checkpoints.json is unreadable"):
        CheckpointStore(path)


def test_checkpoints_create_every_missing_folder(tmp_path: Path) -> None:
    """A run folder nested in folders that do not exist yet still keeps its checkpoints."""
    path = tmp_path / "runs" / "today" / "checkpoints.json"
    CheckpointStore(path).save("a", "10")
    assert CheckpointStore(path).get("a") == "10"
