"""The DynamoDB-compatible backend: an embedded moto server, or any endpoint the user names.

Every command and notebook takes an endpoint (``--endpoint-url`` / ``STREAMSIM_ENDPOINT_URL``);
without one, streamsim starts moto's server on 127.0.0.1 and a free port. moto's server has no
locking and races under concurrent requests (duplicate sequence numbers, lost updates: see
docs/backends.md), so the embedded server handles one request at a time.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import os
import re
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

from streamsim.aws import servers
from streamsim.aws.servers import ServerProcess
from streamsim.errors import BackendError

#: The blog's region (its stream ARN is in eu-central-1).
DEFAULT_REGION = "eu-central-1"
ENDPOINT_ENV = "STREAMSIM_ENDPOINT_URL"
REGION_ENV = "STREAMSIM_REGION"
#: Which local server to start when no endpoint is named: LOCAL_SERVERS.
SERVER_ENV = "STREAMSIM_BACKEND"
#: moto in a child process (the default), moto in this process, MiniStack in a child process.
LOCAL_SERVERS = ("moto", "moto-inprocess", "ministack")
#: Dummy credentials for local endpoints: never a real account's keys.
LOCAL_CREDENTIALS = {"aws_access_key_id": "streamsim", "aws_secret_access_key": "streamsim"}
#: Long-term (AKIA) and temporary (ASIA) access key ids of real AWS accounts.
_REAL_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,}$")


@dataclass(frozen=True)
class BackendInfo:
    """What served a run: saved with every result so figures name their backend."""

    name: str
    version: str
    endpoint_url: str
    region: str
    embedded: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend:
    """An endpoint plus the boto3 clients for it. Use as a context manager."""

    def __init__(
        self,
        endpoint_url: str | None,
        region: str,
        info: BackendInfo,
        server: EmbeddedServer | ServerProcess | None = None,
        client_config: Any | None = None,
        allow_remote: bool = False,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.info = info
        self._server = server
        self._client_config = client_config
        self._allow_remote = allow_remote
        #: Called with every new client and its service name (fault injection, recording).
        self.client_hooks: list[Callable[[Any, str], None]] = []
        # One boto3 session makes every client: a new session reads botocore's endpoint and
        # service JSON again (~0.1 s a client, measured; ~0.01 s from one session). A session
        # is not thread-safe, its clients are: clients are made under the lock.
        self._session: Any = None
        self._session_lock = threading.Lock()

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client for ``service`` ("dynamodb", "dynamodbstreams", "sqs") on this endpoint."""
        import boto3
        from botocore.config import Config

        remote = self.endpoint_url is None or not is_loopback_url(self.endpoint_url)
        if remote and not self._allow_remote:
            # A Backend made by hand, not by open_backend: the same refusal, before any client.
            check_endpoint_allowed(self.endpoint_url or "aws", allow_remote=False)
        base = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            **config,
        )
        if self._client_config is not None:
            base = base.merge(self._client_config)
        kwargs: dict[str, Any] = {"region_name": self.region, "config": base}
        if self.endpoint_url is not None:
            kwargs["endpoint_url"] = self.endpoint_url
            if is_loopback_url(self.endpoint_url):
                kwargs.update(LOCAL_CREDENTIALS)
        with self._session_lock:
            if self._session is None:
                self._session = boto3.session.Session()
            client = self._session.client(service, **kwargs)
        for hook in self.client_hooks:
            hook(client, service)
        return client

    def reset(self) -> None:
        """Forget every table, stream and queue (embedded server only)."""
        if self._server is None:
            raise BackendError("reset() is only allowed on the embedded server")
        self._server.reset()

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_backend(
    endpoint_url: str | None = None,
    region: str | None = None,
    *,
    allow_remote: bool = False,
    client_config: Any | None = None,
    server: str | None = None,
) -> Backend:
    """Open the endpoint the user named (argument, then $STREAMSIM_ENDPOINT_URL) or start a
    local server (``server``, then $STREAMSIM_BACKEND, else moto in a child process; see
    ``open_local``).

    A non-loopback endpoint (or ``"aws"`` for AWS's own endpoints) is refused unless
    ``allow_remote`` is set, before any connection is attempted: real AWS is never touched by
    accident.
    """
    endpoint_url = endpoint_url or os.environ.get(ENDPOINT_ENV) or None
    region = check_region(region or os.environ.get(REGION_ENV) or DEFAULT_REGION)
    if endpoint_url is None:
        return open_local(server or os.environ.get(SERVER_ENV) or "moto", region, client_config)
    if server is not None:
        raise BackendError(f"--backend {server} starts its own server: drop --endpoint-url")
    check_endpoint_allowed(endpoint_url, allow_remote)
    if endpoint_url == "aws":
        info = BackendInfo("aws", "live", f"https://dynamodb.{region}.amazonaws.com", region, False)
        return Backend(None, region, info, None, client_config, allow_remote)
    info = BackendInfo(_guess_name(endpoint_url), "unknown", endpoint_url, region, False)
    return Backend(endpoint_url, region, info, None, client_config, allow_remote)


def open_local(kind: str, region: str, client_config: Any | None = None) -> Backend:
    """Start a local server on 127.0.0.1 and a free port, stopped when the Backend closes.

    ``moto`` runs moto's server in a child process (streamsim.aws.servers): the pipeline does not
    share its GIL. ``moto-inprocess`` runs it on a thread of this process (tests that need it).
    ``ministack`` runs MiniStack from its own venv (``make ministack``).
    """
    if kind not in LOCAL_SERVERS:
        raise BackendError(f"unknown backend {kind!r}: choose one of {', '.join(LOCAL_SERVERS)}")
    server: EmbeddedServer | ServerProcess
    if kind == "moto-inprocess":
        server = EmbeddedServer()
        server.start()
        version = _moto_version()
    else:
        server = servers.start_server(kind)
        version = _moto_version() if kind == "moto" else server.version()
    name = "ministack" if kind == "ministack" else "moto"
    info = BackendInfo(name, version, server.endpoint_url, region, True)
    return Backend(server.endpoint_url, region, info, server, client_config)


def check_endpoint_allowed(endpoint_url: str, allow_remote: bool) -> None:
    """Refuse endpoints beyond loopback unless the user opted in (no traffic is sent here).

    An ambiguous URL (one the HTTP client would read differently) is refused even then."""
    if endpoint_url != "aws":
        parsed = urlparse(endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise BackendError(
                f"endpoint URL {endpoint_url!r} is not an http(s) URL "
                "(example: http://127.0.0.1:8000 for DynamoDB Local)"
            )
        endpoint_host(endpoint_url)
    if allow_remote or is_loopback_url(endpoint_url):
        return
    target = "real AWS" if endpoint_url == "aws" else f"the non-local endpoint {endpoint_url}"
    key = real_access_key_id()
    if key is not None:
        # Loopback endpoints get dummy credentials; this one would sign with a real account's.
        target += f" with the credentials of a real AWS account (AWS_ACCESS_KEY_ID {key})"
    raise BackendError(
        f"refusing to use {target}: streamsim only talks to 127.0.0.0/8 or localhost unless "
        "you pass --allow-remote (it creates tables and writes data)"
    )


def endpoint_host(endpoint_url: str) -> str:
    """The host botocore will connect to, read as its HTTP client (urllib3) reads the URL.

    botocore hands the endpoint URL to urllib3, whose ``parse_url`` can disagree with
    ``urllib.parse``: for ``http://evil.example\\@127.0.0.1:8000`` urllib.parse says
    127.0.0.1 and urllib3 connects to evil.example. Anything where the two could disagree
    (user info, a backslash, whitespace or control characters) or where they do disagree is
    refused as ambiguous (BackendError)."""
    from urllib3.util import parse_url

    bad = [c for c in endpoint_url if c in "@\\" or ord(c) <= 32 or ord(c) == 127]
    try:
        ours = urlparse(endpoint_url).hostname
        theirs = parse_url(endpoint_url).host
    except ValueError:
        ours = theirs = None
    theirs = theirs.strip("[]").lower() if theirs else None
    if bad or ours is None or theirs != ours.lower():
        raise BackendError(
            f"endpoint URL {endpoint_url!r} is ambiguous (the HTTP client would connect to "
            f"{theirs or 'an unclear host'}): give a plain http://HOST:PORT without user info, "
            "backslashes or spaces"
        )
    return ours


def real_access_key_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The masked AWS_ACCESS_KEY_ID when it looks like a real account's (AKIA…/ASIA…), else None."""
    value = (os.environ if environ is None else environ).get("AWS_ACCESS_KEY_ID", "").strip()
    if not _REAL_KEY_ID.match(value):
        return None
    return f"{value[:4]}…{value[-4:]}"


def is_loopback_url(endpoint_url: str) -> bool:
    """True for http(s) URLs whose host, as the HTTP client reads it, is localhost, 127.0.0.0/8
    or ::1 (no DNS lookup); False for ambiguous URLs (see ``endpoint_host``)."""
    try:
        host = endpoint_host(endpoint_url)
    except BackendError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_region(region: str) -> str:
    """The region if botocore knows it for DynamoDB (AWS's partitions), else BackendError."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", region or ""):
        raise BackendError(
            f"region {region!r} is malformed (AWS regions look like eu-central-1, us-east-1)"
        )
    # botocore's own endpoint data, read without a session (no profile, no credentials).
    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    known = {
        r
        for partition in resolver.get_available_partitions()
        for r in resolver.get_available_endpoints("dynamodb", partition)
    }
    if region not in known:
        raise BackendError(f"region {region!r} is not an AWS region that has DynamoDB")
    return region


def probe_endpoint(endpoint_url: str, timeout: float = 2.0) -> None:
    """BackendError if nothing accepts connections at a loopback endpoint (checked before any
    work; never called for remote endpoints: nothing is sent beyond this machine unasked)."""
    import socket

    if not is_loopback_url(endpoint_url):
        return
    parsed = urlparse(endpoint_url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", port), timeout=timeout):
            pass
    except OSError as exc:
        raise BackendError(
            f"nothing listens at {endpoint_url} ({exc.strerror or exc}): start DynamoDB Local, "
            "LocalStack or 'streamsim serve' there, or leave --endpoint-url out to embed moto"
        ) from None


def handler_environment(backend: Backend, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a handler run by the workbench sees: the workbench's endpoint for every
    service (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, honoured by boto3 and by the badge
    handler), and for a local endpoint dummy credentials with no session token or profile, so
    a handler's own boto3 client can never sign towards real AWS with real keys."""
    env = dict(environ)
    env.pop("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", None)
    if backend.endpoint_url is None:  # real AWS, opted into with --allow-remote
        return env
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    ):
        env[name] = backend.endpoint_url
    env[ENDPOINT_ENV] = backend.endpoint_url
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = backend.region
    if is_loopback_url(backend.endpoint_url):
        for name in (
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
        ):
            env.pop(name, None)
        env["AWS_ACCESS_KEY_ID"] = LOCAL_CREDENTIALS["aws_access_key_id"]
        env["AWS_SECRET_ACCESS_KEY"] = LOCAL_CREDENTIALS["aws_secret_access_key"]
        env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = os.devnull
    return env


def _guess_name(endpoint_url: str) -> str:
    port = urlparse(endpoint_url).port
    return {8000: "dynamodb-local?", 4566: "localstack?"}.get(port or 0, "external")


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


class EmbeddedServer:
    """moto's ThreadedMotoServer on 127.0.0.1, serialised: one request at a time.

    Serialising is what made moto's stream free of duplicate sequence numbers and lost updates
    under concurrent writers (measured: docs/backends.md). All servers in one process share
    moto's in-memory state.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        wrap: Callable[[Any], Any] | None = None,
        keep_alive: bool = True,
    ) -> None:
        if not is_loopback_url(f"http://{host}"):
            raise BackendError(f"the embedded server binds to loopback only, not {host}")
        self._host = host
        self._port = port
        #: Wraps moto's app inside the lock (servechild's debug profiler: serverprofile.py).
        self._wrap = wrap
        #: HTTP/1.1 persistent connections (streamsim.aws.keepalive); werkzeug closes each one.
        self._keep_alive = keep_alive
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise BackendError("the embedded server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def bound_address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        # werkzeug logs one line per request unless silenced before the first request.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from streamsim.aws.keepalive import keep_alive_handler

        handler = keep_alive_handler(MotoRequestHandler) if self._keep_alive else MotoRequestHandler
        inner = DomainDispatcherApplication(create_backend_app)
        app = _SerialisedApp(self._wrap(inner) if self._wrap is not None else inner)
        said = io.StringIO()  # werkzeug prints a bind failure and exits: one line instead
        try:
            with contextlib.redirect_stderr(said):
                self._server = make_server(
                    self._host, self._port, app, threaded=True, request_handler=handler
                )
        except (OSError, SystemExit) as exc:
            reason = " ".join(said.getvalue().split()) or str(exc)
            raise BackendError(
                f"cannot start the embedded server on {self._host}:{self._port}: {reason}"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="streamsim-moto", daemon=True
        )
        self._thread.start()

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            response.read()

    def stop(self) -> None:
        if self._server is not None:
            from streamsim.aws.keepalive import close_connections

            self._server.shutdown()
            self._server.server_close()
            close_connections(self._server)  # kept-alive connections end with the server
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def serve_forever(self) -> None:
        """Block until interrupted (for ``streamsim serve``)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()


class _SerialisedApp:
    """WSGI middleware: run the wrapped app for one request at a time, body included."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            result = self._app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return _once(body)


def _once(body: bytes) -> Iterator[bytes]:
    yield body
