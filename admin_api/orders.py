"""Orders for staff and finance: the list, and one order with everything behind its money."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.orders.events import OrderStatus
from server.http import MAX_PAGE_SIZE, Body, Query, QueryMoment, parse_body, parse_query, render
from server.services.orders import completion as order_completion
from server.services.orders import queries as order_queries

bp = Blueprint("admin_orders")


class OrdersQuery(Query):
    program_id: int = Field(ge=1)
    status: OrderStatus | None = None
    placed_from: QueryMoment | None = Field(default=None, alias="from")
    placed_to: QueryMoment | None = Field(default=None, alias="to")
    promoter_id: int | None = Field(default=None, ge=1)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class CompleteBody(Body):
    reason: str = Field(min_length=1, max_length=512, description="why staff complete it")


@bp.get("/orders")
@openapi.definition(
    summary="A program's orders, newest first (placed from/to, status, promoter)",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def list_orders(request: Request) -> HTTPResponse:
    query = parse_query(request, OrdersQuery)
    page = await order_queries.list_orders(
        program_id=query.program_id,
        status=query.status.value if query.status else None,
        placed_from=query.placed_from,
        placed_to=query.placed_to,
        promoter_id=query.promoter_id,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/orders/<order_id:int>")
@openapi.definition(
    summary="One order: lines, attribution evidence, commissions with explanations, events",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def get_order(request: Request, order_id: int) -> HTTPResponse:
    return render(await order_queries.get_order_detail(order_id=order_id))


@bp.post("/orders/<order_id:int>/complete")
@openapi.definition(
    summary="Complete a paid order the store never reported completed (as order.completed)",
    body=CompleteBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def complete_order(request: Request, order_id: int) -> HTTPResponse:
    body = parse_body(request, CompleteBody)
    completed = await order_completion.complete_order_by_hand(
        order_id=order_id,
        reason=body.reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(completed)
