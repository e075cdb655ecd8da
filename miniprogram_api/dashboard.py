"""A promoter's own dashboard (docs/reports.md#promoter-dashboard): figures, trend, team,
rank, and the customers they referred, anonymized."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_PROMOTER, requires
from server.http import MAX_PAGE_SIZE, Query, parse_query, render
from server.services.reports import dashboard

bp = Blueprint("mp_dashboard")


class DashboardQuery(Query):
    preset: str = Field(
        default="last_7_days",
        description="today | yesterday | last_7_days | last_30_days | last_90_days | this_month"
        " | last_month | custom",
    )
    first: dt.date | None = Field(default=None, alias="from", description="first local day")
    last: dt.date | None = Field(default=None, alias="to", description="last local day")


class CustomersQuery(Query):
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/programs/<program_id:int>/dashboard")
@openapi.definition(
    summary="My dashboard: visits, bindings, orders, earnings and their trend, team by level,"
    " rank (if the program shows a leaderboard)",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_dashboard(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, DashboardQuery)
    body = await dashboard.my_dashboard(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        preset=query.preset,
        first=query.first,
        last=query.last,
    )
    return render(body)


@bp.get("/programs/<program_id:int>/dashboard/customers")
@openapi.definition(
    summary="The customers I referred, newest first: masked name and attribution context",
    secured={"bearer": []},
)
@requires(*ROLES_PROMOTER)
async def my_customers(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, CustomersQuery)
    page = await dashboard.my_referred_customers(
        user_id=request.ctx.principal.id,
        program_id=program_id,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)
