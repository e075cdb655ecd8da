"""A period cap holds when a promoter's orders are applied at the same moment (MariaDB, where
transactions really run side by side: the inbox drainer's lanes and the workers do)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from server.models import Commission
from server.services.programs.period_caps import create_cap
from tests.order_builders import ADMIN, bind, chain, customer, line, paid, send, shop

pytestmark = pytest.mark.mysql

ORDERS = 8


async def _earned(promoter_id: int) -> Decimal:
    amounts = await Commission.filter(promoter_id=promoter_id).values_list("amount", flat=True)
    return sum(amounts, Decimal(0))


async def test_orders_applied_at_once_never_pay_a_promoter_past_the_period_cap(
    wide_pool: None,
) -> None:
    program = await shop()
    top, nearest = await chain(program, 2)
    await create_cap(
        program_id=program.id, document={"period": "month", "amount": "25.00"}, actor=ADMIN
    )
    buyers = [await customer() for _ in range(ORDERS)]
    for buyer in buyers:
        await bind(program, nearest, user=buyer)

    outcomes = await asyncio.gather(
        *(
            send(program, paid(f"CAP-{index}", line("L1", "100.00"), buyer=buyer))
            for index, buyer in enumerate(buyers)
        )
    )

    assert [outcome.outcome.status_code for outcome in outcomes] == [200] * ORDERS
    # Uncapped: 8 × 10.00 at level 1 and 8 × 5.00 at level 2.
    assert await _earned(nearest.id) == Decimal("25.00")
    assert await _earned(top.id) == Decimal("25.00")
