"""Fault injection: handler faults, backend faults, crashes; the nothing-lost invariant.

``FaultPlan.parse("poison=1,throttle=0.05")`` passed to ``run_pipeline(..., faults=plan)``
(or ``streamsim run --faults ...``); ``streamsim faults`` runs the whole matrix. ``FaultPlan``
is imported on first use: it needs botocore, and the CLI's parser imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamsim.workbench.faults.invariant import check_invariant, invariant_lines
from streamsim.workbench.faults.spec import FaultSpec, parse_faults, parse_spec

if TYPE_CHECKING:
    from streamsim.workbench.faults.plan import FaultPlan

__all__ = [
    "FaultPlan",
    "FaultSpec",
    "check_invariant",
    "invariant_lines",
    "parse_faults",
    "parse_spec",
]


def __getattr__(name: str) -> Any:
    if name == "FaultPlan":
        from streamsim.workbench.faults.plan import FaultPlan

        return FaultPlan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
