"""The moto child's patches (streamsim/aws/motopatch.py) change speed, not answers: the same
requests to a patched and an unpatched moto child give the same response bodies (stream records
included), apart from what moto draws at random or from the clock."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from streamsim.aws import motopatch
from streamsim.aws.backend import Backend, open_backend
from streamsim.aws.stream.reader import StreamReader

#: Response fields moto fills from the clock or os.urandom (everything else must match); a
#: stream record's SizeBytes is the length of its JSON, clock included.
_VOLATILE = re.compile(
    r'"(ApproximateCreationDateTime|SizeBytes|CreationDateTime|CreationRequestDateTime|'
    r"LatestStreamLabel|StreamLabel|LastIncreaseDateTime|LastDecreaseDateTime|"
    r'NextShardIterator|ShardIterator)": ("[^"]*"|[0-9.e+]+)'
)
_ARN_LABEL = re.compile(r"/stream/[0-9T:.\-]+")


def _normalised(body: bytes) -> str:
    return _ARN_LABEL.sub("/stream/<label>", _VOLATILE.sub(r'"\1": "<volatile>"', body.decode()))


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Backend, Backend]]:
    patched = open_backend(server="moto")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(motopatch.UNPATCHED_ENV, "1")
        unpatched = open_backend(server="moto")
    try:
        yield patched, unpatched
    finally:
        patched.close()
        unpatched.close()


class Bodies:
    """The raw body of every response a client receives."""

    def __init__(self, client: Any) -> None:
        self.bodies: list[tuple[str, str]] = []
        client.meta.events.register("before-parse", self._keep)

    def _keep(self, operation_model: Any, response_dict: Any, **_: Any) -> None:
        self.bodies.append((operation_model.name, _normalised(response_dict["body"])))


ITEMS: list[dict[str, Any]] = [
    {"s": {"S": "plain"}, "n": {"N": "42"}, "f": {"N": "-1.5E3"}},
    {"b": {"B": b"\x00\x01\xffbytes"}, "bs": {"BS": [b"a", b"\x00"]}},
    {"ss": {"SS": ["x", "é", "日本"]}, "ns": {"NS": ["1", "2.5"]}, "t": {"BOOL": True}},
    {"f": {"BOOL": False}, "z": {"NULL": True}, "e": {"S": ""}},
    {"m": {"M": {"a": {"S": "1"}, "b": {"M": {"c": {"L": [{"N": "1"}, {"S": "two"}]}}}}}},
    {"l": {"L": [{"M": {}}, {"L": []}, {"B": b"\x10"}, {"NULL": True}, {"SS": ["q"]}]}},
]


def _script(client: Any, streams: Any) -> None:
    """Writes of every attribute type, then reads of every kind the workbench makes."""
    client.create_table(
        TableName="T",
        KeySchema=[
            {"AttributeName": "p", "KeyType": "HASH"},
            {"AttributeName": "k", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "p", "AttributeType": "S"},
            {"AttributeName": "k", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byg",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for n, extra in enumerate(ITEMS * 3):
        player = f"p{n % 3}"
        key = {"p": {"S": player}, "k": {"N": str(n)}}
        client.put_item(TableName="T", Item={**key, "g": {"S": f"g{n % 2}"}, **extra})
    client.update_item(
        TableName="T",
        Key={"p": {"S": "p0"}, "k": {"N": "0"}},
        UpdateExpression="SET s = :v ADD n :one",
        ExpressionAttributeValues={":v": {"S": "changed"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    client.put_item(TableName="T", Item={"p": {"S": "p1"}, "k": {"N": "1"}}, ReturnValues="ALL_OLD")
    client.delete_item(
        TableName="T", Key={"p": {"S": "p2"}, "k": {"N": "2"}}, ReturnValues="ALL_OLD"
    )
    client.get_item(TableName="T", Key={"p": {"S": "p0"}, "k": {"N": "3"}}, ConsistentRead=True)
    client.batch_get_item(
        RequestItems={"T": {"Keys": [{"p": {"S": "p0"}, "k": {"N": str(n)}} for n in (0, 3, 6)]}}
    )
    values = {":p": {"S": "p0"}}
    for kwargs in (
        {"KeyConditionExpression": "p = :p"},
        {"KeyConditionExpression": "p = :p", "ScanIndexForward": False},
        {"KeyConditionExpression": "p = :p", "Limit": 2},
        {"KeyConditionExpression": "p = :p", "ProjectionExpression": "k, m, l"},
        {"KeyConditionExpression": "p = :p", "FilterExpression": "attribute_exists(ss)"},
        {
            "KeyConditionExpression": "p = :p AND k BETWEEN :lo AND :hi",
            "ExtraValues": {":lo": {"N": "3"}, ":hi": {"N": "12"}},
        },
        {"KeyConditionExpression": "p = :nobody", "ExtraValues": {":nobody": {"S": "x"}}},
    ):
        extra = kwargs.pop("ExtraValues", {})
        page = client.query(TableName="T", ExpressionAttributeValues={**values, **extra}, **kwargs)
        while "LastEvaluatedKey" in page:
            page = client.query(
                TableName="T",
                ExpressionAttributeValues={**values, **extra},
                ExclusiveStartKey=page["LastEvaluatedKey"],
                **kwargs,
            )
    client.query(
        TableName="T",
        IndexName="byg",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "g1"}},
    )
    client.scan(TableName="T")
    # A numeric partition key written one way and asked for another ("1" vs "1.0").
    client.create_table(
        TableName="N",
        KeySchema=[
            {"AttributeName": "h", "KeyType": "HASH"},
            {"AttributeName": "r", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "N"},
            {"AttributeName": "r", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for r in ("b", "a", "c"):
        client.put_item(TableName="N", Item={"h": {"N": "1"}, "r": {"S": r}})
    client.query(
        TableName="N",
        KeyConditionExpression="h = :h",
        ExpressionAttributeValues={":h": {"N": "1.0"}},
    )
    arn = client.describe_table(TableName="T")["Table"]["LatestStreamArn"]
    reader = StreamReader(streams, arn)
    list(reader.read_all())
    cursor = reader.cursor(reader.shards()[0])
    while cursor.read(limit=4):
        pass


def _bodies(backend: Backend) -> tuple[list[tuple[str, str]], list[Any]]:
    backend.reset()
    seed = backend.endpoint_url + "/moto-api/seed?a=13"
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(seed, method="POST"), timeout=10).read()  # noqa: S310
    client, streams = backend.client("dynamodb"), backend.client("dynamodbstreams")
    kept, kept_streams = Bodies(client), Bodies(streams)
    _script(client, streams)
    arn = client.describe_table(TableName="T")["Table"]["LatestStreamArn"]
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    return kept.bodies + kept_streams.bodies, records


def test_patched_and_unpatched_moto_answer_the_same(pair: tuple[Backend, Backend]) -> None:
    patched, unpatched = pair
    fast, fast_records = _bodies(patched)
    slow, slow_records = _bodies(unpatched)
    assert [op for op, _ in fast] == [op for op, _ in slow]
    assert {"Query", "GetRecords", "BatchGetItem", "GetItem", "Scan"} <= {op for op, _ in fast}
    for (op, got), (_, want) in zip(fast, slow, strict=True):
        assert got == want, op
    assert len(fast_records) == 18 + 3 and _without_clock(fast_records) == _without_clock(
        slow_records
    )
    binary = next(r for r in fast_records if "b" in r["dynamodb"]["NewImage"])
    assert base64.b64decode(binary["dynamodb"]["NewImage"]["b"]["B"]) == b"\x00\x01\xffbytes"


def _without_clock(records: list[Any]) -> str:
    for record in records:
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
        record["dynamodb"].pop("SizeBytes", None)
    return _ARN_LABEL.sub("", json.dumps(records, sort_keys=False))


def test_each_child_says_in_its_log_whether_moto_is_patched(
    pair: tuple[Backend, Backend],
) -> None:
    """The comparison above compares a patched moto with an unpatched one."""
    patched, unpatched = pair
    assert "moto patched" in patched._server.log_text()  # type: ignore[union-attr]
    assert "moto runs unpatched" in unpatched._server.log_text()  # type: ignore[union-attr]


def test_an_untested_moto_version_runs_unpatched_with_the_reason() -> None:
    reason = motopatch.why_not("0.0.1")
    assert reason is not None and "0.0.1" in reason and "tested" in reason


def test_odd_values_go_back_to_the_generic_serializer() -> None:
    def b64(value: Any) -> str:
        return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()

    assert motopatch.fast_attribute_value({"M": {"a": {"L": [{"N": "1"}]}}}, b64) == {
        "M": {"a": {"L": [{"N": "1"}]}}
    }
    assert motopatch.fast_attribute_value({"B": b"\x00"}, b64) == {"B": "AA=="}
    for odd in (
        None,
        {},
        {"S": "a", "N": "1"},
        {"S": 1},
        {"N": None},
        {"s": "lower"},
        {"M": {"a": None}},
        {"L": [None]},
        {"SS": ["a", 1]},
        {"BOOL": 1},
        {"X": "?"},
    ):
        with pytest.raises(motopatch._Slow):
            motopatch.fast_attribute_value(odd, b64)
