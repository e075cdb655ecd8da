"""Verifying signed S2S requests: the signature, the replay window, the nonce and whether the
key is still live (never cached: checked by the statement that spends the nonce).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from server import clock
from server.config import Settings
from server.db import connection
from server.domain.access.scopes import require_scope, stored_scopes
from server.domain.access.signatures import (
    S2SCaller,
    SignedHeaders,
    UnspentNonce,
    canonical_message,
    check_replay_window,
    compute_signature,
    signature_matches,
)
from server.domain.errors import Conflict, Forbidden, Unauthorized, ValidationFailed
from server.models import ApiKey, S2SNonce
from server.services.access.api_keys import decrypt_secret
from server.services.ledger.postings import sql_write

# last_used_at is a hint for admins, not an audit trail: writing it on every request would
# make the key's row a hot spot under load.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class _KnownKey:
    """What verifying a key's signatures needs; none of it ever changes for a key id."""

    id: int
    key_id: str
    program_id: int
    secret: str
    scopes: tuple[str, ...]


# Per worker: (encryption keys, key id) → the key's decrypted secret and program. Revocation
# is not cached: spending the nonce checks it in the same statement (`_SPEND_NONCE`), on
# every request. Key ids are random, never reused.
_known_keys: dict[tuple[str, str], _KnownKey] = {}
# Per worker: key id → when this worker last wrote the key's last_used_at.
_last_used: dict[str, datetime] = {}
MAX_KNOWN_KEYS = 1024

# Inserts the nonce only while the key is live: 0 rows means the key was revoked.
_SPEND_NONCE = (
    "INSERT INTO s2s_nonces (api_key_id, nonce, signed_at, seen_at)"
    " SELECT id, ?, ?, ? FROM api_keys WHERE id = ? AND revoked_at IS NULL"
)


async def _known_key(key_id: str, settings: Settings) -> _KnownKey | None:
    cache_key = (settings.s2s_key_encryption_key, key_id)
    known = _known_keys.get(cache_key)
    if known is not None:
        return known
    api_key = await ApiKey.get_or_none(key_id=key_id)
    secret = decrypt_secret(settings, api_key) if api_key and api_key.revoked_at is None else None
    if api_key is None or secret is None:
        return None
    if len(_known_keys) >= MAX_KNOWN_KEYS:
        _known_keys.clear()
    known = _KnownKey(
        id=api_key.id,
        key_id=api_key.key_id,
        program_id=api_key.program_id,  # type: ignore[attr-defined]
        secret=secret,
        scopes=stored_scopes(api_key.scopes),
    )
    _known_keys[cache_key] = known
    if api_key.last_used_at is not None:
        _last_used[key_id] = api_key.last_used_at
    return known


def nonce_replayed() -> Conflict:
    """The refusal of a nonce the key already used."""
    return Conflict(
        "this nonce was already used: sign every request with a new nonce", code="s2s_replayed"
    )


def key_no_longer_live(key_id: str, settings: Settings) -> Unauthorized:
    """The refusal of a key found revoked while spending a nonce; its secret is forgotten."""
    _known_keys.pop((settings.s2s_key_encryption_key, key_id), None)
    return Unauthorized("unknown or revoked API key", code="s2s_key_invalid")


async def _spend_nonce(
    known: _KnownKey, headers: SignedHeaders, now: datetime, settings: Settings
) -> None:
    """Record the nonce in its own committed statement, while the key is live."""
    conn = connection()
    fields = S2SNonce._meta.fields_map
    try:
        spent = await sql_write(
            conn,
            _SPEND_NONCE,
            [
                headers.nonce,
                fields["signed_at"].to_db_value(
                    datetime.fromtimestamp(headers.timestamp, UTC), None
                ),
                fields["seen_at"].to_db_value(now, None),
                known.id,
            ],
        )
    except IntegrityError:
        raise nonce_replayed() from None
    if spent == 0:
        raise key_no_longer_live(known.key_id, settings)


async def authenticate_signed_request(
    *,
    headers: SignedHeaders,
    method: str,
    path: str,
    body: bytes,
    program_id: int | None,
    settings: Settings,
    scope: str | None = None,
    spend_nonce: bool = True,
) -> S2SCaller:
    """Verify a signed request and spend its nonce, or hand the nonce to the caller."""
    now = clock.now()
    check_replay_window(
        timestamp=headers.timestamp,
        now=int(now.timestamp()),
        window_seconds=settings.s2s_replay_window_seconds,
    )
    known = await _known_key(headers.key_id, settings)
    if known is None:
        raise Unauthorized("unknown or revoked API key", code="s2s_key_invalid")
    message = canonical_message(
        timestamp=headers.timestamp_text,
        nonce=headers.nonce,
        method=method,
        path=path,
        body=body,
    )
    expected = compute_signature(secret=known.secret, message=message)
    if not signature_matches(expected=expected, provided=headers.signature):
        raise Unauthorized("the signature does not match", code="s2s_signature_invalid")
    if program_id is not None and known.program_id != program_id:
        raise Forbidden("this key belongs to another program", code="s2s_wrong_program")
    if scope is not None:
        require_scope(known.scopes, scope)
    # Its own committed statement: the unique (key, nonce) pair refuses a replay at once, on
    # every worker, even while the first request is still being handled.
    unspent = None
    if spend_nonce:
        await _spend_nonce(known, headers, now, settings)
    else:
        unspent = UnspentNonce(api_key_id=known.id, key_id=known.key_id, nonce=headers.nonce)
    last_used = _last_used.get(known.key_id)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        _last_used[known.key_id] = now
        await ApiKey.filter(id=known.id).update(last_used_at=now)
    return S2SCaller(program_id=known.program_id, key_id=known.key_id, unspent_nonce=unspent)


async def purge_expired_nonces(*, older_than: datetime) -> int:
    """Delete spent nonces whose request timestamp is before `older_than`; the count."""
    # Pass now − the replay window: an older timestamp is refused by the window check anyway.
    if older_than.tzinfo is None:
        raise ValidationFailed(
            "older_than must carry a timezone",
            code="naive_datetime",
            fields={"older_than": "naive"},
        )
    return await S2SNonce.filter(signed_at__lt=older_than).delete()
