"""HTTP/1.1 keep-alive for the embedded moto server (werkzeug closes every connection).

werkzeug's development server answers every request with ``Connection: close`` and then drains
the socket for 10 ms, so each boto3 request paid a new TCP connection on both sides (measured:
docs/backends.md, "Where the live pipeline's time goes"). This request handler serves the plain
requests botocore sends (a ``Content-Length`` body, no ``Expect`` or ``Transfer-Encoding``,
no upgrade) on a persistent connection: it reads exactly the body, runs the WSGI app, and
answers with a ``Content-Length``, so the next request on the socket is never read by mistake.
Anything else goes to werkzeug's own handling, which answers and closes the connection.
"""

from __future__ import annotations

import io
import socket
import threading
from typing import Any

#: An idle persistent connection is closed after this long (the client reconnects).
IDLE_TIMEOUT_SECONDS = 300.0
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


def close_connections(server: Any) -> None:
    """Shut every open persistent connection of ``server`` (after ``shutdown``): a client's
    pooled connection must not keep talking to a stopped server."""
    open_now = getattr(server, "_streamsim_connections", None)
    if not open_now:
        return
    with server._streamsim_lock:
        connections = list(open_now)
    for connection in connections:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def keep_alive_handler(base: type[Any]) -> type[Any]:
    """A subclass of werkzeug's ``WSGIRequestHandler`` ``base`` that keeps connections open."""

    class KeepAliveRequestHandler(base):  # type: ignore[misc,valid-type]
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT_SECONDS
        # Headers and body go out as two writes: without TCP_NODELAY the second waits for the
        # client's delayed ACK (~40 ms a request, measured), which Connection: close hid.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            if not hasattr(self.server, "_streamsim_connections"):
                self.server._streamsim_lock = threading.Lock()
                self.server._streamsim_connections = set()
            with self.server._streamsim_lock:
                self.server._streamsim_connections.add(self.connection)

        def finish(self) -> None:
            with self.server._streamsim_lock:
                self.server._streamsim_connections.discard(self.connection)
            super().finish()

        def run_wsgi(self) -> None:
            length = self.headers.get("Content-Length", "0").strip() or "0"
            plain = (
                length.isdigit()
                and "Expect" not in self.headers
                and "Transfer-Encoding" not in self.headers
                and "Upgrade" not in self.headers
            )
            if not plain:
                self.close_connection = True
                super().run_wsgi()  # werkzeug answers with Connection: close
                return
            environ = self.environ = self.make_environ()
            body = self.rfile.read(int(length)) if int(length) else b""
            if len(body) < int(length):  # the client went away mid-body
                self.close_connection = True
                return
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            answer: dict[str, Any] = {}
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
                answer["status"], answer["headers"] = status, headers
                return chunks.append

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            except Exception as exc:  # the app failed: 500 and close, as werkzeug does
                self.server.log("error", f"Error on request: {exc!r}")
                answer = {"status": "500 INTERNAL SERVER ERROR", "headers": []}
                chunks = [b"Internal Server Error"]
                self.close_connection = True
            payload = b"".join(chunks)
            code, _, reason = str(answer["status"]).partition(" ")
            self.send_response(int(code), reason)
            for name, value in answer["headers"]:
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:  # the client asked to close (or an error above)
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)
            self.wfile.flush()

    return KeepAliveRequestHandler
