"""Fault specs: what ``streamsim run --faults ...`` asks for, as frozen dataclasses.

One spec per fault, written ``NAME=VALUE``; several are joined with commas or given as several
``--faults`` options. Every bad spec is a ConfigError that names it, so the CLI prints one line.

| spec | meaning |
|---|---|
| ``handler-errors=0.1`` | each invocation raises (a function error) with this probability |
| ``poison=1`` | this many plays (from the first 10, by seed) fail on every delivery (poison records) |
| ``handler-timeout=1`` / ``=1@5`` | this many invocations do their work, then overrun the function timeout (set to 5 s) |
| ``duplicates=0.1`` | records are processed, then reported failed (once each) with this probability |
| ``throttle=0.05`` | requests get ThrottlingException (HTTP 400) with this probability |
| ``server-errors=0.05`` | requests get HTTP 500 with this probability |
| ``unreachable=2.0@3.0`` | the endpoint refuses connections for 2 s, starting 3 s after writing starts |
| ``kill-trigger=2.0`` | the trigger dies 2 s after writing starts; a new one resumes on its checkpoints |
| ``expire-iterators=0.2`` | this share of GetRecords calls answers ExpiredIteratorException (one in every 1/rate, from the first) |
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from streamsim.errors import ConfigError

#: Client faults stay below certainty so every request eventually gets through (bounded).
MAX_CLIENT_RATE = 0.5
#: Lambda's maximum function timeout is 900 s; a fault run's timeout is short by design.
DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class HandlerErrors:
    """Whole invocations fail (the handler raises) at ``rate``: the batch is retried."""

    rate: float


@dataclass(frozen=True)
class Poison:
    """``count`` plays whose records fail on every delivery: they end at the destination."""

    count: int


@dataclass(frozen=True)
class HandlerTimeout:
    """``count`` invocations finish their work, then overrun ``timeout_seconds``."""

    count: int
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Duplicates:
    """Records processed, then reported failed at ``rate``: redelivered, processed twice."""

    rate: float


@dataclass(frozen=True)
class Throttle:
    """Requests answered with ThrottlingException at ``rate`` (before reaching the server)."""

    rate: float


@dataclass(frozen=True)
class ServerErrors:
    """Requests answered with HTTP 500 at ``rate`` (before reaching the server)."""

    rate: float


@dataclass(frozen=True)
class Unreachable:
    """Every request fails to connect for ``for_seconds``, from ``after_seconds`` on."""

    for_seconds: float
    after_seconds: float


@dataclass(frozen=True)
class KillTrigger:
    """The trigger dies ``after_seconds`` into the run and a new one resumes."""

    after_seconds: float


@dataclass(frozen=True)
class ExpireIterators:
    """GetRecords answers ExpiredIteratorException on ``rate`` of its calls: counted, not drawn
    (one call in every ``1/rate``, from the run's first), so it fires however few polls a run
    makes."""

    rate: float


FaultSpec = (
    HandlerErrors
    | Poison
    | HandlerTimeout
    | Duplicates
    | Throttle
    | ServerErrors
    | Unreachable
    | KillTrigger
    | ExpireIterators
)

NAMES: dict[str, type] = {
    "handler-errors": HandlerErrors,
    "poison": Poison,
    "handler-timeout": HandlerTimeout,
    "duplicates": Duplicates,
    "throttle": Throttle,
    "server-errors": ServerErrors,
    "unreachable": Unreachable,
    "kill-trigger": KillTrigger,
    "expire-iterators": ExpireIterators,
}


def spec_name(spec: FaultSpec) -> str:
    """The CLI name of a spec (``handler-errors`` for HandlerErrors)."""
    return next(name for name, cls in NAMES.items() if isinstance(spec, cls))


def format_spec(spec: FaultSpec) -> str:
    """The spec as the CLI writes it: parse_spec(format_spec(s)) == s."""
    name = spec_name(spec)
    if isinstance(spec, Unreachable):
        return f"{name}={_num(spec.for_seconds)}@{_num(spec.after_seconds)}"
    if isinstance(spec, HandlerTimeout):
        return f"{name}={spec.count}@{_num(spec.timeout_seconds)}"
    if isinstance(spec, KillTrigger):
        return f"{name}={_num(spec.after_seconds)}"
    if isinstance(spec, Poison):
        return f"{name}={spec.count}"
    return f"{name}={_num(spec.rate)}"


def _num(value: float) -> str:
    """Short when exact (0.05, 2), else every digit: the text parses back to the same number."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def parse_faults(texts: str | Iterable[str]) -> tuple[FaultSpec, ...]:
    """Specs from ``"a=1,b=2"`` or several such strings; each fault kind at most once."""
    items = [texts] if isinstance(texts, str) else list(texts)
    specs: list[FaultSpec] = []
    for text in items:
        if not isinstance(text, str):
            raise ConfigError(f"fault spec {text!r} is not text")
        for part in text.split(","):
            if part.strip():
                specs.append(parse_spec(part))
    seen: set[str] = set()
    for spec in specs:
        name = spec_name(spec)
        if name in seen:
            raise ConfigError(f"fault {name!r} is given twice")
        seen.add(name)
    return tuple(specs)


def parse_spec(text: str) -> FaultSpec:
    """One ``NAME=VALUE`` spec; ConfigError quotes it and says what is expected."""
    raw = text.strip()
    name, sep, value = raw.partition("=")
    name = name.strip()
    if not sep:
        raise ConfigError(f"fault spec {raw!r} is not NAME=VALUE (known: {', '.join(NAMES)})")
    if name not in NAMES:
        raise ConfigError(f"fault spec {raw!r}: unknown fault {name!r} (known: {', '.join(NAMES)})")
    value = value.strip()
    if name in ("handler-errors", "duplicates"):
        return NAMES[name](_rate(raw, value, high=1.0))  # type: ignore[no-any-return]
    if name in ("throttle", "server-errors", "expire-iterators"):
        return NAMES[name](_rate(raw, value, high=MAX_CLIENT_RATE))  # type: ignore[no-any-return]
    if name == "poison":
        return Poison(_count(raw, value))
    if name == "handler-timeout":
        count, _, timeout = value.partition("@")
        seconds = _seconds(raw, timeout, low=0.1) if timeout else DEFAULT_TIMEOUT_SECONDS
        if seconds > 900:
            raise ConfigError(f"fault spec {raw!r}: the function timeout is at most 900 s")
        return HandlerTimeout(_count(raw, count), seconds)
    if name == "unreachable":
        span, at, after = value.partition("@")
        if not at:
            raise ConfigError(f"fault spec {raw!r}: expected unreachable=SECONDS@AFTER_SECONDS")
        return Unreachable(_seconds(raw, span, low=0.0, strict=True), _seconds(raw, after, low=0.0))
    return KillTrigger(_seconds(raw, value, low=0.0))


def _number(raw: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"fault spec {raw!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"fault spec {raw!r}: {value!r} is not a finite number")
    return number


def _rate(raw: str, value: str, *, high: float) -> float:
    rate = _number(raw, value)
    if not 0 < rate <= high:
        raise ConfigError(f"fault spec {raw!r}: the rate must be > 0 and <= {high:g}")
    return rate


def _count(raw: str, value: str) -> int:
    try:
        count = int(value.strip())
    except ValueError:
        raise ConfigError(f"fault spec {raw!r}: {value!r} is not a whole number") from None
    if count < 1:
        raise ConfigError(f"fault spec {raw!r}: the count must be at least 1")
    return count


def _seconds(raw: str, value: str, *, low: float, strict: bool = False) -> float:
    seconds = _number(raw, value)
    if seconds < low or (strict and seconds == low) or seconds > 86_400:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise ConfigError(f"fault spec {raw!r}: seconds must be {bound} and at most 86400")
    return seconds
