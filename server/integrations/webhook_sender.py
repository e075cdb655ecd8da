"""The HTTP side of outgoing webhooks: resolve a host, then POST to an address already checked
(the connection goes to that address, so DNS cannot change its answer in between)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

USER_AGENT = "fenxiao-webhooks/1"
# Only the status line matters; a receiver's answer body is not read past this.
MAX_STATUS_LINE = 1024


class SendFailed(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failure."""


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    duration_ms: int
    error: str | None = None


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself); [] if none."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


def _request(url: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rsplit("@", 1)[-1]
    lines = [
        f"POST {target} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {USER_AGENT}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _exchange(url: str, address: str, port: int, headers: dict[str, str], body: bytes) -> int:
    parts = urlsplit(url)
    tls = ssl.create_default_context() if parts.scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        address, port, ssl=tls, server_hostname=parts.hostname if tls else None
    )
    try:
        writer.write(_request(url, headers, body))
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    fields = status_line[:MAX_STATUS_LINE].decode("latin-1").split()
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise SendFailed("not an HTTP answer")
    return int(fields[1])


async def post(
    url: str,
    *,
    addresses: list[str],
    port: int,
    headers: dict[str, str],
    body: bytes,
    timeout: float,
) -> SendResult:
    """POST `body` to the first of `addresses` that answers, within `timeout` seconds in all."""
    started = time.monotonic()
    error = "no address"
    try:
        async with asyncio.timeout(timeout):
            for address in addresses:
                try:
                    code = await _exchange(url, address, port, headers, body)
                except (OSError, SendFailed, ssl.SSLError) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:255]
                    continue
                return SendResult(code, _elapsed_ms(started))
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    return SendResult(None, _elapsed_ms(started), error)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
