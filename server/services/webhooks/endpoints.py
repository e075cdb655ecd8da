"""A program's webhook endpoints: create, change, rotate the secret, disable, enable, delete.
Secrets (`whsec_…`) are shown once and sealed at rest; every change is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.config import Settings
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.webhooks.delivery import (
    DISABLED,
    ENABLED,
    SECRET_BYTES,
    new_secret,
    rotation_grace,
)
from server.domain.webhooks.events import check_event_types
from server.models import Program, WebhookEndpoint
from server.services.access.audit import record_action
from server.services.access.sealing import seal, unseal
from server.services.webhooks.targets import checked_target

MAX_DESCRIPTION_LENGTH = 255


@dataclass(frozen=True)
class IssuedEndpoint:
    """An endpoint with its new secret, which only this answer shows."""

    endpoint: WebhookEndpoint
    secret: str


def endpoint_not_found() -> NotFound:
    return NotFound("no such webhook endpoint in this program", code="webhook_endpoint_not_found")


def live_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its grace."""
    found = [unseal(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        found.append(unseal(endpoint.previous_secret_encrypted))
    return [secret for secret in found if secret]


def _description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed(
            "description too long",
            code="invalid_description",
            fields={"description": f"at most {MAX_DESCRIPTION_LENGTH} characters"},
        )
    return text


async def _audit(
    endpoint: WebhookEndpoint,
    action: str,
    actor: Principal | None,
    conn: BaseDBAsyncClient,
    request_id: str | None,
    **details: Any,
) -> None:
    await record_action(
        actor=actor,
        action=f"webhook_endpoint.{action}",
        target_kind="webhook_endpoint",
        target_id=endpoint.id,
        program_id=endpoint.program_id,  # type: ignore[attr-defined]
        details={"url": endpoint.url, **details},
        request_id=request_id,
        using_db=conn,
    )


async def locked_endpoint(
    *, program_id: int, endpoint_id: int, conn: BaseDBAsyncClient, deleted_ok: bool = False
) -> WebhookEndpoint:
    """The program's endpoint, locked for this transaction; a coded 404, or 409 once deleted."""
    endpoint = (
        await WebhookEndpoint.filter(id=endpoint_id, program_id=program_id)
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if endpoint is None:
        raise endpoint_not_found()
    if endpoint.deleted_at is not None and not deleted_ok:
        raise Conflict("this webhook endpoint was deleted", code="webhook_endpoint_deleted")
    return endpoint


async def create_endpoint(
    *,
    program_id: int,
    url: str,
    event_types: list[str],
    description: str | None,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> IssuedEndpoint:
    """Add an endpoint whose URL passes the SSRF guard; its secret is returned this once."""
    wanted = check_event_types(event_types)
    text = _description(description)
    await checked_target(url, settings=settings)
    secret = new_secret(secrets.token_bytes(SECRET_BYTES))
    async with in_transaction() as conn:
        if not await Program.filter(id=program_id).using_db(conn).exists():
            raise NotFound("no such program", code="program_not_found")
        endpoint = await WebhookEndpoint.create(
            program_id=program_id,
            url=url,
            description=text,
            event_types=wanted,
            secret_encrypted=seal(secret),
            status=ENABLED,
            created_by=actor.id if actor.kind == "staff" else None,
            using_db=conn,
        )
        await _audit(endpoint, "create", actor, conn, request_id, event_types=wanted)
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


async def issued_again(*, endpoint_id: int) -> IssuedEndpoint:
    """An endpoint created by a replayed request, with its secret (the first answer may be lost)."""
    endpoint = await WebhookEndpoint.get(id=endpoint_id)
    secret = unseal(endpoint.secret_encrypted)
    if not secret:
        raise Conflict("this secret cannot be read: rotate it", code="webhook_secret_unreadable")
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


async def list_endpoints(
    *, program_id: int, cursor: int | None = None, limit: int = 50
) -> list[WebhookEndpoint]:
    """A program's endpoints in id order (never their secrets); `cursor` is the last id."""
    check_page_limit(limit)
    if not await Program.exists(id=program_id):
        raise NotFound("no such program", code="program_not_found")
    query = WebhookEndpoint.filter(program_id=program_id, deleted_at=None)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    return await query.order_by("id").limit(limit)


async def get_endpoint(*, program_id: int, endpoint_id: int) -> WebhookEndpoint:
    """One of the program's endpoints (a deleted one too, saying so), or a coded 404."""
    endpoint = await WebhookEndpoint.filter(id=endpoint_id, program_id=program_id).first()
    if endpoint is None:
        raise endpoint_not_found()
    return endpoint


async def update_endpoint(
    *,
    program_id: int,
    endpoint_id: int,
    url: str | None,
    event_types: list[str] | None,
    description: str | None,
    actor: Principal,
    settings: Settings,
    request_id: str | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL (SSRF-checked again), event types or description (audited)."""
    wanted = check_event_types(event_types) if event_types is not None else None
    text = _description(description) if description is not None else None
    if url is not None:
        await checked_target(url, settings=settings)
    async with in_transaction() as conn:
        endpoint = await locked_endpoint(program_id=program_id, endpoint_id=endpoint_id, conn=conn)
        changed: dict[str, Any] = {}
        if url is not None and url != endpoint.url:
            changed["url"] = endpoint.url = url
        if wanted is not None and wanted != endpoint.event_types:
            changed["event_types"] = endpoint.event_types = wanted
        if text is not None and text != endpoint.description:
            changed["description"] = endpoint.description = text
        if changed:
            await endpoint.save(using_db=conn)
            await _audit(endpoint, "update", actor, conn, request_id, changed=sorted(changed))
    return endpoint


async def rotate_secret(
    *,
    program_id: int,
    endpoint_id: int,
    grace_seconds: int | None,
    actor: Principal,
    request_id: str | None = None,
) -> IssuedEndpoint:
    """A new secret (shown once); the old one keeps signing beside it during the grace."""
    grace = rotation_grace(grace_seconds)
    secret = new_secret(secrets.token_bytes(SECRET_BYTES))
    async with in_transaction() as conn:
        endpoint = await locked_endpoint(program_id=program_id, endpoint_id=endpoint_id, conn=conn)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted if grace else None
        endpoint.previous_secret_expires_at = clock.now() + grace if grace else None
        endpoint.secret_encrypted = seal(secret)  # type: ignore[assignment]
        await endpoint.save(using_db=conn)
        expires = endpoint.previous_secret_expires_at
        await _audit(
            endpoint,
            "rotate",
            actor,
            conn,
            request_id,
            previous_secret_expires_at=expires.isoformat() if expires else None,
        )
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


async def set_endpoint_status(
    *,
    program_id: int,
    endpoint_id: int,
    enabled: bool,
    reason: str | None,
    actor: Principal | None,
    request_id: str | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> WebhookEndpoint:
    """Disable (with a reason) or enable an endpoint; enabling forgets its failure streak."""
    if conn is None:
        async with in_transaction() as own:
            return await set_endpoint_status(
                program_id=program_id,
                endpoint_id=endpoint_id,
                enabled=enabled,
                reason=reason,
                actor=actor,
                request_id=request_id,
                conn=own,
            )
    endpoint = await locked_endpoint(program_id=program_id, endpoint_id=endpoint_id, conn=conn)
    target = ENABLED if enabled else DISABLED
    if endpoint.status == target:
        return endpoint
    endpoint.status = target
    if enabled:
        endpoint.consecutive_failures, endpoint.disabled_reason, endpoint.disabled_at = (
            0,
            None,
            None,
        )
    else:
        endpoint.disabled_reason = (reason or "disabled by staff")[:MAX_DESCRIPTION_LENGTH]
        endpoint.disabled_at = clock.now()
    await endpoint.save(using_db=conn)
    action = "enable" if enabled else "disable"
    await _audit(endpoint, action, actor, conn, request_id, reason=endpoint.disabled_reason)
    return endpoint


async def delete_endpoint(
    *, program_id: int, endpoint_id: int, actor: Principal, request_id: str | None = None
) -> None:
    """Remove an endpoint from use; its delivery log is kept (audited)."""
    async with in_transaction() as conn:
        endpoint = await locked_endpoint(program_id=program_id, endpoint_id=endpoint_id, conn=conn)
        endpoint.deleted_at = clock.now()
        endpoint.status = DISABLED
        endpoint.disabled_reason = "deleted"
        await endpoint.save(using_db=conn)
        await _audit(endpoint, "delete", actor, conn, request_id)


def serialize_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as staff see it: never a secret."""
    return {
        "id": endpoint.id,
        "program_id": endpoint.program_id,  # type: ignore[attr-defined]
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "consecutive_failures": endpoint.consecutive_failures,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "disabled_at": endpoint.disabled_at,
        "deleted_at": endpoint.deleted_at,
    }


def serialize_issued(issued: IssuedEndpoint) -> dict[str, Any]:
    """An endpoint with its secret: only its creation or a rotation answers with it."""
    return {**serialize_endpoint(issued.endpoint), "secret": issued.secret}


def serialize_endpoint_page(endpoints: list[WebhookEndpoint], *, limit: int) -> dict[str, Any]:
    return {
        "items": [serialize_endpoint(endpoint) for endpoint in endpoints],
        "next_cursor": next_cursor([row.id for row in endpoints], limit),
    }
