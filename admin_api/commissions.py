"""Commissions for the back office: read-only lists and details, and the dry run of an order."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, requires
from server.http import (
    MAX_PAGE_SIZE,
    Body,
    Moment,
    Query,
    QueryMoment,
    parse_body,
    parse_query,
    render,
)
from server.services.commissions import preview as commission_preview
from server.services.commissions import queries as commission_queries
from server.services.commissions.filters import CommissionFilters

bp = Blueprint("admin_commissions")

DecimalText = Annotated[str, Field(description="decimal string in the currency, e.g. '99.00'")]
MAX_PREVIEW_LINES = 200


class PreviewLine(Body):
    line_id: str | None = Field(default=None, max_length=64, description="default: position")
    product_id: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    quantity: int
    unit_price: DecimalText
    amount: DecimalText = Field(description="what the buyer paid for the line")
    refunded_amount: DecimalText | None = None


class PreviewOrder(Body):
    """An order as the store would post it, and who buys it."""

    lines: list[PreviewLine] = Field(min_length=1, max_length=MAX_PREVIEW_LINES)
    currency: str | None = Field(default=None, description="default: the program currency")
    placed_at: Moment | None = Field(default=None, description="default: now")
    site_id: int | None = None
    campaign: str | None = Field(default=None, max_length=64)
    buyer_promoter_id: int | None = None
    attributed_promoter_id: int | None = None
    bound_at: Moment | None = None
    customer_user_id: int | None = None
    customer_external_id: str | None = Field(default=None, max_length=128)
    coupon_code: str | None = Field(
        default=None,
        max_length=64,
        description="typed at checkout: weighed against the binding under the program's policy",
    )


class CommissionFilter(Query):
    program_id: int | None = Field(default=None, ge=1)
    status: str | None = Field(default=None, description="pending | approved | settled | ...")
    promoter_id: int | None = Field(default=None, ge=1)
    order_id: int | None = Field(default=None, ge=1)
    order_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    product_id: str | None = Field(default=None, min_length=1, max_length=64)
    level: int | None = Field(default=None, ge=0)
    site_id: int | None = Field(default=None, ge=1)
    channel_id: int | None = Field(default=None, ge=1)
    campaign: str | None = Field(default=None, min_length=1, max_length=64)
    category: str | None = Field(default=None, min_length=1, max_length=64)
    tier: str | None = Field(default=None, min_length=1, max_length=32)
    on_hold: bool | None = Field(default=None, description="held by an open anomaly")
    at_from: QueryMoment | None = Field(default=None, alias="from", description="created from")
    at_to: QueryMoment | None = Field(default=None, alias="to", description="created before")
    settled_from: QueryMoment | None = None
    settled_to: QueryMoment | None = Field(default=None, description="exclusive")
    paid_from: QueryMoment | None = None
    paid_to: QueryMoment | None = Field(default=None, description="exclusive")
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.post("/programs/<program_id:int>/commissions/preview")
@openapi.definition(
    summary="Dry run: what an order would earn now, explained line by line (writes nothing)",
    body=PreviewOrder,
    secured={"bearer": []},
)
@requires(
    *ROLES_BACKOFFICE,
    body={"site_id": "site", "buyer_promoter_id": "promoter", "attributed_promoter_id": "promoter"},
)
async def preview(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, PreviewOrder)
    report = await commission_preview.preview_order(
        program_id=program_id, document=body.model_dump()
    )
    return render(report)


@bp.get("/commissions")
@openapi.definition(summary="Commissions, newest first, with filters", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_commissions(request: Request) -> HTTPResponse:
    query = parse_query(request, CommissionFilter)
    page = await commission_queries.list_commissions(
        filters=CommissionFilters.of(query.model_dump()),
        programs=request.ctx.principal.programs,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)


@bp.get("/commissions/<commission_id:int>")
@openapi.definition(
    summary="One commission: explanation, chain at order time and history",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def get_commission(request: Request, commission_id: int) -> HTTPResponse:
    detail = await commission_queries.commission_detail(commission_id=commission_id)
    return render(detail)
