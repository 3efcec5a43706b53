"""Benchmark: badges for many plays, batch (vectorised) against play by play (the blog's way).

Run:  python benchmarks/bench_badges.py [--plays 10000000 --players 100000 --sample 1000]

Prints, side by side:
- batch: ``evaluate_batch`` over all plays under ``DEFAULT_RULES``, one thread and the default
  (one per CPU), with dictionary-encoded (categorical, as read from Parquet) and with plain str
  columns: seconds, and the peak memory of the call (tracemalloc: numpy and Python allocations,
  not Arrow buffers, in a separate run) and the process' max RSS (input included);
- play by play, read all: ``badges_earned_by(play, all prior plays)`` as the blog's handler
  does (read all previous plays, evaluate), timed on a random sample of plays and extrapolated
  to all plays (Query time not included: evaluation only);
- play by play, incremental: ``PlayerState.fold`` plus a JSON round trip of the state per play
  (what a handler keeping state in DynamoDB does), timed on the sample's players, extrapolated.

The input comes from a small numpy generator here (not ``streamsim.workbench.traffic``): players with a
home time zone, a favourite game and an active period (some take a break); plays at local times
of day, ms precision, in time order (as a log of plays would be).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from streamsim.game.badges import (
    DEFAULT_RULES,
    PlayerState,
    badges_earned_by,
    evaluate_batch,
    frame_to_plays,
    play_order,
)
from streamsim.game.plays import DEFAULT_GAMES, PLAY_COLUMNS, Play

ZONES = (
    "Europe/Amsterdam",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Santiago",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Shanghai",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Africa/Cairo",
    "UTC",
)


def synthetic_plays(n_plays: int, n_players: int, seed: int = 7) -> pd.DataFrame:
    """Plays of ``n_players`` over about a year and a half, categorical string columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    home = rng.integers(0, len(ZONES), n_players)
    favourite = rng.integers(0, len(DEFAULT_GAMES), n_players)
    start_day = rng.integers(0, 300, n_players)
    span_days = rng.choice([7, 14, 30, 90, 365], n_players)
    break_days = np.where(rng.random(n_players) < 0.25, rng.integers(30, 120, n_players), 0)
    # Plays in time order: draw sorted (day, time of day) keys per play, then the player.
    player = rng.integers(0, n_plays and n_players, n_plays)
    day = start_day[player] + rng.integers(0, span_days[player])
    day += np.where(rng.random(n_plays) < 0.3, break_days[player] + span_days[player], 0)
    local_ms = (rng.normal(19.5, 3.0, n_plays).clip(0, 23.999) * 3_600_000).astype(np.int64)
    offset_ms = np.array(
        [pd.Timestamp("2025-06-01", tz=z).utcoffset().total_seconds() * 1000 for z in ZONES],
        dtype=np.int64,
    )
    utc_ms = day * 86_400_000 + local_ms - offset_ms[home[player]]
    order = np.argsort(utc_ms)
    played_at = (pd.Timestamp("2025-01-01").value // 1_000_000 + utc_ms[order]) * 1_000_000
    player = player[order]
    game = np.where(
        rng.random(n_plays) < 0.6, favourite[player], rng.integers(0, len(DEFAULT_GAMES), n_plays)
    )
    play_ids = pc.binary_join_element_wise(
        "play-", pc.cast(pa.array(np.arange(n_plays)), pa.string()), ""
    )
    frame = pd.DataFrame(
        {
            "player_id": pd.Categorical.from_codes(
                player, [f"player-{i:07d}" for i in range(n_players)]
            ),
            "play_id": play_ids.to_pandas(),
            "game": pd.Categorical.from_codes(game, list(DEFAULT_GAMES)),
            "played_at": pd.DatetimeIndex(played_at.view("datetime64[ns]")).tz_localize("UTC"),
            "tz": pd.Categorical.from_codes(home[player], list(ZONES)),
            "score": rng.gamma(2.0, 500.0, n_plays).astype(np.int64),
        }
    )
    return frame.loc[:, list(PLAY_COLUMNS)]


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """The same plays with plain str columns (as built from Python lists or CSV)."""
    out = frame.copy()
    for column in ("player_id", "game", "tz"):
        out[column] = out[column].astype(str)
    return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[Any, float]:
    """The result and the fastest of ``runs`` timings (the machine may be shared)."""
    results = [timed(fn) for _ in range(runs)]
    return results[0][0], min(seconds for _, seconds in results)


def batch_seconds_on_strings(frame: pd.DataFrame, runs: int) -> float:
    """Batch time when the string columns are plain str (converted outside the timing)."""
    strings = as_strings(frame)
    return best_of(runs, lambda: evaluate_batch(strings))[1]


def traced_peak_mib(fn: Callable[[], Any]) -> float:
    """Peak traced allocation (MiB) during ``fn`` (a separate, slower run)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def play_by_play(frame: pd.DataFrame, sample: int, seed: int) -> dict[str, float]:
    """Seconds per play of the blog's read-all way and of the incremental fold, on a sample."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(frame), size=min(sample, len(frame)), replace=False)
    chosen = set(frame["play_id"].iloc[picks].astype(str))
    players = frame["player_id"].iloc[picks].unique()
    history: dict[str, list[Play]] = {}
    for play in sorted(frame_to_plays(frame[frame["player_id"].isin(players)]), key=play_order):
        history.setdefault(play.player_id, []).append(play)
    cases = [
        (play, plays[:i])
        for plays in history.values()
        for i, play in enumerate(plays)
        if play.play_id in chosen
    ]
    start = time.perf_counter()
    for play, prior in cases:
        badges_earned_by(play, prior, DEFAULT_RULES)
    read_all = (time.perf_counter() - start) / len(cases)
    folds = 0
    start = time.perf_counter()
    for plays in history.values():
        stored = PlayerState(rules=DEFAULT_RULES).to_dict()
        for play in plays:
            state = PlayerState.from_dict(json.loads(json.dumps(stored)), DEFAULT_RULES)
            state.fold(play)
            stored = state.to_dict()
            folds += 1
    return {
        "read_all": read_all,
        "fold": (time.perf_counter() - start) / folds,
        "mean_prior": float(np.mean([len(prior) for _, prior in cases])),
        "cases": len(cases),
        "folds": folds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=10_000_000)
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000, help="plays timed one by one")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the best is shown")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    frame, gen_s = timed(lambda: synthetic_plays(args.plays, args.players, args.seed))
    n = len(frame)
    print(
        f"input: {n:,} plays of {args.players:,} players, {len(ZONES)} zones, "
        f"{len(DEFAULT_GAMES)} games (generated in {gen_s:.1f} s); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("rules: " + ", ".join(f"{r.name}({r.params_json()})" for r in DEFAULT_RULES))

    awards, one_s = best_of(args.runs, lambda: evaluate_batch(frame, workers=1))
    _, auto_s = best_of(args.runs, lambda: evaluate_batch(frame))
    str_s = batch_seconds_on_strings(frame, args.runs)
    one_mib = traced_peak_mib(lambda: evaluate_batch(frame, workers=1))
    auto_mib = traced_peak_mib(lambda: evaluate_batch(frame))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pbp = play_by_play(frame, args.sample, args.seed)

    counts = awards["rule"].value_counts()
    print(f"awards: {len(awards):,}; " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print()
    rows = [
        ("batch, categorical, 1 thread", one_s, f"peak traced {one_mib:,.0f} MiB"),
        ("batch, categorical, default threads", auto_s, f"peak traced {auto_mib:,.0f} MiB"),
        ("batch, str columns, default threads", str_s, "includes hashing the strings"),
        (
            "play by play, read all prior (blog)",
            pbp["read_all"] * n,
            f"extrapolated: {pbp['read_all'] * 1e3:.2f} ms/play x {n:,} "
            f"(sample {pbp['cases']:,} plays, mean prior {pbp['mean_prior']:.0f} plays)",
        ),
        (
            "play by play, PlayerState fold + JSON",
            pbp["fold"] * n,
            f"extrapolated: {pbp['fold'] * 1e6:.0f} us/play x {n:,} "
            f"(sample {pbp['folds']:,} plays)",
        ),
    ]
    print(f"{'path':<40}{'seconds':>10}{'x batch':>10}  notes")
    for label, seconds, note in rows:
        print(f"{label:<40}{seconds:>10.2f}{seconds / auto_s:>10.1f}  {note}")
    print(f"process max RSS {rss_mib:,.0f} MiB (input and generator included)")
    bench_tuning(args.players)


def bench_tuning(players: int, days: int = 14) -> None:
    """Notebook 04's sliders: one change re-evaluates every rule for ``players`` synthetic
    players (streamsim.workbench.tuning.Tuner; goal: under a second)."""
    from streamsim.workbench.traffic import Population, PopulationConfig
    from streamsim.workbench.tuning import Tuner, with_threshold

    plays = Population.generate(PopulationConfig(players=players, days=days, seed=1)).plays_frame()
    started = time.perf_counter()
    tuner = Tuner(plays, days)
    prepared = time.perf_counter() - started
    tuner.rates(DEFAULT_RULES)  # the widget's first view
    best = float("inf")
    for days_in_row in (5, 7, 9):  # each a new threshold: evaluated, not remembered
        started = time.perf_counter()
        tuner.rates(with_threshold(DEFAULT_RULES, "DailyStreak", days_in_row))
        best = min(best, time.perf_counter() - started)
    print(
        f"tuning: {players:,} players ({len(plays):,} plays, {days} days), one slider change "
        f"re-evaluates the changed rule and shows all {len(DEFAULT_RULES)} in {best:.2f} s (goal < 1 s; prepared "
        f"once in {prepared:.1f} s)"
    )


if __name__ == "__main__":
    main()
