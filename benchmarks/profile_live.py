"""Where a live run's time goes: server ms per play by operation, and CPU per play on each side.

One `streamsim run`-style pipeline run (streamsim.workbench.run) at a fixed rate against moto in
its own process, with the child's per-operation timer on (STREAMSIM_SERVER_PROFILE, see
streamsim/aws/serverprofile.py). Prints, per operation: requests per play, server ms per
request, server ms per play; GetRecords also per record; then CPU seconds per play of the
server child and of this process (writer, trigger, handler, botocore).

    .venv/bin/python benchmarks/profile_live.py [--rate 30] [--players 25] [--strategy batched]
        [--cprofile]   # also cProfile moto in the child: prints its top functions

Debugging aid, not part of `make bench`: the figures feed docs/backends.md's budget.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import resource
import tempfile
from pathlib import Path

from streamsim.aws.serverprofile import CPROFILE_ENV, PROFILE_ENV


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--players", type=int, default=25)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--strategy", default="batched")
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="streamsim-profile-"))
    os.environ[PROFILE_ENV] = str(tmp / "server")
    if args.cprofile:
        os.environ[CPROFILE_ENV] = "1"

    from streamsim.aws.backend import open_backend
    from streamsim.workbench.run import RunConfig, run_pipeline

    backend = open_backend(server="moto")
    pid = backend._server.pid  # type: ignore[union-attr]
    child_before = _proc_cpu_seconds(pid)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    config = RunConfig(
        players=args.players, days=args.days, rate=args.rate, seed=1, strategy=args.strategy
    )
    result = run_pipeline(config, backend, out_dir=tmp / "run")
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    child_cpu = _proc_cpu_seconds(pid) - child_before
    backend.close()  # SIGTERM: the child writes its figures
    ops = json.loads((tmp / "server" / "server-ops.json").read_text())
    plays = int(result.summary["requests"]["plays"])
    print(f"{plays} plays at {args.rate}/s, {args.strategy}; summary in {tmp / 'run'}")
    print(f"{'operation':<22}{'req/play':>9}{'ms/req':>9}{'ms/play':>9}{'ms/record':>11}")
    total = 0.0
    for op, row in sorted(ops.items(), key=lambda kv: -kv[1]["seconds"]):
        per_play = row["seconds"] / plays * 1000
        total += per_play
        per_record = f"{row['ms_per_record']:.2f}" if "ms_per_record" in row else ""
        print(
            f"{op:<22}{row['requests'] / plays:>9.2f}{row['ms_per_request']:>9.2f}"
            f"{per_play:>9.2f}{per_record:>11}"
        )
    print(f"{'server total':<22}{'':>9}{'':>9}{total:>9.2f}")
    own = (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime)
    print(f"server child CPU   {child_cpu / plays * 1000:7.2f} ms/play ({child_cpu:.1f} s)")
    print(f"this process CPU   {own / plays * 1000:7.2f} ms/play ({own:.1f} s)")
    from streamsim.workbench.analysis import play_timeline
    from streamsim.workbench.runfolder import load_run

    timeline = play_timeline(load_run(result.path))
    latency = timeline["processed_at"] - timeline["written_at"]
    print(
        f"write->processed   p50 {latency.quantile(0.5):.2f} s  p95 {latency.quantile(0.95):.2f} s"
    )
    if args.cprofile:
        stats = pstats.Stats(str(tmp / "server" / "server.pstats"))
        stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
