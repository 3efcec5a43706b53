"""Live pipeline speed: the backend's raw PutItem rate, then the highest rate `streamsim run`
sustains per badge strategy, and the ratio.

Sustained means: the writer achieved the rate (at least ACHIEVED_SHARE of it: a writer that
falls behind its schedule hides the backlog from write -> processed), p95 write -> processed
<= 1 s over the whole run AND over its last quarter (a growing backlog shows there first), with
every play processed. Each probe is a real run
(streamsim.workbench.run) of about --duration seconds of writing; the search is a bisection of
[0, raw rate] with --steps probes per strategy, starting at half the raw rate (the goal).

    .venv/bin/python benchmarks/bench_live.py [--quick] [--backend moto|ministack]
        [--strategies batched,incremental,read-all] [--duration 60] [--steps 4]

--quick: 20 s probes and 3 steps (make bench). Figures depend on the machine's load: the raw
rate is measured in the same run so the ratio compares like with like.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from streamsim.aws.backend import Backend, open_backend
from streamsim.aws.tables import PLAYS, create_table
from streamsim.workbench.analysis import play_timeline
from streamsim.workbench.run import RunConfig, run_pipeline
from streamsim.workbench.runfolder import load_run

#: A synthetic player plays about 1.3 times a day (25 players, 10 days: 323 plays).
PLAYS_PER_PLAYER_DAY = 1.3
DAYS = 10
TARGET_P95_SECONDS = 1.0
#: The share of the asked rate the writer must achieve for a probe to count.
ACHIEVED_SHARE = 0.95


@dataclass
class Probe:
    strategy: str
    rate: float
    plays: int
    p95: float
    tail_p95: float
    processed_all: bool
    requests_per_play: float
    achieved: float

    @property
    def sustained(self) -> bool:
        return (
            self.achieved >= ACHIEVED_SHARE * self.rate
            and self.processed_all
            and self.p95 <= TARGET_P95_SECONDS
            and self.tail_p95 <= TARGET_P95_SECONDS
        )


def raw_put_rate(backend: Backend, seconds: float) -> float:
    """PutItem/s from one client into a streamed table (the Plays schema, play-sized items)."""
    dynamodb = backend.client("dynamodb")
    table = PLAYS.with_name("RawPuts")
    create_table(dynamodb, table)
    item = {
        "game": {"S": "chess"},
        "played_at": {"S": "2026-01-01T00:00:00.000Z"},
        "tz": {"S": "Europe/Amsterdam"},
        "score": {"N": "42"},
        "play_id": {"S": "0123456789abcdef0123456789abcdef"},
    }
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        dynamodb.put_item(
            TableName=table.name,
            Item={**item, "player_id": {"S": f"p{n % 50}"}, "play_key": {"S": f"{n:012d}"}},
        )
        n += 1
    return n / (time.perf_counter() - start)


def probe(backend: Backend, strategy: str, rate: float, duration: float, out: Path) -> Probe:
    """One run at ``rate`` plays/s for about ``duration`` s of writing."""
    players = max(3, math.ceil(rate * duration / (PLAYS_PER_PLAYER_DAY * DAYS)))
    backend.reset()
    result = run_pipeline(
        RunConfig(players=players, days=DAYS, rate=rate, seed=1, strategy=strategy),
        backend,
        out_dir=out / f"{strategy}-{rate:.1f}",
    )
    timeline = play_timeline(load_run(result.path)).sort_values("written_at")
    latency = timeline["processed_at"] - timeline["written_at"]
    tail = latency.iloc[int(len(latency) * 0.75) :]
    return Probe(
        strategy,
        rate,
        len(timeline),
        float(latency.quantile(0.95)),
        float(tail.quantile(0.95)),
        bool(latency.notna().all()),
        float(result.summary["requests"]["per_play"]),
        float((result.summary.get("write_rate") or {}).get("achieved") or 0.0),
    )


def search(
    backend: Backend, strategy: str, raw: float, duration: float, steps: int, out: Path
) -> tuple[float, list[Probe]]:
    """Bisect [0, raw] for the highest sustained rate, ``steps`` probes, first at raw/2."""
    low, high, probes = 0.0, raw, []
    rate = raw / 2
    for _ in range(steps):
        result = probe(backend, strategy, round(rate, 1), duration, out)
        probes.append(result)
        print(
            f"  {strategy:<12} {result.rate:>7.1f}/s (wrote {result.achieved:5.1f}/s) "
            f"{result.plays:>5} plays  "
            f"p95 {result.p95:6.2f} s  last quarter p95 {result.tail_p95:6.2f} s  "
            f"{result.requests_per_play:5.2f} req/play  "
            f"{'sustained' if result.sustained else 'NOT sustained'}",
            flush=True,
        )
        if result.sustained:
            low = result.rate
        else:
            high = result.rate
        rate = (low + high) / 2
    return low, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s probes, 3 steps")
    parser.add_argument("--backend", default="moto", choices=["moto", "ministack"])
    parser.add_argument("--strategies", default="batched,incremental,read-all")
    parser.add_argument("--duration", type=float, default=None, help="seconds per probe (60)")
    parser.add_argument("--steps", type=int, default=None, help="probes per strategy (4)")
    parser.add_argument("--raw-seconds", type=float, default=10.0)
    args = parser.parse_args()
    duration = args.duration or (20.0 if args.quick else 60.0)
    steps = args.steps or (3 if args.quick else 4)
    with open_backend(server=args.backend) as backend, tempfile.TemporaryDirectory() as tmp:
        raw = raw_put_rate(backend, args.raw_seconds)
        print(f"backend {backend.info.name} {backend.info.version} (own process)")
        print(f"raw PutItem rate, one client: {raw:.0f}/s")
        print(f"probes of ~{duration:.0f} s, {steps} per strategy; sustained = p95 <= 1 s")
        best: dict[str, float] = {}
        for strategy in args.strategies.split(","):
            best[strategy], _ = search(backend, strategy, raw, duration, steps, Path(tmp))
        print()
        print(f"{'strategy':<14}{'sustained/s':>12}{'of raw':>10}")
        for strategy, rate in best.items():
            print(f"{strategy:<14}{rate:>12.1f}{rate / raw:>10.0%}")


if __name__ == "__main__":
    main()
