"""Promoter disputes for the back office: the queue, a thread, replies and resolutions.

Accepting pays an adjustment, so it takes finance or admin, like any adjustment.
"""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_FINANCE, requires
from server.http import MAX_PAGE_SIZE, Body, Query, QueryMoment, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.payouts import disputes as dispute_service

bp = Blueprint("admin_disputes")


class DisputeQueueQuery(Query):
    program_id: int | None = Field(default=None, ge=1)
    status: str | None = Field(default=None, description="open | awaiting_promoter | ...")
    promoter_id: int | None = Field(default=None, ge=1)
    subject_kind: str | None = Field(default=None, description="commission | missing_order")
    opened_from: QueryMoment | None = None
    opened_to: QueryMoment | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class ReplyBody(Body):
    text: str = Field(max_length=2000)


class RejectBody(Body):
    reason: str = Field(max_length=512)


class AcceptBody(Body):
    amount: str = Field(min_length=1, max_length=32, description="the adjustment, e.g. '12.00'")
    currency: str = Field(min_length=3, max_length=3, description="must be the program's")
    reason: str = Field(max_length=512)


@bp.get("/disputes")
@openapi.definition(summary="Disputes, newest first, with filters", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def dispute_queue(request: Request) -> HTTPResponse:
    query = parse_query(request, DisputeQueueQuery)
    page = await dispute_service.dispute_queue(
        **query.model_dump(), programs=request.ctx.principal.programs
    )
    return render(page)


@bp.get("/disputes/<dispute_id:int>")
@openapi.definition(summary="One dispute with its thread", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def dispute_detail(request: Request, dispute_id: int) -> HTTPResponse:
    return render(await dispute_service.dispute_detail(dispute_id=dispute_id))


@bp.post("/disputes/<dispute_id:int>/messages")
@openapi.definition(summary="Reply to a promoter", body=ReplyBody, secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def reply(request: Request, dispute_id: int) -> HTTPResponse:
    body = parse_body(request, ReplyBody)
    # A reply is recorded under its dispute's id: a replay shows the thread, one reply in it.
    dispute, replayed = await create_once(
        request,
        lambda: dispute_service.staff_reply(
            dispute_id=dispute_id,
            text=body.text,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda replied_id: dispute_service.dispute_detail(dispute_id=replied_id),
        body=body,
    )
    return render_created(dispute, replayed=replayed)


@bp.post("/disputes/<dispute_id:int>/reject")
@openapi.definition(
    summary="Resolve a dispute by rejecting it, with a reason",
    body=RejectBody,
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def reject(request: Request, dispute_id: int) -> HTTPResponse:
    body = parse_body(request, RejectBody)
    dispute = await dispute_service.reject_dispute(
        dispute_id=dispute_id,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(dispute)


@bp.post("/disputes/<dispute_id:int>/accept")
@openapi.definition(
    summary="Resolve a dispute by accepting it with an adjustment (one transaction)",
    body=AcceptBody,
    secured={"bearer": []},
)
@requires(*ROLES_FINANCE)
async def accept(request: Request, dispute_id: int) -> HTTPResponse:
    body = parse_body(request, AcceptBody)
    dispute = await dispute_service.accept_dispute(
        dispute_id=dispute_id,
        amount=body.amount,
        currency=body.currency,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(dispute)
