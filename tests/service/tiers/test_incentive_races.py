"""Milestone bonus runs and tier runs started at the same moment pay each award and record
each tier change exactly once (MariaDB, where the runs' transactions really overlap)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from server.models import (
    BonusAward,
    LedgerEntry,
    MilestoneBonusRecord,
    Promoter,
    PromoterTierChange,
)
from server.services.tiers.bonuses import pay_milestone_bonuses
from server.services.tiers.evaluation import evaluate_tiers
from tests.order_builders import T0, D, available, promoter, shop
from tests.service.tiers.builders import incentive, sale, tier

pytestmark = pytest.mark.mysql

RUNS = 6


async def test_concurrent_bonus_runs_pay_each_promoter_exactly_once(wide_pool: None) -> None:
    program = await shop()
    bonus = await incentive(
        program,
        "milestone_bonus",
        target_net_sales="100.00",
        amount="20.00",
        max_awards=2,
        starts_at=T0 - timedelta(days=1),
        ends_at=T0 + timedelta(days=1),
    )
    sellers = [await promoter(program) for _ in range(3)]
    for index, seller in enumerate(sellers):
        await sale(program, seller, f"{100 + index}.00")

    summaries = await asyncio.gather(
        *(pay_milestone_bonuses(now=T0 + timedelta(hours=1)) for _ in range(RUNS))
    )

    assert sum(summary["awarded"] for summary in summaries) == 2
    assert await BonusAward.filter(bonus_id=bonus.id).count() == 2
    assert await LedgerEntry.filter(kind="bonus").count() == 2
    # Best sales first: the two largest sellers, 20.00 each; the cap holds.
    assert [await available(s.id) for s in sellers] == [D("0"), D("20.00"), D("20.00")]
    assert (await MilestoneBonusRecord.get(id=bonus.id)).awarded_count == 2


async def test_concurrent_tier_runs_record_each_promotion_once(wide_pool: None) -> None:
    program = await shop()
    await tier(program, "silver", min_net_sales="100.00")
    sellers = [await promoter(program) for _ in range(4)]
    for seller in sellers:
        await sale(program, seller, "100.00")

    summaries = await asyncio.gather(
        *(evaluate_tiers(now=T0 + timedelta(hours=1)) for _ in range(RUNS))
    )

    assert sum(summary["promoted"] for summary in summaries) == len(sellers)
    assert await PromoterTierChange.all().count() == len(sellers)
    tiers = await Promoter.filter(id__in=[s.id for s in sellers]).values_list("tier", flat=True)
    assert set(tiers) == {"silver"}
