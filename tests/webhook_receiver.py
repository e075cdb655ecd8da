"""A real HTTP receiver for webhook tests: a threaded server on a free loopback port that
records every request and answers with the statuses (and delays) a test lines up.
This module holds no tests."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the server got, and what it will answer next (default 204 at once)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: deque[tuple[int, float]] = field(default_factory=deque)
    default: tuple[int, float] = (204, 0.0)

    def answer(self, *answers: tuple[int, float]) -> None:
        self.answers.extend(answers)

    def verified(self, secret: str, index: int = -1) -> object:
        """The payload of request `index` as standardwebhooks' own verifier accepts it."""
        request = self.requests[index]
        return Webhook(secret).verify(request.body, request.headers)


@contextmanager
def running_receiver(path: str = "/hooks") -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, delay = receiver.answers.popleft() if receiver.answers else receiver.default
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender gave up (timed out) and closed the connection
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
