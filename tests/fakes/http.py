"""A real HTTP server on 127.0.0.1 for tests, with scripted routes.

The official LLM clients (openai, anthropic, ollama) talk to it over real sockets, so
tests exercise their wire formats without monkeypatching anything. Each test starts
its own server on a free port and stops it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or hung server)


Handler = Callable[[dict[str, Any]], Reply]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeServer:
    """Routes ``(method, path)`` to handlers; records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        # typeshed allows bytes here (other address families); an AF_INET server's
        # host is text, and a URL needs the name itself, never its b'...' repr
        if isinstance(host, bytes | bytearray):
            host = host.decode("ascii")
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on loopback

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                path = self.path.split("?")[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.requests.append(Request(self.command, path, headers, body))
                handler = owner.routes.get((self.command, path))
                reply = (
                    handler(body if isinstance(body, dict) else {})
                    if handler
                    else Reply(404, {"error": {"message": f"no route {self.command} {path}"}})
                )
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, dict | list):
                    payload = json.dumps(reply.body).encode()
                    ctype = "application/json"
                elif isinstance(reply.body, bytes):
                    payload, ctype = reply.body, "application/octet-stream"
                else:
                    payload, ctype = str(reply.body or "").encode(), "text/plain"
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.headers.get("content-type", ctype))
                    for k, v in reply.headers.items():
                        if k.lower() != "content-type":
                            self.send_header(k, v)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)


@contextmanager
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer().start()
    try:
        yield server
    finally:
        server.stop()
