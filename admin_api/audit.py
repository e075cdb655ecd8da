"""The audit log, read-only: who did what to which record, newest first."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, requires
from server.http import MAX_PAGE_SIZE, Query, QueryMoment, parse_query, render
from server.services.access import audit_queries

bp = Blueprint("admin_audit")


class AuditQuery(Query):
    program_id: int | None = Field(default=None, ge=1)
    action: str | None = Field(default=None, min_length=1, max_length=64)
    target_kind: str | None = Field(default=None, min_length=1, max_length=32)
    target_id: int | None = Field(default=None, ge=1)
    actor_kind: Literal["staff", "user", "system"] | None = None
    actor_id: int | None = Field(default=None, ge=1)
    at_from: QueryMoment | None = Field(default=None, alias="from")
    at_to: QueryMoment | None = Field(default=None, alias="to")
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/audit")
@openapi.definition(summary="Audit log entries, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_audit(request: Request) -> HTTPResponse:
    query = parse_query(request, AuditQuery)
    page = await audit_queries.list_audit_entries(
        program_id=query.program_id,
        programs=request.ctx.principal.programs,
        action=query.action,
        target_kind=query.target_kind,
        target_id=query.target_id,
        actor_kind=query.actor_kind,
        actor_id=query.actor_id,
        at_from=query.at_from,
        at_to=query.at_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)
