"""Per-program S2S API keys: create, rotate, revoke, list; secrets shown once and stored
Fernet-encrypted.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.access.scopes import WRITE_SCOPES, parse_scopes, stored_scopes
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.programs.settings import ProgramStatus
from server.models import ApiKey, Program
from server.services.access.audit import record_action
from server.services.access.sealing import cipher

log = logging.getLogger("fenxiao.s2s")

KEY_ID_PREFIX = "fxk_"
SECRET_PREFIX = "fxs_"
MAX_KEY_NAME_LENGTH = 64
KEY_STATUSES = ("active", "revoked")


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly created key and its secret, which is never retrievable again."""

    api_key: ApiKey
    secret: str


def _encrypt(settings: Settings, secret: str) -> str:
    return cipher(settings.s2s_key_encryption_key).encrypt(secret.encode("utf-8")).decode()


def decrypt_secret(settings: Settings, api_key: ApiKey) -> str | None:
    """The key's secret, or None when no configured encryption key opens it (logged)."""
    try:
        plain = cipher(settings.s2s_key_encryption_key).decrypt(api_key.secret_encrypted.encode())
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
    scopes: tuple[str, ...],
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
        scopes=" ".join(scopes),
        secret_encrypted=_encrypt(settings, secret),
        rotated_from=rotated_from,
        created_by_staff_id=actor.id if actor.kind == "staff" else None,
        using_db=conn,
    )
    details: dict[str, Any] = {"key_id": api_key.key_id, "name": name, "scopes": list(scopes)}
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
    scopes: list[str] | None = None,
    request_id: str | None = None,
) -> IssuedApiKey:
    """Create an S2S key for an active program; its secret is returned this once (audited)."""
    name = _check_name(name)
    # No scopes named: what every key could do before keys had scopes (the store's writes).
    granted = WRITE_SCOPES if scopes is None else parse_scopes(scopes)
    async with in_transaction() as conn:
        program = await _active_program(program_id, conn)
        issued = await _insert_key(
            program=program,
            name=name,
            scopes=granted,
            rotated_from=None,
            actor=actor,
            settings=settings,
            request_id=request_id,
            conn=conn,
        )
    return issued


async def issued_again(*, api_key_id: int, settings: Settings) -> IssuedApiKey:
    """A key created by a replayed request, with its secret: the first answer may be lost."""
    api_key = await ApiKey.get(id=api_key_id)
    secret = decrypt_secret(settings, api_key)
    if secret is None:
        raise Conflict("this key's secret cannot be read: rotate it", code="api_key_unreadable")
    return IssuedApiKey(api_key=api_key, secret=secret)


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
            scopes=stored_scopes(old.scopes),
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


def serialize_api_key(api_key: ApiKey) -> dict[str, Any]:
    """A key as admins see it: never its secret."""
    return {
        "id": api_key.id,
        "key_id": api_key.key_id,
        "program_id": api_key.program_id,
        "name": api_key.name,
        "scopes": list(stored_scopes(api_key.scopes)),
        "status": "revoked" if api_key.revoked_at else "active",
        "rotated_from": api_key.rotated_from,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
        "revoked_at": api_key.revoked_at,
    }


def serialize_issued_api_key(issued: IssuedApiKey) -> dict[str, Any]:
    """A key with its secret: only its creation (or a replay of it) answers with it."""
    return {**serialize_api_key(issued.api_key), "secret": issued.secret}


def serialize_api_key_page(api_keys: list[ApiKey], *, limit: int) -> dict[str, Any]:
    return {
        "items": [serialize_api_key(api_key) for api_key in api_keys],
        "next_cursor": next_cursor([row.id for row in api_keys], limit),
    }
