"""How ``streamsim run`` talks to a person: a progress bar while it runs, a summary table after."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[int, int, int], None] | None]:
    """A tqdm bar of plays written (with plays processed in the postfix), on stderr."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=0, unit="play", desc="written", file=sys.stderr, dynamic_ncols=True)

    def update(written: int, total: int, processed: int) -> None:
        bar.total = total
        bar.n = written
        bar.set_postfix(processed=processed, refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def summary_lines(summary: dict[str, Any], path: Path | None = None) -> list[str]:
    """The closing table as lines of text."""
    acc = summary["accounting"]
    lines = [
        "",
        f"{'plays written':<28}{summary['plays_written']:>10}",
        f"{'stream records':<28}{summary['stream_records']:>10}",
        f"{'invocations':<28}{summary['invocations']:>10}",
        f"{'retries':<28}{summary['retries']:>10}",
        "",
        f"{'latency (s, wall clock)':<28}{'p50':>10}{'p95':>10}{'p99':>10}",
    ]
    for component, values in summary["latency_seconds"].items():
        lines.append(
            f"  {component.replace('_', ' '):<26}{values['p50']:>10.3f}{values['p95']:>10.3f}{values['p99']:>10.3f}"
        )
    lines += ["", "badges by rule"]
    for rule, count in sorted(summary["badges_by_rule"].items()):
        lines.append(f"  {rule:<26}{count:>10}")
    verdict = "OK" if acc["ok"] else "FAILED"
    lines += [
        "",
        f"accounting: {verdict}  processed {acc['processed']}, filtered {acc['filtered']}, "
        f"sent to destination {acc['sent_to_destination']}, lost {acc['lost']}, "
        f"duplicate badges {acc['duplicate_badges']}, "
        f"badges = batch evaluator: {'yes' if acc['badges_match_batch_evaluator'] else 'NO'}",
    ]
    if path is not None:
        lines.append(f"run folder: {path}   (streamsim.load_run('{path}'))")
    return lines


def print_summary(summary: dict[str, Any], path: Path | None = None) -> None:
    print("\n".join(summary_lines(summary, path)))
