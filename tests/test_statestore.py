"""PlayerState items read back as what was written; an unreadable one is rebuilt, never trusted.

Pure data (no table): the optimistic lock itself is exercised on the embedded server by the
batched/incremental strategy tests. Listed in [tool.mutmut] so the mutation run judges
streamsim/game/statestore.py with it."""

from __future__ import annotations

import json

from streamsim.game.badges import PlayerState
from streamsim.game.badges.rules import rule_from_spec
from streamsim.game.statestore import sequence_number, state_from_item

RULES = (rule_from_spec("TotalPlays", {"count": 3}),)


def test_no_item_is_a_fresh_state_for_that_player_at_version_0() -> None:
    state, version = state_from_item(None, "p1", RULES)
    assert version == 0 and state.player_id == "p1" and state.rules == RULES


def test_a_stored_state_reads_back_with_its_version() -> None:
    stored = PlayerState(rules=RULES, player_id="p1")
    item = {
        "player_id": {"S": "p1"},
        "state": {"S": json.dumps(stored.to_dict())},
        "version": {"N": "7"},
    }
    state, version = state_from_item(item, "p1", RULES)
    assert version == 7 and state.to_dict() == stored.to_dict() and state.rules == RULES


def test_an_unreadable_state_is_rebuilt_and_keeps_its_version() -> None:
    item = {"player_id": {"S": "p1"}, "state": {"S": "not json"}, "version": {"N": "4"}}
    state, version = state_from_item(item, "p1", RULES)
    assert version == 4 and state.built_with == "unreadable"
    assert state.player_id == "p1" and state.rules == RULES


def test_an_item_without_a_version_is_version_0() -> None:
    stored = PlayerState(rules=RULES, player_id="p1")
    item = {"player_id": {"S": "p1"}, "state": {"S": json.dumps(stored.to_dict())}}
    assert state_from_item(item, "p1", RULES)[1] == 0


def test_sequence_number_of_a_stream_record() -> None:
    assert sequence_number({"dynamodb": {"SequenceNumber": "5"}}) == "5"
    assert sequence_number("not a record") is None
    assert sequence_number({"dynamodb": "x"}) is None
