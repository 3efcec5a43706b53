"""``streamsim run``: the main job, end to end on a live backend.

Synthetic players → the play API → the Plays table → its stream → the trigger (an emulated
event source mapping) → the badge handler → the Achievements table; everything captured in a
run folder (streamsim.runfolder) and summed up (streamsim.analysis).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from streamsim.backend import Backend
from streamsim.badges import DEFAULT_RULES, BadgeRule
from streamsim.clock import WallClock
from streamsim.errors import ConfigError
from streamsim.handler import BadgeHandler, HandlerSettings
from streamsim.plays import PLAY_COLUMNS, Play
from streamsim.playstore import validate_play, write_play
from streamsim.runfolder import TABLES, save_run
from streamsim.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, create_table
from streamsim.traffic import Population, PopulationConfig, drive, poisson_schedule
from streamsim.traffic.driver import SleepingClock
from streamsim.trigger.capture import Capture
from streamsim.trigger.checkpoints import CheckpointStore
from streamsim.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.trigger.destinations import SqsDestination, create_queue
from streamsim.trigger.engine import Trigger
from streamsim.trigger.output import OutputCapture
from streamsim.validation import require_int, require_positive

if TYPE_CHECKING:
    from streamsim.faults.plan import FaultPlan

DEFAULT_QUEUE = "streamsim-on-failure"
RUNS_DIR = Path("data") / "runs"


def default_mapping(queue_arn: str | None = None) -> EventSourceMapping:
    """AWS defaults [P], except: partial batch responses (the badge handler returns them), at
    most 10 retries instead of -1 (retry for 24 h), and an on-failure queue, so a poison play
    is set aside within minutes and no play is lost silently. Our choice, not AWS's."""
    params: dict[str, Any] = {
        "StartingPosition": "TRIM_HORIZON",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRetryAttempts": 10,
    }
    if queue_arn:
        params["DestinationConfig"] = {"OnFailure": {"Destination": queue_arn}}
    return EventSourceMapping.from_aws(params)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on; saved whole in the run folder's config.json."""

    players: int = 25
    days: int = 10
    rate: float = 12.0
    seed: int = 1
    strategy: str = "read-all"
    mapping: EventSourceMapping | None = None
    #: Lambda's default timeout is 3 s; the embedded server answers ~100 requests/s, so a
    #: batch of 100 plays (a Query and a few writes each) needs longer: 60 s.
    timing: TriggerTiming = field(
        default_factory=lambda: TriggerTiming(function_timeout_seconds=60.0)
    )
    rules: tuple[BadgeRule, ...] = DEFAULT_RULES
    drain_timeout_seconds: float = 120.0
    run_id: str | None = None
    #: Kill the trigger this many seconds after writing starts and start a new one on the
    #: same checkpoints (a crash and restart); None: never.
    kill_trigger_after_seconds: float | None = None

    def __post_init__(self) -> None:
        for name, low in (("players", 1), ("days", 1), ("seed", 0)):
            require_int(name, getattr(self, name), low)
        require_positive("rate", self.rate, "plays per second")
        HandlerSettings(strategy=self.strategy)  # validates the strategy name


@dataclass
class RunResult:
    path: Path
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]


def run_pipeline(
    config: RunConfig,
    backend: Backend,
    *,
    out_dir: str | Path | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    handler_wrapper: Callable[[Any], Any] | None = None,
    faults: FaultPlan | None = None,
) -> RunResult:
    """Run the whole pipeline once on ``backend``; write and return the run folder.

    ``progress(written, total, finished)`` is called about twice a second.
    ``handler_wrapper`` wraps the badge handler (fault injection).
    ``faults`` (streamsim.faults) injects handler and backend faults, kills the trigger, and
    reports what it injected in the summary.
    """
    if faults is None:
        return _run_pipeline(config, backend, out_dir, progress, handler_wrapper, None)
    with faults.installed(backend):  # its client hooks: every client made below
        return _run_pipeline(
            faults.configure(config), backend, out_dir, progress, handler_wrapper, faults
        )


def _run_pipeline(
    config: RunConfig,
    backend: Backend,
    out_dir: str | Path | None,
    progress: Callable[[int, int, int], None] | None,
    handler_wrapper: Callable[[Any], Any] | None,
    faults: FaultPlan | None,
) -> RunResult:
    run_id = (
        config.run_id
        or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    )
    folder = Path(out_dir) if out_dir is not None else RUNS_DIR / run_id
    dynamodb = backend.client("dynamodb")
    # On a shared endpoint (DynamoDB Local, LocalStack, a served moto) each run gets its own
    # tables, so a second run neither fails on existing tables nor replays the first's stream.
    suffix = "" if backend.info.embedded else "-" + run_id[-6:]
    plays_spec, achievements_spec, state_spec = (
        spec.with_name(spec.name + suffix) for spec in (PLAYS, ACHIEVEMENTS, PLAYER_STATE)
    )
    stream_arn = create_table(dynamodb, plays_spec)
    create_table(dynamodb, achievements_spec)
    create_table(dynamodb, state_spec)
    if stream_arn is None:
        raise ConfigError("the Plays table has no stream")
    sqs = backend.client("sqs")
    mapping = config.mapping or default_mapping(create_queue(sqs, DEFAULT_QUEUE + suffix))
    destination = None
    if mapping.on_failure_destination:
        arn = mapping.on_failure_destination
        if arn.split(":")[2] != "sqs":
            raise ConfigError(f"run supports SQS on-failure destinations, not {arn}")
        create_queue(sqs, arn.split(":")[5])
        destination = SqsDestination(sqs, arn)

    plays = _population(config)
    schedule = poisson_schedule(plays, rate=config.rate, seed=config.seed)
    badge_handler = BadgeHandler(
        backend.client("dynamodb"),
        HandlerSettings(
            plays_table=plays_spec.name,
            achievements_table=achievements_spec.name,
            state_table=state_spec.name,
            strategy=config.strategy,
            rules=config.rules,
        ),
    )
    handler: Any = badge_handler
    if handler_wrapper is not None:
        handler = handler_wrapper(handler)
    if faults is not None:
        handler = faults.wrap_handler(handler, mapping)
    clock = WallClock()
    capture = Capture()
    checkpoints = CheckpointStore(folder / "checkpoints.json")
    output = OutputCapture()  # shared, so a restarted trigger's handler output is captured too

    def new_trigger() -> Trigger:
        return Trigger(
            mapping,
            handler,
            streams=backend.client("dynamodbstreams"),
            stream_arn=stream_arn,
            clock=clock,
            timing=config.timing,
            destination=destination,
            capture=capture,
            checkpoints=checkpoints,
            region=backend.region,
            function_name="streamsim-badges",
            output=output,
        )

    trigger = new_trigger()
    restarts: list[float] = []
    written: list[dict[str, Any]] = []
    writer_client = backend.client("dynamodb")

    def write(play: Play) -> None:
        checked = validate_play(
            player_id=play.player_id,
            game=play.game,
            played_at=play.played_at,
            tz=play.tz,
            score=play.score,
            play_id=play.play_id,
            now=time.time(),
        )
        written_at = time.time()
        write_play(writer_client, checked, table=plays_spec.name, written_at=written_at)
        written.append({**checked.row(), "written_at": written_at, "acked_at": time.time()})

    stats_box: dict[str, Any] = {}
    writer = threading.Thread(
        target=lambda: stats_box.update(stats=drive(schedule, write, SleepingClock())),
        name="streamsim-writer",
        daemon=True,
    )

    def watch_writer() -> Generator[Any, Any, None]:
        nonlocal trigger
        started = clock.now()
        while writer.is_alive():
            kill_after = config.kill_trigger_after_seconds
            if kill_after is not None and not restarts and clock.now() - started >= kill_after:
                trigger.kill()  # mid-batch: its batch in hand is abandoned, not checkpointed
                trigger.invoker.close()
                trigger = new_trigger()
                trigger.start()
                restarts.append(clock.now())
            if progress is not None:
                progress(len(written), len(schedule), capture.counts()["processed"])
            yield clock.sleep(0.5)

    trigger.start()
    if faults is not None:
        faults.arm()
    writer.start()
    with trigger.invoker.output.installed():
        clock.run(until=clock.env.process(watch_writer()))
    writer.join()
    drained = trigger.run_until_drained(config.drain_timeout_seconds)
    if faults is not None:
        faults.disarm()  # capture below talks to a healthy backend
    trigger.close()
    if progress is not None:
        progress(len(written), len(schedule), capture.counts()["processed"])

    from streamsim.achievements import scan_achievements

    frames = capture.frames()
    tables = {
        "plays": pd.DataFrame(
            written, columns=[*PLAY_COLUMNS, "play_key", "written_at", "acked_at"]
        ),
        "records": frames["records"],
        "attempts": frames["attempts"],
        "dispositions": frames["dispositions"],
        "achievements": pd.DataFrame(
            scan_achievements(dynamodb, table=achievements_spec.name),
            columns=list(TABLES["achievements"]),
        ),
        "poll_errors": frames["poll_errors"],
    }
    tables["plays"]["played_at"] = pd.to_datetime(tables["plays"]["played_at"], utc=True)
    tables["achievements"]["played_at"] = pd.to_datetime(
        tables["achievements"]["played_at"], utc=True
    )
    drive_stats = stats_box.get("stats")
    send_failures = [
        {"play_id": f.play.play_id, "error": f"{type(f.error).__name__}: {f.error}"}
        for f in (drive_stats.failures if drive_stats else [])
    ]
    full_config = {
        "run_id": run_id,
        "players": config.players,
        "days": config.days,
        "rate": config.rate,
        "seed": config.seed,
        "strategy": config.strategy,
        "rules": [{"rule": r.name, "params": r.params()} for r in config.rules],
        "event_source_mapping": mapping.to_aws(),
        "trigger_timing": asdict(config.timing),
        "backend": backend.info.to_dict(),
        "tables": {
            "plays": plays_spec.name,
            "achievements": achievements_spec.name,
            "player_state": state_spec.name,
        },
        "clock": clock.kind,
        "drained": drained,
        "send_failures": send_failures,
        "trigger_restarts": restarts,
        # Successful award writes: more than the badges in the table means one was awarded twice.
        "handler_stats": asdict(badge_handler.stats),
        "faults": faults.report(len(restarts)) if faults is not None else None,
    }
    from streamsim.analysis import summarize
    from streamsim.runfolder import Run

    run = Run(folder, full_config, {}, tables, list(capture.destination_messages))
    summary = summarize(run)
    summary["drained"] = drained
    summary["send_failures"] = len(send_failures)
    summary["faults"] = full_config["faults"]
    save_run(folder, tables, full_config, summary, list(capture.destination_messages))
    return RunResult(folder, summary, tables)


def _population(config: RunConfig) -> pd.DataFrame:
    """Synthetic plays over the ``days`` before today (so no play is in the future)."""
    start = date.today() - timedelta(days=config.days + 1)
    population = Population.generate(
        PopulationConfig(players=config.players, days=config.days, start=start, seed=config.seed)
    )
    plays = population.plays_frame()
    cutoff = pd.Timestamp(datetime.now(timezone.utc) - timedelta(minutes=1))
    return plays[plays["played_at"] < cutoff].reset_index(drop=True)


def with_overrides(config: RunConfig, **changes: Any) -> RunConfig:
    """A copy with some fields changed (validated again)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
