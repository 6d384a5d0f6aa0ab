"""A loopback HTTP server whose answers are scripted per path, for tests of the client against faulty servers.

Steps are played in order for each path, the last one repeating; `seen` records every request.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gap_replay.http import PoliteClient

USER_AGENT = "testbot/1.0 (+mailto:corpus@example.org)"

Step = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    at: float


@dataclass
class ScriptedServer:
    """A loopback server whose answers are scripted per path: steps are played in order, the last one repeats."""

    base: str = ""
    routes: dict[str, list[Step]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def route(self, path: str, *steps: Step) -> str:
        self.routes[path] = list(steps)
        return self.base + path

    def hits(self, path: str) -> list[Seen]:
        return [request for request in self.seen if request.path == path]


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Step:
    def step(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return step


def stall(seconds: float) -> Step:
    """Answer only after `seconds` (cut short when the server stops), i.e. later than a short client timeout."""

    def step(handler: BaseHTTPRequestHandler) -> None:
        handler.server.script.stop.wait(seconds)
        reply(200, b"late")(handler)

    return step


def drop_midway(body: bytes, etag: str = '"v1"') -> Step:
    """Promise the whole body, send half of it, then hang up."""

    def step(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True

    return step


def ranged(body: bytes, etag: str = '"v1"', honour_if_range: bool = True) -> Step:
    """Serve `body` as version `etag`, honouring `Range: bytes=N-` with a 206 like a real file server, unless an
    `If-Range` names another version (then the whole file, 200); `honour_if_range=False` is a server that ignores it."""

    def step(handler: BaseHTTPRequestHandler) -> None:
        wanted = handler.headers.get("Range")
        condition = handler.headers.get("If-Range")
        if not wanted or (honour_if_range and condition is not None and condition != etag):
            reply(200, body, {"ETag": etag})(handler)
            return
        start = int(wanted.removeprefix("bytes=").rstrip("-"))
        headers = {"ETag": etag, "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        reply(206, body[start:], headers)(handler)

    return step


def drip(body: bytes, every: float, size: int = 1) -> Step:
    """Send `body` `size` bytes at a time, one piece every `every` seconds (cut short when the server stops)."""

    def step(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for start in range(0, len(body), size):
            if handler.server.script.stop.wait(every):
                return
            try:
                handler.wfile.write(body[start : start + size])
                handler.wfile.flush()
            except OSError:  # the client gave up on us
                return

    return step


def endless(piece: bytes) -> Step:
    """A body with no declared length that never ends: `piece` again and again until the client hangs up."""

    def step(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        while not handler.server.script.stop.is_set():
            try:
                handler.wfile.write(piece)
            except OSError:
                return

    return step


def redirect(location: str, status: int = 302) -> Step:
    return reply(status, b"", {"Location": location})


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        script = self.server.script
        script.seen.append(Seen(self.path, dict(self.headers), time.monotonic()))
        steps = script.routes.get(self.path)
        if not steps:
            reply(404, b"not found")(self)
            return
        (steps.pop(0) if len(steps) > 1 else steps[0])(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextlib.contextmanager
def running() -> Iterator[ScriptedServer]:
    """A scripted server on a loopback port for the duration of the block."""
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.script = ScriptedServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.script
    finally:
        httpd.script.stop.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with running() as script:
        yield script


@pytest.fixture
def client() -> Iterator[Callable[..., PoliteClient]]:
    made: list[PoliteClient] = []

    def make(**options: object) -> PoliteClient:
        settings = {"delay": 0.0, "retries": 2, "backoff": 0.01, "timeout": 5.0, **options}
        made.append(PoliteClient(USER_AGENT, **settings))
        return made[-1]

    yield make
    for each in made:
        each.close()
