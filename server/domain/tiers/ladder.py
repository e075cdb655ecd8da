"""Tiers: entry conditions on a promoter's own results over a rolling period, the tier those
results earn, and the progress towards the next one (docs/tiers.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from server.domain.periods import Period, period_bounds

DEFAULT_TIER = "default"
MAX_PERIOD_DAYS = 366
# The own results a tier may require; never recruits or team volume (docs/lawful-levels.md).
CONDITIONS = ("min_net_sales", "min_settled_commissions", "min_paying_customers")
FIGURE_OF = {
    "min_net_sales": "net_sales",
    "min_settled_commissions": "settled_commissions",
    "min_paying_customers": "paying_customers",
}


@dataclass(frozen=True, kw_only=True)
class TierBenefits:
    """What a tier changes on its members' commissions (None: the program's own)."""

    code: str
    # level -> percent replacing the program's rate there (a matching rule still wins).
    level_rates: Mapping[int, Decimal] = field(default_factory=dict)
    rate_multiplier: Decimal | None = None
    freeze_days: int | None = None
    auto_approve: bool = False

    def explanation(self) -> dict[str, Any]:
        """The tier's benefits as a commission's explanation records them."""
        return {
            "code": self.code,
            "level_rates": {str(k): str(v) for k, v in sorted(self.level_rates.items())},
            "rate_multiplier": str(self.rate_multiplier) if self.rate_multiplier else None,
            "freeze_days": self.freeze_days,
            "auto_approve": self.auto_approve,
        }


@dataclass(frozen=True, kw_only=True)
class Tier:
    """A program tier: conditions (None = not required) over `period_days` and benefits."""

    id: int
    code: str
    name: str
    rank: int
    period_days: int
    min_net_sales: Decimal | None = None
    min_settled_commissions: Decimal | None = None
    min_paying_customers: int | None = None
    benefits: TierBenefits
    enabled: bool = True

    def requirements(self) -> dict[str, Decimal | int]:
        return {name: value for name in CONDITIONS if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, kw_only=True)
class OwnResults:
    """A promoter's own results in one window: sales attributed to them (level 0 or 1),
    their own settled commissions at levels 0 and 1, and the distinct customers who paid."""

    net_sales: Decimal
    settled_commissions: Decimal
    paying_customers: int

    def to_dict(self) -> dict[str, str | int]:
        return {
            "net_sales": str(self.net_sales),
            "settled_commissions": str(self.settled_commissions),
            "paying_customers": self.paying_customers,
        }


def rolling_window(now: datetime, period_days: int, tz: tzinfo) -> tuple[datetime, datetime]:
    """The last `period_days` local days up to `now`: [local midnight of the first, now)."""
    first = now.astimezone(tz).date() - timedelta(days=period_days - 1)
    noon = datetime(first.year, first.month, first.day, 12, tzinfo=tz)
    return period_bounds(noon, Period.DAY, tz)[0], now


def meets(tier: Tier, results: OwnResults) -> bool:
    """True when `results` satisfy every condition `tier` sets."""
    return all(
        getattr(results, FIGURE_OF[name]) >= needed for name, needed in tier.requirements().items()
    )


def ladder(tiers: Sequence[Tier]) -> list[Tier]:
    """The enabled tiers a promoter can reach, lowest rank first (the default tier excluded)."""
    return sorted(
        (t for t in tiers if t.enabled and t.code != DEFAULT_TIER), key=lambda t: (t.rank, t.id)
    )


def earned_tier(tiers: Sequence[Tier], results_by_tier: Mapping[str, OwnResults]) -> str:
    """The highest-ranked tier whose conditions the promoter's results in its window meet."""
    reached = DEFAULT_TIER
    for tier in ladder(tiers):
        results = results_by_tier.get(tier.code)
        if results is not None and meets(tier, results):
            reached = tier.code
    return reached


def change_kind(tiers: Sequence[Tier], before: str, after: str) -> str:
    """promotion or demotion, by rank (an unknown or the default tier ranks lowest)."""
    rank = {t.code: t.rank for t in tiers}
    return "promotion" if rank.get(after, -1) > rank.get(before, -1) else "demotion"


def progress(
    tiers: Sequence[Tier], *, current: str, results_by_tier: Mapping[str, OwnResults]
) -> dict[str, Any] | None:
    """What the next tier above `current` requires and how far the promoter is, or None."""
    rank = {t.code: t.rank for t in tiers}.get(current, -1)
    above = [t for t in ladder(tiers) if t.rank > rank]
    if not above:
        return None
    target = above[0]
    results = results_by_tier.get(target.code)
    conditions = []
    for name, needed in target.requirements().items():
        have = getattr(results, FIGURE_OF[name]) if results else 0
        conditions.append(
            {
                "condition": name,
                "required": str(needed),
                "current": str(have),
                "missing": str(max(Decimal(needed) - Decimal(have), Decimal(0))),
                "met": Decimal(have) >= Decimal(needed),
            }
        )
    return {
        "tier": target.code,
        "name": target.name,
        "period_days": target.period_days,
        "conditions": conditions,
    }
