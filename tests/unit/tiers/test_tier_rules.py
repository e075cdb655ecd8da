"""Pure tier and incentive rules: the tier earned, progress, the rolling window of local
days, a benefit's effect on a rate, and when a milestone bonus is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from server.domain.tiers.benefits import Boost, apply_incentives, select_boost
from server.domain.tiers.checks import tier_problems
from server.domain.tiers.ladder import (
    OwnResults,
    Tier,
    TierBenefits,
    earned_tier,
    progress,
    rolling_window,
)
from server.domain.tiers.rewards import MilestoneBonus, award_refusal

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _tier(code: str, rank: int, **conditions: object) -> Tier:
    return Tier(
        id=rank,
        code=code,
        name=code,
        rank=rank,
        period_days=30,
        benefits=TierBenefits(code=code),
        **conditions,  # type: ignore[arg-type]
    )


def _results(net: str, settled: str = "0", customers: int = 0) -> OwnResults:
    return OwnResults(net_sales=D(net), settled_commissions=D(settled), paying_customers=customers)


LADDER = [
    _tier("silver", 1, min_net_sales=D("1000")),
    _tier("gold", 2, min_net_sales=D("5000"), min_paying_customers=10),
]


def test_the_highest_tier_whose_every_condition_is_met_is_earned() -> None:
    def earned(results: OwnResults) -> str:
        return earned_tier(LADDER, {"silver": results, "gold": results})

    assert earned(_results("999.99")) == "default"
    assert earned(_results("1000.00")) == "silver"
    assert earned(_results("9000.00", customers=9)) == "silver"
    assert earned(_results("5000.00", customers=10)) == "gold"


def test_progress_names_each_missing_condition_of_the_next_tier() -> None:
    mine = _results("6000.00", customers=4)
    view = progress(LADDER, current="silver", results_by_tier={"silver": mine, "gold": mine})
    assert view is not None and view["tier"] == "gold"
    assert [(c["condition"], c["missing"], c["met"]) for c in view["conditions"]] == [
        ("min_net_sales", "0", True),
        ("min_paying_customers", "6", False),
    ]
    assert progress(LADDER, current="gold", results_by_tier={}) is None


def test_the_rolling_window_starts_at_a_local_midnight_plus_0800() -> None:
    now = datetime(2026, 3, 10, 1, 0, tzinfo=SHANGHAI)  # 9 March 17:00 UTC
    start, end = rolling_window(now, 1, SHANGHAI)
    assert start == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert end == now
    assert rolling_window(now, 30, SHANGHAI)[0] == datetime(2026, 2, 8, 16, 0, tzinfo=UTC)


def test_a_tier_on_recruits_or_with_no_own_condition_is_refused() -> None:
    problems = tier_problems(
        code="gold",
        rank=1,
        period_days=30,
        conditions={
            "min_net_sales": None,
            "min_settled_commissions": None,
            "min_paying_customers": None,
        },
        level_rates={},
        rate_multiplier=D("4"),
        freeze_days=None,
        currency="CNY",
    )
    assert set(problems) == {"conditions", "rate_multiplier"}


def test_a_level_rate_replaces_only_the_programs_rate_and_a_multiplier_stacks() -> None:
    gold = TierBenefits(code="gold", level_rates={1: D("12")}, rate_multiplier=D("1.5"))
    value, explanation = apply_incentives(
        kind="percent",
        value=D("10"),
        level=1,
        rule_matched=False,
        benefits=gold,
        boost=None,
        currency="CNY",
    )
    assert value == D("18.0000") and explanation is not None
    ruled, _ = apply_incentives(
        kind="percent",
        value=D("20"),
        level=1,
        rule_matched=True,
        benefits=gold,
        boost=None,
        currency="CNY",
    )
    assert ruled == D("30.0000")


def test_a_boosted_rate_is_rounded_down_and_never_above_100_percent() -> None:
    boost = Boost(id=1, name="x", multiplier=D("3"), starts_at=T0, ends_at=T0 + timedelta(1))
    value, _ = apply_incentives(
        kind="percent",
        value=D("40"),
        level=1,
        rule_matched=False,
        benefits=None,
        boost=boost,
        currency="CNY",
    )
    assert value == D("100")
    odd, _ = apply_incentives(
        kind="percent",
        value=D("3.3333"),
        level=1,
        rule_matched=False,
        benefits=None,
        boost=Boost(id=2, name="y", multiplier=D("1.3333"), starts_at=T0, ends_at=T0),
        currency="CNY",
    )
    assert odd == D("4.4442")  # 4.44428889 rounded down


def test_the_largest_live_boost_applies_within_its_window_and_tier() -> None:
    boosts = [
        Boost(id=1, name="all", multiplier=D("1.2"), starts_at=T0, ends_at=T0 + timedelta(1)),
        Boost(
            id=2,
            name="gold",
            multiplier=D("2"),
            starts_at=T0,
            ends_at=T0 + timedelta(1),
            tier="gold",
        ),
    ]
    assert select_boost(boosts, placed_at=T0, tier="gold").id == 2  # type: ignore[union-attr]
    assert select_boost(boosts, placed_at=T0, tier="silver").id == 1  # type: ignore[union-attr]
    assert select_boost(boosts, placed_at=T0 + timedelta(1), tier="gold") is None


def test_a_bonus_is_due_at_its_target_for_its_tier_until_its_awards_run_out() -> None:
    bonus = MilestoneBonus(
        id=1,
        program_id=1,
        name="sprint",
        target_net_sales=D("500.00"),
        amount=D("8.00"),
        starts_at=T0,
        ends_at=T0 + timedelta(days=7),
        tier="gold",
        max_awards=2,
    )
    assert award_refusal(bonus, net_sales=D("500.00"), tier="gold", awarded_count=1) is None
    assert award_refusal(bonus, net_sales=D("499.99"), tier="gold", awarded_count=0) == (
        "target_not_reached"
    )
    assert award_refusal(bonus, net_sales=D("900"), tier="silver", awarded_count=0) == "other_tier"
    assert award_refusal(bonus, net_sales=D("900"), tier="gold", awarded_count=2) == (
        "awards_exhausted"
    )
    assert bonus.reference(7) == "bonus:1:7"
