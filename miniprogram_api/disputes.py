"""A promoter's disputes: open one on their commission or on a missing order, list them,
read a thread and reply. Another promoter's dispute is 404."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.payouts import disputes as dispute_service

bp = Blueprint("mp_disputes")


class OpenDisputeBody(Body):
    commission_id: int | None = Field(default=None, ge=1)
    external_order_id: str | None = Field(
        default=None, max_length=64, description="an order that earned nothing (instead)"
    )
    text: str = Field(max_length=2000)


class ReplyBody(Body):
    text: str = Field(max_length=2000)


class DisputeListQuery(Query):
    status: str | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@bp.post("/programs/<program_id:int>/disputes")
@openapi.definition(
    summary="Open a dispute on my commission or on a missing order",
    body=OpenDisputeBody,
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def open_dispute(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, OpenDisputeBody)
    user_id = request.ctx.principal.id
    dispute, replayed = await create_once(
        request,
        lambda: dispute_service.open_dispute(
            user_id=user_id,
            program_id=program_id,
            commission_id=body.commission_id,
            external_order_id=body.external_order_id,
            text=body.text,
        ),
        replay=lambda dispute_id: dispute_service.my_dispute(
            user_id=user_id, program_id=program_id, dispute_id=dispute_id
        ),
        body=body,
    )
    return render_created(dispute, replayed=replayed)


@bp.get("/programs/<program_id:int>/disputes")
@openapi.definition(summary="My disputes, newest first", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_disputes(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, DisputeListQuery)
    page = await dispute_service.my_disputes(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        status=query.status,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/programs/<program_id:int>/disputes/<dispute_id:int>")
@openapi.definition(summary="One of my disputes with its thread", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_dispute(request: Request, program_id: int, dispute_id: int) -> HTTPResponse:
    dispute = await dispute_service.my_dispute(
        user_id=request.ctx.principal.id, program_id=program_id, dispute_id=dispute_id
    )
    return render(dispute)


@bp.post("/programs/<program_id:int>/disputes/<dispute_id:int>/messages")
@openapi.definition(
    summary="Reply in my unresolved dispute", body=ReplyBody, secured={"bearer": []}
)
@requires(*ROLES_PROMOTER)
async def reply(request: Request, program_id: int, dispute_id: int) -> HTTPResponse:
    body = parse_body(request, ReplyBody)
    user_id = request.ctx.principal.id
    # A reply is recorded under its dispute's id: a replay shows the thread, one reply in it.
    dispute, replayed = await create_once(
        request,
        lambda: dispute_service.promoter_reply(
            user_id=user_id, program_id=program_id, dispute_id=dispute_id, text=body.text
        ),
        replay=lambda replied_id: dispute_service.my_dispute(
            user_id=user_id, program_id=program_id, dispute_id=replied_id
        ),
        body=body,
    )
    return render_created(dispute, replayed=replayed)
