"""Orders and commissions: lists, an order with its evidence and explanations, the review queue."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.commission_review import ReviewQueueQuery
from admin_api.commissions import CommissionFilter
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import done, form_ids, form_text, list_page
from admin_api.console.views import page
from admin_api.orders import OrdersQuery
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF
from server.services.commissions import queries as commission_queries
from server.services.commissions import review as review_service
from server.services.commissions.filters import CommissionFilters
from server.services.orders import completion as order_completion
from server.services.orders import queries as order_queries
from server.services.programs import settings as program_service

bp = Blueprint("console_money")


@bp.get("/orders")
@console_route(*ROLES_BACKOFFICE)
async def order_list(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        OrdersQuery,
        lambda query, _program_id: order_queries.list_orders(**query.model_dump()),
        heading=N_("Orders"),
        template="orders/list.html",
        rows="orders/_rows.html",
    )


@bp.get("/orders/<order_id:int>")
@console_route(*ROLES_BACKOFFICE)
async def order_detail(request: Request, order_id: int) -> HTTPResponse:
    order = await order_queries.get_order_detail(order_id=order_id)
    program = await program_service.get_program(program_id=order["program_id"])
    return await page(request, "orders/detail.html", program=program, order=order)


@bp.post("/orders/<order_id:int>/complete")
@console_route(*ROLES_STAFF)
async def complete_order(request: Request, order_id: int) -> HTTPResponse:
    """Complete a paid order the store never reported completed (its freeze starts now)."""
    await order_completion.complete_order_by_hand(
        order_id=order_id,
        reason=form_text(request, "reason") or "",
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/orders/{order_id}")


@bp.get("/commissions")
@console_route(*ROLES_BACKOFFICE)
async def commission_list(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        CommissionFilter,
        lambda query, _program_id: commission_queries.list_commissions(
            filters=CommissionFilters.of(query.model_dump()),
            programs=request.ctx.principal.programs,
            cursor=query.cursor,
            limit=query.limit,
        ),
        heading=N_("Commissions"),
        template="commissions/list.html",
        rows="commissions/_rows.html",
    )


@bp.get("/commissions/review")
@console_route(*ROLES_STAFF)
async def review_queue(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        ReviewQueueQuery,
        lambda query, _program_id: review_service.review_queue(**query.model_dump()),
        heading=N_("Commission review"),
        template="commissions/review.html",
        rows="commissions/_review_rows.html",
    )


@bp.post("/commissions/review")
@console_route(*ROLES_STAFF, form={"ids": "commission"})
async def review(request: Request) -> HTTPResponse:
    """Approve or reject the ticked commissions: all or none, refusals shown per id."""
    await review_service.review_commissions(
        ids=form_ids(request),
        action=form_text(request, "action") or "",
        reason=form_text(request, "reason"),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return done(f"/console/commissions/review?program_id={form_text(request, 'program_id')}")
