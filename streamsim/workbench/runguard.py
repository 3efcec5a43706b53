"""A run's folder, kept whatever happens outside the pipeline: checked, locked, atomic, marked.

Before any work the output location is checked (not a file, writable, not an existing run
folder unless ``force``) and locked (``.<name>.lock`` beside it, an flock: two runs cannot
write one folder, and a dead process's lock is free again). The run writes into a temporary
folder beside the target, ``config.json`` first with status ``running``; at the end the
folder is renamed into place in one step. If the run fails (disk full, a dead server, a
hung handler past the drain timeout) or is interrupted (Ctrl-C, SIGTERM), ``abort`` saves
what was captured with status ``failed`` or ``interrupted`` and the reason, renames it into
place all the same, and returns a ``RunAborted`` naming the folder and carrying the summary
(a verdict, if one could be computed), never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streamsim.errors import StreamsimError

#: Statuses in config.json: the run is still going, it finished, or it ended early.
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"

Salvage = Callable[[bool], tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]


class OutputError(StreamsimError):
    """The run folder cannot be written where the user asked (checked before any work)."""


class RunAborted(StreamsimError):
    """The run ended early; its folder was saved (``path``) with ``status`` and ``reason``."""

    def __init__(
        self, status: str, reason: str, path: Path | None, summary: dict[str, Any] | None
    ) -> None:
        where = f"the run folder {path} is saved" if path else "the run folder could not be saved"
        super().__init__(f"run {status}: {reason}; {where} (status {status})")
        self.status = status
        self.reason = reason
        self.cause: BaseException | None = None
        self.path = path
        self.summary = summary


def check_output(folder: Path, *, force: bool = False) -> None:
    """Refuse an output location that cannot become this run's folder, before any work."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:  # an empty one loses nothing
        raise OutputError(
            f"--out {folder} already exists; pass --force to replace it (a run folder is "
            "never overwritten silently)"
        )
    ancestor = folder.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"--out {folder}: {ancestor} is a file, not a folder")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        probe = folder.parent / f".{folder.name}.probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"--out {folder} is not writable: {exc.strerror or exc} ({ancestor})"
        ) from exc


class RunGuard:
    """The folder of one run in progress: ``open`` it, ``start`` it, then ``finish`` or ``abort``."""

    def __init__(self, folder: Path, temp: Path, lock: Any, force: bool) -> None:
        self.folder = folder
        self.temp = temp
        self._lock = lock
        self._force = force
        self.config: dict[str, Any] = {}
        #: Called by ``abort`` with ``healthy`` (the backend still answers): the tables, config
        #: and destination messages captured so far.
        self.salvage: Salvage | None = None

    @classmethod
    def open(cls, folder: str | Path, *, force: bool = False) -> RunGuard:
        """Check and lock the output location; create the temporary folder."""
        import fcntl

        folder = Path(folder)
        check_output(folder, force=force)
        lock_path = folder.parent / f".{folder.name}.lock"
        lock = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise OutputError(f"another run is writing {folder} (lock {lock_path})") from None
        temp = folder.parent / f".{folder.name}.partial-{os.getpid()}"
        shutil.rmtree(temp, ignore_errors=True)
        try:
            temp.mkdir()
        except OSError as exc:
            _unlock(lock, lock_path)
            raise OutputError(f"--out {folder} is not writable: {exc}") from exc
        return cls(folder, temp, lock, force)

    def start(self, config: dict[str, Any]) -> None:
        """Write config.json with status ``running`` (a crash still leaves what ran)."""
        self.config = {**config, "status": RUNNING, "started_at": time.time()}
        _write_json(self.temp / "config.json", self.config)

    def finish(self) -> Path:
        """The run's folder is complete in ``temp``: move it into place."""
        self._mark(COMPLETE, None)
        return self._move_into_place()

    def abort(self, error: BaseException) -> RunAborted:
        """Save what the run captured, marked failed or interrupted; the exception to raise."""
        interrupted = isinstance(error, KeyboardInterrupt)
        status = INTERRUPTED if interrupted else FAILED
        if isinstance(error, KeyboardInterrupt):
            reason = "interrupted (Ctrl-C or SIGTERM)"
        else:
            reason = f"{type(error).__name__}: {error}".strip()
        summary = None
        try:
            summary = self._save_partial(status, reason, healthy=interrupted)
        except BaseException as exc:  # noqa: BLE001 - disk full, dead server: keep the marker
            self._mark(status, f"{reason}; saving what was captured failed too: {exc}")
        try:
            path: Path | None = self._move_into_place()
        except OSError:
            path = self.temp if self.temp.exists() else None
        aborted = RunAborted(status, reason, path, summary)
        aborted.cause = error
        return aborted

    def close(self) -> None:
        """Release the lock; remove a temporary folder left behind."""
        shutil.rmtree(self.temp, ignore_errors=True)
        _unlock(self._lock, self.folder.parent / f".{self.folder.name}.lock")

    def _save_partial(self, status: str, reason: str, *, healthy: bool) -> dict[str, Any] | None:
        import pandas as pd

        from streamsim.workbench.runfolder import TABLES, Run, save_run

        tables: dict[str, Any] = {}
        config: dict[str, Any] = {}
        messages: list[dict[str, Any]] = []
        if self.salvage is not None:
            try:
                tables, config, messages = self.salvage(healthy)
            except Exception as exc:  # noqa: BLE001 - keep the marker and empty tables
                reason += f"; what was captured could not be collected: {exc}"
        for name, columns in TABLES.items():
            if name not in tables:
                tables[name] = pd.DataFrame(columns=list(columns))
        config = {**self.config, **config, "status": status, "reason": reason}
        summary: dict[str, Any]
        try:
            from streamsim.workbench.analysis import summarize

            summary = summarize(Run(self.temp, config, {}, tables, messages))
        except Exception as exc:  # noqa: BLE001 - a partial run may not sum up
            summary = {"error": f"no summary: {type(exc).__name__}: {exc}"}
        summary["status"], summary["reason"] = status, reason
        if self.salvage is None:  # nothing ran: no accounting to speak of
            summary.pop("accounting", None)
        save_run(self.temp, tables, config, summary, messages)
        return summary

    def _mark(self, status: str, reason: str | None) -> None:
        config_file = self.temp / "config.json"
        config = self.config
        if config_file.is_file():
            try:
                config = json.loads(config_file.read_text())
            except ValueError:
                pass
        config = {**config, "status": status, "ended_at": time.time()}
        if reason is not None:
            config["reason"] = reason
        _write_json(config_file, config)

    def _move_into_place(self) -> Path:
        old = None
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()  # an empty folder (a notebook's temporary directory)
        if self.folder.exists():
            if not self._force:  # appeared while running: never overwritten without --force
                raise OutputError(f"{self.folder} appeared while the run was going")
            old = self.folder.parent / f".{self.folder.name}.old-{os.getpid()}"
            os.replace(self.folder, old)
        os.replace(self.temp, self.folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.folder


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _unlock(lock: Any, lock_path: Path) -> None:
    if lock.closed:
        return
    try:
        lock_path.unlink(missing_ok=True)
    finally:
        lock.close()  # closing releases the flock


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread while the block runs (as Ctrl-C
    does), so a terminated run saves its folder marked interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_process(code: int, grace_seconds: float = 2.0) -> None:
    """Exit with ``code`` even when a thread cannot end (a hung handler: Lambda would stop its
    sandbox; a Python thread cannot be stopped, and the interpreter waits for it forever)."""
    sys.stdout.flush()
    sys.stderr.flush()
    deadline = time.monotonic() + grace_seconds
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(
        t.is_alive() and not t.daemon and t is not threading.main_thread()
        for t in threading.enumerate()
    ):
        os._exit(code)
    sys.exit(code)
