"""Reading commissions: a promoter's own, with their explanation, and every one for staff.

A promoter never sees who the customer is nor the rest of the chain.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.queryset import QuerySet

from server.domain.errors import NotFound
from server.domain.masking import mask_name
from server.domain.money import money_text, optional_money_text
from server.domain.pagination import next_cursor
from server.domain.programs.document import rate_text
from server.models import Commission, CommissionChange, Promoter
from server.services.commissions.filters import (
    CommissionFilters,
    check_page,
    staff_commission_query,
)

# What of a stored explanation a promoter may read: the figures, the rule, the caps and the
# attribution window; never the chain (other promoters) nor the beneficiary's own status.
PROMOTER_EXPLANATION_KEYS = (
    "order_line",
    "rule",
    "rule_set_version",
    "caps",
    "currency",
    "attribution",
    "base",
    "formula",
    "exact",
    "capped_by",
    "rounding",
    "amount",
    "recomputed",
)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _filtered(
    query: QuerySet[Commission],
    *,
    status: str | None,
    level: int | None,
    at_from: datetime | None,
    at_to: datetime | None,
    order_external_id: str | None,
    product_id: str | None,
    cursor: int | None,
) -> QuerySet[Commission]:
    if status is not None:
        query = query.filter(status=status)
    if level is not None:
        query = query.filter(level=level)
    if at_from is not None:
        query = query.filter(created_at__gte=_utc(at_from))
    if at_to is not None:
        query = query.filter(created_at__lt=_utc(at_to))
    if order_external_id is not None:
        query = query.filter(order__external_id=order_external_id)
    if product_id is not None:
        query = query.filter(order_line__product_id=product_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    return query


def _money(commission: Commission) -> dict[str, Any]:
    return {
        "id": commission.id,
        "program_id": commission.program_id,  # type: ignore[attr-defined]
        "status": commission.status,
        "level": commission.level,
        "currency": commission.currency,
        "kind": commission.kind,
        "rate": None if commission.rate is None else rate_text(commission.rate),
        "fixed_per_unit": optional_money_text(commission.fixed_per_unit, commission.currency),
        "base_amount": money_text(commission.base_amount, commission.currency),
        "amount": money_text(commission.amount, commission.currency),
        "original_amount": money_text(commission.original_amount, commission.currency),
        "created_at": commission.created_at,
        "unlock_at": commission.unlock_at,
        "approved_at": commission.approved_at,
        "settled_at": commission.settled_at,
        "paid_at": commission.paid_at,
        "reject_reason": commission.reject_reason,
    }


def _line(commission: Commission) -> dict[str, Any]:
    line = commission.order_line
    return {
        "line_ref": line.line_ref,
        "product_id": line.product_id,
        "category": line.category,
        "quantity": line.quantity,
        "amount": money_text(line.amount, commission.currency),
        "refunded_amount": money_text(line.refunded_amount, commission.currency),
    }


# ---------------------------------------------------------------- what a promoter sees


def _chain_kind(commission: Commission) -> str:
    attribution = (commission.explanation or {}).get("attribution") or {}
    if kind := attribution.get("chain"):
        return str(kind)
    return "self_purchase" if commission.order.buyer_promoter_id is not None else "referred"


def customer_for_promoter(commission: Commission) -> dict[str, Any]:
    """Who bought, as the earning promoter may see it (docs/design/commissions.md)."""
    if commission.level == 0:
        return {"relation": "self", "display_name": None}
    buyer = commission.order.buyer_user
    nickname = mask_name(buyer.nickname if buyer is not None else None)
    if _chain_kind(commission) == "self_purchase":
        return {"relation": "team_member", "display_name": nickname}
    if commission.level == 1:
        return {"relation": "direct_customer", "display_name": nickname}
    return {"relation": "team_customer", "display_name": None}


def _explanation_for_promoter(explanation: Mapping[str, Any]) -> dict[str, Any]:
    return {key: explanation[key] for key in PROMOTER_EXPLANATION_KEYS if key in explanation}


def serialize_for_promoter(commission: Commission) -> dict[str, Any]:
    """A list item of the promoter's own commissions (order and line fetched)."""
    return {
        **_money(commission),
        "on_hold": commission.hold_reason is not None,
        "order": {
            "external_id": commission.order.external_id,
            "status": commission.order.status,
            "placed_at": commission.order.placed_at,
        },
        "line": _line(commission),
        "customer": customer_for_promoter(commission),
    }


def _change_for_promoter(change: CommissionChange, currency: str) -> dict[str, Any]:
    return {
        "action": change.action,
        "from_status": change.from_status,
        "to_status": change.to_status,
        "amount_before": money_text(change.amount_before, currency),
        "amount_after": money_text(change.amount_after, currency),
        "reason": change.reason,
        "at": change.at,
    }


async def _own_promoter_ids(*, user_id: int, program_id: int) -> list[int]:
    ids = await Promoter.filter(user_id=user_id, program_id=program_id).values_list("id", flat=True)
    if not ids:
        raise NotFound("you are not a promoter of this program", code="promoter_not_found")
    return [int(i) for i in ids]  # type: ignore[call-overload]


_RELATED = ("order", "order__buyer_user", "order_line")


async def my_commissions(
    *,
    user_id: int,
    program_id: int,
    status: str | None = None,
    level: int | None = None,
    at_from: datetime | None = None,
    at_to: datetime | None = None,
    order_external_id: str | None = None,
    product_id: str | None = None,
    cursor: int | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """A page of the caller's own commissions in a program, newest first."""
    check_page(limit, status, level)
    mine = await _own_promoter_ids(user_id=user_id, program_id=program_id)
    query = _filtered(
        Commission.filter(program_id=program_id, promoter_id__in=mine),
        status=status,
        level=level,
        at_from=at_from,
        at_to=at_to,
        order_external_id=order_external_id,
        product_id=product_id,
        cursor=cursor,
    )
    commissions = await query.select_related(*_RELATED).order_by("-id").limit(limit)
    return {
        "items": [serialize_for_promoter(c) for c in commissions],
        "next_cursor": next_cursor([c.id for c in commissions], limit),
    }


async def my_commission(*, user_id: int, program_id: int, commission_id: int) -> dict[str, Any]:
    """One of the caller's commissions with its explanation and history; 404 if not theirs."""
    mine = await _own_promoter_ids(user_id=user_id, program_id=program_id)
    commission = (
        await Commission.filter(id=commission_id, program_id=program_id, promoter_id__in=mine)
        .select_related(*_RELATED)
        .first()
    )
    if commission is None:
        raise NotFound("no such commission", code="commission_not_found")
    changes = await CommissionChange.filter(commission_id=commission.id).order_by("id")
    return {
        **serialize_for_promoter(commission),
        "explanation": _explanation_for_promoter(commission.explanation or {}),
        "history": [_change_for_promoter(change, commission.currency) for change in changes],
    }


# ---------------------------------------------------------------- what staff see


def serialize_for_staff(commission: Commission) -> dict[str, Any]:
    """A commission with everything staff may read (order and line fetched)."""
    order = commission.order
    return {
        **_money(commission),
        "promoter_id": commission.promoter_id,  # type: ignore[attr-defined]
        "rule_id": commission.rule_id,
        "rule_source": commission.rule_source,
        "rule_set_version": commission.rule_set_version,
        "settled_amount": optional_money_text(commission.settled_amount, commission.currency),
        "hold_reason": commission.hold_reason,
        "payout_id": commission.payout_id,
        "updated_at": commission.updated_at,
        "order": {
            "id": order.id,
            "external_id": order.external_id,
            "status": order.status,
            "placed_at": order.placed_at,
            "buyer_user_id": order.buyer_user_id,  # type: ignore[attr-defined]
            "buyer_promoter_id": order.buyer_promoter_id,
            "attributed_promoter_id": order.attributed_promoter_id,
            "site_id": order.site_id,
            "campaign": order.campaign,
        },
        "line": {"id": commission.order_line.id, **_line(commission)},
    }


def _change_for_staff(change: CommissionChange, currency: str) -> dict[str, Any]:
    return {
        "id": change.id,
        **_change_for_promoter(change, currency),
        "order_event_id": change.order_event_id,
        "actor_kind": change.actor_kind,
        "actor_id": change.actor_id,
    }


async def list_commissions(
    *,
    filters: CommissionFilters,
    programs: Collection[int] | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of commissions for staff, newest first, with filters."""
    check_page(limit, filters.status, filters.level)
    query = staff_commission_query(filters, programs=programs, cursor=cursor)
    commissions = await query.select_related("order", "order_line").order_by("-id").limit(limit)
    return {
        "items": [serialize_for_staff(c) for c in commissions],
        "next_cursor": next_cursor([c.id for c in commissions], limit),
    }


async def commission_detail(*, commission_id: int) -> dict[str, Any]:
    """One commission for staff: explanation, snapshot, chain at order time and history."""
    commission = (
        await Commission.filter(id=commission_id).select_related("order", "order_line").first()
    )
    if commission is None:
        raise NotFound("no such commission", code="commission_not_found")
    changes = await CommissionChange.filter(commission_id=commission.id).order_by("id")
    return {
        **serialize_for_staff(commission),
        "explanation": commission.explanation,
        "snapshot": commission.snapshot,
        "upline_snapshot": commission.upline_snapshot,
        "history": [_change_for_staff(change, commission.currency) for change in changes],
    }
