from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.domain.commissions.calc import evaluate_order
from server.domain.commissions.rules import (
    CommissionRule,
    PeriodCap,
    RuleFacts,
    period_window,
    rule_applies,
    select_period_caps,
    select_rule,
    validate_commission_rule,
    validate_period_cap,
)
from server.domain.errors import ValidationFailed
from tests.unit.commission_builders import (
    PLACED_AT,
    member,
    order,
    order_line,
    referred,
    rule,
    self_purchase,
    terms,
)

D = Decimal


def _facts(**changes: Any) -> RuleFacts:
    values: dict[str, Any] = {
        "program_id": 1,
        "placed_at": PLACED_AT,
        "level": 1,
        "product_id": "P1",
        "category": "shoes",
        "campaign": "spring",
        "site_id": 7,
        "promoter_id": 100,
        "tier": "gold",
    }
    return RuleFacts(**{**values, **changes})


def test_a_rule_without_scope_applies_to_every_line_and_beneficiary() -> None:
    assert rule_applies(rule(), _facts())
    assert rule_applies(rule(), _facts(product_id="P2", promoter_id=5, level=2))


@pytest.mark.parametrize(
    ("scope", "mismatch"),
    [
        ({"product_id": "P1"}, {"product_id": "P2"}),
        ({"category": "shoes"}, {"category": "hats"}),
        ({"campaign": "spring"}, {"campaign": None}),
        ({"site_id": 7}, {"site_id": 8}),
        ({"tier": "gold"}, {"tier": "silver"}),
        ({"promoter_id": 100}, {"promoter_id": 101}),
        ({"level": 1}, {"level": 2}),
    ],
)
def test_a_scoped_rule_applies_only_where_its_scope_matches(
    scope: dict[str, Any], mismatch: dict[str, Any]
) -> None:
    scoped = rule(**scope)
    assert rule_applies(scoped, _facts())
    assert not rule_applies(scoped, _facts(**mismatch))


def test_a_disabled_rule_or_a_rule_of_another_program_never_applies() -> None:
    assert not rule_applies(rule(enabled=False), _facts())
    assert not rule_applies(rule(), _facts(program_id=2))


def test_an_expired_promotion_does_not_apply() -> None:
    promotion = rule(
        valid_from=PLACED_AT - timedelta(days=10), valid_to=PLACED_AT - timedelta(days=1)
    )
    assert not rule_applies(promotion, _facts())


def test_a_promotion_applies_from_its_first_instant_and_not_at_its_end() -> None:
    promotion = rule(valid_from=PLACED_AT, valid_to=PLACED_AT + timedelta(days=1))
    assert rule_applies(promotion, _facts(placed_at=PLACED_AT))
    assert not rule_applies(promotion, _facts(placed_at=PLACED_AT - timedelta(microseconds=1)))
    assert not rule_applies(promotion, _facts(placed_at=PLACED_AT + timedelta(days=1)))


def test_a_promotion_not_yet_started_does_not_apply() -> None:
    assert not rule_applies(rule(valid_from=PLACED_AT + timedelta(hours=1)), _facts())


def test_most_specific_rule_wins_over_a_higher_priority_general_one() -> None:
    general = rule(1, value="30", priority=100)
    for_product = rule(2, value="12", product_id="P1")
    assert select_rule([general, for_product], _facts()) == for_product


def test_more_scope_fields_beat_a_heavier_single_field() -> None:
    for_promoter = rule(1, promoter_id=100)
    for_product_on_site = rule(2, product_id="P1", site_id=7)
    assert select_rule([for_promoter, for_product_on_site], _facts()) == for_product_on_site


@pytest.mark.parametrize(
    ("heavier", "lighter"),
    [
        ({"promoter_id": 100}, {"product_id": "P1"}),
        ({"product_id": "P1"}, {"category": "shoes"}),
        ({"category": "shoes"}, {"campaign": "spring"}),
        ({"campaign": "spring"}, {"site_id": 7}),
        ({"site_id": 7}, {"tier": "gold"}),
    ],
)
def test_between_single_field_rules_the_documented_order_decides(
    heavier: dict[str, Any], lighter: dict[str, Any]
) -> None:
    # The lighter rule has the lower id and higher priority: only the field order decides.
    winner = rule(2, priority=0, **heavier)
    loser = rule(1, priority=9, **lighter)
    assert select_rule([loser, winner], _facts()) == winner


def test_a_rule_for_one_level_beats_the_same_rule_for_every_level() -> None:
    every_level = rule(1, product_id="P1", priority=5)
    level_one = rule(2, product_id="P1", level=1)
    assert select_rule([every_level, level_one], _facts()) == level_one


def test_among_equally_specific_rules_priority_wins_then_the_older_rule() -> None:
    low = rule(1, product_id="P1", priority=1)
    high = rule(2, product_id="P1", priority=2)
    assert select_rule([low, high], _facts()) == high
    twin = rule(3, product_id="P1", priority=2)
    assert select_rule([twin, high], _facts()) == high


def test_without_an_applicable_rule_the_program_default_applies() -> None:
    assert select_rule([rule(product_id="P9")], _facts()) is None
    evaluation = evaluate_order(
        order=order(), terms=terms(), rules=[rule(product_id="P9")], chain=referred(member(1))
    )
    (line,) = evaluation.lines
    assert (line.rule_source, line.rule_id, line.amount) == ("program_level", None, D("10.00"))


def test_a_rule_without_level_also_sets_the_self_purchase_rebate() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(self_rebate_enabled=True, self_rebate_rate=D(3)),
        rules=[rule(product_id="P1", value="7")],
        chain=self_purchase(member(1), member(2)),
    )
    assert [(line.level, line.amount) for line in evaluation.lines] == [
        (0, D("7.00")),
        (1, D("7.00")),
    ]


def test_a_rule_never_turns_on_a_disabled_self_rebate_nor_adds_levels() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(),
        rules=[rule(1, level=0, value="50"), rule(2, level=3, value="50")],
        chain=self_purchase(member(1), member(2), member(3), member(4)),
    )
    assert [line.level for line in evaluation.lines] == [1, 2]
    assert [line.rule_source for line in evaluation.lines] == ["program_level"] * 2


def test_a_rule_scoped_to_a_tier_follows_the_beneficiarys_tier_at_order_time() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(),
        rules=[rule(tier="gold", value="15")],
        chain=referred(member(1, tier="silver"), member(2, tier="gold")),
    )
    assert [line.amount for line in evaluation.lines] == [D("10.00"), D("15.00")]


# ---------------------------------------------------------------- validation


def _rule_errors(**changes: Any) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        validate_commission_rule(rule(**changes), currency="CNY")
    assert caught.value.code == "invalid_commission_rule"
    return caught.value.fields


def test_a_well_formed_rule_is_accepted() -> None:
    good = rule(kind="fixed", value="3.50", cap_per_line=D("10.00"), level=2, tier="gold")
    assert validate_commission_rule(good, currency="CNY") is good


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": "100.01"}, "value"),
        ({"value": "-1"}, "value"),
        ({"value": "1.00001"}, "value"),
        ({"kind": "fixed", "value": "1.001"}, "value"),
        ({"kind": "bonus"}, "kind"),
        ({"level": 11}, "level"),
        ({"cap_per_line": D(0)}, "cap_per_line"),
        ({"product_id": "  "}, "product_id"),
        ({"valid_from": datetime(2024, 1, 1)}, "valid_from"),
        (
            {
                "valid_from": datetime(2024, 2, 1, tzinfo=UTC),
                "valid_to": datetime(2024, 2, 1, tzinfo=UTC),
            },
            "valid_to",
        ),
    ],
)
def test_a_broken_rule_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    assert field in _rule_errors(**changes)


def test_a_fixed_rule_in_yen_may_not_carry_sen() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_commission_rule(rule(kind="fixed", value="1.5"), currency="JPY")
    assert "value" in caught.value.fields


def test_a_period_cap_needs_a_known_period_and_a_positive_amount() -> None:
    cap = PeriodCap(id=1, program_id=1, period="week", amount=D(0))
    with pytest.raises(ValidationFailed) as caught:
        validate_period_cap(cap, currency="CNY")
    assert caught.value.code == "invalid_period_cap"
    assert set(caught.value.fields) == {"period", "amount"}


# ---------------------------------------------------------------- periods and period caps


def test_a_day_runs_from_local_midnight_to_the_next_one() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    at = datetime(2024, 5, 9, 17, 30, tzinfo=UTC)  # 01:30 on 10 May in Shanghai
    window = period_window("day", at, shanghai)
    assert window.key == "day:2024-05-10"
    assert window.start == datetime(2024, 5, 10, tzinfo=shanghai)
    assert window.end == datetime(2024, 5, 11, tzinfo=shanghai)


def test_a_month_window_rolls_over_the_year_end() -> None:
    window = period_window("month", datetime(2024, 12, 31, 23, tzinfo=UTC), UTC)
    assert window.key == "month:2024-12"
    assert window.end == datetime(2025, 1, 1, tzinfo=UTC)


def test_a_promoters_own_cap_overrides_the_program_wide_one_per_period() -> None:
    program_day = PeriodCap(id=1, program_id=1, period="day", amount=D(100))
    tier_day = PeriodCap(id=2, program_id=1, period="day", amount=D(50), tier="gold")
    own_day = PeriodCap(id=3, program_id=1, period="day", amount=D(500), promoter_id=7)
    month = PeriodCap(id=4, program_id=1, period="month", amount=D(1000))
    caps = [program_day, tier_day, own_day, month]
    assert select_period_caps(caps, program_id=1, promoter_id=7, tier="gold") == [own_day, month]
    assert select_period_caps(caps, program_id=1, promoter_id=8, tier="gold") == [tier_day, month]
    assert select_period_caps(caps, program_id=1, promoter_id=8, tier=None) == [
        program_day,
        month,
    ]
    assert select_period_caps(caps, program_id=2, promoter_id=7, tier="gold") == []


def test_a_rule_of_another_program_is_ignored_by_the_calculation() -> None:
    foreign = CommissionRule(id=9, program_id=2, kind="percent", value=D(50))
    evaluation = evaluate_order(
        order=order(order_line()), terms=terms(), rules=[foreign], chain=referred(member(1))
    )
    assert evaluation.lines[0].rule_source == "program_level"
