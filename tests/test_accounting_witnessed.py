"""The accounting and the invariant catch every planted loss (issue 11).

Each test takes the frames of a real run (a virtual run: the same trigger, a modelled handler,
an in-memory stream, poison plays, filtered plays, an on-failure destination) and plants one
loss: a play with no outcome, a missing badge, a double award, a destination that holds
nothing, a stream record nobody handled, a trigger that marks records processed without
invoking the handler or "sends" them to a destination that never gets them. Each must turn
the verdict and name itself. The clean run must pass, or these tests prove nothing.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.destinations import MemoryDestination
from streamsim.aws.trigger.invoke import Invoker
from streamsim.workbench.analysis import accounting
from streamsim.workbench.faults.invariant import check_invariant, invariant_lines
from streamsim.workbench.faults.witness import (
    HandlerWitness,
    destination_frame,
)
from streamsim.workbench.runfolder import Run
from streamsim.workbench.virtual import Scenario, simulate

QUEUE = "arn:aws:sqs:eu-central-1:123456789012:streamsim-on-failure"
SKIP_SUDOKU = {"dynamodb": {"NewImage": {"game": {"S": [{"anything-but": ["sudoku"]}]}}}}


def _mapping(report: bool = True) -> EventSourceMapping:
    params: dict[str, Any] = {
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 10,
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps(SKIP_SUDOKU)}]},
    }
    if report:
        params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    return EventSourceMapping.from_aws(params)


def _scenario(seed: int = 1, report: bool = True) -> Scenario:
    return Scenario(
        players=8, days=5, rate=50.0, seed=seed, poison_rate=0.05, mapping=_mapping(report)
    )


@pytest.fixture(scope="module")
def clean() -> Run:
    return simulate(_scenario())


def _copy(run: Run) -> Run:
    return Run(
        run.path,
        copy.deepcopy(run.config),
        {},
        {name: frame.copy() for name, frame in run.tables.items()},
        copy.deepcopy(run.destination),
    )


def _summary(run: Run) -> dict[str, Any]:
    return {"accounting": accounting(run), "drained": True}


def _one_processed_play(run: Run) -> str:
    witness = run.tables["handler_witness"]
    return str(witness.loc[witness["outcome"] == "success", "play_id"].iloc[0])


def _judged_badge(run: Run) -> int:
    """The row of a badge whose earning play the handler witness saw processed."""
    witness = run.tables["handler_witness"]
    processed = set(witness.loc[witness["outcome"] == "success", "play_id"])
    return int(run.achievements.index[run.achievements["play_id"].isin(processed)][0])


def test_the_clean_run_holds_and_exercises_every_outcome(clean: Run) -> None:
    acc = accounting(clean)
    assert acc["witnessed"] and acc["ok"], check_invariant(_summary(clean))
    # The planted losses below are only meaningful if every outcome occurs in the clean run.
    assert acc["processed"] > 0 and acc["filtered"] > 0 and acc["sent_to_destination"] > 0
    assert acc["processed"] + acc["filtered"] + acc["sent_to_destination"] == acc["plays_written"]
    assert acc["witness_stream_records"] == acc["plays_written"] == len(clean.plays)
    assert acc["trigger_processed"] == acc["witness_handler_processed"] == acc["processed"]
    assert acc["witness_destination_records"] == acc["sent_to_destination"]
    assert len(clean.achievements) > 0 and acc["badges_match_batch_evaluator"]
    assert acc["badges_at_destination_plays"] < len(clean.achievements)  # some are judged
    assert check_invariant(_summary(clean)) == []


def test_a_play_with_no_outcome_is_unaccounted_not_filtered(clean: Run) -> None:
    run = _copy(clean)
    play_id = _one_processed_play(run)
    witness = run.tables["handler_witness"]
    run.tables["handler_witness"] = witness[witness["play_id"] != play_id]
    seqs = set(witness.loc[witness["play_id"] == play_id, "sequence_number"])
    dispositions = run.dispositions
    run.tables["dispositions"] = dispositions[~dispositions["sequence_number"].isin(seqs)]
    run.tables["achievements"] = run.achievements[run.achievements["play_id"] != play_id]
    acc = accounting(run)
    assert acc["unaccounted"] == 1 and acc["lost"] == 1 and not acc["ok"]
    assert acc["filtered"] == accounting(clean)["filtered"]
    assert "1 written plays have no outcome" in " ".join(check_invariant(_summary(run)))


def test_a_trigger_that_says_processed_without_the_handler_is_caught(clean: Run) -> None:
    run = _copy(clean)
    play_id = _one_processed_play(run)
    witness = run.tables["handler_witness"]
    run.tables["handler_witness"] = witness[witness["play_id"] != play_id]
    acc = accounting(run)
    assert acc["processed_without_handler"] >= 1 and acc["unaccounted"] == 1 and not acc["ok"]
    assert "never processed by the handler" in " ".join(check_invariant(_summary(run)))


def test_a_filtered_claim_for_a_record_the_handler_received_is_not_filtered(clean: Run) -> None:
    run = _copy(clean)
    witness = run.tables["handler_witness"]
    failed = witness[witness["outcome"] != "success"].iloc[0]
    witness = witness[
        ~((witness["play_id"] == failed["play_id"]) & (witness["outcome"] == "success"))
    ]
    run.tables["handler_witness"] = witness
    run.tables["destination_witness"] = run.destination_witness.iloc[0:0]
    d = run.dispositions
    d.loc[d["sequence_number"] == failed["sequence_number"], "disposition"] = "filtered"
    assert accounting(run)["unaccounted"] >= 1


@pytest.mark.parametrize("report", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_trigger_skipping_the_handler_for_one_record_fails_the_verdict(
    monkeypatch, seed: int, report: bool
) -> None:
    """The audit's planted trigger bug: one record marked processed, the handler never called
    with it. It passed 3 of 5 seeds when the verdict trusted the trigger's log."""
    real_call = Invoker._call
    skipped: list[str] = []

    def call_without_one(self, event, context):  # type: ignore[no-untyped-def]
        records = event["Records"]
        if not skipped and len(records) > 1:
            skipped.append(records[0]["dynamodb"]["SequenceNumber"])
            event = {**event, "Records": records[1:]}
        return real_call(self, event, context)

    monkeypatch.setattr(Invoker, "_call", call_without_one)
    run = simulate(replace(_scenario(seed, report), poison_rate=0.0))
    acc = accounting(run)
    assert skipped and not acc["ok"]
    assert acc["processed_without_handler"] >= 1
    assert any("never processed by the handler" in p for p in check_invariant(_summary(run)))


def test_a_destination_that_receives_nothing_is_caught(monkeypatch) -> None:
    monkeypatch.setattr(MemoryDestination, "send", lambda self, message: None)
    run = simulate(_scenario())
    acc = accounting(run)
    assert acc["trigger_sent_to_destination"] > 0
    assert acc["destination_not_received"] == acc["trigger_sent_to_destination"]
    assert acc["sent_to_destination"] == 0 and acc["unaccounted"] > 0 and not acc["ok"]
    assert "are not in it" in " ".join(check_invariant(_summary(run)))


def test_a_destination_message_for_another_shard_or_range_does_not_count(clean: Run) -> None:
    run = _copy(clean)
    dest = run.destination_witness.copy()
    dest["shard_id"] = "shardId-elsewhere"
    run.tables["destination_witness"] = dest
    assert accounting(run)["sent_to_destination"] == 0
    run = _copy(clean)
    dest = run.destination_witness.copy()
    dest["start_sequence_number"] = [str(int(s) + 1) for s in dest["end_sequence_number"]]
    dest["end_sequence_number"] = [str(int(s) + 5) for s in dest["end_sequence_number"]]
    run.tables["destination_witness"] = dest
    assert not accounting(run)["ok"]


def test_the_destination_witness_falls_back_to_the_saved_messages(clean: Run) -> None:
    run = _copy(clean)
    del run.tables["destination_witness"]
    assert accounting(run) == accounting(clean)
    run.destination = []
    assert not accounting(run)["ok"]


def test_a_missing_badge_is_caught(clean: Run) -> None:
    run = _copy(clean)
    run.tables["achievements"] = run.achievements.drop(index=_judged_badge(run))
    acc = accounting(run)
    assert acc["badges_missing"] == 1 and not acc["badges_match_batch_evaluator"]
    assert not acc["ok"]
    assert "1 missing" in " ".join(check_invariant(_summary(run)))


def test_an_unexpected_badge_is_caught(clean: Run) -> None:
    run = _copy(clean)
    extra = run.achievements.loc[[_judged_badge(run)]].copy()
    extra["badge_id"] = "made-up-badge"
    run.tables["achievements"] = pd.concat([run.achievements, extra], ignore_index=True)
    acc = accounting(run)
    assert acc["badges_unexpected"] == 1 and not acc["ok"]


def test_a_badge_for_a_play_the_handler_never_processed_is_unexpected(clean: Run) -> None:
    run = _copy(clean)
    play_id = run.achievements["play_id"].loc[_judged_badge(run)]
    witness = run.handler_witness
    run.tables["handler_witness"] = witness[witness["play_id"] != play_id]
    acc = accounting(run)
    assert acc["badges_unexpected"] >= 1 and not acc["badges_match_batch_evaluator"]


def test_a_badge_written_twice_is_caught_by_the_award_write_counter(clean: Run) -> None:
    run = _copy(clean)
    run.config["handler_stats"] = {"awards_written": len(run.achievements) + 1}
    acc = accounting(run)
    assert acc["duplicate_badges"] == 1 and not acc["ok"]
    assert "1 badges were awarded twice" in check_invariant(_summary(run))
    run.config["handler_stats"] = {"awards_written": len(run.achievements)}
    assert accounting(run)["ok"]


def test_a_duplicate_row_in_a_derived_achievements_frame_is_caught(clean: Run) -> None:
    run = _copy(clean)
    run.tables["achievements"] = pd.concat(
        [run.achievements, run.achievements.iloc[[0]]], ignore_index=True
    )
    assert accounting(run)["duplicate_badges"] == 1


def test_an_orphan_record_nobody_handled_is_caught(clean: Run) -> None:
    run = _copy(clean)
    stream = run.stream_witness
    orphan = stream.iloc[[0]].copy()
    image = json.loads(orphan["image"].iloc[0])
    image["play_id"] = {"S": "orphan-play"}
    orphan["image"] = json.dumps(image)
    orphan["play_id"] = "orphan-play"
    orphan["sequence_number"] = str(10**30)
    run.tables["stream_witness"] = pd.concat([stream, orphan], ignore_index=True)
    acc = accounting(run)
    assert acc["orphan_records"] == 1 and acc["orphans_lost"] == 1 and not acc["ok"]
    assert acc["lost"] == 1
    assert "with no written play" in " ".join(check_invariant(_summary(run)))


def test_an_orphan_record_the_handler_processed_is_accounted_and_judged(clean: Run) -> None:
    """An ambiguous write (the writer saw an error; the play is in the table): not lost, and
    its badges are expected."""
    run = _copy(clean)
    play_id = _one_processed_play(run)
    run.tables["plays"] = run.plays[run.plays["play_id"] != play_id]
    run.config["send_failures"] = [{"play_id": play_id, "error": "ReadTimeoutError: lost"}]
    acc = accounting(run)
    assert acc["orphan_records"] == 1 and acc["orphans_lost"] == 0
    assert acc["badges_match_batch_evaluator"] and acc["ok"], acc
    assert acc["not_written_reasons"] == {"ReadTimeoutError": 1}


def test_a_discarded_play_is_lost(clean: Run) -> None:
    run = _copy(clean)
    run.tables["destination_witness"] = run.destination_witness.iloc[0:0]
    d = run.dispositions
    d["disposition"] = d["disposition"].astype(str)  # a categorical takes no new value as is
    d.loc[d["disposition"] == "destination", "disposition"] = "discarded"
    acc = accounting(run)
    assert acc["discarded"] > 0 and acc["lost"] == acc["discarded"] and not acc["ok"]
    assert "discarded" in " ".join(check_invariant(_summary(run)))


def test_an_older_run_folder_is_judged_on_the_trigger_log_and_says_so(clean: Run) -> None:
    run = _copy(clean)
    for name in ("handler_witness", "stream_witness", "destination_witness"):
        del run.tables[name]
    acc = accounting(run)
    assert not acc["witnessed"] and acc["processed"] == accounting(clean)["processed"]
    assert "judged on the trigger's own log" in "\n".join(invariant_lines(_summary(run)))


def test_without_witnesses_the_trigger_log_still_finds_losses(clean: Run) -> None:
    run = _copy(clean)
    for name in ("handler_witness", "stream_witness", "destination_witness"):
        del run.tables[name]
    want = accounting(clean)
    acc = accounting(run)
    for key in ("processed", "filtered", "sent_to_destination", "badges_match_batch_evaluator"):
        assert acc[key] == want[key], key
    assert acc["ok"] and acc["badges_missing"] == 0
    processed = run.dispositions.query("disposition == 'processed'")["sequence_number"]
    run.tables["dispositions"] = run.dispositions[
        run.dispositions["sequence_number"] != processed.iloc[0]
    ]
    acc = accounting(run)
    assert acc["unaccounted"] == 1 and acc["processed"] == want["processed"] - 1
    assert not acc["ok"]


def test_the_verdict_prints_each_witness_count(clean: Run) -> None:
    lines = "\n".join(invariant_lines(_summary(clean)))
    acc = accounting(clean)
    assert f"handler processed {acc['witness_handler_processed']} records" in lines
    assert f"destination holds {acc['witness_destination_messages']} messages" in lines
    assert f"stream holds {acc['witness_stream_records']} records" in lines


# ---- the handler witness itself ----------------------------------------------------------------


class _Context:
    def __init__(self, remaining_ms: int = 1000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _event(*seqs: str) -> dict[str, Any]:
    return {
        "Records": [
            {"dynamodb": {"SequenceNumber": s, "Keys": {}, "NewImage": {"play_id": {"S": f"p{s}"}}}}
            for s in seqs
        ]
    }


@pytest.mark.parametrize(
    ("response", "report", "outcomes"),
    [
        (None, True, ["success"] * 3),
        ({"batchItemFailures": []}, True, ["success"] * 3),
        (
            {"batchItemFailures": [{"itemIdentifier": "2"}]},
            True,
            ["success", "reported-failed", "reported-failed"],
        ),
        (
            {"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]},
            True,
            ["success", "reported-failed", "reported-failed"],
        ),
        ({"batchItemFailures": [{"itemIdentifier": "9"}]}, True, ["invalid-response"] * 3),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, True, ["invalid-response"] * 3),
        ({"batchItemFailures": [{"id": "2"}]}, True, ["invalid-response"] * 3),
        ({"batchItemFailures": "2"}, True, ["invalid-response"] * 3),
        ({"batchItemFailures": [{"itemIdentifier": "2"}]}, False, ["success"] * 3),
        ({"x": {1, 2}}, True, ["invalid-response"] * 3),
        ("ok", True, ["success"] * 3),
    ],
)
def test_the_handler_witness_reads_answers_as_lambda_does(response, report, outcomes) -> None:
    witness = HandlerWitness(lambda e, c: response, report_batch_item_failures=report)
    assert witness(_event("1", "2", "3"), _Context()) is response
    assert list(witness.frame()["outcome"]) == outcomes


@pytest.mark.parametrize("error", [RuntimeError("x"), SystemExit(1), KeyboardInterrupt()])
def test_the_handler_witness_records_any_exception_and_reraises_it(error) -> None:
    def handler(event, context):  # type: ignore[no-untyped-def]
        raise error

    witness = HandlerWitness(handler, report_batch_item_failures=True)
    with pytest.raises(type(error)):
        witness(_event("1", "2"), _Context())
    frame = witness.frame()
    assert list(frame["outcome"]) == ["raised", "raised"]
    assert set(frame["error_type"]) == {type(error).__name__}


def test_an_answer_after_the_deadline_is_late_not_processed() -> None:
    witness = HandlerWitness(lambda e, c: None, report_batch_item_failures=True)
    witness(_event("1"), _Context(remaining_ms=0))
    assert list(witness.frame()["outcome"]) == ["late"]
    assert list(witness.frame()["play_id"]) == ["p1"]


def test_a_hung_invocation_is_in_flight() -> None:
    import threading

    release = threading.Event()
    witness = HandlerWitness(lambda e, c: release.wait(5), report_batch_item_failures=True)
    thread = threading.Thread(target=witness, args=(_event("1"), _Context()))
    thread.start()
    try:
        for _ in range(1000):
            if len(witness.frame()):
                break
            release.wait(0.001)
        assert list(witness.frame()["outcome"]) == ["in-flight"]
    finally:
        release.set()
        thread.join()
    assert list(witness.frame()["outcome"]) == ["success"]


def test_destination_frame_reads_batch_info() -> None:
    frame = destination_frame(
        [
            {
                "requestContext": {"condition": "RetryAttemptsExhausted"},
                "DDBStreamBatchInfo": {
                    "shardId": "s1",
                    "startSequenceNumber": "100",
                    "endSequenceNumber": "200",
                    "batchSize": 3,
                },
            },
            {"not": "a batch"},
        ]
    )
    assert frame.to_dict("records") == [
        {
            "shard_id": "s1",
            "start_sequence_number": "100",
            "end_sequence_number": "200",
            "batch_size": 3,
            "condition": "RetryAttemptsExhausted",
        }
    ]


def test_the_handler_witness_numbers_invocations_and_records_times() -> None:
    ticks = iter([10.0, 11.0, 20.0, 22.0])
    witness = HandlerWitness(
        lambda e, c: None, report_batch_item_failures=True, now=lambda: next(ticks)
    )
    witness(_event("1", "2"), _Context(remaining_ms=1))  # 1 ms left is still in time
    witness(_event("3"), object())  # a context without a deadline is never late
    frame = witness.frame()
    assert list(frame["invocation"]) == [0, 0, 1] and list(frame["position"]) == [0, 1, 0]
    assert list(frame["started_at"]) == [10.0, 10.0, 20.0]
    assert list(frame["ended_at"]) == [11.0, 11.0, 22.0]
    assert list(frame["outcome"]) == ["success"] * 3
    assert list(frame["sequence_number"]) == ["1", "2", "3"]


def test_a_non_stream_event_passes_through_unrecorded() -> None:
    seen: list[tuple[object, object]] = []
    witness = HandlerWitness(
        lambda e, c: seen.append((e, c)) or "answer", report_batch_item_failures=True
    )
    context = _Context()
    assert witness({"not": "records"}, context) == "answer"
    assert seen == [({"not": "records"}, context)] and len(witness.frame()) == 0
    witness({"Records": ["not a record"]}, context)
    assert list(witness.frame()["sequence_number"]) == ["None"]


# Found by the mutation run (docs/mutation.md): each test below turns a verdict a planted
# change in accounting.py would get wrong.


def test_a_run_with_only_one_witness_is_judged_on_the_trigger_log(clean: Run) -> None:
    """Half the witnesses cannot judge a run: it falls back to the trigger's log, and says so."""
    run = _copy(clean)
    del run.tables["stream_witness"]
    acc = accounting(run)
    assert not acc["witnessed"] and acc["ok"]
    assert acc["processed"] == accounting(clean)["processed"]


def test_an_orphan_record_the_trigger_discarded_is_lost(clean: Run) -> None:
    run = _copy(clean)
    stream = run.stream_witness
    orphan = stream.iloc[[0]].copy()
    image = json.loads(orphan["image"].iloc[0])
    image["play_id"] = {"S": "orphan-play"}
    orphan["image"] = json.dumps(image)
    orphan["play_id"] = "orphan-play"
    orphan["sequence_number"] = str(10**30)
    run.tables["stream_witness"] = pd.concat([stream, orphan], ignore_index=True)
    said = run.dispositions.iloc[[0]].copy()
    said["sequence_number"] = str(10**30)
    said["disposition"] = "discarded"
    run.tables["dispositions"] = pd.concat([run.dispositions, said], ignore_index=True)
    acc = accounting(run)
    assert acc["orphan_records"] == 1 and acc["orphans_lost"] == 1 and acc["lost"] == 1
    assert not acc["ok"]


def test_a_play_the_stream_read_back_missed_is_still_found_at_the_destination(
    clean: Run,
) -> None:
    """The handler received the record (and failed it); the destination covers it: not lost,
    even when the stream read-back does not hold it (e.g. trimmed by retention)."""
    run = _copy(clean)
    witness = run.tables["handler_witness"]
    failed = set(witness.loc[witness["outcome"] != "success", "play_id"].dropna())
    received_ok = set(witness.loc[witness["outcome"] == "success", "play_id"].dropna())
    play_id = sorted(failed - received_ok)[0]
    stream = run.stream_witness
    run.tables["stream_witness"] = stream[stream["play_id"] != play_id]
    acc = accounting(run)
    want = accounting(clean)
    assert acc["sent_to_destination"] == want["sent_to_destination"]
    assert acc["unaccounted"] == 0 and acc["ok"], acc


def test_a_play_no_witness_saw_is_unaccounted(clean: Run) -> None:
    run = _copy(clean)
    play_id = _one_processed_play(run)
    witness = run.tables["handler_witness"]
    seqs = set(witness.loc[witness["play_id"] == play_id, "sequence_number"])
    run.tables["handler_witness"] = witness[witness["play_id"] != play_id]
    run.tables["stream_witness"] = run.stream_witness[run.stream_witness["play_id"] != play_id]
    run.tables["dispositions"] = run.dispositions[~run.dispositions["sequence_number"].isin(seqs)]
    run.tables["achievements"] = run.achievements[run.achievements["play_id"] != play_id]
    acc = accounting(run)
    assert acc["unaccounted"] == 1 and acc["lost"] == 1 and not acc["ok"]


def test_processed_without_handler_counts_each_record_once(clean: Run) -> None:
    run = _copy(clean)
    play_id = _one_processed_play(run)
    witness = run.tables["handler_witness"]
    run.tables["handler_witness"] = witness[witness["play_id"] != play_id]
    assert accounting(run)["processed_without_handler"] == 1


def test_a_non_play_orphan_does_not_hide_the_orphans_after_it(clean: Run) -> None:
    """An orphan record that is not a play earns nothing; a processed orphan after it in the
    stream still has its badges expected."""
    run = _copy(clean)
    play_id = str(run.achievements.loc[_judged_badge(run), "play_id"])
    run.tables["plays"] = run.plays[run.plays["play_id"] != play_id]
    junk = run.stream_witness.iloc[[0]].copy()
    junk["image"] = json.dumps({"play_id": {"S": "not-a-play"}})
    junk["play_id"] = "not-a-play"
    junk["sequence_number"] = str(10**30)
    run.tables["stream_witness"] = pd.concat([junk, run.stream_witness], ignore_index=True)
    acc = accounting(run)
    assert acc["orphan_records"] == 2
    assert acc["badges_match_batch_evaluator"] and acc["badges_missing"] == 0, acc
    assert acc["badges_unexpected"] == 0


def test_badges_are_judged_with_the_runs_own_rules(clean: Run) -> None:
    """A run with non-default rules: the expected badges come from those rules."""
    run = _copy(clean)
    run.config["rules"] = [{"rule": "PersonalBest", "params": {"min_plays": 5}}]
    achievements = run.achievements
    first = achievements["badge_id"].str.startswith("first_play")
    assert first.any()
    run.tables["achievements"] = achievements[~first]
    acc = accounting(run)
    assert acc["badges_match_batch_evaluator"] and acc["ok"], acc


def test_an_empty_rule_list_means_the_default_rules(clean: Run) -> None:
    """A deployed run without BADGE_RULES reports ``rules: []``: the Lambda's defaults apply."""
    run = _copy(clean)
    run.config["rules"] = []
    acc = accounting(run)
    assert acc["badges_match_batch_evaluator"] and acc["badges_missing"] == 0 and acc["ok"]


def test_the_same_badge_for_two_plays_is_a_duplicate(clean: Run) -> None:
    run = _copy(clean)
    again = run.achievements.iloc[[0]].copy()
    again["play_id"] = "another-play"
    run.tables["achievements"] = pd.concat([run.achievements, again], ignore_index=True)
    acc = accounting(run)
    assert acc["duplicate_badges"] == 1 and not acc["ok"]


def test_the_reasons_plays_were_not_written_are_counted_by_error_type(clean: Run) -> None:
    run = _copy(clean)
    run.config["send_failures"] = [
        {"play_id": "x", "error": "ProvisionedThroughputExceededException: rate: exceeded"},
    ]
    acc = accounting(run)
    assert acc["not_written"] == 1
    assert acc["not_written_reasons"] == {"ProvisionedThroughputExceededException": 1}
