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

    def collect(self) -> _Collecting:
        """This thread's output goes to a new buffer inside the ``with`` block."""
        return _Collecting(self._local)


class _Collecting:
    """``OutputCapture.collect``'s context manager (a class: one per invocation, so it is kept
    lighter than a generator-based one)."""

    __slots__ = ("_local", "_previous")

    def __init__(self, local: threading.local) -> None:
        self._local = local
        self._previous: io.StringIO | None = None

    def __enter__(self) -> io.StringIO:
        buffer = io.StringIO()
        self._previous = getattr(self._local, "buffer", None)
        self._local.buffer = buffer
        return buffer

    def __exit__(self, *_: object) -> None:
        self._local.buffer = self._previous


def log_lines(text: str) -> list[str]:
    """Split captured output into log lines (Lambda emits one log event per line)."""
    return [line for line in text.splitlines() if line.strip()]
