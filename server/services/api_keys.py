"""Per-program S2S API keys (create, rotate, revoke, list) and signed-request verification.

A key's secret is shown once, when the key is created or rotated in; it is stored
Fernet-encrypted with S2S_KEY_ENCRYPTION_KEY (the first of a comma-separated list encrypts,
any decrypts, so that key can itself be rotated). Rotation creates a new key for the same
program and name; the old one keeps working until it is revoked, so a store can switch over
without downtime. Revoking is idempotent.
"""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.db import connection
from server.domain.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.program_rules import ProgramStatus
from server.domain.signatures import (
    S2SCaller,
    SignedHeaders,
    UnspentNonce,
    canonical_message,
    check_replay_window,
    compute_signature,
    signature_matches,
)
from server.models import ApiKey, Program, S2SNonce
from server.services.audit import record_action
from server.services.ledger import sql_write

log = logging.getLogger("fenxiao.s2s")

KEY_ID_PREFIX = "fxk_"
SECRET_PREFIX = "fxs_"
MAX_KEY_NAME_LENGTH = 64
KEY_STATUSES = ("active", "revoked")
# last_used_at is a hint for admins, not an audit trail: writing it on every request would
# make the key's row a hot spot under load.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly created key and its secret, which is never retrievable again."""

    api_key: ApiKey
    secret: str


@functools.lru_cache(maxsize=8)
def _cipher(encryption_keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip()) for key in encryption_keys.split(",") if key.strip()])


def _encrypt(settings: Settings, secret: str) -> str:
    return _cipher(settings.s2s_key_encryption_key).encrypt(secret.encode("utf-8")).decode()


def _decrypt(settings: Settings, api_key: ApiKey) -> str | None:
    try:
        plain = _cipher(settings.s2s_key_encryption_key).decrypt(api_key.secret_encrypted.encode())
    except InvalidToken:
        log.warning(
            "API key %s cannot be decrypted: S2S_KEY_ENCRYPTION_KEY changed?", api_key.key_id
        )
        return None
    return plain.decode("utf-8")


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_KEY_NAME_LENGTH:
        raise ValidationFailed(
            "invalid key name",
            code="invalid_key_name",
            fields={"name": f"1..{MAX_KEY_NAME_LENGTH} characters"},
        )
    return name


async def _active_program(program_id: int, conn: BaseDBAsyncClient) -> Program:
    program = await Program.filter(id=program_id).using_db(conn).first()
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    if program.status != ProgramStatus.ACTIVE:
        raise Conflict("an archived program cannot be changed", code="program_archived")
    return program


async def _locked_key(program_id: int, key_id: str, conn: BaseDBAsyncClient) -> ApiKey:
    api_key = (
        await ApiKey.filter(key_id=key_id, program_id=program_id)
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if api_key is None:
        raise NotFound("no such API key in this program", code="api_key_not_found")
    return api_key


async def _insert_key(
    *,
    program: Program,
    name: str,
    rotated_from: str | None,
    actor: Principal,
    settings: Settings,
    request_id: str | None,
    conn: BaseDBAsyncClient,
) -> IssuedApiKey:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    api_key = await ApiKey.create(
        program_id=program.id,
        key_id=KEY_ID_PREFIX + secrets.token_hex(12),
        name=name,
        secret_encrypted=_encrypt(settings, secret),
        rotated_from=rotated_from,
        created_by_staff_id=actor.id if actor.kind == "staff" else None,
        using_db=conn,
    )
    details: dict[str, Any] = {"key_id": api_key.key_id, "name": name}
    if rotated_from:
        details["rotated_from"] = rotated_from
    await record_action(
        actor=actor,
        action="api_key.rotate" if rotated_from else "api_key.create",
        target_kind="api_key",
        target_id=api_key.id,
        program_id=program.id,
        details=details,
        request_id=request_id,
        using_db=conn,
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


async def create_api_key(
    *,
    program_id: int,
    name: str,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> IssuedApiKey:
    """Create an S2S key for an active program; its secret is returned this once (audited)."""
    name = _check_name(name)
    async with in_transaction() as conn:
        program = await _active_program(program_id, conn)
        issued = await _insert_key(
            program=program,
            name=name,
            rotated_from=None,
            actor=actor,
            settings=settings,
            request_id=request_id,
            conn=conn,
        )
    return issued


async def rotate_api_key(
    *,
    program_id: int,
    key_id: str,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> IssuedApiKey:
    """Issue a replacement for a live key; the old key keeps working until revoked (audited)."""
    async with in_transaction() as conn:
        program = await _active_program(program_id, conn)
        old = await _locked_key(program_id, key_id, conn)
        if old.revoked_at is not None:
            raise Conflict("a revoked key cannot be rotated", code="api_key_revoked")
        issued = await _insert_key(
            program=program,
            name=old.name,
            rotated_from=old.key_id,
            actor=actor,
            settings=settings,
            request_id=request_id,
            conn=conn,
        )
    return issued


async def revoke_api_key(
    *, program_id: int, key_id: str, actor: Principal, request_id: str | None = None
) -> ApiKey:
    """Revoke a key at once; revoking a revoked key changes nothing (audited once)."""
    async with in_transaction() as conn:
        api_key = await _locked_key(program_id, key_id, conn)
        if api_key.revoked_at is not None:
            return api_key
        api_key.revoked_at = clock.now()
        await api_key.save(using_db=conn, update_fields=["revoked_at"])
        await record_action(
            actor=actor,
            action="api_key.revoke",
            target_kind="api_key",
            target_id=api_key.id,
            program_id=program_id,
            details={"key_id": api_key.key_id, "name": api_key.name},
            request_id=request_id,
            using_db=conn,
        )
    return api_key


async def list_api_keys(
    *, program_id: int, status: str | None = None, cursor: int | None = None, limit: int = 50
) -> list[ApiKey]:
    """A program's keys in id order (never their secrets); `cursor` is the last id."""
    check_page_limit(limit)
    if status is not None and status not in KEY_STATUSES:
        raise ValidationFailed(
            "unknown key status", code="invalid_status", fields={"status": "active | revoked"}
        )
    if not await Program.exists(id=program_id):
        raise NotFound("no such program", code="program_not_found")
    query = ApiKey.filter(program_id=program_id)
    if status == "active":
        query = query.filter(revoked_at__isnull=True)
    elif status == "revoked":
        query = query.filter(revoked_at__isnull=False)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(limit)


@dataclass(frozen=True)
class _KnownKey:
    """What verifying a key's signatures needs; none of it ever changes for a key id."""

    id: int
    key_id: str
    program_id: int
    secret: str


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
    secret = _decrypt(settings, api_key) if api_key and api_key.revoked_at is None else None
    if api_key is None or secret is None:
        return None
    if len(_known_keys) >= MAX_KNOWN_KEYS:
        _known_keys.clear()
    known = _KnownKey(
        id=api_key.id,
        key_id=api_key.key_id,
        program_id=api_key.program_id,  # type: ignore[attr-defined]
        secret=secret,
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


def key_no_longer_live(nonce: UnspentNonce, settings: Settings) -> Unauthorized:
    """The refusal of a key found revoked while spending a nonce; its secret is forgotten."""
    _known_keys.pop((settings.s2s_key_encryption_key, nonce.key_id), None)
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
        raise key_no_longer_live(
            UnspentNonce(api_key_id=known.id, key_id=known.key_id, nonce=headers.nonce), settings
        )


async def authenticate_signed_request(
    *,
    headers: SignedHeaders,
    method: str,
    path: str,
    body: bytes,
    program_id: int | None,
    settings: Settings,
    spend_nonce: bool = True,
) -> S2SCaller:
    """Verify a signed request and spend its nonce (committed before the caller goes on) —
    or, with `spend_nonce` False, hand the nonce to the caller to spend (`unspent_nonce`).

    `program_id` is the program the route names, if any: a key of another program is
    refused (403 s2s_wrong_program). A reused nonce is 409 s2s_replayed. The key's secret is
    kept per worker once read; whether the key is still live is checked by the very
    statement that spends the nonce, so a revocation applies to the next request.
    """
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
    """Delete spent nonces whose request timestamp is before `older_than`; returns the count.

    Pass now − S2S_REPLAY_WINDOW_SECONDS: an older timestamp is refused by the window check
    anyway, so its nonce no longer needs remembering.
    """
    if older_than.tzinfo is None:
        raise ValidationFailed(
            "older_than must carry a timezone",
            code="naive_datetime",
            fields={"older_than": "naive"},
        )
    return await S2SNonce.filter(signed_at__lt=older_than).delete()


def serialize_api_key(api_key: ApiKey) -> dict[str, Any]:
    """A key as admins see it: never its secret."""
    return {
        "id": api_key.id,
        "key_id": api_key.key_id,
        "program_id": api_key.program_id,
        "name": api_key.name,
        "status": "revoked" if api_key.revoked_at else "active",
        "rotated_from": api_key.rotated_from,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
        "revoked_at": api_key.revoked_at,
    }


def serialize_issued_api_key(issued: IssuedApiKey) -> dict[str, Any]:
    """A new key with its secret: the only response that ever carries it."""
    return {**serialize_api_key(issued.api_key), "secret": issued.secret}


def serialize_api_key_page(api_keys: list[ApiKey], *, limit: int) -> dict[str, Any]:
    return {
        "items": [serialize_api_key(api_key) for api_key in api_keys],
        "next_cursor": next_cursor([row.id for row in api_keys], limit),
    }
