"""Small helpers shared by tests (no fixtures here)."""

from __future__ import annotations

from typing import Any


def record_operations(client: Any) -> list[str]:
    """Record the name of every API operation ``client`` sends (botocore's before-call event)."""
    seen: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        seen.append(model.name)

    client.meta.events.register("before-call.*.*", hook)
    return seen


# ---- trigger engine tests ----------------------------------------------------------------------

#: The default VirtualClock start (2026-01-01T00:00:00Z): engine tests measure from it.
T0 = 1_767_225_600.0


def assert_each_record_disposed_once(capture: Any) -> None:
    """Every record the trigger read ended with exactly one disposition, and nothing else did.

    ``capture`` is a streamsim.aws.trigger.capture.Capture; a record is (shard id, sequence number).
    """
    from collections import Counter

    read = Counter((r.shard_id, r.sequence_number) for r in capture.records)
    ended = Counter((d.shard_id, d.sequence_number) for d in capture.dispositions)
    twice_read = sorted(k for k, n in read.items() if n > 1)
    twice_ended = sorted(k for k, n in ended.items() if n > 1)
    open_records = sorted(set(read) - set(ended))
    unknown = sorted(set(ended) - set(read))
    assert not twice_read, f"records read more than once: {twice_read[:5]}"
    assert not twice_ended, f"records with several dispositions: {twice_ended[:5]}"
    assert not open_records, f"records read but never disposed of: {open_records[:5]}"
    assert not unknown, f"dispositions for records never read: {unknown[:5]}"
    allowed = {"processed", "filtered", "destination", "discarded"}
    bad = {d.disposition for d in capture.dispositions} - allowed
    assert not bad, f"unknown dispositions {bad}"


def item_keys(event: dict[str, Any], attribute: str = "pk") -> list[str]:
    """The string key ``attribute`` of every record of a Lambda event, in order."""
    return [r["dynamodb"]["Keys"][attribute]["S"] for r in event["Records"]]


def stream_of(clock: Any, keys: list[str], shards: int = 1) -> tuple[Any, dict[str, str]]:
    """An in-memory stream with one INSERT per key (item {"pk": key}), and each key's sequence
    number."""
    from streamsim.aws.stream.memory import InMemoryStream

    stream = InMemoryStream(clock=clock.now, shards=shards)
    seqs = {}
    for key in keys:
        record = stream.write({"pk": {"S": key}}, {"pk": {"S": key}})
        assert record is not None
        seqs[key] = str(record["dynamodb"]["SequenceNumber"])
    return stream, seqs


class PoisonHandler:
    """Records every batch's keys; raises while a batch holds a key in ``poison``."""

    def __init__(self, *poison: str) -> None:
        self.poison = set(poison)
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        keys = item_keys(event)
        self.batches.append(keys)
        bad = self.poison.intersection(keys)
        if bad:
            raise ValueError(f"poison {sorted(bad)}")

    @property
    def keys(self) -> list[str]:
        """Every key delivered, in delivery order (repeats included)."""
        return [k for batch in self.batches for k in batch]


def write_key(stream: Any, key: str) -> str:
    """Write an item whose only attribute is its key ``pk``; return the record's sequence number."""
    record = stream.write({"pk": {"S": key}}, {"pk": {"S": key}})
    assert record is not None
    return str(record["dynamodb"]["SequenceNumber"])


def trigger_for(
    stream: Any,
    clock: Any,
    handler: Any,
    timing: Any = None,
    duration: float = 0.0,
    **mapping: Any,
) -> Any:
    """A Trigger on ``stream`` from TRIM_HORIZON; the handler takes ``duration`` seconds;
    ``mapping`` in snake_case."""
    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.aws.trigger.engine import Trigger

    return Trigger(
        EventSourceMapping(**{"starting_position": "TRIM_HORIZON", **mapping}),
        handler,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        timing=timing,
        handler_duration_seconds=duration,
    )
