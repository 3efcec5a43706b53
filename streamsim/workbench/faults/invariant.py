"""The invariant every run must keep, whatever failed: nothing lost, nothing doubled, nothing hidden.

Every play written, and every record the stream holds, is processed (at least once),
filtered, or at the on-failure destination; no achievement is awarded twice; the achievements
equal the batch evaluator's for the processed plays. "Processed" and "at the destination" are
what the witnesses saw (streamsim.workbench.faults.witness: the handler's boundary, the queue
read back, the stream read back), not what the trigger logged; the trigger's claims are checked
against them. Plays the writer could not write are not part of it (the caller got the
error) but are always shown, with their reasons. ``streamsim.workbench.analysis.accounting`` measures;
this module judges and words the verdict.
"""

from __future__ import annotations

from typing import Any

STATEMENT = (
    "every play written and every stream record is processed, filtered or at the on-failure "
    "destination, as witnessed; no badge twice; badges = batch evaluator on processed plays"
)


def check_invariant(summary: dict[str, Any]) -> list[str]:
    """The violations in a run summary, each a sentence (empty: the invariant holds)."""
    acc = summary["accounting"]
    problems = []
    if acc["unaccounted"]:
        problems.append(
            f"{acc['unaccounted']} written plays have no outcome (not processed, filtered or sent "
            "to the destination)"
            + ("; the trigger did not drain" if summary.get("drained") is False else "")
        )
    if acc.get("orphans_lost"):
        problems.append(
            f"{acc['orphans_lost']} stream records with no written play (ambiguous writes) have "
            "no outcome"
        )
    if acc.get("processed_without_handler"):
        problems.append(
            f"{acc['processed_without_handler']} records the trigger marked processed were never "
            "processed by the handler (no successful invocation received them)"
        )
    if acc.get("destination_not_received"):
        problems.append(
            f"{acc['destination_not_received']} records the trigger marked sent to the "
            "destination are not in it (read back after the run)"
        )
    if acc["discarded"]:
        problems.append(
            f"{acc['discarded']} plays were discarded: no on-failure destination was set, or "
            "sending to it failed (see poll_errors)"
        )
    if acc["duplicate_badges"]:
        problems.append(f"{acc['duplicate_badges']} badges were awarded twice")
    if not acc["badges_match_batch_evaluator"]:
        problems.append(
            f"badges differ from the batch evaluator: {acc['badges_missing']} missing, "
            f"{acc['badges_unexpected']} unexpected"
        )
    if not problems and not acc.get("ok", True):
        problems.append("the accounting failed the run for a reason this verdict does not name")
    return problems


def witness_line(acc: dict[str, Any]) -> str:
    """Each witness's count, beside the trigger's own claims."""
    if not acc.get("witnessed"):
        return "witnesses: none recorded (an older run folder): judged on the trigger's own log"
    return (
        f"witnesses: handler processed {acc['witness_handler_processed']} records in "
        f"{acc['witness_handler_invocations']} invocations; destination holds "
        f"{acc['witness_destination_messages']} messages ({acc['witness_destination_records']} "
        f"records); stream holds {acc['witness_stream_records']} records "
        f"({acc['orphan_records']} with no written play); the trigger says processed "
        f"{acc['trigger_processed']}, sent to destination {acc['trigger_sent_to_destination']}"
    )


def invariant_lines(summary: dict[str, Any]) -> list[str]:
    """The verdict as lines for the run summary: what was not written, what was injected."""
    acc = summary["accounting"]
    problems = check_invariant(summary)
    lines = [f"invariant: {'OK' if not problems else 'VIOLATED'}  ({STATEMENT})"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append(witness_line(acc))
    if acc.get("not_written"):
        reasons = ", ".join(f"{k} {v}" for k, v in acc.get("not_written_reasons", {}).items())
        lines.append(
            f"not written: {acc['not_written']} plays the writer could not write ({reasons}); "
            "the writer got the error, so they are not in the invariant"
        )
    if acc.get("badges_at_destination_plays"):
        lines.append(
            f"badges at plays sent to the destination: {acc['badges_at_destination_plays']} "
            "(processed in an attempt before the batch was given up)"
        )
    faults = summary.get("faults")
    if faults:
        injected = ", ".join(f"{k} {v}" for k, v in faults["injected"].items()) or "nothing"
        lines.append(f"faults: {faults['specs']} (seed {faults['seed']}); injected: {injected}")
        if faults.get("changed"):
            lines.append(f"  for this live fault run: {', '.join(faults['changed'])}")
    return lines
