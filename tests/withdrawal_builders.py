"""Builders the withdrawal and payout tests share: programs with withdrawal rules, promoters
with money in their balance, finance principals, and short reads of balances."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from server import clock
from server.auth import Principal
from server.models import Program, Promoter, PromoterBalance
from server.services.commissions.settlement import settle_due_commissions
from server.services.payouts.withdrawals import PayeeAccount, request_withdrawal
from tests.ledger_checks import make_commission
from tests.service.promoters.test_hierarchy import new_promoter

FINANCE = Principal(kind="staff", id=7, roles=frozenset({"finance"}))
OTHER_FINANCE = Principal(kind="staff", id=8, roles=frozenset({"finance"}))
_keys = itertools.count(1)


async def rules_program(
    *,
    currency: str = "CNY",
    schedule: dict[str, Any] | None = None,
    **withdrawal_rules: Any,
) -> Program:
    """A valid program whose withdrawal rules are the defaults overridden by the arguments."""
    rules = {"minimum": "1.00", "methods": ["wechat", "bank", "offline"], **withdrawal_rules}
    return await Program.create(
        name="Shop",
        currency=currency,
        max_levels=1,
        level_rates=["10"],
        withdrawal_rules=rules,
        payout_schedule=schedule or {"mode": "manual"},
    )


async def funded_promoter(program: Program, *amounts: str) -> Promoter:
    """An approved promoter with one settled commission per amount (oldest first)."""
    promoter = await new_promoter(program)
    for amount in amounts:
        await make_commission(program, promoter, amount=amount)
    await settle_due_commissions(now=clock.now())
    return promoter


async def balances(promoter: Promoter) -> tuple[Decimal, Decimal, Decimal]:
    """(available, on_hold, paid) as cached."""
    row = await PromoterBalance.get(promoter_id=promoter.id)
    return row.available, row.on_hold, row.paid


async def withdraw(
    promoter: Promoter,
    amount: str,
    *,
    method: str = "wechat",
    key: str | None = None,
    account: PayeeAccount | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """Request a withdrawal as the promoter; the created (or replayed) withdrawal."""
    withdrawal, _ = await request_withdrawal(
        user_id=promoter.user_id,  # type: ignore[attr-defined]
        program_id=promoter.program_id,  # type: ignore[attr-defined]
        amount=amount,
        method=method,
        idempotency_key=key or f"key-{next(_keys)}",
        currency=currency,
        account=account,
    )
    return withdrawal
