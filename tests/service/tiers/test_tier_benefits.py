"""A promoter's tier changes what they earn: tier-scoped rules and caps match, the tier's
rate override and multiplier, a shorter freeze and approval without staff, each recorded in
the commission's explanation; boosts multiply rates within their window and every cap."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.domain.errors import ValidationFailed
from server.models import Commission, Promoter, PromoterTierRecord
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.programs.commission_rules import create_rule
from server.services.programs.period_caps import create_cap
from server.services.tiers.config import update_tier
from server.services.tiers.evaluation import evaluate_tiers
from tests.order_builders import (
    ADMIN,
    T0,
    D,
    available,
    commissions_of,
    completed,
    promoter,
    refunded,
    send_ok,
    shop,
)
from tests.service.tiers.builders import incentive, sale, tier

pytestmark = pytest.mark.usefixtures("db")


async def _gold(program_id: int, profile: Promoter) -> None:
    await Promoter.filter(id=profile.id).update(tier="gold")


async def test_a_tier_rate_override_and_multiplier_enter_the_explanation() -> None:
    program = await shop()
    await tier(
        program, "gold", min_net_sales="1.00", level_rates={"1": "12"}, rate_multiplier="1.5"
    )
    seller = await promoter(program)
    await _gold(program.id, seller)

    external_id = await sale(program, seller, "100.00")

    commission = (await commissions_of(program, external_id))[("L1", 1)]
    # 12% replaces the program's 10%, then × 1.5 = 18% of 100.00.
    assert commission.amount == D("18.00")
    assert commission.rate == D("18")
    incentives = commission.explanation["incentives"]
    assert incentives["tier"]["code"] == "gold"
    assert [s["step"] for s in incentives["steps"]] == ["tier_level_rate", "tier_multiplier"]
    assert commission.explanation["rule"]["value"] == "10"


async def test_a_tier_scoped_rule_and_cap_now_match_a_promoted_promoter() -> None:
    program = await shop()
    await tier(program, "gold", min_net_sales="100.00")
    await create_rule(
        program_id=program.id,
        document={"kind": "percent", "value": "20", "level": 1, "tier": "gold"},
        actor=ADMIN,
    )
    await create_cap(
        program_id=program.id,
        document={"period": "day", "amount": "35.00", "tier": "gold"},
        actor=ADMIN,
    )
    seller = await promoter(program)
    first = await sale(program, seller, "100.00")
    assert (await commissions_of(program, first))[("L1", 1)].amount == D("10.00")

    await evaluate_tiers(now=T0 + timedelta(hours=1))
    second = await sale(program, seller, "100.00", placed_at=T0 + timedelta(hours=2))
    third = await sale(program, seller, "100.00", placed_at=T0 + timedelta(hours=3))

    assert (await commissions_of(program, second))[("L1", 1)].amount == D("20.00")
    # The gold day cap of 35.00 leaves 5.00 after the 10.00 and 20.00 already earned today.
    capped = (await commissions_of(program, third))[("L1", 1)]
    assert (capped.amount, capped.explanation["capped_by"]) == (D("5.00"), "period_cap")
    assert capped.explanation["beneficiary"]["tier"] == "gold"


async def test_a_tier_with_a_shorter_freeze_and_auto_approval_settles_without_staff() -> None:
    program = await shop(freeze_days=7)
    await tier(program, "gold", min_net_sales="1.00", freeze_days=1, auto_approve=True)
    seller, plain = await promoter(program), await promoter(program)
    await _gold(program.id, seller)
    gold_order = await sale(program, seller, "100.00")
    plain_order = await sale(program, plain, "100.00")
    done = T0 + timedelta(hours=1)
    await send_ok(program, completed(gold_order, at=done))
    await send_ok(program, completed(plain_order, at=done))

    after_one_day = done + timedelta(days=1, seconds=1)
    await approve_due_commissions(now=after_one_day)
    await settle_due_commissions(now=after_one_day)

    assert await available(seller.id) == D("10.00")
    assert await available(plain.id) == D("0")
    gold = await Commission.get(promoter_id=seller.id)
    assert (gold.freeze_days, gold.auto_approve, gold.status) == (1, True, "settled")
    assert gold.explanation["incentives"]["tier"]["freeze_days"] == 1
    assert (await Commission.get(promoter_id=plain.id)).status == "pending"


async def test_a_boost_multiplies_the_rate_only_inside_its_window_and_up_to_its_max_rate() -> None:
    program = await shop()
    await incentive(
        program,
        "boost",
        name="Double 11",
        multiplier="2",
        max_rate="15",
        starts_at=T0 - timedelta(hours=1),
        ends_at=T0 + timedelta(hours=1),
    )
    seller = await promoter(program)
    inside = await sale(program, seller, "100.00")
    outside = await sale(program, seller, "100.00", placed_at=T0 + timedelta(hours=1))

    boosted = (await commissions_of(program, inside))[("L1", 1)]
    assert boosted.amount == D("15.00")  # 10% × 2 = 20%, held to the boost's 15%
    assert boosted.explanation["incentives"]["boost"]["name"] == "Double 11"
    assert (await commissions_of(program, outside))[("L1", 1)].amount == D("10.00")


async def test_a_boost_never_lifts_a_commission_over_the_period_cap() -> None:
    program = await shop()
    await create_cap(
        program_id=program.id, document={"period": "day", "amount": "12.00"}, actor=ADMIN
    )
    await incentive(
        program,
        "boost",
        multiplier="3",
        starts_at=T0 - timedelta(days=1),
        ends_at=T0 + timedelta(days=1),
    )
    seller = await promoter(program)

    external_id = await sale(program, seller, "100.00")

    commission = (await commissions_of(program, external_id))[("L1", 1)]
    assert commission.amount == D("12.00")
    assert commission.explanation["capped_by"] == "period_cap"


async def test_a_refund_recomputes_a_tier_boosted_commission_at_its_recorded_rate() -> None:
    program = await shop()
    gold = await tier(program, "gold", min_net_sales="1.00", rate_multiplier="1.5")
    seller = await promoter(program)
    await _gold(program.id, seller)
    external_id = await sale(program, seller, "100.00")
    # Later changes to the tier never reach a commission already made.
    await Promoter.filter(id=seller.id).update(tier="default")
    await PromoterTierRecord.filter(id=gold.id).update(rate_multiplier=D("3"))

    await send_ok(program, refunded(external_id, amount="50.00"))

    commission = (await commissions_of(program, external_id))[("L1", 1)]
    assert commission.amount == D("7.50")  # 15% of the 50.00 left


async def test_a_tier_edit_reaches_the_next_order_through_the_program_cache() -> None:
    program = await shop()
    gold = await tier(program, "gold", min_net_sales="1.00", rate_multiplier="1.5")
    seller = await promoter(program)
    await _gold(program.id, seller)
    before = await sale(program, seller, "100.00")

    await update_tier(
        tier_id=gold.id, changes={"rate_multiplier": "2"}, actor=ADMIN, request_id=None
    )
    after = await sale(program, seller, "100.00", placed_at=T0 + timedelta(minutes=1))

    assert (await commissions_of(program, before))[("L1", 1)].amount == D("15.00")
    assert (await commissions_of(program, after))[("L1", 1)].amount == D("20.00")


async def test_the_default_tier_can_be_named_and_given_benefits_but_no_conditions() -> None:
    program = await shop()
    await tier(program, "default", name="普通", rank=0, freeze_days=5)
    with pytest.raises(ValidationFailed) as refused:
        await tier(program, "default", rank=0, min_net_sales="1.00")
    assert "conditions" in refused.value.fields
    seller = await promoter(program)

    external_id = await sale(program, seller, "100.00")

    commission = (await commissions_of(program, external_id))[("L1", 1)]
    assert commission.freeze_days == 5
    assert commission.explanation["incentives"]["tier"]["code"] == "default"
