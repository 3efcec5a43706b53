"""The accounting of a run, from witnesses that do not take the trigger's word.

Every record the stream holds after the run (``stream_witness``: read back with a fresh reader)
and every play the writer wrote must have an outcome:

- *processed*: the handler witness (``handler_witness``) saw an invocation return success for
  it, in time;
- *at the destination*: a message read back from the on-failure queue
  (``destination_witness``) covers its sequence number (same shard, in the batch's range);
- *filtered*: the trigger says so and the handler witness never received it (judged before
  the destination: a failed batch's sequence-number range spans the filtered records in it);
- otherwise *discarded* (the trigger says it dropped it: no destination, or sending failed) or
  *unaccounted*; both are lost.

The trigger's own claims are then checked against the witnesses: "processed" with no handler
success, and "sent to the destination" with no message there, are violations. Badges: the
achievements table (read back) must equal the batch evaluator's awards over the plays in the
table, for the plays the handler witness says were processed. A run without witness tables
(older folders) falls back to the trigger's log, and says so (``witnessed`` False).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd

from streamsim.workbench.faults.witness import (
    SUCCESS,
    at_destination,
    destination_frame,
)

PLAY_COLUMNS = ("player_id", "play_id", "game", "played_at", "tz", "score")


def account(run: Any, timeline: Callable[[Any], pd.DataFrame]) -> dict[str, Any]:
    """The accounting dict of a run (see the module docstring); ``ok`` is the verdict.

    ``timeline``: streamsim.workbench.analysis.play_timeline (the trigger's log joined to the
    plays), used only for older run folders without witnesses."""
    tables = run.tables
    plays = tables["plays"]
    dispositions = tables["dispositions"]
    handler = tables.get("handler_witness")
    stream = tables.get("stream_witness")
    witnessed = handler is not None and stream is not None
    if witnessed:
        destination = tables.get("destination_witness")
        if destination is None:
            destination = destination_frame(run.destination)
        outcome = _witnessed_outcomes(plays, dispositions, handler, stream, destination)
    else:
        outcome = _trigger_outcomes(timeline(run))
    counts = Counter(outcome["plays"].values())
    orphan_counts = Counter(outcome["orphans"].values())
    lost = counts["unaccounted"] + counts["discarded"]
    orphans_lost = orphan_counts["unaccounted"] + orphan_counts["discarded"]
    badges = _badges(run, plays, outcome)
    failures = run.config.get("send_failures") or []
    reasons = Counter(str(f.get("error", "")).split(":", 1)[0] for f in failures)
    claims = outcome["claims"]
    ok = (
        lost == 0
        and orphans_lost == 0
        and claims["processed_without_handler"] == 0
        and claims["destination_not_received"] == 0
        and badges["duplicate_badges"] == 0
        and badges["badges_match_batch_evaluator"]
    )
    return {
        "witnessed": witnessed,
        "plays_written": len(plays),
        "not_written": len(failures),
        "not_written_reasons": dict(sorted(reasons.items())),
        "processed": counts["processed"],
        "filtered": counts["filtered"],
        "sent_to_destination": counts["destination"],
        "discarded": counts["discarded"],
        "unaccounted": counts["unaccounted"],
        "lost": lost + orphans_lost,
        "orphan_records": len(outcome["orphans"]),
        "orphans_lost": orphans_lost,
        **claims,
        **outcome["witnesses"],
        **badges,
        "ok": ok,
    }


def _witnessed_outcomes(
    plays: pd.DataFrame,
    dispositions: pd.DataFrame,
    handler: pd.DataFrame,
    stream: pd.DataFrame,
    destination: pd.DataFrame,
) -> dict[str, Any]:
    """Outcome per written play and per orphan record, from the three witnesses."""
    done = handler[handler["outcome"] == SUCCESS]
    processed_ids = set(done["play_id"].dropna().astype(str))
    processed_seqs = set(done["sequence_number"].astype(str))
    received_ids = set(handler["play_id"].dropna().astype(str))
    inserts = stream[stream["event_name"] == "INSERT"]
    # A play's records: from the stream read back, and from what the handler received.
    seqs: dict[str, list[tuple[str, str | None]]] = {}
    for row in inserts.itertuples(index=False):
        seqs.setdefault(str(row.play_id), []).append((str(row.sequence_number), str(row.shard_id)))
    for row in handler.dropna(subset=["play_id"]).itertuples(index=False):
        known = {s for s, _ in seqs.get(str(row.play_id), [])}
        if str(row.sequence_number) not in known:
            seqs.setdefault(str(row.play_id), []).append((str(row.sequence_number), None))
    claim = _trigger_claims(dispositions)

    def outcome_of(play_id: str) -> str:
        if play_id in processed_ids:
            return "processed"
        records = seqs.get(play_id, [])
        said = {claim.get(seq) for seq, _ in records}
        # Before the destination: a failed batch's range spans the filtered records within it.
        if "filtered" in said and play_id not in received_ids:
            return "filtered"
        if any(at_destination(seq, shard, destination) for seq, shard in records):
            return "destination"
        if "discarded" in said:
            return "discarded"
        return "unaccounted"

    written = set(plays["play_id"].astype(str))
    outcomes = {play_id: outcome_of(play_id) for play_id in plays["play_id"].astype(str)}
    orphan_ids = sorted(set(inserts["play_id"].dropna().astype(str)) - written)
    orphans = {play_id: outcome_of(play_id) for play_id in orphan_ids}
    stream_seqs = set(inserts["sequence_number"].astype(str))
    claims = {
        "processed_without_handler": sum(
            1 for seq, said in claim.items() if said == "processed" and seq not in processed_seqs
        ),
        "destination_not_received": sum(
            1
            for seq, said in claim.items()
            if said == "destination" and not at_destination(seq, None, destination)
        ),
    }
    witnesses = {
        "witness_handler_invocations": int(handler["invocation"].nunique()),
        "witness_handler_processed": len(processed_seqs),
        "witness_destination_messages": len(destination),
        "witness_destination_records": int(destination["batch_size"].sum()),
        "witness_stream_records": len(stream_seqs),
        "trigger_processed": sum(1 for said in claim.values() if said == "processed"),
        "trigger_sent_to_destination": sum(1 for said in claim.values() if said == "destination"),
    }
    return {
        "plays": outcomes,
        "orphans": orphans,
        "orphan_plays": _orphan_plays(inserts, orphan_ids),
        "processed_ids": processed_ids,
        "claims": claims,
        "witnesses": witnesses,
    }


def _trigger_claims(dispositions: pd.DataFrame) -> dict[str, str]:
    """The trigger's last word per sequence number."""
    out: dict[str, str] = {}
    for row in dispositions.itertuples(index=False):
        out[str(row.sequence_number)] = str(row.disposition)
    return out


def _trigger_outcomes(timeline: pd.DataFrame) -> dict[str, Any]:
    """No witnesses: the trigger's log, joined to the plays by the records' keys."""
    outcomes = {
        str(play_id): str(said) if isinstance(said, str) else "unaccounted"
        for play_id, said in zip(timeline["play_id"], timeline["disposition"], strict=True)
    }
    return {
        "plays": outcomes,
        "orphans": {},
        "orphan_plays": pd.DataFrame(columns=list(PLAY_COLUMNS)),
        "processed_ids": {p for p, said in outcomes.items() if said == "processed"},
        "claims": {"processed_without_handler": 0, "destination_not_received": 0},
        "witnesses": {},
    }


def _orphan_plays(inserts: pd.DataFrame, orphan_ids: list[str]) -> pd.DataFrame:
    """Plays in the table the writer does not know about (their write's answer was lost)."""
    from streamsim.errors import EventParseError
    from streamsim.game.playstore import play_from_item

    rows = []
    for row in inserts[inserts["play_id"].isin(orphan_ids)].itertuples(index=False):
        try:
            play = play_from_item(json.loads(row.image))
        except EventParseError:
            continue  # not a play: the handler fails it too, so it earns nothing
        rows.append({c: getattr(play, c) for c in PLAY_COLUMNS})
    frame = pd.DataFrame(rows, columns=list(PLAY_COLUMNS))
    return frame.drop_duplicates("play_id")


def _badges(run: Any, plays: pd.DataFrame, outcome: dict[str, Any]) -> dict[str, Any]:
    """Achievements read back vs the batch evaluator on the plays the handler processed."""
    from streamsim.game.badges import evaluate_batch, rule_from_spec

    achievements = run.tables["achievements"]
    rules = tuple(rule_from_spec(r["rule"], r["params"]) for r in run.config.get("rules", []))
    universe = plays[list(PLAY_COLUMNS)]
    if len(outcome["orphan_plays"]):
        orphans = outcome["orphan_plays"].copy()
        orphans["played_at"] = pd.to_datetime(orphans["played_at"], utc=True)
        universe = pd.concat([universe, orphans], ignore_index=True)
    expected = evaluate_batch(universe, rules) if rules else evaluate_batch(universe)
    processed = outcome["processed_ids"]
    expected = expected[expected["play_id"].astype(str).isin(processed)]
    want = set(
        zip(
            expected["player_id"],
            expected["badge_id"],
            expected["play_id"].astype(str),
            strict=True,
        )
    )
    got_all = set(
        zip(
            achievements["player_id"],
            achievements["badge_id"],
            achievements["play_id"].astype(str),
            strict=True,
        )
    )
    gave_up = {
        p for p, o in {**outcome["plays"], **outcome["orphans"]}.items() if o == "destination"
    }
    # A play at the destination may have been processed in an attempt before its batch was
    # given up (a timeout after the work, a reported failure): its awards are counted apart.
    got = {award for award in got_all if award[2] in processed or award[2] not in gave_up}
    in_table = int(achievements.duplicated(["player_id", "badge_id"]).sum())
    writes = (run.config.get("handler_stats") or {}).get("awards_written")
    rewrites = max(0, int(writes) - len(achievements)) if writes is not None else 0
    return {
        "duplicate_badges": in_table + rewrites,
        "award_writes": writes,
        "badges_match_batch_evaluator": got == want,
        "badges_missing": len(want - got),
        "badges_unexpected": len(got - want),
        "badges_at_destination_plays": len(got_all - got),
    }
