"""Tiers are earned on a promoter's own results over a rolling period of local days, and
every promotion and demotion is recorded with its figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.models import Promoter, PromoterTierChange
from server.services.tiers.config import set_tier_enabled
from server.services.tiers.evaluation import evaluate_tiers
from server.services.tiers.standing import assign_tier
from tests.order_builders import ADMIN, T0, promoter, refunded, send_ok, settle_order, shop
from tests.service.tiers.builders import sale, tier

pytestmark = pytest.mark.usefixtures("db")

CST = timezone(timedelta(hours=8))


async def _tier_of(profile: Promoter) -> str:
    return (await Promoter.get(id=profile.id)).tier


async def test_net_sales_exactly_at_the_threshold_promote_and_a_cent_short_do_not() -> None:
    program = await shop()
    await tier(program, "silver", min_net_sales="1000.00")
    at_threshold, short = await promoter(program), await promoter(program)
    await sale(program, at_threshold, "1000.00")
    await sale(program, short, "999.99")

    summary = await evaluate_tiers(now=T0 + timedelta(days=1))

    assert summary["promoted"] == 1
    assert await _tier_of(at_threshold) == "silver"
    assert await _tier_of(short) == "default"
    (change,) = await PromoterTierChange.filter(promoter_id=at_threshold.id)
    assert (change.from_tier, change.to_tier, change.kind, change.source) == (
        "default",
        "silver",
        "promotion",
        "job",
    )
    (silver,) = change.figures["tiers"]
    assert silver["requires"] == {"min_net_sales": "1000.00"}
    assert silver["results"]["net_sales"] == "1000.00"


async def test_the_rolling_window_begins_at_local_midnight_in_plus_0800() -> None:
    program = await shop(time_zone="Asia/Shanghai")
    await tier(program, "silver", min_net_sales="100.00", period_days=1)
    inside, outside = await promoter(program), await promoter(program)
    # 00:00 +08:00 on 10 March is 16:00 UTC on 9 March: the first instant of the local day.
    await sale(program, inside, "100.00", placed_at=datetime(2026, 3, 10, 0, 0, tzinfo=CST))
    await sale(program, outside, "100.00", placed_at=datetime(2026, 3, 9, 23, 59, tzinfo=CST))

    await evaluate_tiers(now=datetime(2026, 3, 10, 2, 0, tzinfo=CST))

    assert await _tier_of(inside) == "silver"
    assert await _tier_of(outside) == "default"
    # A day later the window has moved past both sales: the promoter goes back down.
    await evaluate_tiers(now=datetime(2026, 3, 11, 0, 0, tzinfo=CST))
    assert await _tier_of(inside) == "default"
    last = await PromoterTierChange.filter(promoter_id=inside.id).order_by("-id").first()
    assert last is not None and last.kind == "demotion"


async def test_team_volume_never_promotes_an_upline() -> None:
    program = await shop()
    await tier(program, "gold", min_net_sales="500.00", min_settled_commissions="10.00")
    upline = await promoter(program)
    downline = await promoter(program, upline)
    for _ in range(3):
        external_id = await sale(program, downline, "1000.00")
        await settle_order(program, external_id, completed_at=T0 + timedelta(hours=1))

    await evaluate_tiers(now=T0 + timedelta(days=10))

    # The upline earned 150.00 at level 2 on 3,000.00 of the team's sales: none of it counts.
    assert await _tier_of(downline) == "gold"
    assert await _tier_of(upline) == "default"
    assert not await PromoterTierChange.filter(promoter_id=upline.id).exists()


async def test_a_refund_below_the_threshold_demotes_on_the_next_run() -> None:
    program = await shop()
    await tier(program, "silver", min_net_sales="1000.00")
    seller = await promoter(program)
    external_id = await sale(program, seller, "1000.00")
    await evaluate_tiers(now=T0 + timedelta(days=1))
    assert await _tier_of(seller) == "silver"

    await send_ok(program, refunded(external_id, amount="0.01"))
    await evaluate_tiers(now=T0 + timedelta(days=2))

    assert await _tier_of(seller) == "default"
    change = await PromoterTierChange.filter(promoter_id=seller.id).order_by("-id").first()
    assert change is not None and change.kind == "demotion"
    assert change.figures["tiers"][0]["results"]["net_sales"] == "999.99"


async def test_a_tier_staff_locked_is_left_alone_by_the_job() -> None:
    program = await shop()
    await tier(program, "gold", min_net_sales="100000.00", rank=2)
    seller = await promoter(program)
    await assign_tier(
        promoter_id=seller.id,
        tier="gold",
        lock=True,
        reason="flagship store partner",
        actor=ADMIN,
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )

    await evaluate_tiers(now=T0 + timedelta(days=1))

    assert await _tier_of(seller) == "gold"
    changes = await PromoterTierChange.filter(promoter_id=seller.id)
    assert [(c.kind, c.source, c.locked, c.actor_id) for c in changes] == [
        ("assignment", "staff", True, ADMIN.id)
    ]


async def test_paying_customers_count_distinct_buyers_and_never_the_promoter() -> None:
    program = await shop()
    await tier(program, "silver", min_paying_customers=2)
    one_buyer, two_buyers = await promoter(program), await promoter(program)
    await sale(program, one_buyer, "10.00")
    await sale(program, two_buyers, "10.00")
    await sale(program, two_buyers, "10.00")

    await evaluate_tiers(now=T0 + timedelta(days=1))

    assert await _tier_of(one_buyer) == "default"
    assert await _tier_of(two_buyers) == "silver"


async def test_disabling_a_tier_moves_its_members_down_on_the_next_run() -> None:
    program = await shop()
    silver = await tier(program, "silver", min_net_sales="100.00")
    seller = await promoter(program)
    await sale(program, seller, "100.00")
    await evaluate_tiers(now=T0 + timedelta(hours=1))
    assert await _tier_of(seller) == "silver"

    await set_tier_enabled(tier_id=silver.id, enabled=False, actor=ADMIN, request_id=None)
    await evaluate_tiers(now=T0 + timedelta(hours=2))

    assert await _tier_of(seller) == "default"


async def test_an_unlocked_assignment_is_reevaluated_by_the_next_run() -> None:
    program = await shop()
    await tier(program, "gold", min_net_sales="100000.00")
    seller = await promoter(program)
    await assign_tier(
        promoter_id=seller.id,
        tier="gold",
        lock=False,
        reason="trial month",
        actor=ADMIN,
        now=T0,
    )

    await evaluate_tiers(now=T0 + timedelta(hours=1))

    assert await _tier_of(seller) == "default"
    kinds = [c.kind for c in await PromoterTierChange.filter(promoter_id=seller.id).order_by("id")]
    assert kinds == ["assignment", "demotion"]
