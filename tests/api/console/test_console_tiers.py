"""Tiers in the console: staff add and change a program's tiers (refusals beside their
fields), disable and enable them, and assign a promoter's tier by hand with a lock."""

from __future__ import annotations

from sanic import Sanic

from server.models import Promoter, PromoterTierChange, PromoterTierRecord
from tests.api.console.client import signed_in
from tests.order_builders import promoter, shop


async def test_staff_add_a_tier_with_conditions_and_benefits_and_change_it(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="tier_staff")
    await console.get(f"/console/tiers?program_id={program.id}")
    created = await console.post(
        f"/console/tiers?program_id={program.id}",
        {
            "code": "gold",
            "name": "金牌",
            "rank": "3",
            "period_days": "30",
            "min_net_sales": "1000",
            "level_rates": "1=12, 2=6",
            "auto_approve": "1",
        },
    )
    assert created.status_code == 303, created.text
    tier = await PromoterTierRecord.get(program_id=program.id, code="gold")
    assert (tier.rank, tier.period_days, tier.auto_approve) == (3, 30, True)
    listed = await console.get(f"/console/tiers?program_id={program.id}")
    assert "金牌" in listed.text and "¥1,000.00" in listed.text and "1=12, 2=6" in listed.text
    changed = await console.post(
        f"/console/tiers/{tier.id}",
        {
            "name": "金牌",
            "period_days": "30",
            "min_net_sales": "",
            "min_paying_customers": "5",
            "rate_multiplier": "1.5",
        },
    )
    assert changed.status_code == 303, changed.text
    await tier.refresh_from_db()
    assert (tier.min_net_sales, tier.min_paying_customers) == (None, 5)
    assert str(tier.rate_multiplier).startswith("1.5")
    assert tier.level_rates == {}  # a blank benefit is cleared
    switched = await console.post(f"/console/tiers/{tier.id}/switch", {})
    assert switched.status_code == 303
    assert not (await PromoterTierRecord.get(id=tier.id)).enabled
    await console.close()


async def test_a_refused_tier_is_shown_beside_its_field_and_nothing_is_saved(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="tier_refused")
    await console.get(f"/console/tiers?program_id={program.id}")
    refused = await console.post(
        f"/console/tiers?program_id={program.id}",
        {"code": "silver", "name": "银", "min_net_sales": "lots"},
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text and 'value="lots"' in refused.text
    assert not await PromoterTierRecord.filter(program_id=program.id, code="silver").exists()
    await console.close()


async def test_staff_assign_a_tier_by_hand_locked_and_see_it_in_the_history(app: Sanic) -> None:
    program = await shop()
    await PromoterTierRecord.create(program=program, code="silver", name="银", rank=2)
    member = await promoter(program)
    console = await signed_in(app, "staff", username="tier_assign")
    await console.get(f"/console/promoters/{member.id}")
    assigned = await console.post(
        f"/console/promoters/{member.id}/tier",
        {"tier": "silver", "lock": "1", "reason": "大客户"},
    )
    assert assigned.status_code == 303, assigned.text
    stored = await Promoter.get(id=member.id)
    assert (stored.tier, stored.tier_locked) == ("silver", True)
    assert await PromoterTierChange.filter(promoter_id=member.id, reason="大客户").exists()
    page = await console.get(f"/console/promoters/{member.id}")
    assert "已手动锁定" in page.text and 'id="tier-history"' in page.text
    await console.close()


async def test_finance_reads_tiers_but_sees_no_form_and_is_refused_if_it_posts(
    app: Sanic,
) -> None:
    program = await shop()
    tier = await PromoterTierRecord.create(program=program, code="silver", name="银", rank=2)
    member = await promoter(program)
    console = await signed_in(app, "finance", username="tier_finance")
    listed = await console.get(f"/console/tiers?program_id={program.id}")
    assert listed.status_code == 200 and 'id="new-tier"' not in listed.text
    detail = await console.get(f"/console/tiers/{tier.id}")
    assert detail.status_code == 200 and 'id="edit-tier"' not in detail.text
    for path in (f"/console/tiers/{tier.id}/switch", f"/console/promoters/{member.id}/tier"):
        assert (await console.post(path, {"tier": "silver", "reason": "x"})).status_code == 403
    await console.close()
