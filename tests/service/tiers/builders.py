"""Builders for tier and incentive tests: tiers, boosts, bonuses and referred sales."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from server.models import Program, Promoter, PromoterTierRecord, User
from server.services.tiers.config import create_tier
from server.services.tiers.incentive_config import create_incentive
from tests.order_builders import ADMIN, T0, bind, customer, line, paid, send_ok, unique


async def tier(program: Program, code: str, **document: Any) -> PromoterTierRecord:
    body = {"code": code, "name": code.title(), "rank": 1, "period_days": 30, **document}
    record, _currency = await create_tier(
        program_id=program.id, document=body, actor=ADMIN, request_id=None
    )
    return record


async def incentive(program: Program, kind: str, **document: Any) -> Any:
    record, _currency = await create_incentive(
        kind=kind, program_id=program.id, document=document, actor=ADMIN, request_id=None
    )
    return record


async def sale(
    program: Program,
    to: Promoter,
    amount: str,
    *,
    placed_at: datetime = T0,
    buyer: User | None = None,
) -> str:
    """A customer bound to `to` buys one line of `amount`; the order's external id."""
    buyer = buyer or await customer()
    await bind(program, to, user=buyer, at=placed_at - timedelta(hours=1))
    external_id = unique("O")
    await send_ok(program, paid(external_id, line(amount=amount), buyer=buyer, placed_at=placed_at))
    return external_id
