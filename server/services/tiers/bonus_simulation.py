"""A simulation's milestone bonuses: what a rule-set version's bonuses would award on the
range's orders next to the awards paid (docs/rule-sets.md#simulation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from server.domain.periods import zone
from server.domain.promoters.status import PromoterStatus
from server.domain.tiers.ladder import DEFAULT_TIER
from server.domain.tiers.unlocks import OwnSale, PaidAward, bonus_unlocks, compare_awards
from server.models import BonusAward, Commission, Order, Program, Promoter
from server.services.tiers.incentive_config import to_domain_bonus
from server.services.tiers.results import COUNTED_ORDERS


def _at_order(commissions: Sequence[Commission], promoter_id: int) -> dict[str, Any] | None:
    """The promoter as the order's commissions recorded them (tier, status), if they did."""
    for commission in commissions:
        for member in commission.explanation.get("chain", []):
            if int(member.get("promoter_id", 0)) == promoter_id:
                return member
    return None


async def _own_sales(
    orders: Sequence[Order], commissions: dict[int, list[Commission]]
) -> list[OwnSale]:
    """Each counted order as its attributed promoter's own sale, with their tier and standing
    at order time (as its commissions recorded them, else as they stand now)."""
    counted = [
        o for o in orders if o.status in COUNTED_ORDERS and o.attributed_promoter_id is not None
    ]
    ids = {o.attributed_promoter_id for o in counted}
    now = {p.id: p for p in await Promoter.filter(id__in=ids)} if ids else {}
    sales = []
    for order in counted:
        promoter_id = int(order.attributed_promoter_id)  # type: ignore[arg-type]
        recorded = _at_order(commissions.get(order.id, []), promoter_id)
        current = now.get(promoter_id)
        tier = (recorded or {}).get("tier") or (current.tier if current else DEFAULT_TIER)
        status = (recorded or {}).get("status") or (current.status if current else "")
        sales.append(
            OwnSale(
                promoter_id=promoter_id,
                order_id=order.id,
                placed_at=order.placed_at,
                net=Decimal(order.total_amount) - Decimal(order.refunded_amount),
                tier=str(tier),
                approved=status == PromoterStatus.APPROVED.value,
            )
        )
    return sales


async def simulate_bonuses(
    *,
    program: Program,
    bonus_records: Sequence[Any],
    orders: Sequence[Order],
    commissions: dict[int, list[Commission]],
    first: datetime,
    after: datetime,
) -> dict[str, Any]:
    """The version's bonuses whose window meets [first, after) run on `orders` (the range's),
    next to the awards paid for the program's bonuses whose window meets it."""
    bonuses = [
        bonus
        for bonus in (to_domain_bonus(record) for record in bonus_records)
        if bonus.starts_at < after and bonus.ends_at > first
    ]
    sales = await _own_sales(orders, commissions) if bonuses else []
    simulated = [unlock for bonus in bonuses for unlock in bonus_unlocks(bonus, sales)]
    awards = (
        await BonusAward.filter(
            program_id=program.id, bonus__starts_at__lt=after, bonus__ends_at__gt=first
        )
        .prefetch_related("bonus")
        .order_by("id")
    )
    paid = [
        PaidAward(
            bonus_id=award.bonus_id,  # type: ignore[attr-defined]
            name=award.bonus.name,
            promoter_id=award.promoter_id,  # type: ignore[attr-defined]
            amount=Decimal(award.amount),
            awarded_at=award.awarded_at,
        )
        for award in awards
    ]
    return compare_awards(simulated, paid, currency=program.currency, tz=zone(program.time_zone))
