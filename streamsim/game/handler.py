"""The badge handler: the blog's Lambda, deployable to AWS Lambda unchanged.

For each new play in the batch it evaluates the badge rules (streamsim.game.badges, the same module
the notebooks use) and writes new achievements with conditional writes, so retries and
duplicates never award twice. Two strategies:

- ``read-all`` (the blog's): Query all of the player's previous plays, evaluate.
- ``incremental``: keep a small per-player state item (PlayerState table); fold the play into it
  when no earlier play is missing from it (a cheap key-range Query checks that), else rebuild
  from a full Query. The state item is written with optimistic locking (a version number), so
  concurrent and repeated deliveries keep it consistent.
- ``batched``: ``incremental`` for a whole batch at once, with a few requests per player instead
  of per play (streamsim.game.batched).

Records it cannot understand fail by sequence number in ``batchItemFailures`` [B] without
stopping the rest of the batch. Configuration comes from environment variables:
PLAYS_TABLE, ACHIEVEMENTS_TABLE, PLAYER_STATE_TABLE, BADGE_STRATEGY, BADGE_PLAYER_WORKERS (players of
a batch evaluated at once by the batched and incremental strategies, 1-64, default 4), STREAMSIM_DELIVERIES (``emf``:
record each delivery, streamsim.game.deliveries), BADGE_RULES (JSON list of
{"rule": ..., "params": {...}}), and the endpoint (STREAMSIM_ENDPOINT_URL or
AWS_ENDPOINT_URL_DYNAMODB; unset on AWS).
[B] docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamsim.errors import ConfigError, EventParseError
from streamsim.game.achievements import write_awards
from streamsim.game.badges import (
    DEFAULT_RULES,
    Award,
    BadgeRule,
    PlayerState,
    advance,
    rule_from_spec,
)
from streamsim.game.batched import BatchedStrategy
from streamsim.game.deliveries import DeliveryRecorder, recorder_from_env
from streamsim.game.perplayer import player_groups, run_each
from streamsim.game.plays import Play, play_key
from streamsim.game.playstore import play_from_item, query_plays
from streamsim.game.statestore import load_state, save_state, sequence_number
from streamsim.game.stats import HandlerStats

STRATEGIES = ("read-all", "incremental", "batched")
#: Players of a batch the batched strategy evaluates at once (BADGE_PLAYER_WORKERS).
DEFAULT_PLAYER_WORKERS = 4


@dataclass(frozen=True)
class HandlerSettings:
    """Table names, strategy and rules; ``from_env`` reads the Lambda's environment."""

    plays_table: str = "Plays"
    achievements_table: str = "Achievements"
    state_table: str = "PlayerState"
    strategy: str = "read-all"
    rules: tuple[BadgeRule, ...] = DEFAULT_RULES
    #: The batched and incremental strategies evaluate this many players of a batch at once
    #: (threads; our choice, not AWS's: streamsim.game.perplayer). 1: one after another.
    player_workers: int = DEFAULT_PLAYER_WORKERS

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"BADGE_STRATEGY {self.strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        workers = self.player_workers
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
            raise ConfigError(
                f"BADGE_PLAYER_WORKERS {workers!r} is not a whole number from 1 to 64"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HandlerSettings:
        rules: tuple[BadgeRule, ...] = DEFAULT_RULES
        if env.get("BADGE_RULES"):
            try:
                specs = json.loads(env["BADGE_RULES"])
                rules = tuple(rule_from_spec(s["rule"], s.get("params", {})) for s in specs)
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"BADGE_RULES is not a JSON list of rule specs: {exc}") from exc
        return cls(
            plays_table=env.get("PLAYS_TABLE", "Plays"),
            achievements_table=env.get("ACHIEVEMENTS_TABLE", "Achievements"),
            state_table=env.get("PLAYER_STATE_TABLE", "PlayerState"),
            strategy=env.get("BADGE_STRATEGY", "read-all"),
            rules=rules,
            player_workers=_whole(env.get("BADGE_PLAYER_WORKERS", str(DEFAULT_PLAYER_WORKERS))),
        )


def _whole(text: str) -> Any:
    """An environment variable's whole number, else the text (refused by HandlerSettings)."""
    return int(text) if text.strip().isdigit() else text


class BadgeHandler:
    """``handler(event, context)`` over a DynamoDB client; returns ``batchItemFailures``."""

    def __init__(
        self,
        dynamodb: Any,
        settings: HandlerSettings | None = None,
        now: Callable[[], float] = time.time,
        recorder: DeliveryRecorder | None = None,
    ) -> None:
        self.dynamodb = dynamodb
        self.settings = settings or HandlerSettings()
        self.now = now
        self.stats = HandlerStats()
        #: Records each delivery (streamsim.game.deliveries); None: nothing recorded.
        self.recorder = recorder

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if self.recorder is None:
            return self._handle(event, context)
        started, failed = self.now(), None
        try:
            response = self._handle(event, context)
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            return response
        finally:
            self.recorder.record(event, context, started, self.now(), failed)

    def _handle(self, event: Any, context: Any) -> dict[str, Any]:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            raise EventParseError("the event has no Records list: is this a DynamoDB stream event?")
        if self.settings.strategy == "batched":  # streamsim.game.batched: per batch, not per play
            return {"batchItemFailures": self._batched(records)}
        if self.settings.strategy == "incremental" and self.settings.player_workers > 1:
            return {"batchItemFailures": self._incremental_by_player(records)}
        failures: list[dict[str, Any]] = []
        for record in records:
            identifier = sequence_number(record)
            try:
                self.process(record)
            except (EventParseError, ClientError, BotoCoreError) as exc:
                self.stats.failed += 1
                print(f"[ERROR] record {identifier}: {type(exc).__name__}: {exc}")
                failures.append({"itemIdentifier": identifier})
        return {"batchItemFailures": failures}

    def _incremental_by_player(self, records: list[Any]) -> list[dict[str, Any]]:
        """The incremental strategy, players on up to ``player_workers`` threads (each player's
        records in batch order: streamsim.game.perplayer); stats and errors in batch order."""

        def player(indexes: list[int]) -> tuple[HandlerStats, list[tuple[int, Exception]]]:
            alone = BadgeHandler(self.dynamodb, self.settings, self.now)  # its own stats
            errors: list[tuple[int, Exception]] = []
            for index in indexes:
                try:
                    alone.process(records[index])
                except (EventParseError, ClientError, BotoCoreError) as exc:
                    errors.append((index, exc))
            return alone.stats, errors

        results = run_each(player_groups(records), player, self.settings.player_workers)
        failures: list[dict[str, Any]] = []
        for stats, _ in results:
            self.stats.add(stats)
        for index, exc in sorted((e for _, errors in results for e in errors), key=lambda e: e[0]):
            identifier = sequence_number(records[index])
            self.stats.failed += 1
            print(f"[ERROR] record {identifier}: {type(exc).__name__}: {exc}")
            failures.append({"itemIdentifier": identifier})
        return failures

    def _batched(self, records: list[Any]) -> list[dict[str, Any]]:
        settings = self.settings
        return BatchedStrategy(
            self.dynamodb,
            plays_table=settings.plays_table,
            achievements_table=settings.achievements_table,
            state_table=settings.state_table,
            rules=settings.rules,
            stats=self.stats,
            now=self.now,
            workers=settings.player_workers,
        )(records)

    def process(self, record: Any) -> list[Award]:
        """Evaluate one stream record; return the awards it earned (written or already there)."""
        if not isinstance(record, dict) or not isinstance(record.get("dynamodb"), dict):
            raise EventParseError("record is not a DynamoDB stream record (no 'dynamodb' map)")
        if record.get("eventName") != "INSERT":
            self.stats.skipped += 1  # a play is written once; MODIFY/REMOVE are not new plays
            return []
        image = record["dynamodb"].get("NewImage")
        if image is None:
            raise EventParseError("record has no NewImage: the stream must include new images")
        play = play_from_item(image)
        self.stats.plays += 1
        if self.settings.strategy == "read-all":
            awards = self._read_all(play)
        else:
            awards = self._incremental(play)
        self.stats.awards_written += write_awards(
            self.dynamodb, awards, table=self.settings.achievements_table, now=self.now
        )
        return awards

    def _prior(self, play: Play) -> list[Play]:
        prior = list(
            query_plays(
                self.dynamodb,
                play.player_id,
                before_key=play.play_key,
                table=self.settings.plays_table,
            )
        )
        self.stats.plays_read += len(prior)
        return prior

    def _read_all(self, play: Play) -> list[Award]:
        """The blog's way: read all previous plays, evaluate."""
        return advance(PlayerState(rules=self.settings.rules), play, self._prior(play))[1]

    def _incremental(self, play: Play, attempts: int = 5) -> list[Award]:
        for _ in range(attempts):
            state, version = load_state(
                self.dynamodb, self.settings.state_table, play.player_id, self.settings.rules
            )
            if self._nothing_missing(state, play):
                new_state = state.copy()
                awards = new_state.fold(play)
                self.stats.folds += 1
            else:
                new_state, awards = advance(state, play, self._prior(play))
                self.stats.rebuilds += 1
            if new_state is state:
                return awards  # a duplicate or late delivery: the state already reaches further
            if save_state(
                self.dynamodb, self.settings.state_table, play.player_id, new_state, version
            ):
                return awards
            self.stats.state_conflicts += 1
        raise EventParseError(
            f"player {play.player_id}: state kept changing under concurrent updates"
        )

    def _nothing_missing(self, state: PlayerState, play: Play) -> bool:
        """True when the state holds exactly the player's plays before ``play`` (cheap check:
        no play in the table between the state's last play and this one)."""
        key = (play.played_at, play.play_id)
        if not state.is_current or (state.last_key is not None and not state.last_key < key):
            return False
        if state.last_key is None:
            condition, values = "player_id = :p AND play_key < :k", {":k": {"S": play.play_key}}
        else:
            low = play_key(state.last_key[0], state.last_key[1])
            condition = "player_id = :p AND play_key BETWEEN :lo AND :k"
            values = {":lo": {"S": low}, ":k": {"S": play.play_key}}
        page = self.dynamodb.query(
            TableName=self.settings.plays_table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues={":p": {"S": play.player_id}, **values},
            ProjectionExpression="play_key",
            ConsistentRead=True,
            Limit=3,
        )
        keys = {item["play_key"]["S"] for item in page.get("Items", [])}
        known = {play.play_key} if state.last_key is None else {play.play_key, values[":lo"]["S"]}
        return not (keys - known)


@dataclass
class _Lazy:
    """The deployed handler's client and settings, created on the first invocation (Lambda
    keeps them across invocations of one execution environment)."""

    handler: BadgeHandler | None = field(default=None)


_deployed = _Lazy()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point: tables, strategy and endpoint from the environment."""
    if _deployed.handler is None:
        import boto3

        endpoint = (
            os.environ.get("STREAMSIM_ENDPOINT_URL")
            or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        client = (
            boto3.client("dynamodb", endpoint_url=endpoint)
            if endpoint
            else boto3.client("dynamodb")
        )
        _deployed.handler = BadgeHandler(
            client, HandlerSettings.from_env(), recorder=recorder_from_env()
        )
    return _deployed.handler(event, context)
