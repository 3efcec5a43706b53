"""The Achievements table: one item per (player, badge), written idempotently.

A badge is written with a conditional PutItem: only if the player does not have it yet, or if
the stored award names a later earning play (a late-written earlier play). So retries and
duplicate deliveries never award twice, and out-of-order deliveries converge on the play the
batch evaluator names. ``player_badges`` is the player's page: one Query.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from streamsim.game.badges import Award
from streamsim.game.plays import play_key


def award_item(award: Award, awarded_at: float) -> dict[str, Any]:
    """The achievement item for an award (``awarded_at``: the handler's clock, epoch s)."""
    played = award.played_at.astimezone(timezone.utc)
    return {
        "player_id": {"S": award.player_id},
        "badge_id": {"S": award.badge_id},
        "rule": {"S": award.rule},
        "params": {"S": award.params},
        "play_id": {"S": award.play_id},
        "play_key": {"S": play_key(played, award.play_id)},
        "played_at": {"S": played.isoformat().replace("+00:00", "Z")},
        "awarded_at": {"N": str(int(round(awarded_at * 1000)))},
    }


def write_awards(
    dynamodb: Any,
    awards: Iterable[Award],
    *,
    table: str = "Achievements",
    now: Callable[[], float] = time.time,
) -> int:
    """Write each award unless the player already has that badge from an earlier play.

    Returns how many items were written (0 for a duplicate delivery)."""
    written = 0
    for award in awards:
        item = award_item(award, now())
        try:
            dynamodb.put_item(
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(player_id) OR play_key > :k",
                ExpressionAttributeValues={":k": item["play_key"]},
            )
            written += 1
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
    return written


def player_badges(
    dynamodb: Any, player_id: str, *, table: str = "Achievements"
) -> list[dict[str, Any]]:
    """The player's page: their badges, one Query (the blog: "the badge shows up on their
    personal page")."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "player_id = :p",
        "ExpressionAttributeValues": {":p": {"S": player_id}},
    }
    while True:
        page = dynamodb.query(**kwargs)
        for item in page.get("Items", []):
            out.append(
                {
                    "player_id": item["player_id"]["S"],
                    "badge_id": item["badge_id"]["S"],
                    "rule": item["rule"]["S"],
                    "params": item["params"]["S"],
                    "play_id": item["play_id"]["S"],
                    "played_at": datetime.fromisoformat(
                        item["played_at"]["S"].replace("Z", "+00:00")
                    ),
                    "awarded_at": int(item["awarded_at"]["N"]) / 1000.0,
                }
            )
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scan_achievements(dynamodb: Any, *, table: str = "Achievements") -> list[dict[str, Any]]:
    """Every achievement (for run capture and checks), following Scan pagination."""
    players: set[str] = set()
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "player_id"}
    while True:
        page = dynamodb.scan(**kwargs)
        players.update(item["player_id"]["S"] for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [
        row for player in sorted(players) for row in player_badges(dynamodb, player, table=table)
    ]
