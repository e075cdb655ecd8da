"""The bonus rule on a range's own sales: cumulated in placing order, unlocked at the first
sale where the promoter is approved, in the bonus's tier and at the target; `max_awards` to
the earliest; compared with the awards paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from server.domain.tiers.rewards import MilestoneBonus
from server.domain.tiers.unlocks import OwnSale, PaidAward, bonus_unlocks, compare_awards

START = datetime(2026, 3, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _bonus(**changes: object) -> MilestoneBonus:
    fields: dict = {
        "id": 7,
        "program_id": 1,
        "name": "Sprint",
        "target_net_sales": Decimal("100.00"),
        "amount": Decimal("20.00"),
        "starts_at": START,
        "ends_at": START + timedelta(days=10),
        **changes,
    }
    return MilestoneBonus(**fields)


def _sale(promoter_id: int, day: float, net: str, *, tier: str = "default", approved: bool = True):  # type: ignore[no-untyped-def]
    return OwnSale(
        promoter_id=promoter_id,
        order_id=promoter_id * 100 + int(day * 10),
        placed_at=START + timedelta(days=day),
        net=Decimal(net),
        tier=tier,
        approved=approved,
    )


def test_the_target_is_reached_at_the_exact_threshold_in_placing_order() -> None:
    sales = [_sale(1, 2, "40.00"), _sale(1, 1, "60.00"), _sale(2, 1, "99.99")]

    (unlock,) = bonus_unlocks(_bonus(), sales)

    assert (unlock.promoter_id, unlock.net_sales, unlock.unlocked_at) == (
        1,
        Decimal("100.00"),
        START + timedelta(days=2),
    )


def test_sales_outside_the_window_do_not_count() -> None:
    bonus = _bonus()
    sales = [_sale(1, -0.5, "90.00"), _sale(1, 10, "90.00"), _sale(1, 0, "10.00")]

    assert bonus_unlocks(bonus, sales) == []


def test_tier_and_standing_at_the_sale_decide_when_it_unlocks() -> None:
    bonus = _bonus(tier="gold")
    sales = [
        _sale(1, 1, "150.00", tier="silver"),
        _sale(1, 2, "1.00", tier="gold", approved=False),
        _sale(1, 3, "1.00", tier="gold"),
    ]

    (unlock,) = bonus_unlocks(bonus, sales)

    assert (unlock.unlocked_at, unlock.net_sales) == (START + timedelta(days=3), Decimal("152.00"))


def test_max_awards_go_to_the_earliest_unlocks_and_a_disabled_bonus_awards_none() -> None:
    sales = [_sale(1, 3, "100.00"), _sale(2, 1, "100.00"), _sale(3, 2, "300.00")]

    unlocks = bonus_unlocks(_bonus(max_awards=2), sales)

    assert [u.promoter_id for u in unlocks] == [2, 3]
    assert bonus_unlocks(_bonus(enabled=False), sales) == []


def test_awards_are_compared_per_bonus_and_promoter_in_local_days() -> None:
    bonus = _bonus()
    simulated = bonus_unlocks(bonus, [_sale(1, 1.7, "100.00")])  # 2 March 16:48 UTC
    paid = [
        PaidAward(bonus_id=7, name="Sprint", promoter_id=2, amount=Decimal(20), awarded_at=START)
    ]

    compared = compare_awards(simulated, paid, currency="CNY", tz=SHANGHAI)

    assert compared["totals"] == {
        "paid": "20.00",
        "simulated": "20.00",
        "difference": "0.00",
        "awards_paid": 1,
        "awards_simulated": 1,
    }
    first, second = compared["awards"]
    assert (first["promoter_id"], first["unlocks_on"], first["difference"]) == (
        1,
        "2026-03-03",
        "20.00",
    )
    assert (second["promoter_id"], second["awarded_on"], second["difference"]) == (
        2,
        "2026-03-01",
        "-20.00",
    )
