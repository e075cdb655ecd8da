"""What a tier's benefits and a time-bound boost do to one commission's rate (docs/tiers.md).

Applied before the commission's limits, so line, period and net caps still bind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from server.domain.money import round_down
from server.domain.programs.settings import MAX_RATE, RATE_QUANTUM
from server.domain.tiers.ladder import TierBenefits

PERCENT = "percent"


@dataclass(frozen=True, kw_only=True)
class Boost:
    """Rates multiplied on orders placed in [starts_at, ends_at), for one tier or everyone."""

    id: int
    name: str
    multiplier: Decimal
    starts_at: datetime
    ends_at: datetime
    tier: str | None = None
    max_rate: Decimal | None = None
    enabled: bool = True

    def applies(self, *, placed_at: datetime, tier: str | None) -> bool:
        return (
            self.enabled
            and self.starts_at <= placed_at < self.ends_at
            and (self.tier is None or self.tier == tier)
        )


def select_boost(boosts: Iterable[Boost], *, placed_at: datetime, tier: str | None) -> Boost | None:
    """The boost in force for an order and a beneficiary: the largest, never several at once."""
    live = [b for b in boosts if b.applies(placed_at=placed_at, tier=tier)]
    return max(live, key=lambda b: (b.multiplier, -b.id)) if live else None


def _settled_value(kind: str, value: Decimal, currency: str) -> Decimal:
    """A rate down to the stored quantum and at most 100%, or an amount down to the unit."""
    if kind == PERCENT:
        return min(value, MAX_RATE).quantize(RATE_QUANTUM, rounding=ROUND_DOWN)
    return round_down(value, currency)


def apply_incentives(
    *,
    kind: str,
    value: Decimal,
    level: int,
    rule_matched: bool,
    benefits: TierBenefits | None,
    boost: Boost | None,
    currency: str,
) -> tuple[Decimal, dict[str, Any] | None]:
    """The rate (or amount per unit) after the tier's benefits and the boost, and how it was
    reached for the explanation (None when neither changes anything)."""
    if benefits is None and boost is None:
        return value, None
    steps: list[dict[str, str]] = []
    figure = value
    if benefits is not None:
        # A rule scoped to the line (product, tier, promoter…) is more specific than the tier's
        # level rate, so the override only replaces the program's own rate.
        override = benefits.level_rates.get(level)
        if override is not None and not rule_matched and kind == PERCENT:
            steps.append({"step": "tier_level_rate", "from": str(figure), "to": str(override)})
            figure = override
        if benefits.rate_multiplier is not None:
            boosted = figure * benefits.rate_multiplier
            steps.append({"step": "tier_multiplier", "from": str(figure), "to": str(boosted)})
            figure = boosted
    if boost is not None:
        boosted = figure * boost.multiplier
        if kind == PERCENT and boost.max_rate is not None:
            # The boost's ceiling never lowers a rate the promoter had without it.
            boosted = min(boosted, max(boost.max_rate, figure))
        steps.append({"step": "boost", "from": str(figure), "to": str(boosted)})
        figure = boosted
    settled = _settled_value(kind, figure, currency)
    explanation: dict[str, Any] = {
        "value_before": str(value),
        "value": str(settled),
        "steps": steps,
        "tier": benefits.explanation() if benefits is not None else None,
        "boost": (
            {
                "id": boost.id,
                "name": boost.name,
                "multiplier": str(boost.multiplier),
                "max_rate": str(boost.max_rate) if boost.max_rate is not None else None,
                "starts_at": boost.starts_at.isoformat(),
                "ends_at": boost.ends_at.isoformat(),
            }
            if boost is not None
            else None
        ),
    }
    return settled, explanation
