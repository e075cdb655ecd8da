"""Small builders for the commission engine's unit tests (program 1, CNY, L1 10% / L2 5%)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.domain.commissions.inputs import (
    BeneficiaryChain,
    ChainMember,
    OrderLine,
    OrderSnapshot,
    ProgramTerms,
)
from server.domain.commissions.rules import CommissionRule

PLACED_AT = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
BOUND_AT = PLACED_AT - timedelta(days=3)
D = Decimal


def terms(**changes: Any) -> ProgramTerms:
    base = ProgramTerms(program_id=1, currency="CNY", level_rates=(D(10), D(5)))
    return replace(base, **changes)


def order_line(
    line_id: str = "L1",
    *,
    product_id: str = "P1",
    quantity: int = 1,
    unit_price: str = "100.00",
    amount: str | None = None,
    refunded: str = "0",
    category: str | None = None,
) -> OrderLine:
    total = D(amount) if amount is not None else quantity * D(unit_price)
    return OrderLine(
        line_id=line_id,
        product_id=product_id,
        category=category,
        quantity=quantity,
        unit_price=D(unit_price),
        amount=total,
        refunded_amount=D(refunded),
    )


def order(
    *lines: OrderLine,
    placed_at: datetime = PLACED_AT,
    currency: str = "CNY",
    site_id: int | None = None,
    campaign: str | None = None,
) -> OrderSnapshot:
    return OrderSnapshot(
        program_id=1,
        currency=currency,
        placed_at=placed_at,
        lines=lines or (order_line(),),
        site_id=site_id,
        campaign=campaign,
    )


def member(promoter_id: int, status: str = "approved", tier: str | None = None) -> ChainMember:
    return ChainMember(promoter_id=promoter_id, status=status, tier=tier)


def referred(*members: ChainMember, bound_at: datetime | None = BOUND_AT) -> BeneficiaryChain:
    first, *uplines = members
    return BeneficiaryChain.referred(first, uplines, bound_at=bound_at)


def self_purchase(buyer: ChainMember, *uplines: ChainMember) -> BeneficiaryChain:
    return BeneficiaryChain.self_purchase(buyer, uplines)


def rule(
    rule_id: int = 1, *, kind: str = "percent", value: str = "20", **fields: Any
) -> CommissionRule:
    return CommissionRule(id=rule_id, program_id=1, kind=kind, value=D(value), **fields)
