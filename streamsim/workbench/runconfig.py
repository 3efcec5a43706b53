"""What a live run depends on: ``RunConfig`` and the run's default event source mapping.

Apart from ``run`` so that what configures a run (the fault plan, the IAM policy, the CLI) can
read it without importing the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.errors import ConfigError
from streamsim.game.badges import DEFAULT_RULES, BadgeRule
from streamsim.game.handler import HandlerSettings
from streamsim.validation import require_int, require_positive
from streamsim.workbench.traffic.lanes import require_writers

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
    #: Plays/s. The batched handler with moto in its own process kept p95 write->processed
    #: near 1 s at 12/s on a heavily shared 2-core machine (docs/backends.md); headroom on a
    #: quiet one. benchmarks/bench_live.py measures what a machine sustains.
    rate: float = 12.0
    seed: int = 1
    #: The batched strategy (streamsim.game.batched); "read-all" is the blog's, for comparison.
    strategy: str = "batched"
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
    #: Writer lanes: plays split by player, each lane its own thread and client, as several
    #: game servers would write (streamsim.workbench.traffic.lanes); 1 under client faults.
    writers: int = 2

    def __post_init__(self) -> None:
        for name, low in (("players", 1), ("days", 1), ("seed", 0)):
            require_int(name, getattr(self, name), low)
        require_positive("rate", self.rate, "plays per second")
        require_writers(self.writers)
        HandlerSettings(strategy=self.strategy)  # validates the strategy name
        if self.mapping is not None:  # settings the run's pipeline cannot honour: refused
            if self.mapping.tumbling_window_in_seconds:
                raise ConfigError(
                    "TumblingWindowInSeconds: the badge handler returns no window state, so "
                    "Lambda would fail every batch; try windows with streamsim trigger and a "
                    "handler that returns {'state': ...}"
                )
            if not self.mapping.enabled:
                raise ConfigError(
                    "Enabled: false: the run's trigger would process nothing and wait out its "
                    "drain; for a paused mapping use streamsim trigger --disabled-for, or "
                    "Scenario(disabled_from_seconds=..., disabled_for_seconds=...)"
                )


def with_overrides(config: RunConfig, **changes: Any) -> RunConfig:
    """A copy with some fields changed (validated again)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
