"""Milestone bonuses: a one-time amount when a promoter's own net sales on orders placed in a
campaign window reach a target (docs/tiers.md#incentives)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

# Orders reach the store's feed late: a window is still evaluated this long after it closed.
AWARD_GRACE = timedelta(days=3)


@dataclass(frozen=True, kw_only=True)
class MilestoneBonus:
    """Pay `amount` once to each promoter (of `tier`, when set) whose own net sales on orders
    placed in [starts_at, ends_at) reach `target_net_sales`; at most `max_awards` of them."""

    id: int
    program_id: int
    name: str
    target_net_sales: Decimal
    amount: Decimal
    starts_at: datetime
    ends_at: datetime
    tier: str | None = None
    max_awards: int | None = None
    enabled: bool = True

    def evaluated_at(self, now: datetime) -> bool:
        """True while the job looks at this bonus: from its start until the grace has passed."""
        return self.enabled and self.starts_at <= now < self.ends_at + AWARD_GRACE

    def reference(self, promoter_id: int) -> str:
        """The ledger reference of the award: one per bonus and promoter, ever."""
        return f"bonus:{self.id}:{promoter_id}"


def award_refusal(
    bonus: MilestoneBonus, *, net_sales: Decimal, tier: str, awarded_count: int
) -> str | None:
    """Why a promoter with these figures gets no award now (a code), or None when due."""
    if bonus.tier is not None and bonus.tier != tier:
        return "other_tier"
    if net_sales < bonus.target_net_sales:
        return "target_not_reached"
    if bonus.max_awards is not None and awarded_count >= bonus.max_awards:
        return "awards_exhausted"
    return None


def award_explanation(
    bonus: MilestoneBonus, *, net_sales: Decimal, tier: str, now: datetime
) -> dict[str, Any]:
    """What the award's ledger entry and record keep: the rule and the figures that met it."""
    return {
        "bonus_id": bonus.id,
        "name": bonus.name,
        "window": {"starts_at": bonus.starts_at.isoformat(), "ends_at": bonus.ends_at.isoformat()},
        "target_net_sales": str(bonus.target_net_sales),
        "own_net_sales": str(net_sales),
        "tier": tier,
        "tier_required": bonus.tier,
        "amount": str(bonus.amount),
        "evaluated_at": now.isoformat(),
    }
