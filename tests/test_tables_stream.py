"""Against the embedded server: each view type yields the images AWS documents [S], and each
write yields the event AWS documents. Where moto differs from AWS, a test pins the difference
(docs/backends.md says it)."""

from __future__ import annotations

import pytest

from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import (
    StreamViewType,
    TableSpec,
    create_table,
    disable_stream,
    enable_stream,
    latest_stream_arn,
)

KEY = {"pk": {"S": "a"}}


def _spec(view: StreamViewType | None) -> TableSpec:
    return TableSpec("ViewTable", ("pk", "S"), None, view)


def _events(streams, arn):  # type: ignore[no-untyped-def]
    return [r.event for r in StreamReader(streams, arn).read_all()]


@pytest.mark.parametrize(
    "view, images",
    [
        (StreamViewType.KEYS_ONLY, {"INSERT": set(), "MODIFY": set(), "REMOVE": set()}),
        (
            StreamViewType.NEW_IMAGE,
            {"INSERT": {"NewImage"}, "MODIFY": {"NewImage"}, "REMOVE": set()},
        ),
        (
            StreamViewType.OLD_IMAGE,
            {"INSERT": set(), "MODIFY": {"OldImage"}, "REMOVE": {"OldImage"}},
        ),
        (
            StreamViewType.NEW_AND_OLD_IMAGES,
            {"INSERT": {"NewImage"}, "MODIFY": {"NewImage", "OldImage"}, "REMOVE": {"OldImage"}},
        ),
    ],
)
def test_each_view_type_carries_exactly_the_documented_images(
    dynamodb, streams, view, images
) -> None:
    arn = create_table(dynamodb, _spec(view))
    dynamodb.put_item(TableName="ViewTable", Item={**KEY, "v": {"N": "1"}})
    dynamodb.put_item(TableName="ViewTable", Item={**KEY, "v": {"N": "2"}})
    dynamodb.delete_item(TableName="ViewTable", Key=KEY)
    events = _events(streams, arn)
    assert [e["eventName"] for e in events] == ["INSERT", "MODIFY", "REMOVE"]
    for event in events:
        ddb = event["dynamodb"]
        assert ddb["Keys"] == KEY
        assert ddb["StreamViewType"] == view.value
        assert {k for k in ("NewImage", "OldImage") if k in ddb} == images[event["eventName"]]
    if view is StreamViewType.NEW_AND_OLD_IMAGES:
        assert events[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
        assert events[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
        assert events[2]["dynamodb"]["OldImage"]["v"] == {"N": "2"}


def test_update_delete_and_batch_write_event_names(dynamodb, streams) -> None:
    arn = create_table(dynamodb, _spec(StreamViewType.NEW_AND_OLD_IMAGES))
    dynamodb.put_item(TableName="ViewTable", Item={**KEY, "n": {"N": "1"}})
    dynamodb.update_item(
        TableName="ViewTable",
        Key=KEY,
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )
    dynamodb.batch_write_item(
        RequestItems={
            "ViewTable": [
                {"PutRequest": {"Item": {"pk": {"S": "b"}}}},
                {"DeleteRequest": {"Key": KEY}},
            ]
        }
    )
    dynamodb.delete_item(TableName="ViewTable", Key={"pk": {"S": "b"}})
    names = [(e["eventName"], e["dynamodb"]["Keys"]["pk"]["S"]) for e in _events(streams, arn)]
    assert names == [
        ("INSERT", "a"),
        ("MODIFY", "a"),
        ("INSERT", "b"),
        ("REMOVE", "a"),
        ("REMOVE", "b"),
    ]


def test_moto_quirk_a_write_that_changes_nothing_emits_a_modify(dynamodb, streams) -> None:
    """AWS: no record for a write that changes nothing [S]. moto emits MODIFY with equal images."""
    arn = create_table(dynamodb, _spec(StreamViewType.NEW_AND_OLD_IMAGES))
    item = {**KEY, "v": {"S": "same"}}
    dynamodb.put_item(TableName="ViewTable", Item=item)
    dynamodb.put_item(TableName="ViewTable", Item=item)
    events = _events(streams, arn)
    assert [e["eventName"] for e in events] == ["INSERT", "MODIFY"]  # AWS would give ["INSERT"]
    assert events[1]["dynamodb"]["OldImage"] == events[1]["dynamodb"]["NewImage"]


def test_moto_quirk_update_item_that_creates_an_item_emits_two_inserts(dynamodb, streams) -> None:
    """AWS: one INSERT. moto: an INSERT of the key alone, then an INSERT of the full item."""
    arn = create_table(dynamodb, _spec(StreamViewType.NEW_AND_OLD_IMAGES))
    dynamodb.update_item(
        TableName="ViewTable",
        Key=KEY,
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "x"}},
    )
    events = _events(streams, arn)
    assert [e["eventName"] for e in events] == ["INSERT", "INSERT"]
    assert events[-1]["dynamodb"]["NewImage"] == {**KEY, "v": {"S": "x"}}


def test_lambda_record_shape_smooths_moto_quirks(dynamodb, streams) -> None:
    arn = create_table(dynamodb, _spec(StreamViewType.NEW_AND_OLD_IMAGES))
    dynamodb.put_item(TableName="ViewTable", Item=KEY)
    (record,) = list(StreamReader(streams, arn).read_all())
    event = record.event
    assert list(event) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert event["awsRegion"] == "eu-central-1"  # moto says us-east-1
    assert event["eventVersion"] == "1.1"  # moto says 1.0
    assert event["eventSource"] == "aws:dynamodb"
    assert event["eventSourceARN"] == arn
    created = event["dynamodb"]["ApproximateCreationDateTime"]
    assert isinstance(created, float) and created == int(created)  # whole epoch seconds
    assert 0 <= record.created_at - created < 1  # capture keeps moto's millisecond precision
    assert list(event["dynamodb"]) == [
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    ]
    assert event["dynamodb"]["SequenceNumber"].isdigit()


def test_enable_and_disable_stream(dynamodb) -> None:
    create_table(dynamodb, _spec(None))
    assert latest_stream_arn(dynamodb, "ViewTable") is None
    arn = enable_stream(dynamodb, "ViewTable", "KEYS_ONLY")
    assert latest_stream_arn(dynamodb, "ViewTable") == arn
    disable_stream(dynamodb, "ViewTable")
    assert latest_stream_arn(dynamodb, "ViewTable") is None


def test_unknown_view_type_is_a_clear_error(dynamodb) -> None:
    from streamsim.errors import ConfigError

    with pytest.raises(ConfigError, match="NEW_IMAGES.*is not one of KEYS_ONLY"):
        StreamViewType.parse("NEW_IMAGES")
