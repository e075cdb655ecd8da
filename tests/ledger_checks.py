"""Ledger helpers other tests import: the reconcile assertion and commission builders."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from server import clock
from server.models import Commission, Order, OrderLine, Program, Promoter
from server.services.ledger.balances import reconcile_balances

_external_ids = itertools.count(1)


async def assert_ledger_reconciles(promoter_ids: list[int] | None = None) -> None:
    """Every cached balance equals the sum of its entries and the newest entry's balance."""
    report = await reconcile_balances(promoter_ids=promoter_ids)
    assert report.balanced, report.to_dict()


async def make_commission(
    program: Program,
    promoter: Promoter,
    *,
    amount: str | Decimal = "10.00",
    status: str = "approved",
    unlock_at: datetime | None = None,
    unlocked_days_ago: int | None = 1,
    hold_reason: str | None = None,
    level: int = 1,
) -> Commission:
    """A commission on its own one-line order; unlocked a day ago unless told otherwise."""
    if unlock_at is None and unlocked_days_ago is not None:
        unlock_at = clock.now() - timedelta(days=unlocked_days_ago)
    value = Decimal(str(amount))
    order = await Order.create(
        program=program,
        external_id=f"ext-{next(_external_ids)}",
        status="completed",
        currency=program.currency,
        total_amount=value * 10,
        placed_at=clock.now() - timedelta(days=30),
    )
    line = await OrderLine.create(
        order=order,
        line_ref="1",
        product_id="sku-1",
        quantity=1,
        unit_price=value * 10,
        amount=value * 10,
    )
    return await Commission.create(
        program=program,
        order=order,
        order_line=line,
        promoter=promoter,
        level=level,
        currency=program.currency,
        status=status,
        kind="percent",
        rate=Decimal("10"),
        quantity=1,
        line_amount=value * 10,
        base_amount=value * 10,
        rule_source="program_level",
        amount=value,
        original_amount=value,
        hold_reason=hold_reason,
        unlock_at=unlock_at,
    )
