"""Table schemas and stream settings: Plays (streamed), Achievements, and any user table.

A stream's view type decides which images a record carries [S]: KEYS_ONLY, NEW_IMAGE,
OLD_IMAGE, NEW_AND_OLD_IMAGES; it is fixed once the stream exists.
[S] docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from streamsim.errors import ConfigError


class StreamViewType(str, Enum):
    """What a stream record carries besides the keys [S]."""

    KEYS_ONLY = "KEYS_ONLY"
    NEW_IMAGE = "NEW_IMAGE"
    OLD_IMAGE = "OLD_IMAGE"
    NEW_AND_OLD_IMAGES = "NEW_AND_OLD_IMAGES"

    @classmethod
    def parse(cls, value: str | StreamViewType) -> StreamViewType:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(v.value for v in cls)
            raise ConfigError(f"stream view type {value!r} is not one of {allowed}") from None


@dataclass(frozen=True)
class TableSpec:
    """A table's name, key attributes (name, type S|N|B) and optional stream view type."""

    name: str
    partition_key: tuple[str, str]
    sort_key: tuple[str, str] | None = None
    stream_view_type: StreamViewType | None = None

    def with_name(self, name: str) -> TableSpec:
        return TableSpec(name, self.partition_key, self.sort_key, self.stream_view_type)


#: One item per play; one Query by player_id returns the player's plays in time order,
#: because play_key starts with the ISO-8601 UTC time (streamsim.game.plays.play_key).
PLAYS = TableSpec("Plays", ("player_id", "S"), ("play_key", "S"), StreamViewType.NEW_AND_OLD_IMAGES)
#: One item per (player, badge): the player's page is one Query.
ACHIEVEMENTS = TableSpec("Achievements", ("player_id", "S"), ("badge_id", "S"))
#: The incremental handler strategy's per-player state (one item per player).
PLAYER_STATE = TableSpec("PlayerState", ("player_id", "S"))
#: The blog's table.
JANS_TABLE = TableSpec("JansTable", ("JansPartition", "S"), None, StreamViewType.NEW_AND_OLD_IMAGES)


def create_table(dynamodb: Any, spec: TableSpec, *, exist_ok: bool = False) -> str | None:
    """Create the table (on-demand capacity); return its latest stream ARN, if any."""
    keys = [{"AttributeName": spec.partition_key[0], "KeyType": "HASH"}]
    attrs = [{"AttributeName": spec.partition_key[0], "AttributeType": spec.partition_key[1]}]
    if spec.sort_key is not None:
        keys.append({"AttributeName": spec.sort_key[0], "KeyType": "RANGE"})
        attrs.append({"AttributeName": spec.sort_key[0], "AttributeType": spec.sort_key[1]})
    kwargs: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": keys,
        "AttributeDefinitions": attrs,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.stream_view_type is not None:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": StreamViewType.parse(spec.stream_view_type).value,
        }
    try:
        description = dynamodb.create_table(**kwargs)["TableDescription"]
    except ClientError as exc:
        if exist_ok and exc.response["Error"]["Code"] == "ResourceInUseException":
            return latest_stream_arn(dynamodb, spec.name)
        raise
    dynamodb.get_waiter("table_exists").wait(
        TableName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    arn = description.get("LatestStreamArn")
    return str(arn) if arn and spec.stream_view_type is not None else None


def enable_stream(
    dynamodb: Any, table: str, view_type: StreamViewType | str = StreamViewType.NEW_AND_OLD_IMAGES
) -> str:
    """Enable the table's stream (the console's 'Enable' button in the blog); return its ARN."""
    description = dynamodb.update_table(
        TableName=table,
        StreamSpecification={
            "StreamEnabled": True,
            "StreamViewType": StreamViewType.parse(view_type).value,
        },
    )["TableDescription"]
    return str(description["LatestStreamArn"])


def disable_stream(dynamodb: Any, table: str) -> None:
    """Disable the table's stream. moto then answers later writes with HTTP 500 (backends.md)."""
    dynamodb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})


def latest_stream_arn(dynamodb: Any, table: str) -> str | None:
    """The table's current stream ARN, or None when it has no enabled stream."""
    table_description = dynamodb.describe_table(TableName=table)["Table"]
    spec = table_description.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled"):
        return None
    arn = table_description.get("LatestStreamArn")
    return str(arn) if arn else None


def table_region(stream_arn: str) -> str:
    """The region in a stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/T/stream/LABEL)."""
    parts = stream_arn.split(":")
    if len(parts) < 6 or parts[2] != "dynamodb":
        raise ConfigError(f"{stream_arn!r} is not a DynamoDB stream ARN")
    return parts[3]
