"""The body size limit is the HTTP server's (Sanic's REQUEST_MAX_SIZE, checked against the
Content-Length before the handler runs), which the in-process ASGI client bypasses: these
requests go to the real server process, to every operation that takes a body.

The server answers 413 as soon as it reads the headers and closes the connection, so a
client still uploading the body may see a reset instead: the requests here announce the
oversized length in the headers, send no body and read the answer."""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.test_server_process import (  # noqa: F401  (the real-process fixture)
    ADMIN_PASSWORD,
    RunningServer,
    server,
)
from tests.fuzz.test_openapi_fuzz import OVERSIZED_BODY, error_shape_problem

pytestmark = pytest.mark.e2e


def _oversized_request(base_url: str, method: str, path: str, token: str) -> tuple[int, bytes]:
    """(status, body) of `method path` announcing OVERSIZED_BODY's length."""
    url = urlsplit(base_url)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(OVERSIZED_BODY)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _body_operations(http: httpx.Client, surface: str) -> list[tuple[str, str]]:
    spec = http.get(f"/{surface}/v1/openapi.json").json()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and method in ("post", "put", "patch")
    ]


def test_a_body_over_the_size_limit_gets_413_in_the_error_shape_on_every_operation(
    server: RunningServer,  # noqa: F811  (the imported fixture)
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        login = http.post(
            "/admin/v1/auth/login", json={"username": "root", "password": ADMIN_PASSWORD}
        )
        token = login.json()["access_token"]
        operations = [op for surface in ("mp", "admin") for op in _body_operations(http, surface)]
    answers = {
        f"{method} {path}": _oversized_request(server.base_url, method, path, token)
        for method, path in operations
    }
    wrong = {
        request: (status, body[:200])
        for request, (status, body) in answers.items()
        if status != 413
        or error_shape_problem(body)
        or json.loads(body)["error"]["code"] != "payload_too_large"
    }
    assert len(answers) > 40
    assert not wrong, wrong
