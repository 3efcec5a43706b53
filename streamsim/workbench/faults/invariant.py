"""The invariant every run must keep, whatever failed: nothing lost, nothing doubled, nothing hidden.

Every play written is processed (at least once), filtered, or reported to the on-failure
destination; no achievement is awarded twice; the achievements equal the batch evaluator's for
the processed plays. Plays the writer could not write are not part of it (the caller got the
error) but are always shown, with their reasons. ``streamsim.workbench.analysis.accounting`` measures;
this module judges and words the verdict.
"""

from __future__ import annotations

from typing import Any

STATEMENT = (
    "every play written is processed, filtered or at the on-failure destination; "
    "no badge twice; badges = batch evaluator on processed plays"
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
    return problems


def invariant_lines(summary: dict[str, Any]) -> list[str]:
    """The verdict as lines for the run summary: what was not written, what was injected."""
    acc = summary["accounting"]
    problems = check_invariant(summary)
    lines = [f"invariant: {'OK' if not problems else 'VIOLATED'}  ({STATEMENT})"]
    lines += [f"  - {problem}" for problem in problems]
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
