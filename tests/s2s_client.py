"""Signs S2S requests the way a merchant's store would, from the documented format only
(it deliberately does not reuse server code, so a change to the format breaks the tests).

    headers = sign_request(key_id=k, secret=s, method="POST", path="/admin/v1/s2s/ping",
                           body=b"{}")
    response = await s2s_post(api, "/admin/v1/s2s/ping", key_id=k, secret=s, json_body={})
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from server import clock


def sign_request(
    *,
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four X-Fenxiao-* headers for one request (timestamp defaults to server.clock)."""
    timestamp = int(clock.now().timestamp()) if timestamp is None else timestamp
    nonce = secrets.token_hex(16) if nonce is None else nonce
    message = f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n".encode() + body
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        "X-Fenxiao-Key": key_id,
        "X-Fenxiao-Timestamp": str(timestamp),
        "X-Fenxiao-Nonce": nonce,
        "X-Fenxiao-Signature": signature,
    }


def encode_json(json_body: Any) -> bytes:
    """The exact bytes sent (and signed) for a JSON body."""
    return json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()


async def s2s_post(
    api: Any,
    path: str,
    *,
    key_id: str,
    secret: str,
    json_body: Any,
    timestamp: int | None = None,
    nonce: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Any:
    """POST `json_body` to `path` through the `api` fixture, signed with the key."""
    body = encode_json(json_body)
    headers = sign_request(
        key_id=key_id,
        secret=secret,
        method="POST",
        path=path,
        body=body,
        timestamp=timestamp,
        nonce=nonce,
    )
    headers["content-type"] = "application/json"
    headers.update(extra_headers or {})
    return await api.post(path, content=body, headers=headers)


async def s2s_get(api: Any, path: str, *, key_id: str, secret: str) -> Any:
    """GET `path` through the `api` fixture, signed with the key (an empty body)."""
    headers = sign_request(key_id=key_id, secret=secret, method="GET", path=path, body=b"")
    return await api.get(path, headers=headers)
