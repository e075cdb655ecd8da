"""A promoter's own commissions in a program, with how each was computed (customers masked)."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import MAX_PAGE_SIZE, Query, QueryMoment, parse_query, render
from server.services.commissions import queries as commission_queries

bp = Blueprint("mp_commissions")


class MyCommissionFilter(Query):
    status: str | None = Field(default=None, description="pending | approved | settled | ...")
    level: int | None = Field(default=None, ge=0)
    at_from: QueryMoment | None = Field(default=None, alias="from")
    at_to: QueryMoment | None = Field(default=None, alias="to")
    order_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    product_id: str | None = Field(default=None, min_length=1, max_length=64)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/commissions")
@openapi.definition(summary="My commissions in a program, newest first", secured={"bearer": []})
@requires(*ROLES_PROMOTER)
async def my_commissions(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, MyCommissionFilter)
    page = await commission_queries.my_commissions(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        status=query.status,
        level=query.level,
        at_from=query.at_from,
        at_to=query.at_to,
        order_external_id=query.order_external_id,
        product_id=query.product_id,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/programs/<program_id:int>/commissions/<commission_id:int>")
@openapi.definition(
    summary="One of my commissions: base, rate, rule, level, caps and refunds",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_commission(request: Request, program_id: int, commission_id: int) -> HTTPResponse:
    detail = await commission_queries.my_commission(
        user_id=request.ctx.principal.id, program_id=program_id, commission_id=commission_id
    )
    return render(detail)
