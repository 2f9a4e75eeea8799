"""HTTP plumbing only: a threaded HTTP/1.1 keep-alive server with Nagle off, writing each response in a
single send (status line, headers and body), always with Content-Length.

Python's stock handler writes headers and body separately; with Nagle on that costs ~40 ms per response
(delayed ACK), which would make the simulator the bottleneck of every benchmark.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from .http_types import Response


class App(Protocol):
    def handle(self, method: str, target: str, headers, body: bytes) -> Response | None: ...
    def http_date(self) -> str: ...


_REASONS = {s.value: s.phrase for s in HTTPStatus}


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        resp = self.server.app.handle(method, self.path, self.headers, body)
        if resp is None:  # "drop": close without answering
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        declared = resp.declared_length if resp.declared_length is not None else len(resp.body)
        lines = [
            f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
            f"Date: {self.server.app.http_date()}",
            "Server: harvest-simulator",
        ]
        if resp.content_type:
            lines.append(f"Content-Type: {resp.content_type}")
        lines.append(f"Content-Length: {declared}")
        lines.extend(f"{k}: {v}" for k, v in resp.headers)
        if declared != len(resp.body):
            self.close_connection = True
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + resp.body if method != "HEAD" else head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")


class SimServer(ThreadingHTTPServer):
    """One thread per connection; tracks open connections so ``stop`` can close keep-alive clients."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, SimHandler)

    def process_request_thread(self, request, client_address) -> None:
        with self._conns_lock:
            self._conns.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.discard(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class ServerThread:
    """Runs a SimServer in a daemon thread."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = SimServer((host, port), app)
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"harvest-sim:{self.port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()
        self._thread.join(timeout=5)
