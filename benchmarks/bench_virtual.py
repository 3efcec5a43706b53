"""Plays per wall second through the virtual pipeline at scale (writer -> shards -> trigger ->
modelled handler -> capture), block writes vs per-record writes in the same run, with peak RSS.

Both paths run the one trigger on record blocks. The fast path writes plays in bulk (their
sizes as columns) and gives the modelled handler the batch (``ScaleHandler.handle_batch``: no
Lambda event record is built); the per-record path writes each play with its own clock event
and calls the handler as Lambda does, ``handler(event, context)`` with the event's records.

Goal (issue 14): 1 h at 10,000 plays/s over 100 shards (36 M plays) in <= 75 s and <= 8 GB.
The default runs 10 virtual seconds (100,000 plays, a couple of minutes with both paths) and
extrapolates to the 36 M-play hour, labelled as such; ``--full`` runs the hour itself.
Usage: python benchmarks/bench_virtual.py [--rate 10000] [--seconds 10] [--shards 100] [--full]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from streamsim.workbench.scale.model import ScaleModel
from streamsim.workbench.scale.run import ScaleScenario, simulate_scale


def peak_rss_bytes() -> int:
    """The process's peak resident set (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def timed(scenario: ScaleScenario) -> tuple[float, float]:
    """Plays per wall second and per CPU second (the machine is shared: CPU is steadier)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate_scale(scenario)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.summary["lost"] == 0, result.summary
    assert result.summary["processed"] == scenario.plays, result.summary
    return scenario.plays / wall, scenario.plays / cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--shards", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="the goal's hour (36 M plays)")
    args = parser.parse_args()
    if args.full:
        args.seconds = 3600.0
    base = ScaleScenario(
        rate=args.rate,
        seconds=args.seconds,
        shards=args.shards,
        model=ScaleModel(rollover_hours=0),
    )
    start_rss = peak_rss_bytes()
    fast, fast_cpu = timed(base)
    peak = peak_rss_bytes()  # the block-write path alone (the per-record path runs after)
    print(
        f"block writes:      {fast:10,.0f} plays per wall second, {fast_cpu:,.0f} per CPU "
        f"second ({base.plays:,} plays)"
    )
    print(
        f"peak RSS {peak / 1e6:,.0f} MB: {peak / base.plays:,.0f} bytes per play "
        f"({(peak - start_rss) / base.plays:,.0f} above the {start_rss / 1e6:,.0f} MB at start)"
    )
    if args.full:
        print(f"goal 500,000 plays/s: {fast / 500_000:.1%} of it")
        print("per-record writes: not run with --full (the hour does not fit in memory that way)")
        return
    slow, slow_cpu = timed(ScaleScenario(**{**base.__dict__, "per_record_writes": True}))
    print(
        f"per-record writes: {slow:10,.0f} plays per wall second, {slow_cpu:,.0f} per CPU "
        f"second; ratio {fast / slow:.2f}x wall, {fast_cpu / slow_cpu:.2f}x CPU"
    )
    goal_plays = 10_000 * 3600
    print(f"goal 500,000 plays/s: {fast / 500_000:.1%} of it")
    print(
        f"EXTRAPOLATED (not measured) to the goal's hour: {goal_plays / fast:,.0f} s wall "
        f"for {goal_plays:,} plays at this rate (goal <= 75 s)"
    )


if __name__ == "__main__":
    main()
