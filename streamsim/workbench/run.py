"""``streamsim run``: the main job, end to end on a live backend.

Synthetic players → the play API → the Plays table → its stream → the trigger (an emulated
event source mapping) → the badge handler → the Achievements table; everything captured in a
run folder (streamsim.workbench.runfolder) and summed up (streamsim.workbench.analysis).

``run_pipeline`` reads as the pipeline's steps: provision the tables and the on-failure queue,
build the handler, start the trigger, write the plays, drain, collect and save.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from streamsim.aws.backend import Backend
from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, TableSpec, create_table
from streamsim.aws.trigger.capture import Capture
from streamsim.aws.trigger.checkpoints import CheckpointStore
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.destinations import SqsDestination, create_queue
from streamsim.aws.trigger.engine import Trigger
from streamsim.aws.trigger.output import OutputCapture
from streamsim.aws.trigger.response import REPORT_BATCH_ITEM_FAILURES
from streamsim.clock import WallClock
from streamsim.errors import ConfigError
from streamsim.game.achievements import scan_achievements
from streamsim.game.handler import BadgeHandler, HandlerSettings
from streamsim.game.plays import PLAY_COLUMNS, Play
from streamsim.game.playstore import validate_play, write_play
from streamsim.workbench.faults.witness import HandlerWitness, witness_tables
from streamsim.workbench.requests import RequestCounter
from streamsim.workbench.runconfig import (
    DEFAULT_QUEUE,
    RUNS_DIR,
    RunConfig,
    default_mapping,
    with_overrides,
)
from streamsim.workbench.runfolder import TABLES, Run, save_run
from streamsim.workbench.runguard import COMPLETE, RunGuard
from streamsim.workbench.traffic import Population, PopulationConfig, poisson_schedule
from streamsim.workbench.traffic.driver import DriveStats, SleepingClock
from streamsim.workbench.traffic.lanes import drive_lanes, split_lanes

if TYPE_CHECKING:
    from streamsim.workbench.faults.plan import FaultPlan

__all__ = ["RunConfig", "RunResult", "default_mapping", "run_pipeline", "with_overrides"]


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
    force: bool = False,
) -> RunResult:
    """Run the whole pipeline once on ``backend``; write and return the run folder.

    ``progress(written, total, finished)`` is called about twice a second.
    ``handler_wrapper`` wraps the badge handler (fault injection).
    ``faults`` (streamsim.workbench.faults) injects handler and backend faults, kills the
    trigger, and reports what it injected in the summary.
    The folder is checked and locked before any work, written under a temporary name and
    renamed into place (streamsim.workbench.runguard); an existing one is replaced only with
    ``force``. A run that fails or is interrupted raises ``RunAborted`` after saving its
    folder marked ``failed`` or ``interrupted``.
    """
    run_id = config.run_id or new_run_id()
    config = replace(config, run_id=run_id)
    guard = RunGuard.open(Path(out_dir) if out_dir is not None else RUNS_DIR / run_id, force=force)
    counter = RequestCounter()  # requests per play by operation (workbench/requests.py)
    try:
        with counter.installed(backend):
            if faults is None:
                result = _run_pipeline(
                    config, backend, guard, progress, handler_wrapper, None, counter
                )
            else:
                with faults.installed(backend):  # its client hooks: every client made below
                    result = _run_pipeline(
                        faults.configure(config),
                        backend,
                        guard,
                        progress,
                        handler_wrapper,
                        faults,
                        counter,
                    )
        result.path = guard.finish()
        return result
    except BaseException as exc:
        raise guard.abort(exc) from exc
    finally:
        guard.close()


def _run_pipeline(
    config: RunConfig,
    backend: Backend,
    guard: RunGuard,
    progress: Callable[[int, int, int], None] | None,
    handler_wrapper: Callable[[Any], Any] | None,
    faults: FaultPlan | None,
    counter: RequestCounter,
) -> RunResult:
    run_id = config.run_id or new_run_id()
    folder = guard.temp
    guard.start({"run_id": run_id, "folder": str(guard.folder), **_settings(config)})
    tables = RunTables.provision(backend, run_id, config.mapping)
    badge_handler, handler = build_handler(config, backend, tables, handler_wrapper, faults)
    handler = witness = handler_witness(handler, tables.mapping)
    pipeline = LivePipeline(config, backend, tables, handler, folder)
    writer = PlayWriter(backend, tables.plays.name, _population(config), config)
    guard.salvage = lambda healthy: salvage(backend, tables, pipeline, writer, witness, healthy)

    counter.counting = True
    pipeline.start()
    if faults is not None:
        faults.arm()
    writer.start()
    pipeline.watch(writer, progress)
    drained = pipeline.drain()
    counter.counting = False
    if faults is not None:
        faults.disarm()  # what is collected below comes from a healthy backend
    pipeline.close()
    if progress is not None:
        progress(len(writer.written), writer.total, pipeline.capture.counts()["processed"])

    frames = collect_tables(backend, tables, pipeline.capture, writer)
    frames.update(collect_witnesses(backend, tables, witness))
    full_config = {
        "run_id": run_id,
        **_settings(config),
        "event_source_mapping": tables.mapping.to_aws(),
        "backend": backend.info.to_dict(),
        "tables": tables.names(),
        "clock": pipeline.clock.kind,
        "drained": drained,
        "send_failures": writer.send_failures(),
        "write_rate": write_rate(writer.written, config.rate),
        "trigger_restarts": pipeline.restarts,
        # Successful award writes: more than the badges in the table means one was awarded twice.
        "handler_stats": asdict(badge_handler.stats),
        "faults": faults.report(len(pipeline.restarts)) if faults is not None else None,
        "requests": counter.summary(len(writer.written)),
        "status": COMPLETE,
        "started_at": guard.config.get("started_at"),
    }
    return save(folder, frames, full_config, pipeline.capture)


def _settings(config: RunConfig) -> dict[str, Any]:
    """What the user asked for: in config.json from the start."""
    return {
        "players": config.players,
        "days": config.days,
        "rate": config.rate,
        "seed": config.seed,
        "writers": config.writers,
        "strategy": config.strategy,
        "rules": [{"rule": r.name, "params": r.params()} for r in config.rules],
        "trigger_timing": asdict(config.timing),
    }


def write_rate(written: list[dict[str, Any]], requested: float) -> dict[str, Any]:
    """The write rate asked for and the one achieved (plays per second between the first and
    the last write; None with fewer than two plays)."""
    times = sorted(float(w["written_at"]) for w in written)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span > 0 else None
    return {"requested": requested, "achieved": achieved}


def salvage(
    backend: Backend,
    tables: RunTables,
    pipeline: LivePipeline,
    writer: PlayWriter,
    witness: HandlerWitness,
    healthy: bool,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any], list[dict[str, Any]]]:
    """What a run that ended early captured; from the backend too if it still answers."""
    written = list(writer.written)
    frames: dict[str, pd.DataFrame] = dict(pipeline.capture.frames())
    frames["plays"] = pd.DataFrame(
        written, columns=[*PLAY_COLUMNS, "play_key", "written_at", "acked_at"]
    )
    frames["plays"]["played_at"] = pd.to_datetime(frames["plays"]["played_at"], utc=True)
    frames["handler_witness"] = witness.frame()
    if healthy:
        try:
            frames["achievements"] = collect_tables(backend, tables, pipeline.capture, writer)[
                "achievements"
            ]
            frames.update(collect_witnesses(backend, tables, witness))
        except Exception:  # noqa: BLE001 - the backend went away: keep what is in memory
            frames.pop("stream_witness", None)
    config = {
        "event_source_mapping": tables.mapping.to_aws(),
        "backend": backend.info.to_dict(),
        "tables": tables.names(),
        "drained": False,
        "send_failures": writer.send_failures(),
        "write_rate": write_rate(written, writer.schedule_rate),
        "trigger_restarts": pipeline.restarts,
    }
    return frames, config, list(pipeline.capture.destination_messages)


def new_run_id() -> str:
    """A sortable, unique run id: UTC start time and six random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class RunTables:
    """The run's tables, its stream, its mapping and the mapping's on-failure destination."""

    plays: TableSpec
    achievements: TableSpec
    player_state: TableSpec
    stream_arn: str
    mapping: EventSourceMapping
    destination: SqsDestination | None

    @classmethod
    def provision(
        cls, backend: Backend, run_id: str, mapping: EventSourceMapping | None
    ) -> RunTables:
        """Create the tables and the queue. On a shared endpoint (DynamoDB Local, LocalStack,
        a served moto) each run gets its own, so a second run neither fails on existing tables
        nor replays the first's stream."""
        dynamodb = backend.client("dynamodb")
        suffix = "" if backend.info.embedded else "-" + run_id[-6:]
        plays, achievements, state = (
            spec.with_name(spec.name + suffix) for spec in (PLAYS, ACHIEVEMENTS, PLAYER_STATE)
        )
        stream_arn = create_table(dynamodb, plays)
        create_table(dynamodb, achievements)
        create_table(dynamodb, state)
        if stream_arn is None:
            raise ConfigError("the Plays table has no stream")
        sqs = backend.client("sqs")
        mapping = mapping or default_mapping(create_queue(sqs, DEFAULT_QUEUE + suffix))
        destination = None
        if mapping.on_failure_destination:
            arn = mapping.on_failure_destination
            if arn.split(":")[2] != "sqs":
                raise ConfigError(f"run supports SQS on-failure destinations, not {arn}")
            create_queue(sqs, arn.split(":")[5])
            destination = SqsDestination(sqs, arn)
        return cls(plays, achievements, state, stream_arn, mapping, destination)

    def names(self) -> dict[str, str]:
        return {
            "plays": self.plays.name,
            "achievements": self.achievements.name,
            "player_state": self.player_state.name,
        }


def build_handler(
    config: RunConfig,
    backend: Backend,
    tables: RunTables,
    wrapper: Callable[[Any], Any] | None,
    faults: FaultPlan | None,
) -> tuple[BadgeHandler, Any]:
    """The badge handler on the run's tables, and what the trigger calls (it, wrapped)."""
    badge_handler = BadgeHandler(
        backend.client("dynamodb"),
        HandlerSettings(
            plays_table=tables.plays.name,
            achievements_table=tables.achievements.name,
            state_table=tables.player_state.name,
            strategy=config.strategy,
            rules=config.rules,
            # Injected client faults draw per request in order: one player at a time keeps
            # which request fails reproducible (streamsim.workbench.faults.clients).
            **({"player_workers": 1} if faults is not None and faults.clients.active else {}),
        ),
    )
    handler: Any = badge_handler
    if wrapper is not None:
        handler = wrapper(handler)
    if faults is not None:
        handler = faults.wrap_handler(handler, tables.mapping)
    return badge_handler, handler


class LivePipeline:
    """The trigger on the wall clock, with its capture and checkpoints; restartable."""

    def __init__(
        self, config: RunConfig, backend: Backend, tables: RunTables, handler: Any, folder: Path
    ) -> None:
        self.config = config
        self.backend = backend
        self.tables = tables
        self.handler = handler
        self.clock = WallClock()
        self.capture = Capture()
        self.checkpoints = CheckpointStore(folder / "checkpoints.json")
        self.output = OutputCapture()  # shared: a restarted trigger's output is captured too
        self.restarts: list[float] = []
        self.trigger = self._new_trigger()

    def _new_trigger(self) -> Trigger:
        return Trigger(
            self.tables.mapping,
            self.handler,
            streams=self.backend.client("dynamodbstreams"),
            stream_arn=self.tables.stream_arn,
            clock=self.clock,
            timing=self.config.timing,
            destination=self.tables.destination,
            capture=self.capture,
            checkpoints=self.checkpoints,
            region=self.backend.region,
            function_name="streamsim-badges",
            output=self.output,
        )

    def start(self) -> None:
        self.trigger.start()

    def restart(self) -> None:
        """Kill the trigger mid-batch (its batch in hand is abandoned, not checkpointed) and
        start a new one on the same checkpoints."""
        self.trigger.kill()
        self.trigger.invoker.close()
        self.trigger = self._new_trigger()
        self.trigger.start()
        self.restarts.append(self.clock.now())

    def watch(self, writer: PlayWriter, progress: Callable[[int, int, int], None] | None) -> None:
        """Run the trigger while the writer writes: progress twice a second, the planned kill."""
        clock, kill_after = self.clock, self.config.kill_trigger_after_seconds

        def watching() -> Generator[Any, Any, None]:
            started = clock.now()
            while writer.is_alive():
                due = kill_after is not None and clock.now() - started >= kill_after
                if due and not self.restarts:
                    self.restart()
                if progress is not None:
                    progress(writer.written_count, writer.total, self.capture.counts()["processed"])
                yield clock.sleep(0.5)

        with self.trigger.invoker.output.installed():
            clock.run(until=clock.env.process(watching()))
        writer.join()

    def drain(self) -> bool:
        """Let the trigger finish what the stream holds; False if it timed out."""
        return self.trigger.run_until_drained(self.config.drain_timeout_seconds)

    def close(self) -> None:
        self.trigger.close()


class PlayWriter:
    """Threads that send the run's plays through the play API at the scheduled times: one lane
    per ``config.writers``, plays split by player (streamsim.workbench.traffic.lanes), each
    lane its own thread and client, so every player's plays still arrive in time order."""

    def __init__(
        self, backend: Backend, table: str, plays: pd.DataFrame, config: RunConfig
    ) -> None:
        self.schedule = poisson_schedule(plays, rate=config.rate, seed=config.seed)
        self.schedule_rate = config.rate
        self.total = len(self.schedule)
        self.table = table
        self.lanes = split_lanes(self.schedule, config.writers)
        # Made here, in lane order: under client faults each client's draws follow its order.
        self.clients = [backend.client("dynamodb") for _ in self.lanes]
        # Per lane: (schedule index, row) in the lane's send order.
        self._written: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in self.lanes]
        self.stats: DriveStats | None = None
        self._thread = threading.Thread(target=self._drive, name="streamsim-writer", daemon=True)

    @property
    def written(self) -> list[dict[str, Any]]:
        """The rows written so far, in schedule order (as one writer would have)."""
        lanes = [list(rows) for rows in self._written]
        return [row for _, row in heapq.merge(*lanes, key=lambda pair: pair[0])]

    @property
    def written_count(self) -> int:
        return sum(len(rows) for rows in self._written)

    def write(self, play: Play, lane: int = 0, index: int = 0) -> None:
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
        write_play(self.clients[lane], checked, table=self.table, written_at=written_at)
        row = {**checked.row(), "written_at": written_at, "acked_at": time.time()}
        self._written[lane].append((index, row))

    def _lane_write(self, k: int) -> Callable[[Play], None]:
        """Lane ``k``'s write: drive calls it once per play, in the lane's order."""
        indices = self.lanes[k].indices
        position = iter(range(len(indices)))

        def write(play: Play) -> None:
            self.write(play, k, int(indices[next(position)]))

        return write

    def _drive(self) -> None:
        clocks = [SleepingClock() for _ in self.lanes]
        self.stats = drive_lanes(
            self.lanes,
            [self._lane_write(k) for k in range(len(self.lanes))],
            clocks,
            total=self.total,
            start_at=clocks[0].now(),
        )

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> None:
        self._thread.join()

    def send_failures(self) -> list[dict[str, str]]:
        """Plays the writer could not write, with the reason."""
        return [
            {"play_id": f.play.play_id, "error": f"{type(f.error).__name__}: {f.error}"}
            for f in (self.stats.failures if self.stats else [])
        ]


def collect_tables(
    backend: Backend, tables: RunTables, capture: Capture, writer: PlayWriter
) -> dict[str, pd.DataFrame]:
    """The run folder's tables: what was written, what the trigger saw and did, the badges."""
    frames = capture.frames()
    collected = {
        "plays": pd.DataFrame(
            writer.written, columns=[*PLAY_COLUMNS, "play_key", "written_at", "acked_at"]
        ),
        "records": frames["records"],
        "attempts": frames["attempts"],
        "dispositions": frames["dispositions"],
        "achievements": pd.DataFrame(
            scan_achievements(backend.client("dynamodb"), table=tables.achievements.name),
            columns=list(TABLES["achievements"]),
        ),
        "poll_errors": frames["poll_errors"],
    }
    for name in ("plays", "achievements"):
        collected[name]["played_at"] = pd.to_datetime(collected[name]["played_at"], utc=True)
    return collected


def handler_witness(handler: Any, mapping: EventSourceMapping) -> HandlerWitness:
    """The handler as the trigger calls it, recorded at its boundary (the accounting's witness)."""
    return HandlerWitness(
        handler,
        report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in mapping.function_response_types,
    )


def collect_witnesses(
    backend: Backend, tables: RunTables, witness: HandlerWitness
) -> dict[str, pd.DataFrame]:
    """What the handler received and returned, the queue and the stream read back."""
    destination = tables.destination
    return witness_tables(
        witness,
        streams=backend.client("dynamodbstreams"),
        stream_arn=tables.stream_arn,
        sqs=backend.client("sqs") if destination is not None else None,
        queue_url=destination.queue_url if destination is not None else None,
    )


def save(
    folder: Path, tables: dict[str, pd.DataFrame], config: dict[str, Any], capture: Capture
) -> RunResult:
    """Sum the run up (streamsim.workbench.analysis) and write its folder."""
    from streamsim.workbench.analysis import summarize

    messages = list(capture.destination_messages)
    summary = summarize(Run(folder, config, {}, tables, messages))
    summary["drained"] = config["drained"]
    summary["send_failures"] = len(config["send_failures"])
    summary["write_rate"] = config.get("write_rate")
    summary["faults"] = config["faults"]
    summary["requests"] = config.get("requests")
    save_run(folder, tables, config, summary, messages)
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
