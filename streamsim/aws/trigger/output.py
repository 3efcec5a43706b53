"""Capture what a handler prints, per invocation, as its log lines (Lambda: CloudWatch Logs).

Handlers run in worker threads on the wall clock, so stdout/stderr are routed per thread: a
thread that is inside an invocation writes to that invocation's buffer, every other thread
writes where it always did. The router is installed for the trigger's run and removed after.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class _ThreadRouter(io.TextIOBase):
    def __init__(self, fallback: TextIO, local: threading.local) -> None:
        self._fallback = fallback
        self._local = local

    def write(self, text: str) -> int:  # type: ignore[override]
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            return self._fallback.write(text)
        return buffer.write(text)

    def flush(self) -> None:
        if getattr(self._local, "buffer", None) is None:
            self._fallback.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


class OutputCapture:
    """Install with ``with capture.installed():``; collect with ``with capture.collect() as buf``."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def installed(self) -> Iterator[None]:
        saved = sys.stdout, sys.stderr
        sys.stdout = _ThreadRouter(saved[0], self._local)  # type: ignore[assignment]
        sys.stderr = _ThreadRouter(saved[1], self._local)  # type: ignore[assignment]
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved

    @contextmanager
    def collect(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        previous = getattr(self._local, "buffer", None)
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = previous


def log_lines(text: str) -> list[str]:
    """Split captured output into log lines (Lambda emits one log event per line)."""
    return [line for line in text.splitlines() if line.strip()]
