"""Plays per wall second through the virtual pipeline at scale (writer -> shards -> trigger ->
modelled handler -> capture), block writes vs per-record writes in the same run, with peak RSS.

Goal (issue 14): 1 h at 10,000 plays/s over 100 shards (36 M plays) in <= 75 s and <= 8 GB.
The default runs 10 virtual seconds (100,000 plays, a couple of minutes with both paths) and
extrapolates to the 36 M-play hour, labelled as such; ``--full`` runs the hour itself.
Usage: python benchmarks/bench_virtual.py [--rate 10000] [--seconds 10] [--shards 100] [--full]
"""

from __future__ import annotations

import argparse
import resource
import time

from streamsim.workbench.scale.model import ScaleModel
from streamsim.workbench.scale.run import ScaleScenario, simulate_scale


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(scenario: ScaleScenario) -> float:
    started = time.perf_counter()
    result = simulate_scale(scenario)
    wall = time.perf_counter() - started
    assert result.summary["lost"] == 0, result.summary
    assert result.summary["processed"] == scenario.plays, result.summary
    return scenario.plays / wall


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
    fast = timed(base)
    print(f"block writes:      {fast:10,.0f} plays per wall second ({base.plays:,} plays)")
    slow = timed(ScaleScenario(**{**base.__dict__, "per_record_writes": True}))
    print(f"per-record writes: {slow:10,.0f} plays per wall second; ratio {fast / slow:.2f}x")
    goal_plays = 10_000 * 3600
    print(
        f"peak RSS {rss_mb():,.0f} MB ({rss_mb() * 1024 / base.plays:,.1f} KB per play); "
        f"goal 500,000 plays/s: {fast / 500_000:.1%} of it"
    )
    if not args.full:
        print(
            f"EXTRAPOLATED (not measured) to the goal's hour: {goal_plays / fast:,.0f} s wall "
            f"for {goal_plays:,} plays at this rate (goal <= 75 s)"
        )


if __name__ == "__main__":
    main()
