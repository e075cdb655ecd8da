"""Builders for order-event tests: programs, promoter chains, customers, bindings, and store
events posted through the real use case (bodies normalized by the API's own schemas, so the
service sees exactly what the HTTP layer would hand it). This module holds no tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from admin_api.order_events import EVENT_SCHEMAS
from server.auth import Principal
from server.domain.orders.events import EventType
from server.models import (
    Commission,
    CommissionChange,
    LedgerEntry,
    Order,
    OrderLine,
    Program,
    Promoter,
    PromoterBalance,
    User,
)
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.orders.events import RecordedOutcome, ingest_order_event
from server.services.programs.settings import create_program
from server.services.promoters.hierarchy import attach_promoter
from server.services.sharing.bindings import bind_from_touch

APPID = "wx-standin-appid"  # Settings().wechat_appid, the appid buyers' openids belong to
ADMIN = Principal(kind="staff", id=1, roles=frozenset({"admin"}))
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
D = Decimal
_numbers = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_numbers)}"


# ---------------------------------------------------------------- programs and people


async def shop(**changes: Any) -> Program:
    """A CNY program paying L1 10% / L2 5%, 7 freeze days, unless told otherwise."""
    document = {
        "name": unique("Shop"),
        "currency": "CNY",
        "max_levels": 2,
        "level_rates": ["10", "5"],
        "freeze_days": 7,
        "attribution_window_days": 30,
    }
    return await create_program(document={**document, **changes}, actor=ADMIN)


async def customer(nickname: str = "Carol") -> User:
    return await User.create(appid=APPID, openid=unique("openid"), nickname=nickname)


async def promoter(
    program: Program,
    parent: Promoter | None = None,
    *,
    user: User | None = None,
    status: str = "approved",
) -> Promoter:
    """A promoter placed in the tree under `parent`, then given `status`."""
    profile = await Promoter.create(
        program=program,
        user=user or await customer("Pat"),
        status="approved",
        invite_code=unique("INV"),
    )
    async with in_transaction() as conn:
        await attach_promoter(
            promoter_id=profile.id,
            parent_id=parent.id if parent else None,
            program_id=program.id,
            conn=conn,
        )
    if status != "approved":
        await Promoter.filter(id=profile.id).update(status=status)
        profile.status = status
    return profile


async def chain(program: Program, depth: int) -> list[Promoter]:
    """`depth` promoters, each under the previous: [top, …, nearest to the customer]."""
    members: list[Promoter] = []
    for _ in range(depth):
        members.append(await promoter(program, members[-1] if members else None))
    return members


async def bind(
    program: Program,
    to: Promoter,
    *,
    user: User | None = None,
    external_id: str | None = None,
    at: datetime = T0 - timedelta(days=1),
) -> None:
    """The customer visits `to`'s link at `at` (the program's bind mode decides)."""
    async with in_transaction() as conn:
        await bind_from_touch(
            program_id=program.id,
            customer_user_id=user.id if user else None,
            customer_external_id=external_id,
            promoter_id=to.id,
            channel_id=None,
            code_id=None,
            visit_id=None,
            source="visit",
            at=at,
            conn=conn,
        )


# ---------------------------------------------------------------- event bodies


def line(
    ref: str = "L1",
    amount: str = "100.00",
    *,
    quantity: int = 1,
    unit_price: str | None = None,
    product_id: str = "SKU-1",
    category: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "line_ref": ref,
        "product_id": product_id,
        "quantity": quantity,
        "unit_price": unit_price if unit_price is not None else amount,
        "amount": amount,
    }
    if category is not None:
        body["category"] = category
    return body


def paid(
    external_id: str,
    *lines: dict[str, Any],
    buyer: User | None = None,
    buyer_external_id: str | None = None,
    coupon_code: str | None = None,
    placed_at: datetime = T0,
    currency: str = "CNY",
    event_id: str | None = None,
    **order: Any,
) -> dict[str, Any]:
    buyer_body: dict[str, Any] = {}
    if buyer is not None:
        buyer_body["openid"] = buyer.openid
    if buyer_external_id is not None:
        buyer_body["external_id"] = buyer_external_id
    body: dict[str, Any] = {
        "external_id": external_id,
        "currency": currency,
        "placed_at": placed_at.isoformat(),
        "buyer": buyer_body,
        "lines": list(lines) or [line()],
        **order,
    }
    if coupon_code is not None:
        body["coupon_code"] = coupon_code
    return _event("order.paid", body, event_id, placed_at)


def refunded(
    external_id: str,
    *,
    refund_id: str | None = None,
    lines: dict[str, str] | None = None,
    amount: str | None = None,
    full: bool | None = None,
    event_id: str | None = None,
    at: datetime = T0 + timedelta(days=1),
) -> dict[str, Any]:
    body: dict[str, Any] = {"external_id": external_id, "refund_id": refund_id or unique("R")}
    if lines is not None:
        body["lines"] = [{"line_ref": ref, "amount": value} for ref, value in lines.items()]
    if amount is not None:
        body["amount"] = amount
    if full is not None:
        body["full"] = full
    return _event("order.refunded", body, event_id, at)


def completed(
    external_id: str, *, at: datetime = T0 + timedelta(days=2), event_id: str | None = None
) -> dict[str, Any]:
    body = {"external_id": external_id, "completed_at": at.isoformat()}
    return _event("order.completed", body, event_id, at)


def cancelled(
    external_id: str, *, event_id: str | None = None, at: datetime = T0 + timedelta(hours=1)
) -> dict[str, Any]:
    return _event("order.cancelled", {"external_id": external_id}, event_id, at)


def _event(kind: str, order: dict[str, Any], event_id: str | None, at: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id or unique("evt"),
        "type": kind,
        "occurred_at": at.isoformat(),
        "order": order,
    }


# ---------------------------------------------------------------- posting and reading


async def send(program: Program, body: dict[str, Any]) -> RecordedOutcome:
    """Post one event through the use case, as the S2S route would."""
    schema = EVENT_SCHEMAS[EventType(body["type"])]
    payload = schema.model_validate(body).model_dump(mode="json")
    return await ingest_order_event(program_id=program.id, payload=payload, appid=APPID)


async def send_ok(program: Program, body: dict[str, Any]) -> dict[str, Any]:
    """Post an event that must apply; its outcome body."""
    recorded = await send(program, body)
    assert recorded.outcome.status_code == 200, recorded.outcome.body
    return recorded.outcome.body


async def order_of(program: Program, external_id: str) -> Order:
    return await Order.get(program_id=program.id, external_id=external_id)


async def commissions_of(program: Program, external_id: str) -> dict[tuple[str, int], Commission]:
    """The order's commissions keyed by (line_ref, level)."""
    order = await order_of(program, external_id)
    lines = {line.id: line.line_ref for line in await OrderLine.filter(order_id=order.id)}
    return {
        (lines[c.order_line_id], c.level): c  # type: ignore[attr-defined]
        for c in await Commission.filter(order_id=order.id)
    }


async def amounts_of(program: Program, external_id: str) -> dict[tuple[str, int], Decimal]:
    return {key: c.amount for key, c in (await commissions_of(program, external_id)).items()}


async def history_of(commission: Commission) -> list[tuple[str, Decimal, Decimal]]:
    changes = await CommissionChange.filter(commission_id=commission.id).order_by("id")
    return [(c.action, c.amount_before, c.amount_after) for c in changes]


async def available(promoter_id: int) -> Decimal:
    balance = await PromoterBalance.get_or_none(promoter_id=promoter_id)
    return balance.available if balance is not None else D("0")


async def ledger_kinds(promoter_id: int) -> list[tuple[str, Decimal]]:
    entries = await LedgerEntry.filter(promoter_id=promoter_id, account="available").order_by("id")
    return [(entry.kind, entry.amount) for entry in entries]


async def settle_order(program: Program, external_id: str, *, completed_at: datetime) -> None:
    """Complete the order and let the jobs approve and settle its commissions."""
    await send_ok(program, completed(external_id, at=completed_at))
    after_freeze = completed_at + timedelta(days=program.freeze_days, seconds=1)
    await Program.filter(id=program.id).update(auto_approve_rules={"enabled": True})
    await approve_due_commissions(now=after_freeze)
    await settle_due_commissions(now=after_freeze)
