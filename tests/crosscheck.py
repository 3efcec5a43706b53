"""The cross-check script: the same table operations on any backend, and the stream records the
reader produces for each step (tests/test_crosscheck.py compares moto and MiniStack)."""

from __future__ import annotations

from typing import Any

from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import StreamViewType, TableSpec, create_table

VIEW_TYPES = [v.value for v in StreamViewType]
B = {"B": b"\x00\xff\x10"}
BS = {"BS": [b"\x01", b"\x02\x03"]}


def _key(pk: str, sk: int) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def steps(table: str) -> list[tuple[str, Any]]:
    """(name, operation on a dynamodb client) in order."""
    item = {**_key("a", 1), "v": {"S": "x"}, "b": B, "bs": BS, "n": {"N": "1"}}
    return [
        ("put new", lambda d: d.put_item(TableName=table, Item=item)),
        ("put identical", lambda d: d.put_item(TableName=table, Item=item)),
        (
            "update modifies",
            lambda d: d.update_item(
                TableName=table,
                Key=_key("a", 1),
                UpdateExpression="SET v = :v ADD n :one",
                ExpressionAttributeValues={":v": {"S": "y"}, ":one": {"N": "1"}},
            ),
        ),
        (
            "update same value",
            lambda d: d.update_item(
                TableName=table,
                Key=_key("a", 1),
                UpdateExpression="SET v = :v",
                ExpressionAttributeValues={":v": {"S": "y"}},
            ),
        ),
        (
            "update binary",
            lambda d: d.update_item(
                TableName=table,
                Key=_key("a", 1),
                UpdateExpression="SET b = :b",
                ExpressionAttributeValues={":b": {"B": b"\xfe"}},
            ),
        ),
        (
            "update creates",
            lambda d: d.update_item(
                TableName=table,
                Key=_key("u", 1),
                UpdateExpression="SET v = :v",
                ExpressionAttributeValues={":v": {"S": "new"}},
            ),
        ),
        ("delete", lambda d: d.delete_item(TableName=table, Key=_key("u", 1))),
        ("delete missing", lambda d: d.delete_item(TableName=table, Key=_key("zz", 9))),
        (
            "batch write",
            lambda d: d.batch_write_item(
                RequestItems={
                    table: [
                        {"PutRequest": {"Item": {**_key("b", 1), "v": {"S": "1"}}}},
                        {"DeleteRequest": {"Key": _key("a", 1)}},
                        {"PutRequest": {"Item": {**_key("b", 2), "b": B}}},
                    ]
                }
            ),
        ),
        (
            "transact write",
            lambda d: d.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {**_key("t", 1), "v": {"S": "1"}}}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": _key("b", 1),
                            "UpdateExpression": "SET v = :v",
                            "ExpressionAttributeValues": {":v": {"S": "2"}},
                        }
                    },
                    {"Delete": {"TableName": table, "Key": _key("b", 2)}},
                ]
            ),
        ),
    ]


def run_script(backend: Any, view_type: str) -> dict[str, list[dict[str, Any]]]:
    """Each step's Lambda-shaped records, as streamsim's reader produces them."""
    dynamodb = backend.client("dynamodb")
    table = f"X{view_type.replace('_', '')}"
    arn = create_table(
        dynamodb, TableSpec(table, ("pk", "S"), ("sk", "N"), StreamViewType(view_type))
    )
    assert arn is not None
    reader = StreamReader(backend.client("dynamodbstreams"), arn)
    cursor = None
    out: dict[str, list[dict[str, Any]]] = {}
    for name, operation in steps(table):
        operation(dynamodb)
        if cursor is None:
            (shard,) = reader.shards()
            cursor = reader.cursor(shard, "TRIM_HORIZON")
        records = []
        while True:
            batch = cursor.read()
            records += [r.event for r in batch]
            if not batch:
                break
        out[name] = records
    return out


def essence(record: dict[str, Any]) -> dict[str, Any]:
    """What a handler acts on: the event name, keys and images (not ids, times, numbers)."""
    ddb = record["dynamodb"]
    return {
        "eventName": record["eventName"],
        "Keys": ddb["Keys"],
        **{k: ddb[k] for k in ("NewImage", "OldImage") if k in ddb},
        "StreamViewType": ddb["StreamViewType"],
    }
