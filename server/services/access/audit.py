"""The audit log: every staff, finance and system action, written in the action's transaction."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.auth import Principal
from server.models import AuditLog


async def record_action(
    *,
    actor: Principal | None,
    action: str,
    target_kind: str,
    target_id: int | None,
    program_id: int | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> AuditLog:
    """Append one audit entry (actor None = the system)."""
    return await AuditLog.create(
        actor_kind=actor.kind if actor else "system",
        actor_id=actor.id if actor else None,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        program_id=program_id,
        details=details or {},
        request_id=request_id,
        using_db=using_db,
    )
