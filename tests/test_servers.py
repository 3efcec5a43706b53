"""The local server in its own process: loopback, started and stopped by its owner, and never
left running: when the parent dies (even by SIGKILL) the child goes too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from streamsim.aws.backend import open_backend
from streamsim.aws.servers import MotoProcess, ministack_environment
from streamsim.errors import BackendError


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _wait_gone(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_the_default_backend_is_moto_in_a_child_process(backend) -> None:
    assert backend.info.name == "moto" and backend.info.embedded
    assert isinstance(backend._server, MotoProcess)
    assert backend._server.pid != os.getpid() and _alive(backend._server.pid)
    host, port = backend._server.bound_address
    assert backend.endpoint_url == f"http://{host}:{port}" and host == "127.0.0.1"


def test_the_child_listens_on_loopback_only(backend) -> None:
    _, port = backend._server.bound_address
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
    ]
    assert listening == ["0100007F:" + f"{port:04X}"]  # 127.0.0.1, not 0.0.0.0


def test_closing_the_backend_stops_the_child() -> None:
    with open_backend(server="moto") as own:
        pid = own._server.pid
        assert own.client("dynamodb").list_tables()["TableNames"] == []
    assert _wait_gone(pid)


def test_the_in_process_server_is_still_available() -> None:
    with open_backend(server="moto-inprocess") as own:
        assert own._server.__class__.__name__ == "EmbeddedServer"
        assert own.client("dynamodb").list_tables()["TableNames"] == []


def test_an_unknown_backend_is_one_clear_error() -> None:
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        open_backend(server="nope")
    with pytest.raises(BackendError, match="drop --endpoint-url"):
        open_backend("http://127.0.0.1:9", server="moto")


_PARENT = """
import sys, threading, time
from streamsim.aws.backend import open_backend
holder = {}
def start():
    holder["b"] = open_backend()
if sys.argv[1] == "thread":  # no PR_SET_DEATHSIG: only the stdin pipe tells the child
    t = threading.Thread(target=start); t.start(); t.join()
else:
    start()
print(holder["b"]._server.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_the_child_dies_when_its_parent_is_killed(started_from: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_PARENT), started_from],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip(), parent.stderr.read().decode() if parent.stderr else ""
        child = int(line)
        assert _alive(child)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert _wait_gone(child), f"server process {child} outlived its killed parent"


def test_ministack_settings_bind_loopback_and_keep_off_docker(tmp_path: Path) -> None:
    env = ministack_environment(4566, tmp_path, {"AWS_ACCESS_KEY_ID": "AKIA...", "HOME": "/h"})
    assert env["BIND_HOST"] == "127.0.0.1" and env["MINISTACK_HOST"] == "127.0.0.1"
    assert env["GATEWAY_PORT"] == "4566" and env["PERSIST_STATE"] == "0"
    assert not Path(env["DOCKER_HOST"].removeprefix("unix://")).exists()
    assert "AWS_ACCESS_KEY_ID" not in env and env["HOME"] == "/h"


def test_backend_options_refuse_contradictions_in_one_line(capsys) -> None:
    from streamsim.workbench.cli import main

    assert main(["run", "--backend", "moto", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "drop --endpoint-url" in capsys.readouterr().err
    assert main(["serve", "--backend", "ministack", "--port", "5"]) == 2
    assert "--port is for moto" in capsys.readouterr().err


def test_make_ministack_installs_the_version_the_cross_check_expects() -> None:
    from streamsim.aws.servers import MINISTACK_VERSION

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert f"MINISTACK_VERSION := {MINISTACK_VERSION}\n" in makefile
    assert "ministack==$(MINISTACK_VERSION)" in makefile
    # make test tries to build it, and goes on (the cross-check then skips) when it cannot.
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "$(MAKE) --no-print-directory ministack ||" in test_recipe


_LIST_TABLES = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=streamsim/20260101/eu-central-1/dynamodb/"
    "aws4_request, SignedHeaders=host, Signature=0",
}


def test_the_child_keeps_a_connection_alive_across_requests(backend) -> None:
    """werkzeug closes every connection; the child answers several requests on one socket
    (streamsim.aws.keepalive), each framed by its Content-Length."""
    import http.client

    host, port = backend._server.bound_address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        bodies, sockets = [], []
        for _ in range(3):
            conn.request("POST", "/", body=b"{}", headers=_LIST_TABLES)
            response = conn.getresponse()
            bodies.append(json.loads(response.read()))
            sockets.append(conn.sock)
            assert response.getheader("Content-Length") is not None
            assert not response.will_close
        assert bodies == [{"TableNames": []}] * 3
        assert sockets[0] is not None and all(s is sockets[0] for s in sockets)
    finally:
        conn.close()


def test_boto3_reuses_its_connection_to_the_child(backend) -> None:
    dynamodb = backend.client("dynamodb")
    made: list[object] = []
    pool_class = __import__("urllib3").connectionpool.HTTPConnectionPool
    original = pool_class._new_conn

    def counting(self):  # type: ignore[no-untyped-def]
        made.append(self)
        return original(self)

    pool_class._new_conn = counting
    try:
        for _ in range(5):
            dynamodb.list_tables()
    finally:
        pool_class._new_conn = original
    assert len(made) == 1


def test_a_request_the_child_cannot_frame_is_answered_and_its_connection_closed(backend) -> None:
    """A chunked body goes to werkzeug's own handling: the right answer, then Connection: close."""
    import http.client

    host, port = backend._server.bound_address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", "/", body=iter([b"{", b"}"]), headers=_LIST_TABLES)
        response = conn.getresponse()
        assert json.loads(response.read()) == {"TableNames": []}
        assert response.will_close
    finally:
        conn.close()


def test_stopping_the_in_process_server_ends_its_kept_alive_connections() -> None:
    import http.client

    from streamsim.aws.backend import EmbeddedServer

    server = EmbeddedServer()
    server.start()
    host, port = server.bound_address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", "/", body=b"{}", headers=_LIST_TABLES)
        assert json.loads(conn.getresponse().read()) == {"TableNames": []}
        kept = conn.sock
        server.stop()
        with pytest.raises((OSError, http.client.HTTPException)):
            conn.request("POST", "/", body=b"{}", headers=_LIST_TABLES)
            conn.getresponse().read()
        assert kept is not None
    finally:
        conn.close()
