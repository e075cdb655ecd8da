"""Staff reads of orders: the list with filters, one order with everything that explains
its money — lines, attribution evidence, commissions with their explanations and history,
and the store events that shaped it — and the recorded store events."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from tortoise.expressions import Q, Subquery

from server.domain.errors import NotFound
from server.domain.money import money_text, optional_money_text
from server.domain.pagination import check_page_limit, next_cursor
from server.models import Commission, CommissionChange, Order, OrderEvent, OrderLine
from server.services.access.scope import within


def serialize_order(order: Order) -> dict[str, Any]:
    """An order as staff see it in lists (no lines, no evidence)."""
    return {
        "id": order.id,
        "program_id": order.program_id,  # type: ignore[attr-defined]
        "external_id": order.external_id,
        "status": order.status,
        "currency": order.currency,
        "total_amount": money_text(order.total_amount, order.currency),
        "refunded_amount": money_text(order.refunded_amount, order.currency),
        "buyer_user_id": order.buyer_user_id,  # type: ignore[attr-defined]
        "buyer_external_id": order.buyer_external_id,
        "buyer_promoter_id": order.buyer_promoter_id,
        "attributed_promoter_id": order.attributed_promoter_id,
        "coupon_code": order.coupon_code,
        "site_id": order.site_id,
        "campaign": order.campaign,
        "placed_at": order.placed_at,
        "paid_at": order.paid_at,
        "completed_at": order.completed_at,
        "cancelled_at": order.cancelled_at,
    }


def serialize_line(line: OrderLine, currency: str) -> dict[str, Any]:
    """An order line with what was refunded and what is left (`net`)."""
    return {
        "id": line.id,
        "line_ref": line.line_ref,
        "product_id": line.product_id,
        "category": line.category,
        "quantity": line.quantity,
        "unit_price": money_text(line.unit_price, currency),
        "amount": money_text(line.amount, currency),
        "refunded_amount": money_text(line.refunded_amount, currency),
        "net": money_text(line.amount - line.refunded_amount, currency),
    }


def serialize_change(change: CommissionChange, currency: str) -> dict[str, Any]:
    """One history row of a commission."""
    return {
        "action": change.action,
        "from_status": change.from_status,
        "to_status": change.to_status,
        "amount_before": money_text(change.amount_before, currency),
        "amount_after": money_text(change.amount_after, currency),
        "reason": change.reason,
        "order_event_id": change.order_event_id,
        "actor_kind": change.actor_kind,
        "actor_id": change.actor_id,
        "at": change.at,
    }


def serialize_commission(commission: Commission, changes: list[CommissionChange]) -> dict[str, Any]:
    return {
        "id": commission.id,
        "order_line_id": commission.order_line_id,  # type: ignore[attr-defined]
        "promoter_id": commission.promoter_id,  # type: ignore[attr-defined]
        "level": commission.level,
        "status": commission.status,
        "currency": commission.currency,
        "amount": money_text(commission.amount, commission.currency),
        "original_amount": money_text(commission.original_amount, commission.currency),
        "settled_amount": optional_money_text(commission.settled_amount, commission.currency),
        "unlock_at": commission.unlock_at,
        "hold_reason": commission.hold_reason,
        "reject_reason": commission.reject_reason,
        "explanation": commission.explanation,
        "upline_snapshot": commission.upline_snapshot,
        "history": [serialize_change(change, commission.currency) for change in changes],
    }


async def list_orders(
    *,
    program_id: int,
    status: str | None,
    placed_from: datetime | None,
    placed_to: datetime | None,
    promoter_id: int | None,
    cursor: int | None,
    limit: int,
) -> dict[str, Any]:
    """A page of a program's orders, newest first, optionally those a promoter is part of."""
    check_page_limit(limit)
    query = Order.filter(program_id=program_id)
    if status is not None:
        query = query.filter(status=status)
    if placed_from is not None:
        query = query.filter(placed_at__gte=placed_from)
    if placed_to is not None:
        query = query.filter(placed_at__lt=placed_to)
    if promoter_id is not None:
        earning = Subquery(Commission.filter(promoter_id=promoter_id).values("order_id"))
        query = query.filter(Q(attributed_promoter_id=promoter_id) | Q(id__in=earning))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    orders = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_order(order) for order in orders],
        "next_cursor": next_cursor([row.id for row in orders], limit),
    }


async def get_order_detail(*, order_id: int) -> dict[str, Any]:
    """One order with its lines, attribution evidence, commissions and events."""
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise NotFound("no such order", code="order_not_found")
    lines = await OrderLine.filter(order_id=order.id).order_by("id")
    commissions = await Commission.filter(order_id=order.id).order_by("order_line_id", "level")
    changes = await CommissionChange.filter(commission_id__in=[c.id for c in commissions]).order_by(
        "id"
    )
    by_commission: dict[int, list[CommissionChange]] = {}
    for change in changes:
        by_commission.setdefault(change.commission_id, []).append(change)  # type: ignore[attr-defined]
    events = await OrderEvent.filter(
        program_id=order.program_id,  # type: ignore[attr-defined]
        order_external_id=order.external_id,
    ).order_by("id")
    return {
        **serialize_order(order),
        "attribution": order.attribution,
        "lines": [serialize_line(line, order.currency) for line in lines],
        "commissions": [serialize_commission(c, by_commission.get(c.id, [])) for c in commissions],
        "events": [serialize_event(event) for event in events],
    }


# ---------------------------------------------------------------- recorded events


def serialize_event(row: OrderEvent) -> dict[str, Any]:
    """A recorded event as staff see it: what was sent, and what it got."""
    return {
        "id": row.id,
        "program_id": row.program_id,  # type: ignore[attr-defined]
        "event_id": row.event_id,
        "type": row.event_type,
        "order_external_id": row.order_external_id,
        "status": row.status,
        "error_code": row.error_code,
        "outcome": row.outcome,
        "payload": row.payload,
        "received_at": row.received_at,
        "applied_at": row.applied_at,
    }


async def list_order_events(
    *,
    program_id: int | None,
    programs: Collection[int] | None = None,
    status: str | None,
    order_external_id: str | None,
    cursor: int | None,
    limit: int,
) -> dict[str, Any]:
    """A page of recorded events, newest first (e.g. what is pending or was rejected)."""
    check_page_limit(limit)
    query = within(OrderEvent.all(), programs)
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if status is not None:
        query = query.filter(status=status)
    if order_external_id is not None:
        query = query.filter(order_external_id=order_external_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_event(row) for row in rows],
        "next_cursor": next_cursor([row.id for row in rows], limit),
    }
