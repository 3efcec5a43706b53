"""Checks for configuration fields: one message style, naming the field, the value and the rule."""

from __future__ import annotations

from typing import Any

from streamsim.errors import ConfigError


def require_int(name: str, value: Any, low: int) -> None:
    """A whole number (not a bool) of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def require_positive(name: str, value: Any, unit: str) -> None:
    """A number (not a bool) greater than 0, e.g. a rate in ``unit``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a number of {unit} > 0, got {value!r}")


def require_seconds(name: str, value: Any) -> None:
    """A duration: a number (not a bool) of seconds, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")


def require_probability(name: str, value: Any) -> None:
    """A probability: a number (not a bool) from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a probability between 0 and 1, got {value!r}")
