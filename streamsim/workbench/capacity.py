"""DynamoDB read and write request units, computed from each request and its response by AWS's rules.

Why not ``ReturnConsumedCapacity``: moto answers it with fixed numbers (PutItem and Query 1,
GetItem 0.5 whatever the consistency or size, BatchGetItem one per key), so the workbench
computes the units itself from the items, as AWS bills them [RW]:

- a strongly consistent read takes 1 read unit per started 4 KB, an eventually consistent one
  half that, a transactional one twice that;
- GetItem: the item's size rounded up to 4 KB (a missing item still costs the minimum);
- BatchGetItem: each item as its own GetItem (rounded separately, then added);
- Query and Scan: the sizes of every item *read* (before any filter, whatever the projection)
  added up, then rounded up to 4 KB, once per request (a Query that finds nothing costs the
  minimum) [Q];
- a write takes 1 write unit per started 1 KB (transactional: 2); PutItem, UpdateItem and
  DeleteItem are sized by the larger of the item before and after the write, and a
  conditional write whose condition fails still consumes those units [RW];
- BatchWriteItem: each put or delete on its own (a delete of a missing item: 1 unit).

A projection does not shrink the size that is billed [RW], so the full size of a projected item
comes from ``ItemSizes``: the size of every item the meter has seen written, by table and key
(it also gives PutItem its before-image). An item written before the meter was installed is
unknown to it: a put over it counts as a put of a new item, a projected read of it at the size
that was returned. Requests that fail for any other reason (throttling, validation) consume
nothing here. Transactions are not metered (the handler does not use them): they are counted
as ``unmetered``.

[RW] docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
[Q] docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Other.html and
    Query.FilterExpression.html ("a Query consumes the same amount of read capacity, regardless
    of whether a filter expression is present"); API_Query ("Queries that do not return results
    consume the minimum number of read capacity units for that type of read operation").
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamsim.aws.stream.records import item_size

#: [RW] Bytes one read unit covers (strongly consistent).
READ_UNIT_BYTES = 4096
#: [RW] Bytes one write unit covers.
WRITE_UNIT_BYTES = 1024
#: Operations that read or write items, and so consume request units [RW].
METERED = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem"}
    | {"BatchWriteItem"}
)
#: Item operations the meter does not size (counted, so their absence of units is visible).
UNMETERED = frozenset(
    {"TransactGetItems", "TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement"}
    | {"ExecuteTransaction"}
)


def read_units(size_bytes: int, *, consistent: bool, transactional: bool = False) -> float:
    """[RW] Read units of reading ``size_bytes`` in one piece: 1 per started 4 KB (at least 1),
    halved for an eventually consistent read, doubled for a transactional one."""
    blocks = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    if transactional:
        return 2.0 * blocks
    return float(blocks) if consistent else blocks / 2


def write_units(size_bytes: int, *, transactional: bool = False) -> float:
    """[RW] Write units of writing an item of ``size_bytes``: 1 per started 1 KB (at least 1),
    doubled for a transactional write."""
    units = max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))
    return 2.0 * units if transactional else float(units)


@dataclass(frozen=True)
class Consumed:
    """The units one request consumed on one table."""

    operation: str
    table: str
    read_units: float = 0.0
    write_units: float = 0.0


class ItemSizes:
    """The size of every item the meter saw written, by table and primary key; the tables' key
    schemas (from CreateTable requests and DescribeTable answers)."""

    def __init__(self) -> None:
        self.schemas: dict[str, tuple[str, str | None]] = {}
        self._sizes: dict[str, dict[str, int]] = {}

    def learn_schema(self, table: str, key_schema: Iterable[Mapping[str, str]]) -> None:
        """Remember ``table``'s partition and sort key names (a KeySchema list)."""
        hash_key = range_key = None
        for element in key_schema:
            if element.get("KeyType") == "HASH":
                hash_key = element.get("AttributeName")
            elif element.get("KeyType") == "RANGE":
                range_key = element.get("AttributeName")
        if hash_key:
            self.schemas[table] = (hash_key, range_key)

    def key(self, table: str, item: Mapping[str, Any]) -> str | None:
        """The item's primary key as text, or None (schema unknown, or the item lacks a key)."""
        schema = self.schemas.get(table)
        if schema is None:
            return None
        names = [n for n in schema if n is not None]
        if any(n not in item for n in names):
            return None
        return json.dumps([item[n] for n in names], sort_keys=True)

    def get(self, table: str, key: str | None) -> int | None:
        return None if key is None else self._sizes.get(table, {}).get(key)

    def put(self, table: str, key: str | None, size: int) -> None:
        if key is not None:
            self._sizes.setdefault(table, {})[key] = size

    def delete(self, table: str, key: str | None) -> None:
        if key is not None:
            self._sizes.get(table, {}).pop(key, None)

    def forget_table(self, table: str) -> None:
        self._sizes.pop(table, None)
        self.schemas.pop(table, None)


def consumed(
    operation: str, params: Mapping[str, Any], response: Mapping[str, Any], sizes: ItemSizes
) -> list[Consumed]:
    """The units one DynamoDB request consumed, per table, from its parameters and its parsed
    response (an error response has ``Error``); updates ``sizes`` with what it wrote."""
    _learn(operation, params, response, sizes)
    error = (response.get("Error") or {}).get("Code")
    if error is not None and not (
        error == "ConditionalCheckFailedException" and operation in _SINGLE_WRITES
    ):
        return []
    if operation == "GetItem":
        return [_get_item(params, response, sizes)]
    if operation == "BatchGetItem":
        return _batch_get(params, response, sizes)
    if operation in ("Query", "Scan"):
        return [_query(operation, params, response, sizes)]
    if operation in _SINGLE_WRITES:
        return [_single_write(operation, params, response, sizes, failed=error is not None)]
    if operation == "BatchWriteItem":
        return _batch_write(params, response, sizes)
    return []


_SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def _learn(
    operation: str, params: Mapping[str, Any], response: Mapping[str, Any], sizes: ItemSizes
) -> None:
    if operation == "CreateTable" and "KeySchema" in params:
        sizes.learn_schema(params["TableName"], params["KeySchema"])
    elif operation == "DescribeTable" and "Table" in response:
        table = response["Table"]
        sizes.learn_schema(table.get("TableName", params.get("TableName", "")), table["KeySchema"])
    elif operation == "DeleteTable" and "Error" not in response:
        sizes.forget_table(params.get("TableName", ""))


def _projected(params: Mapping[str, Any]) -> bool:
    return bool(
        params.get("ProjectionExpression")
        or params.get("AttributesToGet")
        or params.get("Select") in ("COUNT", "SPECIFIC_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES")
    )


def _full_size(
    table: str, item: Mapping[str, Any], sizes: ItemSizes, projected: bool, extra: Mapping[str, Any]
) -> int:
    """An item's billed size: its stored size when the response was projected (and known)."""
    if not projected:
        return item_size(dict(item))
    known = sizes.get(table, sizes.key(table, {**extra, **item}))
    return known if known is not None else item_size(dict(item))


def _get_item(params: Mapping[str, Any], response: Mapping[str, Any], sizes: ItemSizes) -> Consumed:
    table = params["TableName"]
    item = response.get("Item")
    size = 0
    if item is not None:
        size = _full_size(table, item, sizes, _projected(params), params.get("Key", {}))
    units = read_units(size, consistent=bool(params.get("ConsistentRead", False)))
    return Consumed("GetItem", table, read_units=units)


def _batch_get(
    params: Mapping[str, Any], response: Mapping[str, Any], sizes: ItemSizes
) -> list[Consumed]:
    out = []
    for table, request in params.get("RequestItems", {}).items():
        consistent = bool(request.get("ConsistentRead", False))
        projected = _projected(request)
        unprocessed = len(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
        returned = response.get("Responses", {}).get(table, [])
        missing = max(0, len(request.get("Keys", [])) - unprocessed - len(returned))
        units = sum(
            read_units(_full_size(table, item, sizes, projected, {}), consistent=consistent)
            for item in returned
        )
        units += missing * read_units(0, consistent=consistent)  # a missing item: the minimum
        out.append(Consumed("BatchGetItem", table, read_units=units))
    return out


def _query(
    operation: str, params: Mapping[str, Any], response: Mapping[str, Any], sizes: ItemSizes
) -> Consumed:
    table = params["TableName"]
    projected = _projected(params)
    partition = _partition_value(table, params, sizes) if operation == "Query" else {}
    total: float = sum(
        _full_size(table, item, sizes, projected, partition) for item in response.get("Items", [])
    )
    # Items a filter dropped were read too [Q]: sized at the mean of those returned.
    returned = len(response.get("Items", []))
    scanned = int(response.get("ScannedCount", returned))
    if scanned > returned and returned:
        total += (scanned - returned) * total / returned
    units = read_units(int(math.ceil(total)), consistent=bool(params.get("ConsistentRead", False)))
    return Consumed(operation, table, read_units=units)


_EQUALS = re.compile(r"(#?[A-Za-z_][\w.]*)\s*=\s*(:[\w]+)")


def _partition_value(table: str, params: Mapping[str, Any], sizes: ItemSizes) -> dict[str, Any]:
    """The Query's partition key attribute (``{name: value}``), from its key condition: the
    partition key is always matched with ``=`` [Q]; {} if it cannot be found."""
    schema = sizes.schemas.get(table)
    condition = params.get("KeyConditionExpression")
    if schema is None or not isinstance(condition, str):
        return {}
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    for name, placeholder in _EQUALS.findall(condition):
        if names.get(name, name) == schema[0] and placeholder in values:
            return {schema[0]: values[placeholder]}
    return {}


def _single_write(
    operation: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any],
    sizes: ItemSizes,
    *,
    failed: bool,
) -> Consumed:
    table = params["TableName"]
    if operation == "PutItem":
        item = params.get("Item", {})
        key = sizes.key(table, item)
        after = item_size(dict(item))
    else:
        key = sizes.key(table, params.get("Key", {}))
        attributes = response.get("Attributes")
        if operation == "DeleteItem":
            after = 0
        elif attributes is not None and params.get("ReturnValues") == "ALL_NEW":
            after = item_size(dict(attributes))
        else:  # UpdateItem without the new image: sized by the item before (an approximation)
            after = sizes.get(table, key) or 0
    before = sizes.get(table, key) or 0
    units = write_units(max(before, after))
    if not failed:
        if operation == "DeleteItem":
            sizes.delete(table, key)
        else:
            sizes.put(table, key, after)
    return Consumed(operation, table, write_units=units)


def _batch_write(
    params: Mapping[str, Any], response: Mapping[str, Any], sizes: ItemSizes
) -> list[Consumed]:
    out = []
    unprocessed = response.get("UnprocessedItems", {})
    for table, requests in params.get("RequestItems", {}).items():
        skipped = [json.dumps(r, sort_keys=True) for r in unprocessed.get(table, [])]
        units = 0.0
        for request in requests:
            marker = json.dumps(request, sort_keys=True)
            if marker in skipped:
                skipped.remove(marker)
                continue
            if "PutRequest" in request:
                item = request["PutRequest"]["Item"]
                key = sizes.key(table, item)
                size = item_size(dict(item))
                units += write_units(max(size, sizes.get(table, key) or 0))
                sizes.put(table, key, size)
            elif "DeleteRequest" in request:
                key = sizes.key(table, request["DeleteRequest"]["Key"])
                units += write_units(sizes.get(table, key) or 0)
                sizes.delete(table, key)
        out.append(Consumed("BatchWriteItem", table, write_units=units))
    return out


@dataclass
class UnitLedger:
    """Read and write units by (operation, table), added up while ``counting``; the item sizes
    are kept up to date whether or not it counts. Thread-safe (the writer, the trigger and
    the handler share it)."""

    sizes: ItemSizes = field(default_factory=ItemSizes)
    counting: bool = False
    units: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    unmetered: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self, operation: str, params: Mapping[str, Any], response: Mapping[str, Any]
    ) -> None:
        """Account one DynamoDB request (its API parameters and parsed response)."""
        with self._lock:
            rows = consumed(operation, params, response, self.sizes)
            if not self.counting:
                return
            if operation in UNMETERED:
                self.unmetered[operation] = self.unmetered.get(operation, 0) + 1
            for row in rows:
                cell = self.units.setdefault((row.operation, row.table), [0, 0.0, 0.0])
                cell[0] += 1
                cell[1] += row.read_units
                cell[2] += row.write_units

    def summary(self, plays: int) -> dict[str, Any]:
        """Read and write units in all and per play, by operation and by operation and table."""
        per = max(plays, 1)
        by_op: dict[str, list[float]] = {}
        for (op, _), (_, r, w) in self.units.items():
            cell = by_op.setdefault(op, [0.0, 0.0])
            cell[0] += r
            cell[1] += w
        total_r = sum(c[0] for c in by_op.values())
        total_w = sum(c[1] for c in by_op.values())
        return {
            "plays": plays,
            "read_units": total_r,
            "write_units": total_w,
            "read_units_per_play": total_r / per,
            "write_units_per_play": total_w / per,
            "by_operation": {
                op: {"read_units": r, "write_units": w, "per_play": (r + w) / per}
                for op, (r, w) in sorted(by_op.items())
            },
            "by_table": [
                {
                    "operation": op,
                    "table": table,
                    "requests": int(n),
                    "read_units": r,
                    "write_units": w,
                }
                for (op, table), (n, r, w) in sorted(self.units.items())
            ],
            "unmetered": dict(self.unmetered),
            "source": "computed from each request and response by AWS's rules "
            "(streamsim.workbench.capacity)",
        }
