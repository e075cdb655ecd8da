"""Staff review of commissions: the queue of pending ones and bulk approve/reject."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_STAFF, requires
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.services.commissions import review as review_service

bp = Blueprint("admin_commission_review")


class ReviewQueueQuery(Query):
    program_id: int = Field(ge=1)
    status: Literal["pending", "approved"] = "pending"
    unlocked: bool | None = None
    promoter_id: int | None = Field(default=None, ge=1)
    order_id: int | None = Field(default=None, ge=1)
    level: int | None = Field(default=None, ge=0)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class ReviewBody(Body):
    ids: list[int] = Field(min_length=1, max_length=review_service.MAX_REVIEW_SIZE)
    action: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=512)


@bp.get("/commissions/review-queue")
@openapi.definition(
    summary="A program's commissions awaiting review, newest first", secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def review_queue(request: Request) -> HTTPResponse:
    query = parse_query(request, ReviewQueueQuery)
    page = await review_service.review_queue(
        program_id=query.program_id,
        status=query.status,
        unlocked=query.unlocked,
        promoter_id=query.promoter_id,
        order_id=query.order_id,
        level=query.level,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.post("/commissions/review")
@openapi.definition(
    summary="Approve or reject commissions, all or none", body=ReviewBody, secured={"bearer": []}
)
@requires(*ROLES_STAFF, body={"ids": "commission"})
async def review(request: Request) -> HTTPResponse:
    body = parse_body(request, ReviewBody)
    decided = await review_service.review_commissions(
        ids=body.ids,
        action=body.action,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(decided)
