"""Reading the audit log: filtered, newest first, never written through here."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.pagination import check_page_limit, next_cursor
from server.models import AuditLog
from server.services.access.scope import within


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def serialize_audit_entry(entry: AuditLog) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_kind": entry.target_kind,
        "target_id": entry.target_id,
        "program_id": entry.program_id,
        "details": entry.details,
        "request_id": entry.request_id,
        "at": entry.at,
    }


async def list_audit_entries(
    *,
    program_id: int | None = None,
    programs: Collection[int] | None = None,
    action: str | None = None,
    target_kind: str | None = None,
    target_id: int | None = None,
    actor_kind: str | None = None,
    actor_id: int | None = None,
    at_from: datetime | None = None,
    at_to: datetime | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of audit entries, newest first; `at_to` is exclusive."""
    check_page_limit(limit)
    if target_id is not None and target_kind is None:
        # Ids are only unique within a kind: promoter 7 and withdrawal 7 are unrelated.
        raise ValidationFailed(
            "target_id needs target_kind",
            code="invalid_query",
            fields={"target_kind": "required with target_id"},
        )
    # A limited account reads its programs' entries only, none of the programless ones.
    query = within(AuditLog.all(), programs)
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if action is not None:
        query = query.filter(action=action)
    if target_kind is not None:
        query = query.filter(target_kind=target_kind)
    if target_id is not None:
        query = query.filter(target_id=target_id)
    if actor_kind is not None:
        query = query.filter(actor_kind=actor_kind)
    if actor_id is not None:
        query = query.filter(actor_id=actor_id)
    if at_from is not None:
        query = query.filter(at__gte=_utc(at_from))
    if at_to is not None:
        query = query.filter(at__lt=_utc(at_to))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    entries = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_audit_entry(e) for e in entries],
        "next_cursor": next_cursor([row.id for row in entries], limit),
    }
