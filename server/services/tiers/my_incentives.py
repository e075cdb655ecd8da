"""What a promoter sees of a program's incentives: the boosts in force for them and each open
milestone bonus with their own progress towards it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from server.domain.tiers.rewards import award_refusal
from server.models import BonusAward, CommissionBoostRecord, MilestoneBonusRecord, Program
from server.services.promoters.team import own_promoter
from server.services.tiers.config import to_domain_boost
from server.services.tiers.incentive_config import to_domain_bonus
from server.services.tiers.results import NO_RESULTS, own_results


async def my_incentives(*, user_id: int, program_id: int, now: datetime) -> dict[str, Any]:
    """Boosts live now for my tier, and open bonuses with my own net sales towards each."""
    me = await own_promoter(user_id=user_id, program_id=program_id)
    program = await Program.get(id=program_id)
    boosts = [
        to_domain_boost(record)
        for record in await CommissionBoostRecord.filter(
            program_id=program_id, enabled=True, starts_at__lte=now, ends_at__gt=now
        ).order_by("id")
    ]
    bonuses = [
        to_domain_bonus(record)
        for record in await MilestoneBonusRecord.filter(
            program_id=program_id, enabled=True, ends_at__gt=now
        ).order_by("id")
    ]
    awarded = set(await BonusAward.filter(promoter_id=me.id).values_list("bonus_id", flat=True))
    shown = []
    for bonus in bonuses:
        if bonus.tier is not None and bonus.tier != me.tier:
            continue
        results = (
            await own_results(
                program_id=program_id, start=bonus.starts_at, end=bonus.ends_at, promoter_id=me.id
            )
        ).get(me.id, NO_RESULTS)
        shown.append(
            {
                "id": bonus.id,
                "name": bonus.name,
                "starts_at": bonus.starts_at,
                "ends_at": bonus.ends_at,
                "target_net_sales": str(bonus.target_net_sales),
                "amount": str(bonus.amount),
                "own_net_sales": str(results.net_sales),
                "missing": str(max(bonus.target_net_sales - results.net_sales, Decimal(0))),
                "awarded": bonus.id in awarded,
                "reached": award_refusal(
                    bonus, net_sales=results.net_sales, tier=me.tier, awarded_count=0
                )
                is None,
            }
        )
    return {
        "promoter_id": me.id,
        "currency": program.currency,
        "tier": me.tier,
        "boosts": [
            {
                "id": boost.id,
                "name": boost.name,
                "multiplier": str(boost.multiplier),
                "max_rate": str(boost.max_rate) if boost.max_rate is not None else None,
                "starts_at": boost.starts_at,
                "ends_at": boost.ends_at,
            }
            for boost in boosts
            if boost.applies(placed_at=now, tier=me.tier)
        ],
        "milestone_bonuses": shown,
    }
