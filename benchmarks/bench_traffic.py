"""Benchmark: generate a synthetic population's plays (target: 10M plays in at most 3 s).

Run:  python benchmarks/bench_traffic.py [--players 140000 --days 60 --seed 0 --repeat 3]

The defaults give about 10M plays. Prints, per step:
- ``Population.generate`` (players, habits, days, plays as arrays);
- ``plays_frame()`` with pandas' default ``str`` columns, and with ``categorical=True``;
- wall seconds (best of ``--repeat``), plays/s, CPU seconds of that run (all threads: on a
  shared machine wall time depends on the neighbours, CPU time much less), and memory: the
  tracemalloc peak of generate + frame (numpy and Python allocations, not Arrow buffers),
  the frame's own size, and the process max RSS (everything, Arrow included).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

from streamsim.workbench.traffic import Population, PopulationConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=140_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is shown")
    args = parser.parse_args(argv)

    config = PopulationConfig(players=args.players, days=args.days, seed=args.seed)
    Population.generate(PopulationConfig(players=100, days=3))  # warm imports and caches
    print(f"population: {args.players:,} players x {args.days} days, seed {args.seed}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    gen_s, gen_cpu, pop = _best(lambda: Population.generate(config), args.repeat)
    n = pop.n_plays
    str_s, str_cpu, frame = _best(pop.plays_frame, args.repeat)
    cat_s, cat_cpu, cat_frame = _best(partial(pop.plays_frame, categorical=True), args.repeat)
    frame_mb = frame.memory_usage(deep=True).sum() / 1e6
    cat_mb = cat_frame.memory_usage(deep=True).sum() / 1e6
    del frame, cat_frame, pop

    peak_mb = _traced_peak_mb(config)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"plays: {n:,}")
    rows = [
        ("generate", gen_s, gen_cpu, None),
        ("plays_frame (str)", str_s, str_cpu, frame_mb),
        ("plays_frame (categorical)", cat_s, cat_cpu, cat_mb),
        ("generate + frame (str)", gen_s + str_s, gen_cpu + str_cpu, None),
        ("generate + frame (categorical)", gen_s + cat_s, gen_cpu + cat_cpu, None),
    ]
    print(f"{'step':32s} {'seconds':>8s} {'plays/s':>14s} {'CPU s':>6s} {'frame MB':>9s}")
    for name, seconds, cpu, mb in rows:
        size = f"{mb:9.0f}" if mb is not None else " " * 9
        print(f"{name:32s} {seconds:8.2f} {n / seconds:14,.0f} {cpu:6.2f} {size}")
    print(f"tracemalloc peak, generate + frame (str): {peak_mb:,.0f} MB")
    print(f"process max RSS: {rss_mb:,.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    target = gen_s + str_s
    print(f"10M-plays target (<= 3 s for generate + frame): {'met' if target <= 3 else 'MISSED'}")
    # issue 14: the evaluator's input (categorical frame) in <= 1 s; the machine may be shared,
    # so the CPU seconds say how far the code is from it on two idle cores
    goal = gen_s + cat_s
    print(
        f"issue 14 goal (<= 1 s for generate + categorical frame): {goal:.2f} s "
        f"(CPU {gen_cpu + cat_cpu:.2f} s): {'met' if goal <= 1 else 'MISSED'}"
    )
    return 0


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time of ``repeat`` calls (the machine may be shared), the CPU seconds of
    that call, and the last result."""
    best, cpu, result = float("inf"), 0.0, None
    for _ in range(max(1, repeat)):
        result = None  # free the previous result before the next run
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu, result


def _traced_peak_mb(config: PopulationConfig) -> float:
    """Peak traced memory of generate + frame, in a run of its own (tracing costs time)."""
    tracemalloc.start()
    pop = Population.generate(config)
    frame = pop.plays_frame()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del frame, pop
    return peak / 1e6


if __name__ == "__main__":
    sys.exit(main())
