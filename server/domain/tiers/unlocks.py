"""Which milestone bonuses a rule-set version would award on a range's orders, and when,
next to the awards actually paid (docs/rule-sets.md#simulation).

The bonus rule is the job's (`award_refusal`): a promoter's own net sales on orders placed in
the campaign window, cumulated in placing order, unlock the bonus at the first order where
the promoter is approved, in the bonus's tier and at or past the target; `max_awards` goes
to the earliest unlocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from server.domain.commissions.simulation import figures
from server.domain.money import money_text
from server.domain.tiers.rewards import MilestoneBonus, award_refusal


@dataclass(frozen=True, kw_only=True)
class OwnSale:
    """One order counted in its promoter's own net sales: when it was placed, what it nets
    now (total less refunds), and the promoter's tier and standing when it was placed."""

    promoter_id: int
    order_id: int
    placed_at: datetime
    net: Decimal
    tier: str
    approved: bool


@dataclass(frozen=True, kw_only=True)
class Unlock:
    """A bonus the version would award: to whom, how much, and the order that reached it."""

    bonus_id: int
    name: str
    promoter_id: int
    amount: Decimal
    net_sales: Decimal
    order_id: int
    unlocked_at: datetime


@dataclass(frozen=True, kw_only=True)
class PaidAward:
    """A bonus award actually paid."""

    bonus_id: int
    name: str
    promoter_id: int
    amount: Decimal
    awarded_at: datetime


def _unlock(bonus: MilestoneBonus, sales: Sequence[OwnSale]) -> Unlock | None:
    """The first of one promoter's sales (in placing order) at which the bonus is due."""
    net = Decimal(0)
    for sale in sales:
        net += sale.net
        due = award_refusal(bonus, net_sales=net, tier=sale.tier, awarded_count=0) is None
        if due and sale.approved:
            return Unlock(
                bonus_id=bonus.id,
                name=bonus.name,
                promoter_id=sale.promoter_id,
                amount=bonus.amount,
                net_sales=net,
                order_id=sale.order_id,
                unlocked_at=sale.placed_at,
            )
    return None


def bonus_unlocks(bonus: MilestoneBonus, sales: Iterable[OwnSale]) -> list[Unlock]:
    """Whom `bonus` would award on `sales` (those placed in its window count), earliest
    unlock first, at most `max_awards` of them."""
    if not bonus.enabled:
        return []
    own: dict[int, list[OwnSale]] = {}
    for sale in sorted(sales, key=lambda sale: (sale.placed_at, sale.order_id)):
        if bonus.starts_at <= sale.placed_at < bonus.ends_at:
            own.setdefault(sale.promoter_id, []).append(sale)
    unlocks = [found for found in (_unlock(bonus, mine) for mine in own.values()) if found]
    unlocks.sort(key=lambda u: (u.unlocked_at, -u.net_sales, u.promoter_id))
    return unlocks if bonus.max_awards is None else unlocks[: bonus.max_awards]


def compare_awards(
    simulated: Sequence[Unlock], paid: Sequence[PaidAward], *, currency: str, tz: tzinfo
) -> dict[str, Any]:
    """Each (bonus, promoter) either side awards, paid next to simulated, with the local day
    it unlocks and was paid, and the totals; JSON-safe."""
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for award in paid:
        rows[(award.bonus_id, award.promoter_id)] = {
            "bonus_id": award.bonus_id,
            "name": award.name,
            "promoter_id": award.promoter_id,
            "paid_amount": award.amount,
            "awarded_on": award.awarded_at.astimezone(tz).date().isoformat(),
        }
    for unlock in simulated:
        row = rows.setdefault(
            (unlock.bonus_id, unlock.promoter_id),
            {"bonus_id": unlock.bonus_id, "promoter_id": unlock.promoter_id},
        )
        row.update(
            name=unlock.name,
            simulated_amount=unlock.amount,
            unlocks_on=unlock.unlocked_at.astimezone(tz).date().isoformat(),
            order_id=unlock.order_id,
            net_sales=money_text(unlock.net_sales, currency),
        )
    awards = []
    for key in sorted(rows):
        row = rows[key]
        paid_amount = row.pop("paid_amount", Decimal(0))
        simulated_amount = row.pop("simulated_amount", Decimal(0))
        awards.append(
            {
                "awarded_on": None,
                "unlocks_on": None,
                "order_id": None,
                "net_sales": None,
                **row,
                **figures(paid_amount, simulated_amount, currency),
            }
        )
    return {
        "totals": {
            **figures(
                sum((award.amount for award in paid), Decimal(0)),
                sum((unlock.amount for unlock in simulated), Decimal(0)),
                currency,
            ),
            "awards_paid": len(paid),
            "awards_simulated": len(simulated),
        },
        "awards": awards,
    }
