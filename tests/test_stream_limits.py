"""GetRecords' limits (1,000 records, 1 MB) and SizeBytes by AWS's item-size rules.

[API] GetRecords: "The maximum size of data that GetRecords can return is 1 MB ... up to 1,000
stream records"; [DOC-CAP] the DynamoDB item-size rules; the SizeBytes values below are the ones
AWS recorded in tests/events/powertools_dynamoStreamEvent.json and in the events
listed in docs/aws-fidelity.md ("Stream record sizes and GetRecords limits").
"""

from __future__ import annotations

import pytest

from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.stream.records import item_size, number_size, stream_record_size
from streamsim.aws.tables import StreamViewType, TableSpec, create_table
from streamsim.clock import VirtualClock

# ---- SizeBytes -----------------------------------------------------------------------------------

ID = {"Id": {"N": "101"}}


@pytest.mark.parametrize(
    ("keys", "new", "old", "recorded"),
    [
        # AWS's documentation sample (INSERT, then MODIFY), as recorded.
        (ID, {"Message": {"S": "New item!"}, **ID}, None, 26),
        (
            ID,
            {"Message": {"S": "This item has changed"}, **ID},
            {"Message": {"S": "New item!"}, **ID},
            59,
        ),
        # Events recorded from real AWS (aws-fidelity-facts.md section 5).
        (
            {"my_partition_key": {"S": "hello world"}},
            {"binary_key": {"B": "Zm9vYmFy"}, "my_partition_key": {"S": "hello world"}},
            None,
            70,
        ),
        ({"id": {"S": "id_value"}}, {"id2": {"S": "id2_value"}, "id": {"S": "id_value"}}, None, 32),
        (
            {"id": {"S": "id_value_1"}},
            {"numericFilter": {"N": "42"}, "id": {"S": "id_value_1"}},
            None,
            39,
        ),
        (
            {"my_partition_key": {"S": "testId0"}},
            {"my_partition_key": {"S": "testId0"}, "should_fail": {"BOOL": True}},
            None,
            58,
        ),
    ],
)
def test_size_bytes_is_what_aws_recorded(keys, new, old, recorded) -> None:  # type: ignore[no-untyped-def]
    assert stream_record_size(keys, new, old, "NEW_AND_OLD_IMAGES") == recorded
    stream = InMemoryStream(clock=VirtualClock().now)
    record = stream.write(keys, new, old)
    assert record is not None
    assert record["dynamodb"]["SizeBytes"] == recorded


def test_size_bytes_counts_only_the_images_the_view_type_carries() -> None:
    new = {"Message": {"S": "This item has changed"}, **ID}
    old = {"Message": {"S": "New item!"}, **ID}
    assert stream_record_size(ID, new, old, "KEYS_ONLY") == 5
    assert stream_record_size(ID, new, old, "NEW_IMAGE") == 5 + 33
    assert stream_record_size(ID, new, old, "OLD_IMAGE") == 5 + 21
    clock = VirtualClock()
    stream = InMemoryStream(clock=clock.now, view_type="KEYS_ONLY")
    record = stream.write(ID, new, old)
    assert record is not None and record["dynamodb"]["SizeBytes"] == 5


@pytest.mark.parametrize(
    ("text", "size"),
    [("42", 2), ("101", 3), ("0", 1), ("1200", 2), ("-12.50", 3), ("0.001", 2), ("1E+5", 2)],
)
def test_numbers_take_one_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_item_size_rules_for_every_type() -> None:
    assert item_size({"é": {"S": "ü"}}) == 2 + 2  # UTF-8 bytes of name and value
    assert item_size({"b": {"B": "Zm9vYmFy"}}) == 1 + 6  # raw bytes, not base64
    assert item_size({"b": {"B": b"\x00\x01"}}) == 1 + 2
    assert item_size({"t": {"BOOL": False}, "n": {"NULL": True}}) == 2 + 2
    assert item_size({"m": {"M": {}}}) == 1 + 3  # an empty map: 3 bytes
    # a map: 3 bytes + each element (name + value) + 1 byte per element
    assert item_size({"m": {"M": {"a": {"S": "xy"}, "b": {"N": "7"}}}}) == 1 + 3 + (3 + 1) + (
        1 + 2 + 1
    )
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + (2 + 1) + (1 + 1)
    assert item_size({"s": {"SS": ["ab", "c"]}, "n": {"NS": ["42"]}}) == (1 + 3) + (1 + 2)


# ---- GetRecords: 1,000 records and 1 MB per call ------------------------------------------------


def big_stream(count: int, value_bytes: int) -> tuple[InMemoryStream, str]:
    stream = InMemoryStream(clock=VirtualClock().now, view_type="NEW_IMAGE")
    for i in range(count):
        key = {"pk": {"S": f"k{i:04d}"}}
        stream.write(key, {**key, "v": {"S": "x" * value_bytes}})
    shard = stream.describe_stream(StreamArn=stream.stream_arn)["StreamDescription"]["Shards"][0]
    return stream, shard["ShardId"]


def first_page(stream: InMemoryStream, shard_id: str, limit: int = 1000) -> list[dict]:  # type: ignore[type-arg]
    iterator = stream.get_shard_iterator(
        StreamArn=stream.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return list(stream.get_records(ShardIterator=iterator, Limit=limit)["Records"])


def test_get_records_returns_at_most_1_mb() -> None:
    stream, shard = big_stream(8, 300_000)
    page = first_page(stream, shard)
    assert len(page) == 3  # 3 × ~300 KB fit in 1 MiB, 4 do not
    assert sum(r["dynamodb"]["SizeBytes"] for r in page) <= 1024 * 1024


def test_get_records_returns_one_record_larger_than_the_rest_of_the_cap() -> None:
    stream, shard = big_stream(2, 390_000)
    stream.write({"pk": {"S": "z"}}, {"pk": {"S": "z"}})
    assert len(first_page(stream, shard, limit=1)) == 1


def test_get_records_returns_at_most_1000_records() -> None:
    stream, shard = big_stream(1200, 1)
    assert len(first_page(stream, shard, limit=5000)) == 1000


def test_the_reader_reads_on_when_the_1_mb_cap_cut_the_page() -> None:
    stream, _ = big_stream(8, 300_000)
    reader = StreamReader(stream, stream.stream_arn)
    cursor = reader.cursor(reader.shards()[0])
    records = cursor.read()
    assert len(records) == 8  # one read: pages of 3, 3 and 2, then one that finds nothing more
    assert stream.calls.count("GetRecords") == 4


def test_moto_ignores_the_get_records_limit(dynamodb, streams) -> None:  # type: ignore[no-untyped-def]
    """moto accepts a Limit above 1,000 (AWS: a ValidationException, 1 to 1,000 [API]) and has
    no 1 MB cap (docs/backends.md): the reader asks for at most 1,000, and the caps are tested
    on the in-memory stream."""
    arn = create_table(
        dynamodb, TableSpec("LimitTable", ("pk", "S"), None, StreamViewType.NEW_IMAGE)
    )
    for key in "abc":
        dynamodb.put_item(TableName="LimitTable", Item={"pk": {"S": key}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    page = streams.get_records(ShardIterator=iterator, Limit=5000)["Records"]
    assert len(page) == 3  # AWS would refuse Limit=5000
