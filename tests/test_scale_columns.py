"""The at-scale fast path computes per-record values in bulk: each equals the per-record rule."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.stream.records import StreamRecord, keys_json, number_size, stream_record_size
from streamsim.aws.trigger.config import DestinationConfig, EventSourceMapping, TriggerTiming
from streamsim.workbench.scale import run as run_module
from streamsim.workbench.scale.model import ScaleModel
from streamsim.workbench.scale.run import ScaleScenario, simulate_scale, synthetic_plays
from streamsim.workbench.scale.writer import (
    PlayRows,
    number_sizes,
    play_items,
    play_record_sizes,
    route_hashes,
)


def test_bulk_record_sizes_equal_the_stream_rule_record_by_record() -> None:
    plays, sent = synthetic_plays(ScaleScenario(rate=50, seconds=20, players=30, seed=3), 1e9)
    # Unicode in a string attribute (2- and 4-byte UTF-8) and a zero score.
    plays.loc[3, "player_id"] = "pé€"
    plays.loc[5, "play_id"] = "s😀x"
    plays.loc[7, "score"] = 0
    items = play_items(plays, sent)
    expected = [
        stream_record_size(
            {"player_id": i["player_id"], "play_key": i["play_key"]}, i, None, "NEW_AND_OLD_IMAGES"
        )
        for i in items
    ]
    assert play_record_sizes(plays, sent).tolist() == expected


def test_number_sizes_follow_number_size() -> None:
    values = np.array(
        [0, 1, 9, 10, 99, 100, 101, 1000, 12345, 1_000_000, 10**12, 1_700_000_000_123, 10**15 - 1]
    )
    assert number_sizes(values).tolist() == [number_size(str(v)) for v in values]
    rng = np.random.default_rng(0)
    many = np.concatenate([rng.integers(0, 10**14, 2000), rng.integers(0, 100, 200) * 10**9])
    assert number_sizes(many).tolist() == [number_size(str(v)) for v in many]


def test_route_hashes_are_the_streams_routing_hash() -> None:
    ids = pd.Series(["p0000001", "p0000002", "pé", "p0000001"])
    expected = [zlib.crc32(keys_json({"player_id": {"S": p}}).encode()) for p in ids]
    assert route_hashes(ids).tolist() == expected


class _JsonRoundTrip(run_module.ScaleHandler):
    """The modelled handler fed the event as Lambda delivers it: serialised and parsed."""

    def __call__(self, event, context):  # type: ignore[no-untyped-def]
        return super().__call__(json.loads(json.dumps(event)), context)


@pytest.mark.parametrize("batching_window", [0, 1])
def test_fast_path_equals_the_per_record_json_path_exactly(monkeypatch, batching_window) -> None:  # type: ignore[no-untyped-def]
    """Bulk sizes, counted payload bytes and block writes vs per-record writes, sizes computed by
    the stream, payload bytes by json.dumps and a handler given the parsed JSON event: the same
    attempts, dispositions and latencies, with a payload cap small enough to cut batches."""
    mapping = EventSourceMapping(
        starting_position="TRIM_HORIZON",
        batch_size=50,
        maximum_retry_attempts=1,
        bisect_batch_on_function_error=True,
        maximum_batching_window_in_seconds=batching_window,
    )
    scenario = ScaleScenario(
        rate=100.0,
        seconds=20.0,
        shards=2,
        players=40,
        model=ScaleModel(rollover_hours=0, cold_start_probability=0.0),
        throttling=False,
        mapping=mapping,
        timing=TriggerTiming(max_payload_bytes=4000),
        poison=2,
    )
    fast = simulate_scale(scenario)
    monkeypatch.setattr(
        StreamRecord,
        "payload_bytes",
        property(lambda r: len(json.dumps(r.event, separators=(",", ":")))),
    )
    monkeypatch.setattr(run_module, "ScaleHandler", _JsonRoundTrip)
    slow = simulate_scale(replace(scenario, per_record_writes=True))
    attempt_cols = ["records", "payload_bytes", "invoked_at", "completed_at", "outcome", "retry"]
    pd.testing.assert_frame_equal(fast.run.attempts[attempt_cols], slow.run.attempts[attempt_cols])
    assert fast.run.attempts["records"].max() < 50  # the payload cap cut batches
    cols = ["sequence_number", "disposition", "at", "attempts", "condition", "first_invoked_at"]
    pd.testing.assert_frame_equal(fast.run.dispositions[cols], slow.run.dispositions[cols])
    assert fast.summary["latency"] == slow.summary["latency"]
    assert fast.summary["sent_to_destination"] + fast.summary["lost"] > 0  # poison was met


def test_play_rows_build_exactly_the_play_items() -> None:
    plays, sent = synthetic_plays(ScaleScenario(rate=50, seconds=20, players=30, seed=4), 1e9)
    plays.loc[3, "player_id"] = "pé€"
    plays.loc[5, "play_id"] = "s😀x"
    plays.loc[7, "score"] = 0
    items = play_items(plays, sent)
    rows = PlayRows.from_frame(plays, sent)
    assert [rows.new_image(i) for i in range(len(rows))] == items
    keys = [{"player_id": i["player_id"], "play_key": i["play_key"]} for i in items]
    assert [rows.keys(i) for i in range(len(rows))] == keys
    assert rows.items(list(range(len(rows)))[::-1]) == list(zip(keys, items, strict=True))[::-1]
    # Years of other widths: the texts themselves.
    old = plays.head(3).assign(
        played_at=pd.Series([pd.Timestamp("0999-12-31 23:59:59.5", tz="UTC")] * 3)
    )
    expected = play_items(old, sent[:3])
    old_rows = PlayRows.from_frame(old, sent[:3])
    assert [old_rows.new_image(i) for i in range(3)] == expected
    assert [image for _, image in old_rows.items([0, 1, 2])] == expected


def test_rows_written_in_bulk_read_back_as_the_same_records_as_single_writes() -> None:
    plays, sent = synthetic_plays(ScaleScenario(rate=100, seconds=5, players=20, seed=5), 1e9)
    items = play_items(plays, sent)
    rows = PlayRows.from_frame(plays, sent)
    sizes, hashes = play_record_sizes(plays, sent), route_hashes(plays["player_id"])
    now = [float(sent[-1])]
    single = InMemoryStream("Plays", clock=lambda: now[0], shards=3, partition_key="player_id")
    bulk = InMemoryStream("Plays", clock=lambda: now[0], shards=3, partition_key="player_id")
    bulk._event_salt = single._event_salt
    notified: dict[str, list[str]] = {"single": [], "bulk": []}
    single.subscribe(notified["single"].append)
    bulk.subscribe(notified["bulk"].append)
    for item, at in zip(items, sent.tolist(), strict=True):
        single.write({"player_id": item["player_id"], "play_key": item["play_key"]}, item, at=at)
    half = len(items) // 2
    bulk.write_rows(rows, np.arange(half), sent[:half], sizes[:half], hashes[:half])
    bulk.write_rows(rows, np.arange(half, len(items)), sent[half:], sizes[half:], hashes[half:])

    def order(ids: list[str]) -> list[str]:  # shard ids differ only by a random suffix
        return list(dict.fromkeys(i.rsplit("-", 1)[0] for i in ids))

    assert order(notified["bulk"]) == order(notified["single"])

    def read(stream: InMemoryStream, kind: str, seq: str | None = None) -> list[Any]:
        out = []
        for shard in stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"][
            "Shards"
        ]:
            extra = {"SequenceNumber": seq} if seq else {}
            it = stream.get_shard_iterator(
                StreamArn=stream.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType=kind,
                **extra,
            )["ShardIterator"]
            out.extend(stream.get_records(ShardIterator=it, Limit=1000)["Records"])
        return out

    expected = read(single, "TRIM_HORIZON")
    assert len(expected) == len(items)
    got = read(bulk, "TRIM_HORIZON")
    # Shard ids differ by a random suffix only; records must be identical.
    assert got == expected
    middle = expected[len(expected) // 3]["dynamodb"]["SequenceNumber"]
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        assert read(bulk, kind, middle) == read(single, kind, middle)
    now[0] = float(sent[0]) + 0.5  # records after now stay invisible
    assert read(bulk, "TRIM_HORIZON") == read(single, "TRIM_HORIZON")
    now[0] = float(sent[half]) + 86_400 + 1e-3  # the first half is past the retention
    assert read(bulk, "TRIM_HORIZON") == read(single, "TRIM_HORIZON")  # trimmed alike


def test_scale_accounting_equals_the_play_timeline() -> None:
    """The summary's per-play dispositions and times (joined by Arrow) are play_timeline's."""
    from streamsim.workbench.analysis import play_timeline

    mapping = EventSourceMapping(
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=1,
        destination_config=DestinationConfig(
            on_failure="arn:aws:sqs:eu-central-1:123456789012:dlq"
        ),
    )
    result = simulate_scale(
        ScaleScenario(rate=200.0, seconds=10.0, shards=3, players=50, poison=3, mapping=mapping)
    )
    timeline = play_timeline(result.run)
    disposition, at = run_module._play_outcomes(result.run)
    assert (
        list(disposition)
        == timeline["disposition"]
        .astype(object)
        .where(timeline["disposition"].notna(), None)
        .tolist()
    )
    assert set(disposition) >= {"processed", "destination"}
    np.testing.assert_array_equal(at[disposition == "processed"], timeline["processed_at"].dropna())
    # A play without a record is unaccounted (None), never counted as processed.
    plays = result.run.plays.copy()
    plays.loc[0, "play_key"] = "missing"
    run = replace(result.run, tables={**result.run.tables, "plays": plays})
    assert run_module._play_outcomes(run)[0][0] is None
