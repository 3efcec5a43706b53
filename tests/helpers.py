"""Small helpers shared by tests (no fixtures here)."""

from __future__ import annotations

from typing import Any


def record_operations(client: Any) -> list[str]:
    """Record the name of every API operation ``client`` sends (botocore's before-call event)."""
    seen: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        seen.append(model.name)

    client.meta.events.register("before-call.*.*", hook)
    return seen
