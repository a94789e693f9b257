"""A real HTTP webhook receiver on loopback (a threaded ``http.server``): records every
request's method, path, headers and exact body; ``answers`` scripts the replies; ``stop`` and
``start`` take it down (connection refused) and bring it back on the same port."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: ``answers`` item that holds the reply until ``release`` (a receiver slower than the timeout).
HANG = "hang"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the timeout test) breaks the pipe; nothing to report."""


class WebhookReceiver:
    def __init__(self) -> None:
        self.answers: list[int | str] = []
        #: The answer once ``answers`` is used up.
        self.default = 200
        self.requests: list[Request] = []
        self.release = threading.Event()
        #: Runs in the server's thread before each answer (something that happens meanwhile).
        self.on_request: Callable[[Request], None] | None = None
        self.port = 0
        #: Serve HTTPS with this context (``start``); the SNI names clients sent land in ``sni``.
        self.tls: ssl.SSLContext | None = None
        self.sni: list[str | None] = []
        self._lock = threading.Lock()
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hooks/missive?token=abc", *, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def ids(self) -> list[str]:
        with self._lock:
            return [r.headers["webhook-id"] for r in self.requests]

    def start(self) -> None:
        """Listen on ``port`` (a free one the first time)."""
        self._server = _QuietServer(("127.0.0.1", self.port), self._handler_class())
        self.port = self._server.server_address[1]
        if self.tls is not None:
            self.tls.sni_callback = lambda _socket, name, _context: self.sni.append(name)
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket: connections are refused until ``start``."""
        if self._server is None:
            return
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self.release.clear()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = Request(handler.command, handler.path, headers, handler.rfile.read(length))
        with self._lock:
            self.requests.append(request)
            answer = self.answers.pop(0) if self.answers else self.default
        if self.on_request is not None:
            self.on_request(request)
        if answer == HANG:
            self.release.wait(10)
            answer = 200
        assert isinstance(answer, int)
        handler.send_response(answer)
        if 300 <= answer < 400:
            handler.send_header("Location", self.url("/elsewhere"))
        handler.send_header("Content-Length", "2")
        # One request per connection: a stopped receiver must refuse, not serve a kept-alive one.
        handler.send_header("Connection", "close")
        handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(b"ok")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._answer(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    recorder = WebhookReceiver()
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()
