"""Request units by AWS's rules (streamsim.workbench.capacity): the rounding at the boundaries,
what a projection, a missing item, a filter and a failed condition cost, and the meter on the
real embedded moto server."""

from __future__ import annotations

import pytest

from streamsim.aws.stream.records import item_size
from streamsim.aws.tables import PLAYS, TableSpec, create_table
from streamsim.workbench.capacity import ItemSizes, UnitLedger, consumed, read_units, write_units
from streamsim.workbench.requests import RequestCounter, unit_lines


def test_read_units_round_up_per_4_kb() -> None:
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(0, consistent=True) == 1.0  # a missing item still costs the minimum
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(8192, consistent=True, transactional=True) == 4.0


def test_write_units_round_up_per_1_kb() -> None:
    assert write_units(1024) == 1.0
    assert write_units(1025) == 2.0
    assert write_units(0) == 1.0
    assert write_units(1025, transactional=True) == 4.0


def _item(key: str, body_bytes: int, sort: str = "a") -> dict:
    """An item of exactly ``body_bytes`` bytes (names included), partition ``key``."""
    item = {"player_id": {"S": key}, "play_key": {"S": sort}, "x": {"S": ""}}
    item["x"]["S"] = "y" * (body_bytes - item_size(item))
    assert item_size(item) == body_bytes
    return item


def _sizes() -> ItemSizes:
    sizes = ItemSizes()
    sizes.learn_schema(
        "T",
        [
            {"AttributeName": "player_id", "KeyType": "HASH"},
            {"AttributeName": "play_key", "KeyType": "RANGE"},
        ],
    )
    return sizes


def test_get_item_sizes_the_item_and_halves_eventual_reads() -> None:
    sizes = _sizes()
    for size, strong, eventual in ((4096, 1.0, 0.5), (4097, 2.0, 1.0)):
        item = _item("p", size)
        params = {"TableName": "T", "Key": {}, "ConsistentRead": True}
        assert consumed("GetItem", params, {"Item": item}, sizes)[0].read_units == strong
        params["ConsistentRead"] = False
        assert consumed("GetItem", params, {"Item": item}, sizes)[0].read_units == eventual
    assert consumed("GetItem", {"TableName": "T", "Key": {}}, {}, sizes)[0].read_units == 0.5


def test_a_query_adds_the_sizes_of_the_items_then_rounds_once() -> None:
    sizes = _sizes()
    two = [_item("p", 2048, "a"), _item("p", 2048, "b")]
    params = {"TableName": "T", "ConsistentRead": True}
    assert consumed("Query", params, {"Items": two, "ScannedCount": 2}, sizes)[0].read_units == 1
    three = [*two, _item("p", 40, "c")]
    assert consumed("Query", params, {"Items": three, "ScannedCount": 3}, sizes)[0].read_units == 2
    # Nothing found: the minimum for the read's consistency.
    assert consumed("Query", params, {"Items": [], "ScannedCount": 0}, sizes)[0].read_units == 1
    # A filter drops items after they were read: they are billed too.
    one = [_item("p", 3000)]
    assert consumed("Query", params, {"Items": one, "ScannedCount": 1}, sizes)[0].read_units == 1
    dropped = consumed("Query", params, {"Items": one, "ScannedCount": 2}, sizes)
    assert dropped[0].read_units == 2.0


def test_batch_get_rounds_each_item_and_bills_missing_ones() -> None:
    sizes = _sizes()
    items = [_item("p", 1500, "a"), _item("q", 6500, "b")]
    params = {"RequestItems": {"T": {"Keys": [{}, {}, {}], "ConsistentRead": True}}}
    out = consumed("BatchGetItem", params, {"Responses": {"T": items}}, sizes)
    # 1.5 KB -> 1, 6.5 KB -> 2 (not 8 KB -> 2 for both), the missing key -> 1.
    assert out[0].read_units == 1 + 2 + 1
    unprocessed = {"Responses": {"T": items}, "UnprocessedKeys": {"T": {"Keys": [{}]}}}
    assert consumed("BatchGetItem", params, unprocessed, sizes)[0].read_units == 3


def test_a_projection_is_billed_at_the_stored_size() -> None:
    sizes = _sizes()
    big = _item("p", 5000, "a")
    consumed("PutItem", {"TableName": "T", "Item": big}, {}, sizes)
    params = {
        "TableName": "T",
        "KeyConditionExpression": "player_id = :p AND play_key < :k",
        "ExpressionAttributeValues": {":p": {"S": "p"}, ":k": {"S": "z"}},
        "ProjectionExpression": "play_key",
        "ConsistentRead": True,
    }
    projected = {"Items": [{"play_key": {"S": "a"}}], "ScannedCount": 1}
    assert consumed("Query", params, projected, sizes)[0].read_units == 2.0


def test_writes_take_the_larger_image_and_failed_conditions_still_cost() -> None:
    sizes = _sizes()
    put = {"TableName": "T", "Item": _item("p", 1024)}
    assert consumed("PutItem", put, {}, sizes)[0].write_units == 1.0
    bigger = {"TableName": "T", "Item": _item("p", 1025)}
    assert consumed("PutItem", bigger, {}, sizes)[0].write_units == 2.0
    # Overwriting the 1,025-byte item with a small one: the before-image decides.
    small = {"TableName": "T", "Item": _item("p", 100)}
    failed = {"Error": {"Code": "ConditionalCheckFailedException"}}
    assert consumed("PutItem", small, failed, sizes)[0].write_units == 2.0
    assert consumed("PutItem", small, {}, sizes)[0].write_units == 2.0
    assert consumed("PutItem", small, {}, sizes)[0].write_units == 1.0  # now 100 bytes stored
    throttled = {"Error": {"Code": "ProvisionedThroughputExceededException"}}
    assert consumed("PutItem", small, throttled, sizes) == []
    key = {"player_id": {"S": "p"}, "play_key": {"S": "a"}}
    assert consumed("DeleteItem", {"TableName": "T", "Key": key}, {}, sizes)[0].write_units == 1


def test_batch_write_bills_each_request_and_skips_unprocessed() -> None:
    sizes = _sizes()
    a, b = _item("p", 1025, "a"), _item("q", 30, "b")
    params = {"RequestItems": {"T": [{"PutRequest": {"Item": a}}, {"PutRequest": {"Item": b}}]}}
    assert consumed("BatchWriteItem", params, {}, sizes)[0].write_units == 3.0
    skipped = {"UnprocessedItems": {"T": [{"PutRequest": {"Item": b}}]}}
    assert consumed("BatchWriteItem", params, skipped, _sizes())[0].write_units == 2.0


def test_the_ledger_counts_only_while_counting_but_always_learns_sizes() -> None:
    ledger = UnitLedger(sizes=_sizes())
    ledger.record("PutItem", {"TableName": "T", "Item": _item("p", 3000)}, {})
    assert ledger.units == {}
    ledger.counting = True
    ledger.record("PutItem", {"TableName": "T", "Item": _item("p", 30)}, {})
    summary = ledger.summary(plays=2)
    assert summary["write_units"] == 3.0 and summary["write_units_per_play"] == 1.5
    assert summary["by_table"] == [
        {"operation": "PutItem", "table": "T", "requests": 1, "read_units": 0.0, "write_units": 3.0}
    ]
    assert any(line.split() == ["PutItem", "0.000", "1.500"] for line in unit_lines(summary))


def test_the_meter_sees_the_real_requests_on_moto(backend) -> None:
    counter = RequestCounter()
    with counter.installed(backend):
        dynamodb = backend.client("dynamodb")
    create_table(dynamodb, TableSpec("T", PLAYS.partition_key, PLAYS.sort_key))
    dynamodb.put_item(TableName="T", Item=_item("p", 5000, "a"))  # not counted, but sized
    counter.counting = True
    dynamodb.put_item(TableName="T", Item=_item("p", 100, "b"))
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName="T",
            Item=_item("p", 100, "a"),
            ConditionExpression="attribute_not_exists(player_id)",
        )
    dynamodb.query(
        TableName="T",
        KeyConditionExpression="player_id = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ProjectionExpression="play_key",
        ConsistentRead=True,
    )
    dynamodb.get_item(TableName="T", Key={"player_id": {"S": "x"}, "play_key": {"S": "x"}})
    counter.counting = False
    units = counter.summary(plays=1)["units"]
    # PutItem: 1 (100 B) + 5 (failed over the 5,000-byte item); Query: 5,100 B -> 2; GetItem
    # of a missing item, eventually consistent: 0.5.
    assert units["by_operation"]["PutItem"]["write_units"] == 6.0
    assert units["by_operation"]["Query"]["read_units"] == 2.0
    assert units["by_operation"]["GetItem"]["read_units"] == 0.5
