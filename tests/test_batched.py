"""The ``batched`` badge strategy: per batch, a few requests per player; awards still equal the
batch evaluator's under any delivery order, batching and duplicates."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter, defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamsim.aws.stream.reader import StreamReader
from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, create_table
from streamsim.game.badges import Award, BadgeRule, PlayerState, play_order
from streamsim.game.batched import advance_each, can_fold, fold_range
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.game.plays import Play
from streamsim.game.playstore import write_play
from tests.test_badges_properties import SETTINGS, batch_awards, by_player, histories, rule_sets
from tests.test_handler import _awarded, _expected, _plays, _setup


def _step(state: PlayerState, delivered: list[Play], table: list[Play]):  # type: ignore[no-untyped-def]
    """What the handler does for one player's part of a batch, on a model of the table."""
    last = max(play_order(p) for p in delivered)
    if can_fold(state, delivered):
        low = state.last_key
        in_range = [
            p for p in table if (low is None or play_order(p) >= low) and play_order(p) <= last
        ]
        return fold_range(state, [*in_range, *delivered], delivered)
    history = [p for p in table if play_order(p) < last]
    return advance_each(state, delivered, [*history, *delivered])


def _deliver(
    deliveries: list[Play],
    table: dict[str, list[Play]],
    rules: tuple[BadgeRule, ...],
    data: st.DataObject,
) -> tuple[dict[str, dict[str, object]], list[Award]]:
    """Deliver in batches of drawn sizes, each player's state stored as JSON between batches
    (as the PlayerState table holds it); return the stored states and every award emitted."""
    stored: dict[str, dict[str, object]] = {}
    emitted: list[Award] = []
    while deliveries:
        size = data.draw(st.integers(1, 10))
        batch, deliveries = deliveries[:size], deliveries[size:]
        groups: dict[str, dict[str, Play]] = defaultdict(dict)
        for play in batch:
            groups[play.player_id][play.play_key] = play
        for player, delivered in groups.items():
            saved = stored.get(player)
            state = (
                PlayerState(rules=rules) if saved is None else PlayerState.from_dict(saved, rules)
            )
            step = _step(state, list(delivered.values()), table[player])
            stored[player] = json.loads(json.dumps(step.state.to_dict()))
            emitted.extend(step.awards)
    return stored, emitted


@SETTINGS
@given(plays=histories(), rules=rule_sets(), data=st.data())
def test_any_batching_of_any_delivery_order_awards_exactly_the_batch_badges(
    plays: list[Play], rules: tuple[BadgeRule, ...], data: st.DataObject
) -> None:
    deliveries = data.draw(st.permutations(plays))
    for play in data.draw(st.lists(st.sampled_from(plays), max_size=10)):
        deliveries.insert(data.draw(st.integers(0, len(deliveries))), play)
    table = by_player(plays)
    stored, awards_out = _deliver(deliveries, table, rules, data)
    emitted: dict[tuple[str, str], set[Award]] = defaultdict(set)
    for award in awards_out:
        emitted[(award.player_id, award.badge_id)].add(award)
    assert all(len(awards) == 1 for awards in emitted.values())
    assert {a for awards in emitted.values() for a in awards} == batch_awards(plays, rules)
    for player, history in table.items():
        assert PlayerState.from_dict(stored[player], rules) == PlayerState.from_history(
            history, rules
        )


@SETTINGS
@given(plays=histories(), rules=rule_sets(), data=st.data())
def test_plays_the_mapping_filtered_out_are_history_but_earn_nothing(
    plays: list[Play], rules: tuple[BadgeRule, ...], data: st.DataObject
) -> None:
    """A play in the table that never reaches the handler (FilterCriteria, the on-failure
    queue) counts as history, as in the blog's read-all handler, and earns no badge: the
    reference the run's accounting uses (streamsim.workbench.analysis.accounting)."""
    skipped = set(data.draw(st.lists(st.sampled_from([p.play_key for p in plays]), max_size=6)))
    deliveries = data.draw(st.permutations([p for p in plays if p.play_key not in skipped]))
    emitted = set(_deliver(deliveries, by_player(plays), rules, data)[1])
    delivered_ids = {p.play_id for p in plays if p.play_key not in skipped}
    assert emitted == {a for a in batch_awards(plays, rules) if a.play_id in delivered_ids}


class _Calls:
    """Operations the handler's client sends (a botocore hook, as the run's counter uses)."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # the handler evaluates players on several threads
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model, **_) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.counts[model.name] += 1


def test_batched_in_any_order_with_duplicates_awards_what_the_batch_evaluator_awards(
    dynamodb, streams, backend
) -> None:
    arn = _setup(dynamodb)
    plays = _plays()
    for play in plays:
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    deliveries = records + random.Random(7).sample(records, 15)
    random.Random(3).shuffle(deliveries)
    handler = BadgeHandler(backend.client("dynamodb"), HandlerSettings(strategy="batched"))
    for i in range(0, len(deliveries), 7):
        assert handler({"Records": deliveries[i : i + 7]}, None) == {"batchItemFailures": []}
    assert _awarded(dynamodb) == _expected(plays)
    assert handler.stats.rebuilds > 0  # late and duplicate deliveries took the history path
    for player, history in by_player(plays).items():
        item = dynamodb.get_item(TableName="PlayerState", Key={"player_id": {"S": player}})["Item"]
        state = PlayerState.from_dict(json.loads(item["state"]["S"]))
        assert state == PlayerState.from_history(history)


def test_in_order_batches_fold_with_one_state_read_and_one_query_per_player(
    dynamodb, streams, backend
) -> None:
    arn = _setup(dynamodb)
    plays = sorted(_plays(), key=play_order)
    for play in plays:
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    client = backend.client("dynamodb")
    calls = _Calls(client)
    handler = BadgeHandler(client, HandlerSettings(strategy="batched"))
    batches = [records[i : i + 10] for i in range(0, len(records), 10)]
    for batch in batches:
        assert handler({"Records": batch}, None) == {"batchItemFailures": []}
    assert _awarded(dynamodb) == _expected(plays)
    assert handler.stats.folds == len(plays) and handler.stats.rebuilds == 0
    assert handler.stats.plays_read == 0
    players_per_batch = [len({r["dynamodb"]["Keys"]["player_id"]["S"] for r in b}) for b in batches]
    assert calls.counts["BatchGetItem"] == len(batches)
    assert calls.counts["Query"] == sum(players_per_batch)
    assert calls.counts["PutItem"] == sum(players_per_batch) + handler.stats.awards_written
    assert calls.counts["GetItem"] == 0


def test_a_bad_record_fails_alone_and_a_player_failure_fails_that_players_records(
    dynamodb, streams
) -> None:
    arn = _setup(dynamodb)
    good = _plays()[0]
    write_play(dynamodb, good)
    (record,) = [r.event for r in StreamReader(streams, arn).read_all()]
    broken = {**record, "dynamodb": {**record["dynamodb"], "SequenceNumber": "900"}}
    broken["dynamodb"]["NewImage"] = {
        k: v for k, v in record["dynamodb"]["NewImage"].items() if k != "score"
    }
    modify = {
        **record,
        "eventName": "MODIFY",
        "dynamodb": {**record["dynamodb"], "SequenceNumber": "902"},
    }
    handler = BadgeHandler(dynamodb, HandlerSettings(strategy="batched"))
    assert handler({"Records": [broken, modify, record]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "900"}]
    }
    assert handler.stats.skipped == 1 and handler.stats.plays == 1
    assert _awarded(dynamodb) == {(good.player_id, "first_play:chess", good.play_id)}
    # The Plays table gone: every record of the batch fails by its sequence number, none lost.
    dynamodb.delete_table(TableName="Plays")
    again = BadgeHandler(dynamodb, HandlerSettings(strategy="batched", state_table="Missing"))
    response = again({"Records": [record]}, None)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    }


def _run_batches(client, records, workers: int, strategy: str):  # type: ignore[no-untyped-def]
    calls = _Calls(client)
    threads: set[str] = set()
    client.meta.events.register(
        "before-call.dynamodb", lambda **_: threads.add(threading.current_thread().name)
    )
    settings = HandlerSettings(strategy=strategy, player_workers=workers)
    handler = BadgeHandler(client, settings)
    for i in range(0, len(records), 12):
        assert handler({"Records": records[i : i + 12]}, None) == {"batchItemFailures": []}
    return handler.stats, calls.counts, threads


@pytest.mark.parametrize("strategy", ["batched", "incremental"])
def test_players_on_several_threads_send_the_same_requests_and_award_the_same(
    dynamodb, streams, backend, strategy: str
) -> None:
    """BADGE_PLAYER_WORKERS changes how long a batch waits, not what it does: the same requests
    by operation, the same stats, the same badges and states as one player after another."""
    arn = _setup(dynamodb)
    plays = sorted(_plays(), key=play_order)
    for play in plays:
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    records = records + records[:5]  # duplicates take the history path too
    results = {}
    for workers in (1, 4):
        for table in (ACHIEVEMENTS, PLAYER_STATE):  # start each pass from no state
            dynamodb.delete_table(TableName=table.name)
            create_table(dynamodb, table)
        stats, counts, threads = _run_batches(
            backend.client("dynamodb"), records, workers, strategy
        )
        results[workers] = (stats, counts, _awarded(dynamodb))
        assert (len(threads) > 1) == (workers > 1)
    assert results[1] == results[4]
    assert results[4][2] == _expected(plays)


def test_player_workers_is_a_whole_number_from_1_to_64() -> None:
    from streamsim.errors import ConfigError

    assert HandlerSettings.from_env({"BADGE_STRATEGY": "batched"}).player_workers == 4
    assert HandlerSettings.from_env({"BADGE_PLAYER_WORKERS": "1"}).player_workers == 1
    for bad in ("0", "65", "two", "-1", "1.5"):
        with pytest.raises(ConfigError, match="BADGE_PLAYER_WORKERS"):
            HandlerSettings.from_env({"BADGE_PLAYER_WORKERS": bad})


def test_a_failing_player_fails_only_its_records_in_batch_order(dynamodb, streams, capsys) -> None:
    """On several threads, a record that cannot be read fails alone, reported in batch order."""
    arn = _setup(dynamodb)
    plays = sorted(_plays(), key=play_order)[:12]
    for play in plays:
        write_play(dynamodb, play)
    records = [r.event for r in StreamReader(streams, arn).read_all()]
    broken = [json.loads(json.dumps(r)) for r in records[3:5]]
    for record in broken:
        del record["dynamodb"]["NewImage"]
    batch = [*records[:3], *broken, *records[5:]]
    for strategy in ("incremental", "batched"):
        handler = BadgeHandler(dynamodb, HandlerSettings(strategy=strategy, player_workers=4))
        failed = handler({"Records": batch}, None)["batchItemFailures"]
        identifiers = [r["dynamodb"]["SequenceNumber"] for r in broken]
        assert [f["itemIdentifier"] for f in failed] == identifiers
        lines = [line for line in capsys.readouterr().out.splitlines() if "[ERROR]" in line]
        assert [line.split()[2].rstrip(":") for line in lines] == identifiers
