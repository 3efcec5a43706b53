"""The ``batched`` badge strategy: the incremental strategy, one batch at a time.

Per invocation, instead of three or more requests per play (GetItem state, a Query, a PutItem):

- one BatchGetItem reads every player's PlayerState in the batch (100 keys per request [G]);
- per player, one Query reads the plays between the state's last play and the player's last
  delivered play (usually exactly the delivered ones); they are folded in order. Only where the
  state cannot be folded (a duplicate or late delivery, a changed rule set) is the history up to
  the last delivered play read, once per player, and ``advance`` decides play by play;
- per player, one conditional PutItem saves the state (optimistic locking on ``version``);
- players are independent, so their Query and writes run on up to ``workers`` threads at once
  (``BADGE_PLAYER_WORKERS``, default 4 in HandlerSettings): the requests and the results are the
  same as one player after another, but a batch waits for its slowest player's round trips
  instead of the sum of everyone's (measured: docs/backends.md, "Where the live pipeline's time
  goes"). Stats and error lines are gathered in the invoking thread, in the batch's player order;
- awards are written as before, one conditional PutItem each. They cannot go in one
  BatchWriteItem (it takes no conditions [W]), and a TransactWriteItems with a condition per award
  is cancelled whole when any one award already exists [T] (every duplicate delivery), and on
  moto a cancelled transaction orphans every open stream iterator (docs/backends.md). Awards are
  rare (a few per player), so the conditional PutItems cost little.

Folding the plays the table holds in the range, not only the delivered ones, keeps the stored
state equal to the summary of the player's plays up to its last play (a play written late but
earlier is folded when the range covers it). Awards equal the batch evaluator's under any
delivery order and duplicates, like the other strategies (tests/test_batched.py).

[G] docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
[W] docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
[T] docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamsim.errors import EventParseError
from streamsim.game.achievements import write_awards
from streamsim.game.badges import Award, BadgeRule, PlayerState, advance, play_order
from streamsim.game.perplayer import run_each
from streamsim.game.plays import Play, play_key
from streamsim.game.playstore import play_from_item, query_plays
from streamsim.game.statestore import (
    load_state,
    save_state,
    sequence_number,
    state_from_item,
)
from streamsim.game.stats import HandlerStats

#: BatchGetItem reads at most 100 items per request [G].
BATCH_GET_LIMIT = 100


@dataclass
class PlayerStep:
    """One player's part of a batch: the state to store and the awards to write."""

    state: PlayerState
    awards: list[Award]
    folds: int = 0
    rebuilds: int = 0
    plays_read: int = 0


@dataclass
class PlayerOutcome:
    """What one player's part of a batch did (added to the stats by the invoking thread)."""

    stats: HandlerStats = field(default_factory=HandlerStats)
    error: Exception | None = None


def fold_range(
    state: PlayerState, in_range: Iterable[Play], delivered: Iterable[Play] = ()
) -> PlayerStep:
    """Fold the plays after ``state.last_key`` (the table's, up to the last delivered play).

    Only the awards of ``delivered`` plays are returned: a play of the range that this batch
    did not deliver was filtered out by the mapping (FilterCriteria), set aside, or is still on
    its way in another batch. It counts as history, as in the blog's read-all handler, but earns
    nothing here; if it is delivered later, ``can_fold`` is false for it and ``advance_each``
    gives it its awards then.
    """
    new = state.copy()
    awards: list[Award] = []
    delivered_keys = {p.play_key for p in delivered}
    after = {
        p.play_key: p for p in in_range if new.last_key is None or play_order(p) > new.last_key
    }
    for play in sorted(after.values(), key=play_order):
        earned = new.fold(play)
        if play.play_key in delivered_keys:
            awards += earned
    return PlayerStep(new, awards, folds=len(after))


def advance_each(
    state: PlayerState, delivered: Sequence[Play], history: Sequence[Play]
) -> PlayerStep:
    """``advance`` for each delivered play in order, with its prior plays from ``history``."""
    awards: list[Award] = []
    unique = list({p.play_key: p for p in history}.values())
    for play in sorted(delivered, key=play_order):
        key = play_order(play)
        state, earned = advance(state, play, [h for h in unique if play_order(h) < key])
        awards += earned
    return PlayerStep(state, awards, rebuilds=len(delivered))


def can_fold(state: PlayerState, delivered: Sequence[Play]) -> bool:
    """True when every delivered play is after the state's last play (the usual case)."""
    if not state.is_current:
        return False
    return state.last_key is None or all(play_order(p) > state.last_key for p in delivered)


class BatchedStrategy:
    """Evaluate a whole batch of stream records with a handful of requests per player."""

    def __init__(
        self,
        dynamodb: Any,
        *,
        plays_table: str,
        achievements_table: str,
        state_table: str,
        rules: tuple[BadgeRule, ...],
        stats: HandlerStats,
        now: Callable[[], float],
        workers: int = 1,
    ) -> None:
        self.dynamodb = dynamodb
        self.plays_table = plays_table
        self.achievements_table = achievements_table
        self.state_table = state_table
        self.rules = rules
        self.stats = stats
        self.now = now
        #: Players evaluated at once (threads); 1: one after another.
        self.workers = max(1, int(workers))

    def __call__(self, records: list[Any]) -> list[dict[str, Any]]:
        """Process the batch; return ``batchItemFailures``."""
        failures: list[dict[str, Any]] = []
        groups: dict[str, list[tuple[Play, Any]]] = {}
        for record in records:
            try:
                play = self._play(record)
            except EventParseError as exc:
                self._fail(failures, [record], exc)
                continue
            if play is not None:
                groups.setdefault(play.player_id, []).append((play, record))
        if not groups:
            return failures
        try:
            states = self._load_states(sorted(groups))
        except (ClientError, BotoCoreError) as exc:
            self._fail(failures, [r for g in groups.values() for _, r in g], exc)
            return failures
        work = [
            (player, list({p.play_key: p for p, _ in group}.values()), states[player])
            for player, group in groups.items()
        ]
        outcomes = run_each(work, lambda w: self._player(*w), self.workers)
        for (player, _, _), outcome in zip(work, outcomes, strict=True):
            self.stats.add(outcome.stats)
            if outcome.error is not None:
                self._fail(failures, [r for _, r in groups[player]], outcome.error)
        return failures

    def _play(self, record: Any) -> Play | None:
        if not isinstance(record, dict) or not isinstance(record.get("dynamodb"), dict):
            raise EventParseError("record is not a DynamoDB stream record (no 'dynamodb' map)")
        if record.get("eventName") != "INSERT":
            self.stats.skipped += 1  # a play is written once; MODIFY/REMOVE are not new plays
            return None
        image = record["dynamodb"].get("NewImage")
        if image is None:
            raise EventParseError("record has no NewImage: the stream must include new images")
        play = play_from_item(image)
        self.stats.plays += 1
        return play

    def _fail(self, failures: list[dict[str, Any]], records: list[Any], exc: Exception) -> None:
        for record in records:
            identifier = sequence_number(record)
            self.stats.failed += 1
            print(f"[ERROR] record {identifier}: {type(exc).__name__}: {exc}")
            failures.append({"itemIdentifier": identifier})

    def _player(
        self,
        player: str,
        delivered: list[Play],
        loaded: tuple[PlayerState, int],
        attempts: int = 5,
    ) -> PlayerOutcome:
        """One player's part of the batch (on any thread: it touches no shared state)."""
        outcome = PlayerOutcome()
        counts = outcome.stats
        state, version = loaded
        try:
            for attempt in range(attempts):
                if attempt:
                    state, version = self._load_one(player)
                step = self._step(state, delivered)
                counts.plays_read += step.plays_read
                if step.state is state or save_state(
                    self.dynamodb, self.state_table, player, step.state, version
                ):
                    counts.folds += step.folds
                    counts.rebuilds += step.rebuilds
                    counts.awards_written += write_awards(
                        self.dynamodb, step.awards, table=self.achievements_table, now=self.now
                    )
                    return outcome
                counts.state_conflicts += 1
            raise EventParseError(f"player {player}: state kept changing under concurrent updates")
        except (EventParseError, ClientError, BotoCoreError) as exc:
            outcome.error = exc
            return outcome

    def _step(self, state: PlayerState, delivered: list[Play]) -> PlayerStep:
        last = max(delivered, key=play_order)
        if can_fold(state, delivered):
            in_range = self._range(last.player_id, state, last)
            return fold_range(state, [*in_range, *delivered], delivered)
        history = list(
            query_plays(
                self.dynamodb, last.player_id, before_key=last.play_key, table=self.plays_table
            )
        )
        step = advance_each(state, delivered, [*history, *delivered])
        step.plays_read = len(history)
        return step

    def _range(self, player: str, state: PlayerState, last: Play) -> list[Play]:
        """The table's plays of ``player`` after the state's last play, up to ``last``."""
        values: dict[str, Any] = {":p": {"S": player}, ":hi": {"S": last.play_key}}
        if state.last_key is None:
            condition = "player_id = :p AND play_key <= :hi"
        else:
            condition = "player_id = :p AND play_key BETWEEN :lo AND :hi"
            values[":lo"] = {"S": play_key(state.last_key[0], state.last_key[1])}
        kwargs: dict[str, Any] = {
            "TableName": self.plays_table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        plays: list[Play] = []
        while True:
            page = self.dynamodb.query(**kwargs)
            plays += [play_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return plays
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _load_states(self, players: list[str]) -> dict[str, tuple[PlayerState, int]]:
        """Every player's state: BatchGetItem, 100 keys a request, retrying unprocessed keys."""
        items: dict[str, dict[str, Any]] = {}
        for start in range(0, len(players), BATCH_GET_LIMIT):
            keys = [{"player_id": {"S": p}} for p in players[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.state_table: {"Keys": keys, "ConsistentRead": True}}
            for _ in range(10):
                response = self.dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.state_table, []):
                    items[item["player_id"]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            if request:
                raise EventParseError("PlayerState reads stayed unprocessed after 10 attempts")
        return {p: state_from_item(items.get(p), p, self.rules) for p in players}

    def _load_one(self, player: str) -> tuple[PlayerState, int]:
        return load_state(self.dynamodb, self.state_table, player, self.rules)
