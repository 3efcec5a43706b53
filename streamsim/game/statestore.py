"""PlayerState items: read, and written under an optimistic lock.

One place for the lock the incremental and batched strategies rely on: a state is written only
if its ``version`` is still the one that was read (a conditional PutItem), so two invocations
folding plays of the same player concurrently never lose one another's plays.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from streamsim.game.badges import BadgeRule, PlayerState


def state_from_item(
    item: dict[str, Any] | None, player_id: str, rules: tuple[BadgeRule, ...]
) -> tuple[PlayerState, int]:
    """The state a PlayerState item holds and its version (a fresh state, version 0, if none).
    An unreadable state is rebuilt from the plays, never trusted."""
    if item is None:
        return PlayerState(rules=rules, player_id=player_id), 0
    try:
        state = PlayerState.from_dict(json.loads(item["state"]["S"]), rules)
    except (KeyError, ValueError, TypeError):
        state = PlayerState(rules=rules, player_id=player_id, built_with="unreadable")
    return state, int(item.get("version", {}).get("N", "0"))


def load_state(
    dynamodb: Any, table: str, player_id: str, rules: tuple[BadgeRule, ...]
) -> tuple[PlayerState, int]:
    """One player's state, read consistently."""
    item = dynamodb.get_item(
        TableName=table, Key={"player_id": {"S": player_id}}, ConsistentRead=True
    ).get("Item")
    return state_from_item(item, player_id, rules)


def save_state(dynamodb: Any, table: str, player_id: str, state: PlayerState, version: int) -> bool:
    """Write ``state`` as version ``version + 1`` if the stored one is still ``version``;
    False if another invocation wrote it in between (read again and fold again)."""
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                "player_id": {"S": player_id},
                "state": {"S": json.dumps(state.to_dict(), separators=(",", ":"))},
                "version": {"N": str(version + 1)},
            },
            ConditionExpression="attribute_not_exists(player_id) OR version = :v",
            ExpressionAttributeValues={":v": {"N": str(version)}},
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def sequence_number(record: Any) -> Any:
    """A stream record's SequenceNumber (its ``itemIdentifier``), or None if it has none."""
    if isinstance(record, dict) and isinstance(record.get("dynamodb"), dict):
        return record["dynamodb"].get("SequenceNumber")
    return None
