"""The store's order events (signed S2S) and the staff view of recorded events.

POST /s2s/events applies one event, or with `Prefer: respond-async` queues it for the drainer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_STAFF, requires
from server.domain.access.scopes import EVENTS_WRITE
from server.domain.orders.events import MAX_ORDER_LINES, MAX_QUANTITY, EventStatus, EventType
from server.domain.orders.inbox import RESPOND_ASYNC, wants_async
from server.domain.orders.parsing import seal_buyer_signals
from server.http import (
    MAX_PAGE_SIZE,
    Body,
    Query,
    json_body,
    parse_query,
    render,
    validate_body,
)
from server.observability import log_failures_only
from server.s2s_auth import S2S_OPENAPI_HEADERS, s2s_signed
from server.services.orders import events as order_events
from server.services.orders import inbox as order_event_inbox
from server.services.orders import queries as order_queries

bp = Blueprint("admin_order_events")

EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
ExternalId = Annotated[str, Field(min_length=1, max_length=64)]
Identity = Annotated[str, Field(min_length=1, max_length=128)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
# Decimal strings; the amount rules (range, decimals of the currency) are checked next.
AmountText = Annotated[str, Field(min_length=1, max_length=40)]
Timestamp = Annotated[str, Field(min_length=10, max_length=40)]


class BuyerBody(Body):
    openid: Identity | None = None
    unionid: Identity | None = None
    external_id: Identity | None = None


class ShippingAddressBody(Body):
    """Hashed on arrival, never stored (server/domain/orders/parsing.py)."""

    province: Label | None = None
    city: Label | None = None
    district: Label | None = None
    detail: Annotated[str, Field(min_length=1, max_length=256)]


class PaidLineBody(Body):
    line_ref: Label
    product_id: Label
    category: Label | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: AmountText
    amount: AmountText


class PaidOrderBody(Body):
    external_id: ExternalId
    currency: str = Field(min_length=3, max_length=3)
    placed_at: Timestamp
    buyer: BuyerBody
    coupon_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    site_id: int | None = Field(default=None, ge=1)
    campaign: Label | None = None
    shipping_address: ShippingAddressBody | None = None
    device_id: Identity | None = None
    lines: list[PaidLineBody] = Field(min_length=1, max_length=MAX_ORDER_LINES)


class RefundLineBody(Body):
    line_ref: Label
    amount: AmountText


class RefundOrderBody(Body):
    """Exactly one of `lines`, `amount` (whole order, allocated pro rata) or `full: true`."""

    external_id: ExternalId
    refund_id: Label
    lines: list[RefundLineBody] | None = Field(
        default=None, min_length=1, max_length=MAX_ORDER_LINES
    )
    amount: AmountText | None = None
    full: bool | None = None


class CompletedOrderBody(Body):
    external_id: ExternalId
    completed_at: Timestamp


class CancelledOrderBody(Body):
    external_id: ExternalId


class PaidEvent(Body):
    event_id: EventId
    type: Literal["order.paid"]
    occurred_at: Timestamp
    order: PaidOrderBody


class RefundedEvent(Body):
    event_id: EventId
    type: Literal["order.refunded"]
    occurred_at: Timestamp
    order: RefundOrderBody


class CompletedEvent(Body):
    event_id: EventId
    type: Literal["order.completed"]
    occurred_at: Timestamp
    order: CompletedOrderBody


class CancelledEvent(Body):
    event_id: EventId
    type: Literal["order.cancelled"]
    occurred_at: Timestamp
    order: CancelledOrderBody


class OrderEventBody(
    RootModel[
        Annotated[
            PaidEvent | RefundedEvent | CompletedEvent | CancelledEvent,
            Field(discriminator="type"),
        ]
    ]
):
    """One order event (documentation of the four shapes; each is checked on its own)."""


class EventKind(BaseModel):
    """The event's type alone, read first so errors name the fields of its own schema."""

    model_config = ConfigDict(extra="ignore")
    type: EventType


EVENT_SCHEMAS: dict[EventType, type[Body]] = {
    EventType.PAID: PaidEvent,
    EventType.REFUNDED: RefundedEvent,
    EventType.COMPLETED: CompletedEvent,
    EventType.CANCELLED: CancelledEvent,
}


class EventsQuery(Query):
    program_id: int | None = Field(default=None, ge=1)
    status: EventStatus | None = None
    order_external_id: ExternalId | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


def _payload(request: Request) -> dict[str, Any]:
    data = json_body(request)
    kind = validate_body(data, EventKind)
    body = validate_body(data, EVENT_SCHEMAS[kind.type]).model_dump(mode="json")
    return seal_buyer_signals(body, salt=request.app.ctx.settings.visitor_hash_salt)


@bp.post("/s2s/events")
@openapi.definition(
    summary="Post an order event (paid, refunded, completed, cancelled); idempotent by event_id",
    body=OrderEventBody,
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(
    scope=EVENTS_WRITE,
    handler_spends_nonce=lambda request: wants_async(request.headers.get("prefer")),
)
async def post_event(request: Request) -> HTTPResponse:
    # The guard left the nonce unspent exactly for the deliveries to accept for later.
    if request.ctx.s2s.unspent_nonce is not None:
        return await _accept_for_later(request)
    # A store that stops waiting must not cut a money transaction half-way: the event runs
    # to its end, and the store's retry gets the stored outcome.
    recorded = await asyncio.shield(
        order_events.ingest_order_event(
            program_id=request.ctx.s2s.program_id,
            payload=_payload(request),
            appid=request.app.ctx.settings.wechat_appid,
        )
    )
    response = render(recorded.outcome.body, status=recorded.outcome.status_code)
    if recorded.replayed:
        response.headers["x-fenxiao-replayed"] = "true"
    return response


async def _accept_for_later(request: Request) -> HTTPResponse:
    log_failures_only(request)
    drainer = getattr(request.app.ctx, "event_drainer", None)
    with drainer.accepting() if drainer is not None else contextlib.nullcontext():
        accepted = await order_event_inbox.enqueue_order_event(
            program_id=request.ctx.s2s.program_id,
            payload=_payload(request),
            appid=request.app.ctx.settings.wechat_appid,
            nonce=request.ctx.s2s.unspent_nonce,
            settings=request.app.ctx.settings,
        )
    response = render(accepted.body, status=202)
    response.headers["preference-applied"] = RESPOND_ASYNC
    # Event ids are URL-safe by their schema (EventId).
    response.headers["location"] = f"{request.path}/{accepted.body['event_id']}"
    if accepted.replayed:
        response.headers["x-fenxiao-replayed"] = "true"
    return response


@bp.get("/s2s/events/<event_id:str>")
@openapi.definition(
    summary="How an order event ended: still queued or processing, or its outcome (any delivery)",
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=EVENTS_WRITE)
async def event_status(request: Request, event_id: str) -> HTTPResponse:
    status = await order_event_inbox.queued_event_status(
        program_id=request.ctx.s2s.program_id, event_id=event_id
    )
    return render(status)


@bp.get("/order-events")
@openapi.definition(
    summary="Recorded order events, newest first (e.g. status=pending or rejected)",
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def list_events(request: Request) -> HTTPResponse:
    query = parse_query(request, EventsQuery)
    page = await order_queries.list_order_events(
        program_id=query.program_id,
        programs=request.ctx.principal.programs,
        status=query.status.value if query.status else None,
        order_external_id=query.order_external_id,
        cursor=query.cursor,
        limit=query.limit,
    )
    return render(page)
