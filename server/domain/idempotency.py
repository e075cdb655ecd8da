"""Idempotency keys (IETF draft `Idempotency-Key`): what a key may be, what scopes it, and
the digest that tells a replay from a different request under the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.domain.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 64
# Printable, unambiguous: UUIDs, ULIDs, base64url and `prefix:counter` keys all fit.
_KEY = re.compile(rf"^[A-Za-z0-9_.:+/=~-]{{1,{MAX_KEY_LENGTH}}}$")


def _invalid(detail: str) -> ValidationFailed:
    return ValidationFailed(
        "invalid idempotency key", code="invalid_idempotency_key", fields={HEADER: detail}
    )


def idempotency_key_reused(key: str | None = None) -> Conflict:
    """The 409 for a key whose first use was another request."""
    return Conflict(
        "this idempotency key was used for another request",
        code="idempotency_key_reused",
        fields={HEADER: key} if key else {},
    )


def parse_header_key(raw: str) -> str:
    """The key of an `Idempotency-Key` header (a Structured Field string, quotes optional)."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.fullmatch(value):
        raise _invalid(f"1..{MAX_KEY_LENGTH} characters of A-Z a-z 0-9 _ . : + / = ~ -")
    return value


def resolve_key(header: str | None, body: str | None) -> str | None:
    """The one key of a request that may carry it as a header, a body field, or both."""
    if header is None:
        return body
    key = parse_header_key(header)
    if body is not None and body != key:
        raise ValidationFailed(
            "the Idempotency-Key header and the body's idempotency_key differ",
            code="idempotency_key_mismatch",
            fields={HEADER: "must equal idempotency_key", "idempotency_key": "must equal header"},
        )
    return key


def request_digest(request: Mapping[str, Any]) -> str:
    """SHA-256 of the request as canonical JSON: equal requests, equal digests."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RequestKey:
    """One use of a key: who sent it (principal subject), to which route, for what request."""

    subject: str
    route: str
    key: str
    digest: str

    @property
    def reference(self) -> str:
        """A 64-character name of (caller, route, key) for a record's own unique column."""
        scoped = f"{self.subject}\n{self.route}\n{self.key}"
        return hashlib.sha256(scoped.encode("utf-8")).hexdigest()
