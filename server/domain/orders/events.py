"""Order events from the merchant's store: what each carries, the order life cycle, and the
rules for events that arrive before their order is paid (docs/design/orders.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from server.domain.errors import Conflict, FenxiaoError, ValidationFailed
from server.domain.state_machine import StateMachine

PENDING_CODE = "event_pending_until_paid"
MAX_ORDER_LINES = 200
MAX_QUANTITY = 1_000_000


class EventType(StrEnum):
    PAID = "order.paid"
    REFUNDED = "order.refunded"
    COMPLETED = "order.completed"
    CANCELLED = "order.cancelled"


class EventStatus(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"  # waits for the order's order.paid
    REJECTED = "rejected"


class OrderStatus(StrEnum):
    PAID = "paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # fully; partial refunds keep paid/completed


_O = OrderStatus

ORDER_LIFECYCLE: StateMachine[OrderStatus] = StateMachine(
    name="order",
    transitions={
        "complete": (frozenset({_O.PAID}), _O.COMPLETED),
        "cancel": (frozenset({_O.PAID}), _O.CANCELLED),
        "refund_fully": (frozenset({_O.PAID, _O.COMPLETED}), _O.REFUNDED),
    },
)
REFUNDABLE_STATUSES = frozenset({_O.PAID, _O.COMPLETED})


def order_transition(current: str, action: str) -> OrderStatus:
    """The order status `action` leads to, with the codes the store acts on."""
    status = OrderStatus(current)
    if action == "cancel" and status == _O.COMPLETED:
        raise Conflict(
            "a completed order cannot be cancelled; report a return as order.refunded",
            code="order_completed",
            fields={"status": status.value},
        )
    return ORDER_LIFECYCLE.target(status, action)


def ensure_refundable(current: str) -> None:
    """Refuse a refund of a cancelled or already fully refunded order."""
    status = OrderStatus(current)
    if status == _O.CANCELLED:
        raise Conflict(
            "the order was cancelled", code="order_cancelled", fields={"status": status.value}
        )
    if status not in REFUNDABLE_STATUSES:
        raise Conflict(
            "the order is already fully refunded",
            code="order_already_refunded",
            fields={"status": status.value},
        )


def held_until_paid(event_type: str) -> bool:
    """Every event but order.paid waits for the order to exist."""
    return event_type != EventType.PAID


# ---------------------------------------------------------------- the events


@dataclass(frozen=True, kw_only=True)
class Buyer:
    """Who paid: a WeChat identity of the program's mini-program and/or the store's own id."""

    openid: str | None = None
    unionid: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaidLine:
    line_ref: str
    product_id: str
    category: str | None
    quantity: int
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderPaid:
    external_id: str
    currency: str
    placed_at: datetime
    buyer: Buyer
    lines: tuple[PaidLine, ...]
    coupon_code: str | None = None
    site_id: int | None = None
    campaign: str | None = None
    # Salted hashes of the shipping address and the device (never the raw values; see
    # `seal_buyer_signals` in server/domain/orders/parsing.py).
    address_hash: str | None = None
    device_hash: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass(frozen=True, kw_only=True)
class RefundLine:
    line_ref: str
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderRefunded:
    """Exactly one of `lines`, `amount` (whole order, allocated pro rata) or `full`."""

    external_id: str
    refund_id: str
    lines: tuple[RefundLine, ...] | None = None
    amount: Decimal | None = None
    full: bool = False


@dataclass(frozen=True, kw_only=True)
class OrderCompleted:
    external_id: str
    completed_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderCancelled:
    external_id: str


OrderChange = OrderPaid | OrderRefunded | OrderCompleted | OrderCancelled


@dataclass(frozen=True, kw_only=True)
class IncomingEvent:
    event_id: str
    type: EventType
    occurred_at: datetime
    order: OrderChange

    @property
    def external_id(self) -> str:
        return self.order.external_id


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class EventOutcome:
    """What the store is answered for an event; stored with it, so a replay gets it back."""

    status_code: int
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "body": self.body}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> EventOutcome:
        return cls(status_code=int(stored["status_code"]), body=dict(stored["body"]))


def pending_outcome(event: IncomingEvent) -> EventOutcome:
    return EventOutcome(
        202,
        {
            "event_id": event.event_id,
            "type": event.type.value,
            "status": EventStatus.PENDING.value,
            "code": PENDING_CODE,
            "message": "the order is not paid yet: the event is kept and applied when it is",
            "order_external_id": event.external_id,
        },
    )


def applied_outcome(event: IncomingEvent, effects: Mapping[str, Any]) -> EventOutcome:
    return EventOutcome(
        200,
        {
            "event_id": event.event_id,
            "type": event.type.value,
            "status": EventStatus.APPLIED.value,
            "order_external_id": event.external_id,
            **effects,
        },
    )


def rejected_outcome(error: FenxiaoError) -> EventOutcome:
    return EventOutcome(error.status_code, error.to_dict())


def outcome_status(outcome: EventOutcome) -> EventStatus:
    if outcome.status_code == 202:
        return EventStatus.PENDING
    return EventStatus.APPLIED if outcome.status_code < 400 else EventStatus.REJECTED


def event_id_conflict(event_id: str) -> Conflict:
    return Conflict(
        "this event id was already used with another body",
        code="event_id_conflict",
        fields={"event_id": event_id},
    )


def order_exists(external_id: str) -> Conflict:
    return Conflict(
        "this order was already reported paid under another event id",
        code="order_exists",
        fields={"order.external_id": external_id},
    )


def currency_mismatch(order_currency: str, program_currency: str) -> ValidationFailed:
    return ValidationFailed(
        f"the order is in {order_currency}, the program pays in {program_currency}",
        code="currency_mismatch",
        fields={"order.currency": f"must be {program_currency}"},
    )
