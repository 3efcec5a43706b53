"""Local backends as child processes: moto (the default) and MiniStack, loopback only.

Why a process: in-process, moto's server shares one GIL with the writer, the trigger and the
handler; in its own process the pipeline keeps up with about twice the rate (docs/backends.md).

A child never outlives its parent: it runs under ``_GUARD``, which exits the child when its stdin
(a pipe from the parent) reaches end-of-file, as it does when the parent exits for any reason,
SIGKILL included; on Linux it also asks the kernel for SIGKILL when the parent dies
(``prctl(PR_SET_DEATHSIG)``, SIGTERM; SIGTERM exits at once). Each child binds 127.0.0.1 on a free port, writes its output to a
private log file (shown only when it fails to start), and is polled until it answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path

from streamsim.errors import BackendError

#: Run in the child before the server module: exit when the parent goes (see module docstring).
#: argv: parent pid, "1" to ask for PR_SET_DEATHSIG, the module to run, its arguments.
_GUARD = """
import os, runpy, shutil, signal, sys, threading
parent, deathsig, module = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
def _leave(*_):
    here = os.getcwd()
    if os.path.basename(here).startswith("streamsim-"):  # the private folder: log, pid file
        shutil.rmtree(here, ignore_errors=True)
    os._exit(0)
signal.signal(signal.SIGTERM, _leave)
if deathsig and sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_DEATHSIG
    except Exception:
        pass
if os.getppid() != parent:
    _leave()
def _watch():
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        _leave()
threading.Thread(target=_watch, name="parent-watch", daemon=True).start()
sys.argv = [module, *sys.argv[4:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

#: The MiniStack version the cross-check was written against (docs/backends.md).
MINISTACK_VERSION = "1.5.33"
MINISTACK_VENV_ENV = "STREAMSIM_MINISTACK_VENV"
#: Only the services streamsim uses (the research notes list all of MiniStack's switches).
_MINISTACK_SERVICES = "dynamodb,dynamodbstreams,sqs,sts"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the child may lose a race: retried)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A loopback server in a guarded child process; ``start``, ``reset``, ``stop``."""

    name = "server"
    start_timeout_seconds = 30.0

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._tmp: Path | None = None
        self._log: Path | None = None

    # What a concrete server defines.
    def python(self) -> str:
        return sys.executable

    def module_args(self, port: int) -> tuple[str, list[str]]:
        raise NotImplementedError

    def environment(self, port: int, tmp: Path) -> dict[str, str]:
        return dict(os.environ)

    def ready(self, endpoint_url: str) -> bool:
        """True once the server answers (any HTTP status will do unless overridden)."""
        try:
            with urllib.request.urlopen(endpoint_url + "/", timeout=1):  # noqa: S310 (loopback)
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def reset(self) -> None:
        raise NotImplementedError

    def version(self) -> str:
        return "unknown"

    # The lifecycle.
    @property
    def endpoint_url(self) -> str:
        if self._proc is None:
            raise BackendError(f"the {self.name} server is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def bound_address(self) -> tuple[str, int]:
        return "127.0.0.1", self._port

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, attempts: int = 3) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix=f"streamsim-{self.name}-"))
        self._log = self._tmp / "server.log"
        for _ in range(attempts):
            self._port = free_port()
            if self._launch():
                return
        tail = self._log.read_text(errors="replace")[-800:] if self._log.exists() else ""
        self.stop()
        raise BackendError(f"the {self.name} server did not start; its log ends:\n{tail}")

    def _launch(self) -> bool:
        assert self._tmp is not None and self._log is not None
        module, args = self.module_args(self._port)
        deathsig = "1" if threading.current_thread() is threading.main_thread() else "0"
        # PR_SET_DEATHSIG fires when the *thread* that forked exits: only ask from the main one.
        command = [self.python(), "-c", _GUARD, str(os.getpid()), deathsig, module, *args]
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(self._port, self._tmp),
                cwd=self._tmp,
            )
        deadline = time.monotonic() + self.start_timeout_seconds
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False  # lost the port race or failed: the caller retries
            if self.ready(f"http://127.0.0.1:{self._port}"):
                return True
            time.sleep(0.05)
        self._kill()
        return False

    def stop(self) -> None:
        """Ask the child to exit (SIGTERM, then its stdin closes); kill it if it lingers."""
        self._kill()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdin is not None:
            proc.stdin.close()

    def serve_forever(self) -> None:
        """Block until the child exits or the user interrupts (``streamsim serve``)."""
        try:
            while self._proc is not None and self._proc.poll() is None:
                time.sleep(0.5)
        finally:
            self.stop()

    def log_text(self) -> str:
        """What the child has written to its private log so far."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")

    def _post(self, path: str) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}{path}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            response.read()


class MotoProcess(ServerProcess):
    """moto's server (serialised: one request at a time) in a child process."""

    name = "moto"

    def module_args(self, port: int) -> tuple[str, list[str]]:
        return "streamsim.aws.servechild", ["--port", str(port)]

    def environment(self, port: int, tmp: Path) -> dict[str, str]:
        env = dict(os.environ)
        # The child imports streamsim from wherever this process did.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        return env

    def ready(self, endpoint_url: str) -> bool:
        try:
            with urllib.request.urlopen(endpoint_url + "/moto-api/", timeout=1):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def reset(self) -> None:
        self._post("/moto-api/reset")

    def start(self, attempts: int = 3) -> None:
        super().start(attempts)
        # The child patches moto (streamsim.aws.motopatch) or says in its log why it did not.
        for line in self.log_text().splitlines():
            if "moto runs unpatched" in line and "asked to" not in line:
                warnings.warn(line.removeprefix("streamsim: "), RuntimeWarning, stacklevel=2)


class MiniStackProcess(ServerProcess):
    """MiniStack (PyPI ``ministack``) from its own virtual environment, loopback only.

    The settings are the research notes' (docs/backends.md): bind 127.0.0.1, quiet, in-memory,
    no IoT/SFTP listeners, and DOCKER_HOST at a socket that does not exist, so it never reaps
    or starts containers.
    """

    name = "ministack"

    def __init__(self, venv: str | Path | None = None) -> None:
        super().__init__()
        self.venv = Path(venv) if venv is not None else ministack_venv()

    def python(self) -> str:
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise BackendError(
                f"MiniStack is not installed in {self.venv}: run 'make ministack' "
                f"(pip install ministack=={MINISTACK_VERSION} in its own venv)"
            )
        return str(python)

    def module_args(self, port: int) -> tuple[str, list[str]]:
        return "ministack", []

    def environment(self, port: int, tmp: Path) -> dict[str, str]:
        return ministack_environment(port, tmp, os.environ)

    def ready(self, endpoint_url: str) -> bool:
        try:
            with urllib.request.urlopen(endpoint_url + "/_ministack/ready", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:  # refused, or 503 while starting (HTTPError is an OSError)
            return False

    def reset(self) -> None:
        self._post("/_ministack/reset")

    def version(self) -> str:
        """The running server's version (its health endpoint says)."""
        try:
            with urllib.request.urlopen(self.endpoint_url + "/_ministack/health", timeout=5) as r:  # noqa: S310
                return str(json.loads(r.read()).get("version", "unknown"))
        except (OSError, ValueError):
            return "unknown"


def ministack_environment(port: int, tmp: Path, base: Mapping[str, str]) -> dict[str, str]:
    """MiniStack's settings (all by environment variable): loopback, quiet, in-memory."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(
        GATEWAY_PORT=str(port),
        BIND_HOST="127.0.0.1",  # its default is 0.0.0.0
        MINISTACK_HOST="127.0.0.1",
        LOG_LEVEL="WARNING",
        SERVICES=_MINISTACK_SERVICES,
        IOT_MTLS_ENABLED="0",
        SFTP_ENABLED="0",
        PERSIST_STATE="0",
        S3_PERSIST="0",
        DOCKER_HOST=f"unix://{tmp}/no-docker.sock",  # never a real Docker daemon
        TMPDIR=str(tmp),
        MINISTACK_REGION="eu-central-1",
    )
    return env


def ministack_venv() -> Path:
    """Where MiniStack's venv is: $STREAMSIM_MINISTACK_VENV, else .venv-ministack at the
    checkout's root (``make ministack`` creates it)."""
    configured = os.environ.get(MINISTACK_VENV_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".venv-ministack"


def ministack_available(venv: str | Path | None = None) -> str | None:
    """None when MiniStack can run, else the reason it cannot (for skips and errors)."""
    path = Path(venv) if venv is not None else ministack_venv()
    python = path / "bin" / "python"
    if not python.exists():
        return f"no MiniStack venv at {path} (make ministack builds it)"
    check = subprocess.run(  # noqa: S603
        [str(python), "-c", "import ministack"], capture_output=True, timeout=60
    )
    if check.returncode != 0:
        return f"MiniStack does not import in {path}: {check.stderr.decode()[-200:]}"
    return None


def start_server(kind: str) -> ServerProcess:
    """Start the named local server ("moto" or "ministack") and return it, ready."""
    server: ServerProcess
    if kind == "moto":
        server = MotoProcess()
    elif kind == "ministack":
        server = MiniStackProcess()
    else:
        raise BackendError(f"unknown backend {kind!r} (moto, ministack)")
    server.start()
    return server
