"""The stream reader: only the blog's four actions; pagination, lineage, closed shards, expired
iterators, trimmed data (on the in-memory stream, since moto has one shard that never splits)."""

from __future__ import annotations

import pytest

from streamsim.aws.stream.memory import ITERATOR_LIFETIME_SECONDS, RETENTION_SECONDS, InMemoryStream
from streamsim.aws.stream.reader import Shard, StreamReader, parents_first
from streamsim.aws.tables import PLAYS, create_table
from tests.helpers import record_operations

BLOG_POLICY = {"DescribeStream", "GetShardIterator", "GetRecords", "ListStreams"}


class Now:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _item(i: int) -> dict:
    return {"pk": {"S": f"item-{i}"}}


def test_reader_sends_only_the_blogs_four_actions(backend, dynamodb) -> None:
    arn = create_table(dynamodb, PLAYS)
    dynamodb.put_item(TableName="Plays", Item={"player_id": {"S": "p"}, "play_key": {"S": "k"}})
    streams = backend.client("dynamodbstreams")
    sent = record_operations(streams)
    assert streams.list_streams(TableName="Plays")["Streams"][0]["StreamArn"] == arn
    records = list(StreamReader(streams, arn).read_all())
    assert len(records) == 1
    assert set(sent) <= BLOG_POLICY, (
        f"operations outside the blog's IAM policy: {set(sent) - BLOG_POLICY}"
    )
    assert {"DescribeStream", "GetShardIterator", "GetRecords"} <= set(sent)


def test_describe_stream_pagination_is_followed() -> None:
    stream = InMemoryStream(clock=Now(), shards=1)
    for _ in range(5):  # 1 + 2*5 shards (each split closes one and opens two)
        open_id = [
            s["ShardId"]
            for s in stream.describe_stream(StreamArn=stream.stream_arn, Limit=1000)[
                "StreamDescription"
            ]["Shards"]
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]
        ][0]
        stream.split_shard(open_id)

    class Paged:
        """Force pages of 3 shards, as a large stream's DescribeStream does."""

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(stream, name)

        def describe_stream(self, **kw):  # type: ignore[no-untyped-def]
            return stream.describe_stream(Limit=3, **kw)

    shards = StreamReader(Paged(), stream.stream_arn).shards()
    assert len(shards) == 11
    assert len({s.shard_id for s in shards}) == 11
    assert stream.calls.count("DescribeStream") >= 4 + 5


def test_parents_are_read_before_children_and_closed_shards_end() -> None:
    now = Now()
    stream = InMemoryStream(clock=now, shards=1)
    parent = stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"][0][
        "ShardId"
    ]
    for i in range(3):
        stream.write(_item(i), {"v": {"N": str(i)}, **_item(i)})
    left, right = stream.split_shard(parent)
    for i in range(3, 9):
        stream.write(_item(i), {"v": {"N": str(i)}, **_item(i)})
    reader = StreamReader(stream, stream.stream_arn)
    shards = reader.shards()
    assert [s.shard_id for s in parents_first(list(reversed(shards)))][0] == parent
    assert next(s for s in shards if s.shard_id == parent).closed
    records = list(reader.read_all())
    assert [r.shard_id for r in records[:3]] == [parent] * 3
    assert {r.shard_id for r in records[3:]} <= {left, right}
    assert sorted(int(r.keys["pk"]["S"].split("-")[1]) for r in records) == list(range(9))
    # A closed shard read to its end has no next iterator: its cursor is finished.
    cursor = reader.cursor(next(s for s in shards if s.shard_id == parent))
    assert len(cursor.read()) == 3 and cursor.finished


def test_an_expired_iterator_is_reacquired_after_the_last_record() -> None:
    now = Now()
    stream = InMemoryStream(clock=now)
    reader = StreamReader(stream, stream.stream_arn)
    (shard,) = reader.shards()
    cursor = reader.cursor(shard)
    stream.write(_item(1), _item(1))
    assert [r.keys for r in cursor.read()] == [_item(1)]
    stream.write(_item(2), _item(2))
    now.t += ITERATOR_LIFETIME_SECONDS + 1
    assert [r.keys for r in cursor.read()] == [_item(2)]  # nothing skipped, nothing repeated
    assert cursor.reacquired_expired == 1
    assert stream.calls.count("GetShardIterator") == 2


def test_trimmed_data_restarts_at_trim_horizon() -> None:
    now = Now()
    stream = InMemoryStream(clock=now)
    reader = StreamReader(stream, stream.stream_arn)
    (shard,) = reader.shards()
    stream.write(_item(1), _item(1))
    cursor = reader.cursor(shard)
    assert len(cursor.read()) == 1
    stream.write(_item(2), _item(2))  # written, then older than 24 h before it is read
    now.t += RETENTION_SECONDS + 1
    stream.write(_item(3), _item(3))
    cursor.iterator = None  # e.g. a restarted consumer with a checkpoint in trimmed data
    assert [r.keys for r in cursor.read()] == [_item(3)]
    assert cursor.trimmed_restarts == 1


def test_lineage_cycle_is_refused() -> None:
    from streamsim.errors import ConfigError

    a = Shard("a", "b", "1", None)
    b = Shard("b", "a", "1", None)
    with pytest.raises(ConfigError, match="cycle"):
        parents_first([a, b])


def test_in_memory_stream_emits_no_record_for_a_write_that_changes_nothing() -> None:
    stream = InMemoryStream(clock=Now())
    assert stream.write(_item(1), _item(1)) is not None
    assert stream.write(_item(1), _item(1), old_image=_item(1)) is None
