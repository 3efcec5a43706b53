"""The verdict's words: each violation is named, with its count, and nothing else is."""

from __future__ import annotations

from typing import Any

import pytest

from streamsim.workbench.faults.invariant import (
    STATEMENT,
    check_invariant,
    invariant_lines,
    witness_line,
)

CLEAN: dict[str, Any] = {
    "witnessed": True,
    "ok": True,
    "unaccounted": 0,
    "discarded": 0,
    "orphans_lost": 0,
    "processed_without_handler": 0,
    "destination_not_received": 0,
    "duplicate_badges": 0,
    "badges_match_batch_evaluator": True,
    "badges_missing": 0,
    "badges_unexpected": 0,
    "not_written": 0,
    "not_written_reasons": {},
    "badges_at_destination_plays": 0,
    "witness_handler_processed": 40,
    "witness_handler_invocations": 12,
    "witness_destination_messages": 1,
    "witness_destination_records": 3,
    "witness_stream_records": 44,
    "orphan_records": 1,
    "trigger_processed": 40,
    "trigger_sent_to_destination": 3,
}


def _summary(**changes: Any) -> dict[str, Any]:
    return {"accounting": {**CLEAN, **changes}, "drained": True, "faults": None}


def test_a_clean_run_has_no_problem_and_says_ok() -> None:
    assert check_invariant(_summary()) == []
    lines = invariant_lines(_summary())
    assert lines[0] == f"invariant: OK  ({STATEMENT})"
    assert lines[1] == witness_line(CLEAN)
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"unaccounted": 3}, "3 written plays have no outcome"),
        ({"discarded": 2}, "2 plays were discarded"),
        ({"orphans_lost": 4}, "4 stream records with no written play"),
        ({"processed_without_handler": 5}, "5 records the trigger marked processed were never"),
        ({"destination_not_received": 6}, "6 records the trigger marked sent to the destination"),
        ({"duplicate_badges": 7}, "7 badges were awarded twice"),
        (
            {"badges_match_batch_evaluator": False, "badges_missing": 1, "badges_unexpected": 2},
            "badges differ from the batch evaluator: 1 missing, 2 unexpected",
        ),
        ({"ok": False}, "for a reason this verdict does not name"),
    ],
)
def test_each_violation_is_named_alone(changes: dict[str, Any], words: str) -> None:
    problems = check_invariant(_summary(**changes))
    assert len(problems) == 1 and words in problems[0], problems
    lines = invariant_lines(_summary(**changes))
    assert lines[0].startswith("invariant: VIOLATED") and lines[1] == f"  - {problems[0]}"


def test_an_undrained_trigger_is_named_with_the_unaccounted_plays() -> None:
    summary = _summary(unaccounted=1)
    summary["drained"] = False
    assert check_invariant(summary)[0].endswith("; the trigger did not drain")
    summary["drained"] = True
    assert "drain" not in check_invariant(summary)[0]


def test_the_witness_line_names_every_count() -> None:
    line = witness_line(CLEAN)
    assert line == (
        "witnesses: handler processed 40 records in 12 invocations; destination holds 1 "
        "messages (3 records); stream holds 44 records (1 with no written play); the trigger "
        "says processed 40, sent to destination 3"
    )
    assert witness_line({**CLEAN, "witnessed": False}) == (
        "witnesses: none recorded (an older run folder): judged on the trigger's own log"
    )


def test_unwritten_plays_and_awards_at_the_destination_are_shown() -> None:
    summary = _summary(
        not_written=2,
        not_written_reasons={"EndpointConnectionError": 2, "ReadTimeoutError": 1},
        badges_at_destination_plays=3,
    )
    lines = invariant_lines(summary)
    assert check_invariant(summary) == []
    assert lines[2:] == [
        "not written: 2 plays the writer could not write (EndpointConnectionError 2, "
        "ReadTimeoutError 1); the writer got the error, so they are not in the invariant",
        "badges at plays sent to the destination: 3 (processed in an attempt before the batch "
        "was given up)",
    ]


def test_faults_are_reported() -> None:
    summary = _summary()
    summary["faults"] = {
        "specs": "poison=1",
        "seed": 4,
        "injected": {"poison": 11, "throttle": 2},
        "changed": ["retry backoff", "timeout"],
    }
    lines = invariant_lines(summary)
    assert "faults: poison=1 (seed 4); injected: poison 11, throttle 2" in lines
    assert "  for this live fault run: retry backoff, timeout" in lines
    summary["faults"] = {"specs": "none", "seed": 1, "injected": {}}
    assert "faults: none (seed 1); injected: nothing" in invariant_lines(summary)
