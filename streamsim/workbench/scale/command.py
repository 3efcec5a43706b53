"""``streamsim scale``: an at-scale what-if run on the virtual clock, with a summary."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from streamsim.errors import ConfigError

#: Peak memory of a scale run: a fixed part (the interpreter, libraries and per-shard state)
#: plus a part per play sent, with headroom. Peak RSS (VmHWM) of one ``simulate_scale`` at
#: 10,000 plays/s over 100 shards, fresh process (docs/performance.md, "Round 4"): 797 MiB at
#: 1 M plays, 1,948 MiB at 3 M, 5,948 MiB at 10 M, 21.2 GB at 36 M (the hour, through this
#: command, run folder saved): linear, about 575 bytes a play above about 220 MB (604 between
#: 200,000 and 1 M plays). The estimate is FIXED_BYTES + BYTES_PER_PLAY x plays, ~10 % over
#: the hour's peak; a slow test checks it is above the peaks of two run sizes and its slope.
#: A run that cannot fit is refused before it starts rather than swapping or being killed
#: hours in.
FIXED_BYTES = 256 * 2**20
BYTES_PER_PLAY = 640


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate", type=float, default=10_000.0, help="plays per second (default 10000)"
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=0.01,
        help="virtual hours of traffic (default 0.01: 36 s, 360,000 plays at the default rate; "
        "the memory a run needs is checked before it starts)",
    )
    parser.add_argument(
        "--shards", default="auto", help="active shards: auto or a number (default auto)"
    )
    parser.add_argument(
        "--config",
        metavar="ESM.json",
        help="event-source-mapping JSON (default: StartingPosition TRIM_HORIZON, AWS's defaults)",
    )
    parser.add_argument(
        "--faults", action="append", metavar="poison=N", help="poison=N: N plays fail every time"
    )
    parser.add_argument(
        "--players", type=int, default=100_000, help="synthetic players (default 100000)"
    )
    parser.add_argument(
        "--strategy",
        choices=("read-all", "incremental", "batched"),
        help="measure this handler strategy's DynamoDB request units on an embedded moto server",
    )
    parser.add_argument(
        "--units-from",
        metavar="RUN_FOLDER",
        help="the handler's DynamoDB request units per play measured in a live run's folder",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", metavar="DIR", help="the run folder (default data/runs/<id>)")
    parser.add_argument("--force", action="store_true", help="replace an existing run folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress line")


def main(args: argparse.Namespace) -> int:
    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.workbench.runfolder import save_run
    from streamsim.workbench.runguard import check_output
    from streamsim.workbench.scale.run import ScaleScenario, simulate_scale

    if not (0 < args.rate < math.inf and 0 < args.hours < math.inf):
        raise ConfigError("--rate and --hours must be finite numbers > 0")
    shards: int | str = "auto"
    if args.shards != "auto":
        try:
            shards = int(args.shards)
        except ValueError:
            raise ConfigError(f"--shards must be auto or a number, got {args.shards!r}") from None
    check_memory(args.rate * args.hours * 3600.0, available_memory())
    poison = 0
    for spec in args.faults or []:
        for part in spec.split(","):
            name, _, value = part.partition("=")
            if name.strip() != "poison" or not value.strip().isdigit():
                raise ConfigError(f"--faults {part!r}: the scale command takes poison=N")
            poison += int(value)
    mapping = (
        EventSourceMapping.from_file(args.config)
        if args.config
        else EventSourceMapping(starting_position="TRIM_HORIZON")
    )
    model = handler_units_model(args)
    scenario = ScaleScenario(
        model=model,
        rate=args.rate,
        seconds=args.hours * 3600.0,
        shards=shards,
        players=args.players,
        seed=args.seed,
        mapping=mapping,
        poison=poison,
    )

    def progress(done: float, total: float) -> None:
        if not args.no_progress and total > 0:
            print(
                f"\rwriting {done / total:6.1%} of {total:,.0f} virtual s", end="", file=sys.stderr
            )

    run_id = datetime.now(timezone.utc).strftime("scale-%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path("data/runs") / run_id
    check_output(out, force=args.force)  # before simulating: a file, a folder in use, read-only
    result = simulate_scale(scenario, progress=progress)
    if not args.no_progress:
        print(file=sys.stderr)
    if args.force and out.is_dir():
        shutil.rmtree(out)  # --force replaces the folder: no file of an older run stays
    save_run(out, result.run.tables, result.run.config, result.summary, result.run.destination)
    result.metrics.to_parquet(out / "metrics.parquet")
    s = result.summary
    lat = s["latency"]
    print(f"plays sent {s['plays_sent']:,} over {s['shards']} shards (virtual clock)")
    print(
        f"processed {s['processed']:,}  at destination {s['sent_to_destination']:,}  "
        f"filtered {s['filtered']:,}  lost {s['lost']:,}"
    )
    print(
        f"latency write -> processed: p50 {lat['p50_s']:.2f} s  p95 {lat['p95_s']:.2f} s  "
        f"p99 {lat['p99_s']:.2f} s  max {lat['max_s']:.2f} s"
    )
    print(
        f"peak backlog {s['peak_backlog']:,} records  peak IteratorAge {s['peak_iterator_age_s']:.1f} s"
        f"  peak concurrency {s['peak_concurrency']}"
    )
    print(
        f"throttled writes {s['throttled_writes']:,}  invocation throttles "
        f"{s['invocation_throttles']:,}  invocations {s['invocations']:,}  errors {s['errors']:,}"
    )
    hu = s["handler_units"]
    print(
        f"handler request units per play: read {hu['read_units_per_play']:.3f}  "
        f"write {hu['write_units_per_play']:.3f}  ({hu['source']})"
    )
    if result.cost is not None:
        print(f"cost ({result.cost.attrs.get('note', 'estimate')}):")
        print(result.cost.round(2).to_string())
    print(f"run folder: {out}")
    return 0 if s["lost"] == 0 else 1


def available_memory() -> int | None:
    """Bytes of memory the system can give without swapping (Linux MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_needed(plays: float) -> float:
    """Bytes a run of ``plays`` needs at its peak (``FIXED_BYTES`` + ``BYTES_PER_PLAY``)."""
    return FIXED_BYTES + plays * BYTES_PER_PLAY


def check_memory(plays: float, available: int | None) -> None:
    """ConfigError if ``plays`` need more memory than is ``available`` (``memory_needed``)."""
    needed = memory_needed(plays)
    if available is not None and needed > available:
        fits = max(0.0, (available - FIXED_BYTES) / BYTES_PER_PLAY)
        raise ConfigError(
            f"--rate x --hours is {plays:,.0f} plays; at about {BYTES_PER_PLAY:,} bytes each "
            f"plus {FIXED_BYTES / 2**20:,.0f} MB that needs {needed / 2**30:,.1f} GB of memory, "
            f"more than the {available / 2**30:,.1f} GB available: about {fits:,.0f} plays fit "
            "(lower --rate or --hours)"
        )


def handler_units_model(args: argparse.Namespace) -> Any:
    """The at-scale model with the handler's request units: measured with ``--strategy`` (the
    real handler on an embedded moto server), read from ``--units-from`` (a live run), or the
    model's setting (labelled as not measured)."""
    from streamsim.workbench.scale.model import ScaleModel
    from streamsim.workbench.scale.units import CALIBRATION, measure_units, units_from_run

    if args.strategy and args.units_from:
        raise ConfigError("--strategy and --units-from both give the handler's units: pick one")
    if args.units_from:
        units = units_from_run(args.units_from)
    elif args.strategy:
        units = measure_units(args.strategy, **CALIBRATION)
    else:
        return ScaleModel()
    return ScaleModel(
        read_units_per_play=units.read_units_per_play,
        handler_write_units_per_play=units.write_units_per_play,
        units_source=units.source,
    )
