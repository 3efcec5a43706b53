"""Benchmark: badges for many plays, batch (vectorised) against play by play (the blog's way).

Run:  python benchmarks/bench_badges.py [--plays 10000000 --players 100000 --sample 1000]
      python benchmarks/bench_badges.py --population   # adds the 100 M line (about a minute)

Prints first the goal lines of issue 14, each figure beside its goal and the ratio to it, with
the CPU seconds of the process during the timed call (on a shared machine the wall time depends
on the neighbours, CPU time much less):
- generate: the workbench's generator (``streamsim.workbench.traffic.Population``, players with
  habits: the generator a badge-rate study uses), about ``--plays`` plays (10 M: 140,000 players
  x 60 days), ``Population.generate`` and then ``plays_frame(categorical=True)``, the
  evaluator's input (goal <= 1 s for both; each also shown apart);
- evaluate: ``evaluate_batch`` of ``--plays`` plays from this file's generator (below), default
  threads, seconds (goal <= 2 s) and the peak RSS of the process during the call, input
  included (goal <= 1.5 GB; Linux VmHWM, reset before), and the minor page faults of that call
  (memory the allocator handed back to the OS and took again: sys time);
- with ``--population``: 100 M plays of 1 M players generated chunk by chunk of 100,000
  players (``synthetic_chunks``) and evaluated by ``evaluate_chunks``: evaluation seconds (goal
  <= 30 s, generation excluded and shown apart) and peak RSS of the whole run (goal <= 6 GB).
Then, side by side:
- batch: ``evaluate_batch`` over all plays under ``DEFAULT_RULES``, one thread and the default
  (one per CPU), with dictionary-encoded (categorical, as read from Parquet) and with plain str
  columns: seconds, and the peak memory of the call (tracemalloc: numpy and Python allocations,
  not Arrow buffers, in a separate run) and the process' max RSS (input included);
- play by play, read all: ``badges_earned_by(play, all prior plays)`` as the blog's handler
  does (read all previous plays, evaluate), timed on a random sample of plays and extrapolated
  to all plays (Query time not included: evaluation only);
- play by play, incremental: ``PlayerState.fold`` plus a JSON round trip of the state per play
  (what a handler keeping state in DynamoDB does), timed on the sample's players, extrapolated.

The evaluation input comes from a small numpy generator here (``synthetic_plays``, kept so that
the evaluation figures compare with earlier rounds): players with a home time zone, a favourite
game and an active period (some take a break); plays at local times of day, ms precision, in
time order (as a log of plays would be). Its time is shown on the "input" line; the goal line
measures ``Population``, which is faster and is what a study uses. The machine may be shared:
timings are the best of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from streamsim.game.badges import (
    DEFAULT_RULES,
    PlayerState,
    badges_earned_by,
    evaluate_batch,
    evaluate_chunks,
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


MS_PER_DAY = 86_400_000
EPOCH_MS = pd.Timestamp("2025-01-01").value // 1_000_000


def synthetic_plays(n_plays: int, n_players: int, seed: int = 7) -> pd.DataFrame:
    """Plays of ``n_players`` over about three years, in time order, categorical string columns."""
    return synthetic_chunk(n_plays, range(n_players), 0, seed)


def synthetic_chunks(
    n_plays: int, n_players: int, chunk_players: int, seed: int = 7
) -> Iterator[pd.DataFrame]:
    """The plays of ``n_players`` as chunks of ``chunk_players`` whole players (in player_id
    order, each chunk a time-ordered log of its players), generated one at a time so that
    memory stays bounded by a chunk: the input of ``evaluate_chunks`` for the 100 M line."""
    for first in range(0, n_players, chunk_players):
        players = range(first, min(first + chunk_players, n_players))
        plays = n_plays * players.stop // n_players - n_plays * first // n_players
        yield synthetic_chunk(plays, players, n_plays * first // n_players, seed)


def synthetic_chunk(n_plays: int, players: range, first_play: int, seed: int = 7) -> pd.DataFrame:
    """``n_plays`` plays of the players numbered ``players``, play_ids from ``first_play``.

    Players have a home time zone, a favourite game and an active period (a quarter take a
    break); plays at normally distributed local times of day (wrapped into the day, ms
    precision), scores gamma(2, 500). No argsort and no gather of 10 M rows: the (time,
    player) pairs are packed into int64s and sorted, which puts the plays in time order.
    """
    rng = np.random.default_rng([seed, players.start])
    k = len(players)
    home = rng.integers(0, len(ZONES), k).astype(np.int8)
    favourite = rng.integers(0, len(DEFAULT_GAMES), k).astype(np.int8)
    start_day = rng.integers(0, 300, k)
    span_days = rng.choice([7, 14, 30, 90, 365], k)
    break_days = np.where(rng.random(k) < 0.25, rng.integers(30, 120, k), 0)
    offset_ms = np.array(
        [pd.Timestamp("2025-06-01", tz=z).utcoffset().total_seconds() * 1000 for z in ZONES],
        dtype=np.int64,
    )
    # Per player: the first ms of their active period (a day early, so that all are >= 0).
    player = rng.integers(0, max(k, 1), n_plays, dtype=np.int32) if k else np.zeros(0, np.int32)
    day = (rng.random(n_plays, dtype=np.float32) * span_days[player]).astype(np.int64)
    day += (start_day + 1)[player]
    day += (rng.random(n_plays, dtype=np.float32) < 0.3) * (break_days + span_days)[player]
    hour = rng.standard_normal(n_plays, dtype=np.float32)
    hour *= 3.0
    hour += 19.5
    local_ms = (hour * 3_600_000).astype(np.int64) % MS_PER_DAY
    del hour
    utc_ms = day * MS_PER_DAY
    del day
    utc_ms += local_ms
    del local_ms
    utc_ms -= offset_ms[home][player]
    bits = max(k - 1, 0).bit_length()
    utc_ms <<= bits
    utc_ms |= player
    utc_ms.sort()  # time order (ties by player): a log of plays
    player = (utc_ms & ((1 << bits) - 1)).astype(np.int32)
    utc_ms >>= bits
    utc_ms += EPOCH_MS - MS_PER_DAY
    utc_ms *= 1_000_000
    game = np.where(
        rng.random(n_plays, dtype=np.float32) < 0.6,
        favourite[player],
        rng.integers(0, len(DEFAULT_GAMES), n_plays, dtype=np.int8),
    )
    # gamma(2, 500) is 500 times minus the log of the product of two uniforms.
    u = rng.random(n_plays, dtype=np.float32)
    u *= rng.random(n_plays, dtype=np.float32)
    np.maximum(u, np.float32(1e-30), out=u)
    score = (np.log(u) * np.float32(-500.0)).astype(np.int64)
    del u
    frame = pd.DataFrame(
        {
            "player_id": pd.Categorical.from_codes(
                player, [f"player-{i:07d}" for i in players], validate=False
            ),
            "play_id": _play_ids(first_play, n_plays),
            "game": pd.Categorical.from_codes(game, list(DEFAULT_GAMES), validate=False),
            "played_at": pd.DatetimeIndex(utc_ms.view("datetime64[ns]")).tz_localize("UTC"),
            "tz": pd.Categorical.from_codes(home[player], list(ZONES), validate=False),
            "score": score,
        },
        copy=False,
    )
    return frame.loc[:, list(PLAY_COLUMNS)]


def _play_ids(first: int, n: int) -> pd.Series:
    """ "play000000000001"... as an Arrow-backed str column, built as bytes (no Python strings):
    four ASCII digits at a time from a table of 10,000 (one uint32 each)."""
    import pyarrow as pa

    digits = np.array([f"{i:04d}".encode() for i in range(10_000)]).view(np.uint32)
    text = np.empty((n, 4), dtype=np.uint32)  # 16 bytes: "play" and 12 digits
    text[:, 0] = np.frombuffer(b"play", dtype=np.uint32)[0]
    # Consecutive numbers: the low four digits cycle, the higher ones repeat in runs.
    low = first % 10_000
    text[:, 3] = np.tile(digits, -(-(low + n) // 10_000))[low : low + n]
    for column, scale in ((2, 10_000), (1, 10**8)):
        start, end = first // scale, (first + n - 1) // scale if n else first // scale - 1
        runs = np.full(end - start + 1, scale, dtype=np.int64)
        if len(runs):
            runs[0] -= first % scale
            runs[-1] -= runs.sum() - n
        text[:, column] = np.repeat(digits[np.arange(start, end + 1) % 10_000], runs)
    small = n * 16 < 2**31
    offsets = np.arange(0, (n + 1) * 16, 16, dtype=np.int32 if small else np.int64)
    kind = pa.string() if small else pa.large_string()
    array = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    return array.to_pandas()


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


def best_wall_cpu(runs: int, fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """The last result, the fastest wall time of ``runs`` calls and the process CPU seconds
    (all threads) of that call."""
    best, cpu, result = float("inf"), 0.0, None
    for _ in range(max(runs, 1)):
        result = None  # free the previous result first
        started, cpu_started = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - started
        if wall < best:
            best, cpu = wall, time.process_time() - cpu_started
    return result, best, cpu


def generate_line(plays: int, runs: int) -> None:
    """The generator goal line: ``Population`` sized to about ``plays`` plays (60 days)."""
    from streamsim.workbench.traffic import Population, PopulationConfig

    config = PopulationConfig(players=max(plays * 140_000 // 10_000_000, 1), days=60, seed=0)
    Population.generate(PopulationConfig(players=100, days=3))  # warm caches
    population, gen_s, gen_cpu = best_wall_cpu(runs, lambda: Population.generate(config))
    frame, frame_s, frame_cpu = best_wall_cpu(
        runs, partial(Population.plays_frame, population, categorical=True)
    )
    n = len(frame)
    del frame
    goal_line(
        f"generate {n / 1e6:.3g} M plays (Population + frame)",
        gen_s + frame_s,
        1,
        "s",
        f"CPU {gen_cpu + frame_cpu:.2f} s; generate {gen_s:.2f} s (CPU {gen_cpu:.2f}), "
        f"categorical frame {frame_s:.2f} s (CPU {frame_cpu:.2f})",
    )


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


GIB = 2**30


def peak_rss(fn: Callable[[], Any]) -> tuple[Any, float]:
    """The result of ``fn`` and the process' peak RSS in bytes while it ran (Linux: VmHWM,
    reset first through /proc/self/clear_refs; elsewhere the lifetime max RSS)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    result = fn()
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return result, int(line.split()[1]) * 1024
    except OSError:
        pass
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def goal_line(label: str, value: float, goal: float, unit: str, note: str = "") -> None:
    """One figure beside its goal: ratio <= 1 meets it."""
    verdict = "met" if value <= goal else "NOT met"
    print(
        f"{label:<44}{value:>8.2f} {unit:<3} goal <= {goal:g} {unit:<3} "
        f"ratio {value / goal:>5.2f}  {verdict}{'  ' + note if note else ''}"
    )


def population_line(plays: int, players: int, chunk_players: int, seed: int) -> None:
    """The 100 M line: chunks generated and evaluated one at a time (memory bounded)."""
    generating = [0.0, 0.0]  # wall and CPU seconds

    def chunks() -> Iterator[pd.DataFrame]:
        source = synthetic_chunks(plays, players, chunk_players, seed)
        while True:
            started, cpu_started = time.perf_counter(), time.process_time()
            chunk = next(source, None)
            generating[0] += time.perf_counter() - started
            generating[1] += time.process_time() - cpu_started
            if chunk is None:
                return
            yield chunk
            del chunk

    started, cpu_started = time.perf_counter(), time.process_time()
    awards, peak = peak_rss(lambda: evaluate_chunks(chunks()))
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started - generating[1]
    note = (
        f"CPU {cpu:.1f} s; {len(awards):,} awards; generation {generating[0]:.1f} s more "
        f"(CPU {generating[1]:.1f}), total {total:.1f} s"
    )
    goal_line(
        f"evaluate {plays / 1e6:,.0f} M plays of {players / 1e6:g} M players",
        total - generating[0],
        30,
        "s",
        note,
    )
    goal_line("  peak RSS of the whole run", peak / GIB, 6, "GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=10_000_000)
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000, help="plays timed one by one")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the best is shown")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--population", action="store_true", help="add the 100 M plays / 1 M players line"
    )
    args = parser.parse_args()

    print(f"goals (issue 14), best of {args.runs}; load average {os.getloadavg()[0]:.1f}:")
    generate_line(args.plays, args.runs)
    synthetic_plays(1_000, 100, args.seed)  # warm imports
    frame, gen_s = best_of(args.runs, lambda: synthetic_plays(args.plays, args.players, args.seed))
    n = len(frame)
    evaluate_batch(frame.iloc[:1_000])  # warm imports
    _, auto_s, auto_cpu = best_wall_cpu(args.runs, lambda: evaluate_batch(frame))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    _, peak = peak_rss(lambda: evaluate_batch(frame))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    goal_line(
        f"evaluate {n / 1e6:g} M plays",
        auto_s,
        2,
        "s",
        f"CPU {auto_cpu:.2f} s; {faults:,} minor page faults in one call",
    )
    goal_line("  peak RSS during the call, input included", peak / GIB, 1.5, "GB")
    if args.population:
        population_line(100_000_000, 1_000_000, 100_000, args.seed)
    print()
    print(
        f"input: {n:,} plays of {args.players:,} players, {len(ZONES)} zones, "
        f"{len(DEFAULT_GAMES)} games (this file's generator: {gen_s:.1f} s); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("rules: " + ", ".join(f"{r.name}({r.params_json()})" for r in DEFAULT_RULES))

    awards, one_s, one_cpu = best_wall_cpu(args.runs, lambda: evaluate_batch(frame, workers=1))
    str_s = batch_seconds_on_strings(frame, args.runs)
    one_mib = traced_peak_mib(lambda: evaluate_batch(frame, workers=1))
    auto_mib = traced_peak_mib(lambda: evaluate_batch(frame))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pbp = play_by_play(frame, args.sample, args.seed)

    counts = awards["rule"].value_counts()
    print(f"awards: {len(awards):,}; " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print()
    rows = [
        (
            "batch, categorical, 1 thread",
            one_s,
            f"CPU {one_cpu:.2f} s, peak traced {one_mib:,.0f} MiB",
        ),
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
