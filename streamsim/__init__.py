"""streamsim: a workbench for DynamoDB Streams pipelines.

The package has three wings and a small base (docs/architecture.md):

- ``streamsim.aws``: the local AWS (the DynamoDB server, tables, streams, Lambda's event source
  mapping);
- ``streamsim.game``: the blog's game service, the part deployed as the Lambda function (badge
  rules and evaluator, play API, achievements, the badge handler);
- ``streamsim.workbench``: runs, virtual runs, sweeps, run folders, analysis, plots, the report;
- the base: ``errors``, ``clock``, ``validation``.

The names below are the public API for notebooks and users (``from streamsim import analysis,
plots, load_run``). They are imported lazily, so that the badge Lambda handler
(``streamsim.game.handler``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public modules: ``from streamsim import analysis, plots``.
_MODULES = {
    "analysis": "streamsim.workbench.analysis",
    "plots": "streamsim.workbench.plots",
    "findings": "streamsim.workbench.findings",
    "tuning": "streamsim.workbench.tuning",
    "stakeholder": "streamsim.workbench.stakeholder",
    "experiments": "streamsim.workbench.experiments",
    "scale_experiments": "streamsim.workbench.scale.experiments",
}

_BADGES = "streamsim.game.badges"
_EXPORTS = {
    "open_backend": "streamsim.aws.backend",
    "record_play": "streamsim.game.playstore",
    "player_badges": "streamsim.game.achievements",
    "PLAY_COLUMNS": "streamsim.game.plays",
    "load_run": "streamsim.workbench.runfolder",
    "run_pipeline": "streamsim.workbench.run",
    "runs": "streamsim.workbench.runs",
    "latest_run": "streamsim.workbench.runs",
    "compare": "streamsim.workbench.runs",
    "RunConfig": "streamsim.workbench.runconfig",
    "simulate": "streamsim.workbench.virtual",
    "Scenario": "streamsim.workbench.virtual",
    "with_settings": "streamsim.workbench.virtual",
    "sweep": "streamsim.workbench.sweep",
    "simulate_scale": "streamsim.workbench.scale.run",
    "ScaleScenario": "streamsim.workbench.scale.run",
    "ScaleModel": "streamsim.workbench.scale.model",
    "fit_handler": "streamsim.workbench.scale.model",
    "measure_units": "streamsim.workbench.scale.units",
    "units_from_run": "streamsim.workbench.scale.units",
    "run_walkthrough": "streamsim.workbench.walkthrough",
    "Population": "streamsim.workbench.traffic",
    "PopulationConfig": "streamsim.workbench.traffic",
    "Beta": "streamsim.workbench.traffic",
    "evaluate_batch": _BADGES,
    "evaluate_chunks": _BADGES,
    "rule_from_spec": _BADGES,
    "DEFAULT_RULES": _BADGES,
    "FirstPlay": _BADGES,
    "DailyStreak": _BADGES,
    "TotalPlays": _BADGES,
    "Comeback": _BADGES,
    "PersonalBest": _BADGES,
    "EventSourceMapping": "streamsim.aws.trigger.config",
    "TriggerTiming": "streamsim.aws.trigger.config",
    "Trigger": "streamsim.aws.trigger.engine",
    "VirtualClock": "streamsim.clock",
    "WallClock": "streamsim.clock",
}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'streamsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
