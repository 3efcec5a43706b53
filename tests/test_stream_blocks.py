"""The trigger's columnar core gives what the per-record objects give, column by column."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from streamsim.aws.stream.blocks import RecordBlock
from streamsim.aws.stream.memory import InMemoryStream, datetime_rounded
from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.stream.records import event_json_size, keys_json, to_lambda_record
from streamsim.aws.trigger.capture import DispositionRow, RecordRow, disposition_rows, record_rows
from streamsim.aws.trigger.checkpoints import ShardProgress
from streamsim.aws.trigger.columns import Decimals, FixedTexts, Same
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.context import LambdaContext
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock
from streamsim.workbench.scale.model import ScaleModel
from streamsim.workbench.scale.run import ScaleHandler, ScaleScenario, synthetic_plays
from streamsim.workbench.scale.writer import (
    PlayRows,
    iso_ms_bytes,
    play_image_json_sizes,
    play_record_sizes,
    route_hashes,
)


def _write_rows(stream: InMemoryStream, rows: PlayRows, plays: pd.DataFrame, sent: Any) -> None:
    """The plays written in bulk, as ``simulate_scale`` writes them (sizes and hashes given)."""
    stream.write_rows(
        rows,
        np.arange(len(rows)),
        sent,
        play_record_sizes(plays, sent),
        route_hashes(plays["player_id"]),
        play_image_json_sizes(rows),
    )


def _bulk_stream(seed: int, start: float = 1.7e9) -> tuple[InMemoryStream, pd.DataFrame]:
    plays, sent = synthetic_plays(ScaleScenario(rate=80, seconds=5, players=25, seed=seed), start)
    rng = random.Random(seed)
    texts = ["pé€", 's😀x"\\', "tab\there", "ctl\x01\x7f", "日本語", "plain"]
    for row in rng.sample(range(len(plays)), 12):  # unicode, quotes, escapes, control chars
        column = rng.choice(["player_id", "play_id", "tz"])
        plays.loc[row, column] = rng.choice(texts) + str(row)
    plays.loc[7, "score"] = 0
    rows = PlayRows.from_frame(plays, sent)
    now = [float(sent[-1]) + 1]
    stream = InMemoryStream("Plays", clock=lambda: now[0], shards=3, partition_key="player_id")
    _write_rows(stream, rows, plays, sent)
    return stream, plays


def _blocks(stream: InMemoryStream, limit: int = 1000) -> list[RecordBlock]:
    reader = StreamReader(stream, stream.stream_arn)
    out = []
    for shard in reader.shards():
        cursor = reader.cursor(shard)
        while True:
            block = cursor.read_block(limit)
            if not len(block):
                break
            out.append(block)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_blocks_have_the_columns_of_the_records_they_build(seed: int) -> None:
    """Payload bytes (computed from the writer's image sizes), times, key texts, eventIDs and
    sequence numbers equal those of the built records, unicode and escapes included."""
    stream, plays = _bulk_stream(seed)
    blocks = _blocks(stream, limit=37)
    assert sum(len(b) for b in blocks) == len(plays)
    for block in blocks:
        assert block.origin.__class__.__name__ == "RowOrigin"  # the columnar path was taken
        records = block.origin.records(block)
        assert block.payload_bytes.tolist() == [event_json_size(r.event) for r in records]
        assert block.payload_bytes.tolist() == [
            len(json.dumps(r.event, separators=(",", ":"))) for r in records
        ]
        assert block.created_at.tolist() == [r.created_at for r in records]
        assert block.size_bytes.tolist() == [r.size_bytes for r in records]
        assert block.keys_texts() == [r.keys_json for r in records]
        assert [t.decode() for t in block.keys_column()] == [r.keys_json for r in records]
        assert [e.decode() for e in block.event_ids()] == [r.event_id for r in records]
        assert block.sequence_numbers() == [r.sequence_number for r in records]
        assert block.key_hashes().tolist() == [r.key_hash for r in records]


@pytest.mark.parametrize("bits", [2, 5])
def test_key_texts_from_chunks_equal_the_per_record_texts(
    bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key texts built a chunk at a time (vectorised, or row by row for a chunk with an id
    JSON escapes), for rows in any order and across chunks, evicted chunks rebuilt: each is
    ``keys_json`` of the play's keys, unicode and escapes included."""
    from streamsim.workbench.scale import writer

    monkeypatch.setattr(writer, "_KEY_CHUNK_BITS", bits)
    monkeypatch.setattr(writer, "_KEY_CHUNK_OVERLAP", 1 << (bits - 2))
    monkeypatch.setattr(writer, "_KEY_CHUNKS_KEPT", 3)
    plays, sent = synthetic_plays(ScaleScenario(rate=80, seconds=5, players=25, seed=9), 1.7e9)
    plays.loc[5, "player_id"] = 'pé€"\\x'
    plays.loc[70, "play_id"] = "日本語\t"
    rows = PlayRows.from_frame(plays, sent)
    rng = np.random.default_rng(3)
    for k in range(80):
        if k % 2:  # rows from anywhere
            at = rng.choice(len(rows), size=int(rng.integers(1, 30)), replace=False)
        else:  # a run of rows, as a shard's page (within a chunk and its overlap, or not)
            start = int(rng.integers(0, len(rows) - 12))
            at = np.arange(start, start + int(rng.integers(1, 12)))
        expected = [keys_json(rows.keys(int(r))) for r in at]
        assert rows.keys_texts(at) == expected
        assert [t.decode() for t in rows.keys_bytes(at).tolist()] == expected
    assert len(rows._key_chunks) <= 3


def test_a_shard_with_single_writes_trimmed_serves_rows_as_the_records_give_them() -> None:
    """Creation times (rounded at write) and payload sizes stay in step with the rows when a
    single write before them is trimmed (older than 24 h)."""
    plays, sent = synthetic_plays(ScaleScenario(rate=40, seconds=3, players=5, seed=2), 1.7e9)
    rows = PlayRows.from_frame(plays, sent)
    now = [float(sent[0]) - 90_000.0]
    stream = InMemoryStream("Plays", clock=lambda: now[0], shards=1, partition_key="player_id")
    stream.write(rows.keys(0), rows.new_image(0), at=now[0] + 0.1234567)
    _write_rows(stream, rows, plays, sent)
    now[0] = float(sent[-1]) + 1
    blocks = _blocks(stream, limit=17)
    assert sum(len(b) for b in blocks) == len(plays)  # the single write is gone
    shard = stream.describe_stream(stream.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = stream.get_shard_iterator(
        StreamArn=stream.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    raw = stream.get_records(ShardIterator=it)["Records"]
    region = StreamReader(stream, stream.stream_arn).region
    built = [
        to_lambda_record(r, stream_arn=stream.stream_arn, region=region, shard_id=shard)
        for r in raw
    ]
    assert [c for b in blocks for c in b.created_at.tolist()] == [r.created_at for r in built]
    assert [p for b in blocks for p in b.payload_bytes.tolist()] == [
        event_json_size(r.event) for r in built
    ]


def test_iso_texts_in_integer_arithmetic_equal_numpy_s() -> None:
    """Times across the four-digit years (before 1970 too, leap days, the ends of days)."""
    rng = np.random.default_rng(5)
    low = np.datetime64("1000-01-01T00:00:00.000", "ms").astype(np.int64)
    high = np.datetime64("9999-12-31T23:59:59.999", "ms").astype(np.int64)
    edges = np.array(
        [
            "1000-01-01",
            "1600-02-29",
            "1900-03-01",
            "1969-12-31T23:59:59.999",
            "1970-01-01",
            "2000-02-29T12:00:00.5",
            "2024-12-31T23:59:59.999",
            "9999-12-31T23:59:59.999",
        ],
        dtype="datetime64[ms]",
    ).astype(np.int64)
    spread = np.concatenate([rng.integers(low, high + 1, 20_000), edges])
    near = [  # a few days around a leap day, and around the epoch: each day's date once
        np.datetime64(at, "ms").astype(np.int64) + rng.integers(-3 * 86_400_000, 86_400_000, 5000)
        for at in ("2024-03-01", "1970-01-02", "2100-03-01")
    ]
    for ms in [spread, *near, spread[:0]]:
        expected = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC")
        assert iso_ms_bytes(ms).astype(str).tolist() == expected.tolist()


def test_bulk_blocks_read_as_the_records_of_get_records() -> None:
    stream, _ = _bulk_stream(4)
    reader = StreamReader(stream, stream.stream_arn)
    for shard in reader.shards():
        block = reader.cursor(shard).read_block()
        it = stream.get_shard_iterator(
            StreamArn=stream.stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        raw = stream.get_records(ShardIterator=it)["Records"]
        built = [
            to_lambda_record(
                x, stream_arn=stream.stream_arn, region=reader.region, shard_id=shard.shard_id
            )
            for x in raw
        ]
        assert [r.event for r in block.records()] == [r.event for r in built]
        assert block.created_at.tolist() == [r.created_at for r in built]


def test_creation_times_round_as_datetime_does() -> None:
    from datetime import datetime, timezone

    rng = np.random.default_rng(0)
    times = np.concatenate(
        [1.7e9 + rng.random(2000) * 1e6, np.array([1.7e9 + 0.0000005, 1.7e9 + 0.9999995, 5.5])]
    )
    expected = [datetime.fromtimestamp(t, timezone.utc).timestamp() for t in times.tolist()]
    assert datetime_rounded(times).tolist() == expected


def test_slices_takes_and_concatenation_keep_records_and_columns_together() -> None:
    stream, _ = _bulk_stream(5)
    first, *rest = _blocks(stream, limit=20)
    second = next(b for b in rest if b.shard_id == first.shard_id)
    both = RecordBlock.concat([first.slice(3), second.take(np.array([4, 0, 2]))])
    records = first.records()[3:] + [second.records()[i] for i in (4, 0, 2)]
    assert [r.event for r in both.records()] == [r.event for r in records]
    assert both.sequence_numbers() == [r.sequence_number for r in records]
    assert both.payload_bytes.tolist() == [r.payload_bytes for r in records]
    # Blocks of built records (the boto3 path) concatenate too.
    listed = RecordBlock.concat(
        [
            RecordBlock.from_records(first.shard_id, records[:2]),
            RecordBlock.from_records(first.shard_id, records[2:]),
        ]
    )
    assert listed.sequence_numbers() == both.sequence_numbers()
    assert listed.payload_bytes.tolist() == both.payload_bytes.tolist()


def test_block_appends_read_back_as_row_appends() -> None:
    """``RowColumns.extend_columns`` stores exactly what appending each row would."""
    stream, _ = _bulk_stream(6)
    by_rows, by_block = record_rows(), record_rows()
    done_rows, done_block = disposition_rows(), disposition_rows()
    for k, block in enumerate(_blocks(stream, limit=30)):
        ids = block.event_ids()  # before the records are built: the fixed-width array
        assert isinstance(ids, np.ndarray)
        records = block.records()
        for r in records:
            by_rows.append(
                RecordRow(
                    "m",
                    r.shard_id,
                    r.sequence_number,
                    r.event_id,
                    r.event_name,
                    r.keys_json,
                    r.created_at,
                    1.5,
                    r.size_bytes,
                    "virtual",
                )
            )
        by_block.extend_columns(
            len(block),
            {
                "mapping": Same("m"),
                "shard_id": Same(block.shard_id),
                "sequence_number": Decimals(block.seq_base, block.seqs),
                "event_id": FixedTexts(ids) if k % 2 else ids,
                "event_name": block.event_names(),
                "keys": block.keys_column() if k % 2 else block.keys_texts(),
                "created_at": block.created_at,
                "read_at": Same(1.5),
                "size_bytes": block.size_bytes,
                "clock": Same("virtual"),
            },
        )
        first = np.where(np.arange(len(block)) % 3 == 0, np.nan, 2.0 + k)
        for r, f in zip(records, first.tolist(), strict=True):
            done_rows.append(
                DispositionRow(
                    "m",
                    r.shard_id,
                    r.sequence_number,
                    "processed",
                    3.0,
                    k,
                    None if k % 2 else "c",
                    "virtual",
                    None if f != f else f,
                )
            )
        done_block.extend_columns(
            len(block),
            {
                "mapping": Same("m"),
                "shard_id": Same(block.shard_id),
                "sequence_number": block.sequence_numbers(),
                "disposition": Same("processed"),
                "at": Same(3.0),
                "attempts": Same(k),
                "condition": Same(None if k % 2 else "c"),
                "clock": Same("virtual"),
                "first_invoked_at": first,
            },
        )
    assert list(by_block) == list(by_rows)
    assert list(done_block) == list(done_rows)
    pd.testing.assert_frame_equal(by_block.frame(), by_rows.frame())
    pd.testing.assert_frame_equal(done_block.frame(), done_rows.frame())


def test_checkpoints_by_block_move_as_by_record() -> None:
    stream, _ = _bulk_stream(7)
    blocks = [b for b in _blocks(stream, limit=9) if b.shard_id == _blocks(stream)[0].shard_id]
    per_record, per_block = ShardProgress(), ShardProgress()
    ordinals = []
    for block in blocks:
        for seq in block.sequence_numbers():
            per_record.add(seq)
        ordinals.append(per_block.add_block(block))
    order = random.Random(1).sample(range(len(blocks)), len(blocks))
    for k in order:
        moved_record = False
        for seq in blocks[k].sequence_numbers():
            moved_record = per_record.finish(seq) or moved_record
        assert per_block.finish_ordinals(ordinals[k]) == moved_record
        assert per_block.checkpoint == per_record.checkpoint
        assert per_block.in_flight == per_record.in_flight
    assert per_block.in_flight == 0


def test_the_modelled_handler_reads_the_batch_as_it_reads_the_event() -> None:
    stream, plays = _bulk_stream(8)
    poison = frozenset(plays["play_id"].astype(str).iloc[[3, 50, 200]])
    rows = plays["play_id"].astype(str).isin(poison).to_numpy()
    clock = VirtualClock()
    model = ScaleModel(cold_start_probability=0.0)
    for report in (True, False):
        by_event = ScaleHandler(model, poison, report)
        by_batch = ScaleHandler(model, poison, report, poison_rows=rows)
        by_records = ScaleHandler(model, poison, report)  # no rows: reads the event records
        for block in _blocks(stream, limit=60):
            outcomes: list[Any] = []
            for call, given in (
                (by_event, {"Records": block.events()}),
                (by_batch.handle_batch, block),
                (by_records.handle_batch, block),
            ):
                context = LambdaContext("f", "arn", 128, 3.0, clock, clock.now())
                try:
                    outcomes.append((call(given, context), context.spent_seconds))
                except RuntimeError as exc:
                    outcomes.append((str(exc), context.spent_seconds))
            assert outcomes[0] == outcomes[1] == outcomes[2]


def test_text_appends_in_blocks_keep_nones_and_unicode() -> None:
    """Texts appended a block at a time (ASCII at once, else one by one) read back as appended."""
    one, many = record_rows(), record_rows()
    blocks = [["a", "bc", ""], ["é", "x"], ["p", None, "q"], []]
    for texts in blocks:
        rows = [
            RecordRow("m", "s", str(10 + i), "e", "INSERT", t, 1.0, 2.0, 3, "c")
            for i, t in enumerate(texts)
        ]  # type: ignore[arg-type]
        for row in rows:
            one.append(row)
        many.extend_columns(
            len(rows),
            {
                "mapping": Same("m"),
                "shard_id": Same("s"),
                "sequence_number": [r.sequence_number for r in rows],
                "event_id": [r.event_id for r in rows],
                "event_name": Same("INSERT"),
                "keys": texts,
                "created_at": np.ones(len(rows)),
                "read_at": Same(2.0),
                "size_bytes": np.full(len(rows), 3),
                "clock": Same("c"),
            },
        )
    assert list(many) == list(one)
    pd.testing.assert_frame_equal(many.frame(), one.frame())


def test_synthetic_ids_are_the_zero_padded_numbers() -> None:
    from streamsim.workbench.scale.run import _numbered

    numbers = np.array([0, 7, 1234567, 9999999, 42])
    expected = pd.Series(np.char.add("p", np.char.zfill(numbers.astype(str), 7)))
    pd.testing.assert_series_equal(_numbered("p", numbers, 7), expected)
    wide = np.array([5, 10**7])  # does not fit the width: numpy's texts
    assert _numbered("p", wide, 7).tolist() == ["p0000005", "p10000000"]


@pytest.mark.parametrize(
    ("lanes", "pattern", "report"),
    [
        (3, None, False),
        (2, '{"dynamodb": {"NewImage": {"game": {"S": ["chess", "sudoku"]}}}}', True),
    ],
)
def test_blocks_equal_the_per_record_path_with_lanes_filters_and_a_destination(
    lanes: int, pattern: str | None, report: bool
) -> None:
    """Lanes by key hash, filtered records, partial batch responses, bisection and on-failure
    messages: the block path (bulk writes, the batch handed to the handler) gives what the
    per-record path (single writes, the handler given the event) gives, record by record."""
    from dataclasses import replace

    from streamsim.aws.trigger.config import DestinationConfig, EventSourceMapping, TriggerTiming
    from streamsim.workbench.scale.run import simulate_scale

    mapping = EventSourceMapping(
        starting_position="TRIM_HORIZON",
        batch_size=40,
        maximum_retry_attempts=1,
        bisect_batch_on_function_error=True,
        parallelization_factor=lanes,
        filter_criteria=(pattern,) if pattern else (),
        function_response_types=("ReportBatchItemFailures",) if report else (),
        destination_config=DestinationConfig(
            on_failure="arn:aws:sqs:eu-central-1:123456789012:dlq"
        ),
    )
    scenario = ScaleScenario(
        rate=200.0,
        seconds=10.0,
        shards=3,
        players=50,
        model=ScaleModel(rollover_hours=0, cold_start_probability=0.0),
        throttling=False,
        mapping=mapping,
        timing=TriggerTiming(max_payload_bytes=5000),
        poison=3,
    )
    fast = simulate_scale(scenario)
    slow = simulate_scale(replace(scenario, per_record_writes=True))
    tables = {
        "dispositions": [
            "sequence_number",
            "disposition",
            "at",
            "attempts",
            "condition",
            "first_invoked_at",
        ],
        "attempts": [
            "lane",
            "records",
            "payload_bytes",
            "invoked_at",
            "completed_at",
            "outcome",
            "retry",
            "first_sequence_number",
            "last_sequence_number",
        ],
        "records": ["sequence_number", "keys", "created_at", "read_at", "size_bytes"],
    }
    for name, columns in tables.items():
        pd.testing.assert_frame_equal(
            fast.run.tables[name][columns], slow.run.tables[name][columns]
        )

    # eventIDs: a random salt per stream, then the sequence number's low 64 bits
    assert fast.run.records["event_id"].str[16:].tolist() == (
        slow.run.records["event_id"].str[16:].tolist()
    )

    def messages(run: Any) -> list[str]:  # request ids and shard-id suffixes are random
        out = []
        for message in run.destination:
            message = json.loads(json.dumps(message, default=str))
            del message["requestContext"]["requestId"]
            info = message["DDBStreamBatchInfo"]
            info["shardId"] = info["shardId"].rsplit("-", 1)[0]
            out.append(json.dumps(message, sort_keys=True))
        return out

    assert messages(fast.run) == messages(slow.run) and fast.run.destination
    assert fast.summary["filtered"] > 0 if pattern else fast.summary["filtered"] == 0


def test_only_a_batch_handler_subclass_is_given_the_batch() -> None:
    """A foreign handler that happens to have a ``handle_batch`` attribute (any callable object)
    is a Lambda handler like any other: it gets the AWS event, never a ``RecordBlock``."""
    stream, _ = _bulk_stream(3)
    events: list[Any] = []

    class Foreign:
        def handle_batch(self, batch: Any, context: Any) -> None:
            raise AssertionError("a foreign handler was given the batch")

        def __call__(self, event: dict[str, Any], context: Any) -> None:
            events.append(event)

    clock = VirtualClock(start=1.7e9 + 10)  # just after _bulk_stream's writes
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON", batch_size=100),
        Foreign(),
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
    )
    assert trigger.run_until_drained(600)
    records = [r for e in events for r in e["Records"]]
    assert records and all(r["eventSource"] == "aws:dynamodb" for r in records)
    assert len(records) == len(trigger.capture.dispositions)
    assert all(a.outcome == "success" for a in trigger.capture.attempts), trigger.capture.attempts[
        :3
    ]
