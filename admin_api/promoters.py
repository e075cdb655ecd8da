"""Staff review of promoter applications and the promoter life cycle."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, Principal, requires
from server.domain.promoters.status import PromoterStatus
from server.http import MAX_PAGE_SIZE, Body, Query, QueryMoment, parse_body, parse_query, render
from server.services.fraud import holds as hold_service
from server.services.promoters import queries as promoter_queries
from server.services.promoters import status_changes as status_service

bp = Blueprint("admin_promoters")

B = TypeVar("B", bound=Body)


class PromotersQuery(Query):
    program_id: int = Field(ge=1)
    status: PromoterStatus | None = None
    q: str | None = Field(default=None, min_length=1, max_length=64)
    tier: str | None = Field(default=None, min_length=1, max_length=32, description="tier code")
    applied_from: QueryMoment | None = None
    applied_to: QueryMoment | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class ApproveBody(Body):
    reason: str | None = Field(default=None, max_length=512)
    # Approve as a root when the upline named at application is no longer approved.
    without_upline: bool = False


class ReasonRequired(Body):
    reason: str = Field(min_length=1, max_length=512)


class ReasonOptional(Body):
    reason: str | None = Field(default=None, max_length=512)


class BulkBody(Body):
    action: Literal["approve", "reject"]
    ids: list[int] = Field(min_length=1, max_length=MAX_PAGE_SIZE)
    reason: str | None = Field(default=None, max_length=512)


async def promoters_page(query: PromotersQuery, *, viewer: Principal) -> dict[str, Any]:
    """The list the API and the console show for the same filters."""
    return await promoter_queries.list_promoters(
        program_id=query.program_id,
        viewer=viewer,
        status=query.status.value if query.status else None,
        q=query.q,
        tier=query.tier,
        applied_from=query.applied_from,
        applied_to=query.applied_to,
        cursor=query.cursor,
        limit=query.limit,
    )


def _optional_body(request: Request, schema: type[B]) -> B:
    """Actions whose fields are all optional accept an empty body."""
    return parse_body(request, schema) if request.body else schema()


async def _change(
    request: Request,
    promoter_id: int,
    action: str,
    *,
    reason: str | None,
    without_upline: bool = False,
) -> HTTPResponse:
    promoter = await status_service.change_promoter_status(
        promoter_id=promoter_id,
        action=action,
        reason=reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
        without_upline=without_upline,
    )
    return render(promoter_queries.serialize_promoter(promoter, viewer=request.ctx.principal))


@bp.get("/promoters")
@openapi.definition(
    summary="A program's promoters and applications, newest first", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def list_promoters(request: Request) -> HTTPResponse:
    query = parse_query(request, PromotersQuery)
    return render(await promoters_page(query, viewer=request.ctx.principal))


@bp.get("/promoters/<promoter_id:int>")
@openapi.definition(summary="One promoter with its upline and fraud hold", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def get_promoter(request: Request, promoter_id: int) -> HTTPResponse:
    detail = await promoter_queries.get_promoter_detail(
        promoter_id=promoter_id, viewer=request.ctx.principal
    )
    detail["fraud_hold"] = await hold_service.hold_status(promoter_id=promoter_id)
    return render(detail)


@bp.get("/promoters/<promoter_id:int>/history")
@openapi.definition(summary="A promoter's status changes, oldest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def promoter_history(request: Request, promoter_id: int) -> HTTPResponse:
    return render(await promoter_queries.promoter_history(promoter_id=promoter_id))


@bp.post("/promoters/<promoter_id:int>/approve")
@openapi.definition(summary="Approve an application", body=ApproveBody, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def approve(request: Request, promoter_id: int) -> HTTPResponse:
    body = _optional_body(request, ApproveBody)
    return await _change(
        request, promoter_id, "approve", reason=body.reason, without_upline=body.without_upline
    )


@bp.post("/promoters/<promoter_id:int>/reject")
@openapi.definition(
    summary="Reject an application with a reason", body=ReasonRequired, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def reject(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, ReasonRequired)
    return await _change(request, promoter_id, "reject", reason=body.reason)


@bp.post("/promoters/<promoter_id:int>/suspend")
@openapi.definition(
    summary="Suspend an approved promoter", body=ReasonRequired, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def suspend(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, ReasonRequired)
    return await _change(request, promoter_id, "suspend", reason=body.reason)


@bp.post("/promoters/<promoter_id:int>/reinstate")
@openapi.definition(
    summary="Reinstate a suspended promoter", body=ReasonOptional, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def reinstate(request: Request, promoter_id: int) -> HTTPResponse:
    body = _optional_body(request, ReasonOptional)
    return await _change(request, promoter_id, "reinstate", reason=body.reason)


@bp.post("/promoters/<promoter_id:int>/disable")
@openapi.definition(
    summary="Disable a promoter for good", body=ReasonRequired, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def disable(request: Request, promoter_id: int) -> HTTPResponse:
    body = parse_body(request, ReasonRequired)
    return await _change(request, promoter_id, "disable", reason=body.reason)


@bp.post("/promoters/bulk")
@openapi.definition(
    summary="Approve or reject many applications: all or none",
    body=BulkBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF, body={"ids": "promoter"})
async def bulk(request: Request) -> HTTPResponse:
    body = parse_body(request, BulkBody)
    promoters = await status_service.bulk_change_status(
        action=body.action,
        promoter_ids=body.ids,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    viewer = request.ctx.principal
    return render(
        {"items": [promoter_queries.serialize_promoter(p, viewer=viewer) for p in promoters]}
    )
