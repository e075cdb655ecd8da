"""A milestone bonus is paid once per promoter through the ledger, with its explanation,
however often and however concurrently the job runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.models import BonusAward, LedgerEntry
from server.services.tiers.bonuses import pay_milestone_bonuses
from tests.order_builders import T0, D, available, ledger_kinds, promoter, refunded, send_ok, shop
from tests.service.tiers.builders import incentive, sale

pytestmark = pytest.mark.usefixtures("db")

WINDOW = {"starts_at": T0 - timedelta(days=1), "ends_at": T0 + timedelta(days=1)}


async def test_reaching_the_target_pays_the_bonus_once_under_replays() -> None:
    program = await shop()
    bonus = await incentive(
        program,
        "milestone_bonus",
        name="March sprint",
        target_net_sales="500.00",
        amount="88.00",
        **WINDOW,
    )
    reached, short = await promoter(program), await promoter(program)
    await sale(program, reached, "300.00")
    await sale(program, reached, "200.00")
    await sale(program, short, "499.99")

    first = await pay_milestone_bonuses(now=T0 + timedelta(hours=1))
    second = await pay_milestone_bonuses(now=T0 + timedelta(hours=2))

    assert (first["awarded"], second["awarded"]) == (1, 0)
    assert await ledger_kinds(reached.id) == [("bonus", D("88.00"))]
    assert await available(reached.id) == D("88.00")
    assert await available(short.id) == D("0")
    (award,) = await BonusAward.filter(bonus_id=bonus.id)
    assert award.explanation["own_net_sales"] == "500.00"
    assert award.explanation["target_net_sales"] == "500.00"
    entry = await LedgerEntry.get(reference=f"bonus:{bonus.id}:{reached.id}")
    assert "March sprint" in entry.memo


async def test_sales_outside_the_campaign_window_do_not_count() -> None:
    program = await shop()
    await incentive(program, "milestone_bonus", target_net_sales="100.00", amount="5.00", **WINDOW)
    seller = await promoter(program)
    await sale(program, seller, "100.00", placed_at=WINDOW["ends_at"])

    summary = await pay_milestone_bonuses(now=T0 + timedelta(days=2))

    assert summary["awarded"] == 0
    assert await available(seller.id) == D("0")


async def test_max_awards_caps_how_many_promoters_are_paid_best_sales_first() -> None:
    program = await shop()
    await incentive(
        program,
        "milestone_bonus",
        target_net_sales="100.00",
        amount="10.00",
        max_awards=1,
        **WINDOW,
    )
    smaller, bigger = await promoter(program), await promoter(program)
    await sale(program, smaller, "100.00")
    await sale(program, bigger, "150.00")

    await pay_milestone_bonuses(now=T0 + timedelta(hours=1))

    assert await available(bigger.id) == D("10.00")
    assert await available(smaller.id) == D("0")


async def test_a_refund_after_the_award_does_not_pay_it_again() -> None:
    program = await shop()
    await incentive(program, "milestone_bonus", target_net_sales="100.00", amount="10.00", **WINDOW)
    seller = await promoter(program)
    external_id = await sale(program, seller, "100.00")
    await pay_milestone_bonuses(now=T0 + timedelta(hours=1))
    await send_ok(program, refunded(external_id, amount="50.00"))
    await sale(program, seller, "60.00", placed_at=T0 + timedelta(hours=2))

    await pay_milestone_bonuses(now=T0 + timedelta(hours=3))

    assert await ledger_kinds(seller.id) == [("bonus", D("10.00"))]
