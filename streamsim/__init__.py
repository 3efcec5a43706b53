"""streamsim: a workbench for DynamoDB Streams pipelines.

The names below are the public API for notebooks; they are imported lazily so that the badge
Lambda handler (``streamsim.handler``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "open_backend": "streamsim.backend",
    "record_play": "streamsim.playstore",
    "player_badges": "streamsim.achievements",
    "load_run": "streamsim.runfolder",
    "run_pipeline": "streamsim.run",
    "RunConfig": "streamsim.run",
    "simulate": "streamsim.virtual",
    "Scenario": "streamsim.virtual",
    "with_settings": "streamsim.virtual",
    "sweep": "streamsim.sweep",
    "evaluate_batch": "streamsim.badges",
    "EventSourceMapping": "streamsim.trigger.config",
    "TriggerTiming": "streamsim.trigger.config",
    "Trigger": "streamsim.trigger.engine",
    "VirtualClock": "streamsim.clock",
    "WallClock": "streamsim.clock",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'streamsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
