"""``streamsim faults``: every fault, one short live run each, and the accounting table.

Each scenario is a live run on the embedded server (wall clock; a few seconds), with one fault
plan; after each, the invariant (streamsim.workbench.faults.invariant) is checked, and so is that the
fault fired at all (a fault that never fired proves nothing). Exit status 1 if any scenario
fails. The embedded server only: scenarios reset the backend between runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamsim.workbench.faults.invariant import check_invariant
from streamsim.workbench.faults.spec import KillTrigger, parse_faults, spec_name

if TYPE_CHECKING:
    from streamsim.aws.backend import Backend
    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.workbench.runconfig import RunConfig

#: Sudoku plays skip the handler (the "filtered" row): a filter is not a fault, but its plays
#: must be accounted for like any other.
SKIP_SUDOKU = {"dynamodb": {"NewImage": {"game": {"S": [{"anything-but": ["sudoku"]}]}}}}


@dataclass(frozen=True)
class FaultScenario:
    """One row of the matrix: a fault plan (CLI syntax) and what it should show."""

    name: str
    faults: str
    shows: str
    #: FilterCriteria patterns added to the default mapping.
    filters: tuple[dict[str, Any], ...] = ()


SCENARIOS: tuple[FaultScenario, ...] = (
    FaultScenario("baseline", "", "nothing fails: every play processed once"),
    FaultScenario("filtered", "", "filtered plays are checkpointed past, counted", (SKIP_SUDOKU,)),
    FaultScenario("handler-errors", "handler-errors=0.2", "function errors: whole batches retried"),
    FaultScenario("poison", "poison=1", "a poison play blocks its shard, then goes to the queue"),
    FaultScenario("handler-timeout", "handler-timeout=1@3", "a timeout after the work: redelivery"),
    FaultScenario("duplicates", "duplicates=0.2", "processed but reported failed: duplicates"),
    FaultScenario("throttle", "throttle=0.05", "ThrottlingException on every client"),
    FaultScenario("server-errors", "server-errors=0.05", "HTTP 500 on every client"),
    FaultScenario("unreachable", "unreachable=0.8@0.6", "no connection for 0.8 s"),
    FaultScenario("kill-trigger", "kill-trigger=1.0", "the trigger dies; a new one resumes"),
    FaultScenario("expire-iterators", "expire-iterators=0.2", "ExpiredIteratorException"),
    FaultScenario(
        "everything",
        "handler-errors=0.1,poison=1,duplicates=0.1,throttle=0.05,server-errors=0.05,"
        "expire-iterators=0.1,kill-trigger=1.0",
        "all of it at once",
    ),
)


#: The badge handler's strategies: every scenario runs with each (the incremental one keeps
#: per-player state under an optimistic lock, which retries and duplicates exercise).
STRATEGIES = ("read-all", "incremental")


def matrix_config(**changes: Any) -> RunConfig:
    """The run every scenario uses: small and fast (6 players, 6 days: 44 plays at 25/s)."""
    from streamsim.workbench.runconfig import RunConfig

    base = RunConfig(players=6, days=6, rate=25.0, seed=1, drain_timeout_seconds=60.0)
    return replace(base, **changes)


@dataclass
class ScenarioResult:
    """One row of the table, and why it failed (empty: it passed)."""

    scenario: FaultScenario
    summary: dict[str, Any]
    max_latency_seconds: float
    seconds: float
    path: Path
    problems: list[str] = field(default_factory=list)
    strategy: str = "read-all"

    @property
    def ok(self) -> bool:
        return not self.problems

    def row(self) -> dict[str, Any]:
        acc = self.summary["accounting"]
        injected = (self.summary.get("faults") or {}).get("injected", {})
        return {
            "scenario": self.scenario.name,
            "strategy": self.strategy,
            "plays": acc["plays_written"],
            "not written": acc["not_written"],
            "processed": acc["processed"],
            "filtered": acc["filtered"],
            "to destination": acc["sent_to_destination"],
            "lost": acc["lost"],
            "dup badges": acc["duplicate_badges"],
            "retries": self.summary["retries"],
            "max latency s": round(self.max_latency_seconds, 2),
            "injected": sum(injected.values()),
            "invariant": "OK" if self.ok else "FAIL",
        }


def run_scenario(
    scenario: FaultScenario,
    backend: Backend,
    *,
    config: RunConfig | None = None,
    out_dir: str | Path,
    strategy: str | None = None,
) -> ScenarioResult:
    """One live run with the scenario's faults on a reset embedded backend, checked."""
    from streamsim.workbench.analysis import latency_components
    from streamsim.workbench.faults.plan import FaultPlan
    from streamsim.workbench.run import run_pipeline
    from streamsim.workbench.runfolder import load_run

    config = config or matrix_config()
    if strategy is not None:
        config = replace(config, strategy=strategy)
    backend.reset()
    if scenario.filters:
        config = replace(config, mapping=_filtered_mapping(backend, scenario.filters))
    plan = FaultPlan.parse(scenario.faults, seed=config.seed)
    started = time.monotonic()
    folder = Path(out_dir) / f"{scenario.name}-{config.strategy}"
    result = run_pipeline(config, backend, out_dir=folder, faults=plan, force=True)
    seconds = time.monotonic() - started
    run = load_run(result.path)
    latency = latency_components(run)
    write_to_processed = latency.loc[latency["component"] == "write_to_processed", "seconds"]
    problems = check_invariant(result.summary)
    injected = result.summary["faults"]["injected"]
    for spec in plan.specs:
        if not injected.get(spec_name(spec)):
            problems.append(f"fault {spec_name(spec)} never fired: the scenario proves nothing")
    if any(isinstance(s, KillTrigger) for s in plan.specs) and not run.config["trigger_restarts"]:
        problems.append("the trigger was never killed")
    if scenario.filters and not result.summary["accounting"]["filtered"]:
        problems.append("no play was filtered")
    return ScenarioResult(
        scenario,
        result.summary,
        float(write_to_processed.max()) if len(write_to_processed) else float("nan"),
        seconds,
        result.path,
        problems,
        config.strategy,
    )


def run_matrix(
    backend: Backend,
    scenarios: Sequence[FaultScenario] = SCENARIOS,
    *,
    config: RunConfig | None = None,
    out_dir: str | Path,
    on_result: Callable[[ScenarioResult], None] | None = None,
    strategies: Sequence[str] = STRATEGIES,
) -> list[ScenarioResult]:
    """Every scenario with every strategy in turn; ``on_result`` sees each as it finishes."""
    results = []
    for scenario in scenarios:
        for strategy in strategies:
            result = run_scenario(
                scenario, backend, config=config, out_dir=out_dir, strategy=strategy
            )
            if on_result is not None:
                on_result(result)
            results.append(result)
    return results


def format_table(results: Sequence[ScenarioResult]) -> str:
    """The accounting table, one line per scenario, then each failure's reasons."""
    rows = [r.row() for r in results]
    if not rows:
        return "(no scenarios)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) for c in columns}
    lines = [
        "  ".join(c.rjust(widths[c]) if c != "scenario" else c.ljust(widths[c]) for c in columns)
    ]
    for row in rows:
        lines.append(
            "  ".join(
                str(row[c]).ljust(widths[c]) if c == "scenario" else str(row[c]).rjust(widths[c])
                for c in columns
            )
        )
    for result in results:
        for problem in result.problems:
            lines.append(f"{result.scenario.name} ({result.strategy}): {problem}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``streamsim faults``."""
    names = [s.name for s in SCENARIOS]
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="SCENARIO",
        help=f"run only these scenarios (repeatable): {', '.join(names)}",
    )
    parser.add_argument(
        "--faults",
        action="append",
        metavar="SPEC[,SPEC]",
        help="run one scenario with these faults instead (the syntax of 'streamsim run --faults')",
    )
    parser.add_argument("--players", type=int, default=None, help="players per run (default 6)")
    parser.add_argument("--days", type=int, default=None, help="days of play (default 6)")
    parser.add_argument("--rate", type=float, default=None, help="plays per second (default 25)")
    parser.add_argument("--seed", type=int, default=None, help="traffic and fault seed (default 1)")
    parser.add_argument("--out", metavar="DIR", help="keep the run folders here")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")


def main(args: argparse.Namespace) -> int:
    """Run the matrix on a fresh embedded server; print the table; 1 if anything failed."""
    changes = {
        k: v
        for k, v in (
            ("players", args.players),
            ("days", args.days),
            ("rate", args.rate),
            ("seed", args.seed),
        )
        if v is not None
    }
    config = matrix_config(**changes)  # validates, before the server starts
    if args.out:
        from streamsim.workbench.runguard import check_output

        check_output(Path(args.out), force=args.force)  # never replaces runs silently
    if args.faults:
        text = ",".join(args.faults)
        parse_faults(text)  # a bad spec is one line, before anything runs
        scenarios: Sequence[FaultScenario] = [FaultScenario("custom", text, "your faults")]
    else:
        scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only]
    print(
        f"fault matrix: {len(scenarios) * len(STRATEGIES)} live runs of {config.players} players x {config.days} "
        f"days at {config.rate:g} plays/s on an embedded moto server",
        flush=True,
    )

    def progress(result: ScenarioResult) -> None:
        verdict = "ok" if result.ok else "FAILED"
        name = f"{result.scenario.name} ({result.strategy})"
        print(f"  {name:<32} {result.seconds:5.1f} s  {verdict}", flush=True)

    with tempfile.TemporaryDirectory(prefix="streamsim-faults-") as tmp:
        with _embedded_backend() as backend:
            results = run_matrix(
                backend, scenarios, config=config, out_dir=args.out or tmp, on_result=progress
            )
    print()
    print(format_table(results))
    failed = [r.scenario.name for r in results if not r.ok]
    print()
    print(f"invariant: {'FAILED in ' + ', '.join(failed) if failed else 'held in every scenario'}")
    return 1 if failed else 0


@contextmanager
def _embedded_backend() -> Iterator[Backend]:
    """Always a fresh embedded server, whatever $STREAMSIM_ENDPOINT_URL says: scenarios reset
    the backend, and another endpoint's tables are not ours to delete."""
    from streamsim.aws.backend import ENDPOINT_ENV, open_backend

    saved = os.environ.pop(ENDPOINT_ENV, None)
    try:
        with open_backend(None) as backend:
            yield backend
    finally:
        if saved is not None:
            os.environ[ENDPOINT_ENV] = saved


def _filtered_mapping(backend: Backend, patterns: tuple[dict[str, Any], ...]) -> EventSourceMapping:
    """The run's default mapping (on-failure queue included) plus filter patterns."""
    import json

    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.aws.trigger.destinations import create_queue
    from streamsim.workbench.runconfig import DEFAULT_QUEUE, default_mapping

    queue_arn = create_queue(backend.client("sqs"), DEFAULT_QUEUE)
    params = default_mapping(queue_arn).to_aws()
    params["FilterCriteria"] = {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}
    return EventSourceMapping.from_aws(params)
