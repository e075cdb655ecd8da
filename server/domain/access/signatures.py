"""Signed server-to-server requests: header checks, the canonical message, its HMAC and the
replay window (format in docs/design/access.md). Pure: the caller gives secret and time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from server.domain.errors import Unauthorized

HEADER_KEY = "X-Fenxiao-Key"
HEADER_TIMESTAMP = "X-Fenxiao-Timestamp"
HEADER_NONCE = "X-Fenxiao-Nonce"
HEADER_SIGNATURE = "X-Fenxiao-Signature"
SIGNED_REQUEST_HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

NONCE_MIN_LENGTH = 16
NONCE_MAX_LENGTH = 64
_NONCE = re.compile(rf"[A-Za-z0-9._~-]{{{NONCE_MIN_LENGTH},{NONCE_MAX_LENGTH}}}")
# Unix seconds: digits only (no sign, no fraction); 12 digits reach past the year 33000.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class UnspentNonce:
    """A verified request's nonce its handler spends itself, in the statement storing it."""

    api_key_id: int
    key_id: str
    nonce: str


@dataclass(frozen=True)
class S2SCaller:
    """Who sent a verified signed request: a program's store, through one of its keys."""

    program_id: int
    key_id: str
    unspent_nonce: UnspentNonce | None = None


@dataclass(frozen=True)
class SignedHeaders:
    """The four signing headers, checked for shape (not yet for authenticity)."""

    key_id: str
    timestamp: int
    timestamp_text: str
    nonce: str
    signature: str


def read_signed_headers(headers: dict[str, str | None]) -> SignedHeaders:
    """Check the four headers are present and well-formed (401 s2s_auth_required / …invalid)."""
    missing = [name for name in SIGNED_REQUEST_HEADERS if not (headers.get(name) or "").strip()]
    if missing:
        raise Unauthorized(
            "a signed server-to-server request is required",
            code="s2s_auth_required",
            fields={name: "required" for name in missing},
        )
    key_id = str(headers[HEADER_KEY]).strip()
    timestamp_text = str(headers[HEADER_TIMESTAMP]).strip()
    nonce = str(headers[HEADER_NONCE]).strip()
    signature = str(headers[HEADER_SIGNATURE]).strip().lower()
    malformed: dict[str, str] = {}
    if not _TIMESTAMP.fullmatch(timestamp_text):
        malformed[HEADER_TIMESTAMP] = "unix time in whole seconds"
    if not _NONCE.fullmatch(nonce):
        malformed[HEADER_NONCE] = (
            f"{NONCE_MIN_LENGTH}-{NONCE_MAX_LENGTH} characters from A-Z a-z 0-9 . _ ~ -"
        )
    if malformed:
        raise Unauthorized("malformed signing headers", code="s2s_header_invalid", fields=malformed)
    if not _KEY_ID.fullmatch(key_id):
        raise Unauthorized("unknown or revoked API key", code="s2s_key_invalid")
    return SignedHeaders(
        key_id=key_id,
        timestamp=int(timestamp_text),
        timestamp_text=timestamp_text,
        nonce=nonce,
        signature=signature,
    )


def canonical_message(*, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> bytes:
    """The exact bytes a signature covers."""
    head = f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n"
    return head.encode("utf-8") + body


def compute_signature(*, secret: str, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `message` keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(*, expected: str, provided: str) -> bool:
    """Constant-time comparison of two hex signatures (case-insensitive on `provided`)."""
    candidate = provided.strip().lower()
    if not _SIGNATURE.fullmatch(candidate):
        return False
    return hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii"))


def within_replay_window(*, timestamp: int, now: int, window_seconds: int) -> bool:
    """True when `timestamp` is at most `window_seconds` before or after `now` (inclusive)."""
    return abs(now - timestamp) <= window_seconds


def check_replay_window(*, timestamp: int, now: int, window_seconds: int) -> None:
    """Refuse a stale or future timestamp (401 s2s_timestamp_out_of_window)."""
    if not within_replay_window(timestamp=timestamp, now=now, window_seconds=window_seconds):
        raise Unauthorized(
            "the request timestamp is too far from the server's time",
            code="s2s_timestamp_out_of_window",
            fields={"server_time": now, "window_seconds": window_seconds},
        )
