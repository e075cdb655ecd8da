"""The rule-set guard: no order line may pay more than 100% of its net across levels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from server.domain.commissions.rule_guard import ensure_rule_set_never_overpays, worst_overpayment
from server.domain.commissions.rules import CommissionRule
from server.domain.errors import ValidationFailed
from tests.unit.commission_builders import terms

D = Decimal
JAN = datetime(2024, 1, 1, tzinfo=UTC)
FEB = datetime(2024, 2, 1, tzinfo=UTC)
MAR = datetime(2024, 3, 1, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def rule(value: str, **scope: Any) -> CommissionRule:
    return CommissionRule(
        id=next(_ids), program_id=1, kind=scope.pop("kind", "percent"), value=D(value), **scope
    )


def test_a_rule_paying_half_at_each_of_two_levels_is_exactly_allowed() -> None:
    assert worst_overpayment([rule("50", product_id="A")], terms=terms()) is None


def test_one_percent_more_is_refused_with_the_situation_that_overpays() -> None:
    generous = rule("51", product_id="A")
    with pytest.raises(ValidationFailed) as caught:
        ensure_rule_set_never_overpays([generous], terms=terms())
    assert caught.value.code == "rule_set_overpays"
    example = caught.value.fields["example"]
    assert example["total_percent"] == "102"
    assert example["line"]["product_id"] == "A"
    assert [(x["level"], x["percent"], x["rule_id"]) for x in example["levels"]] == [
        (1, "51", generous.id),
        (2, "51", generous.id),
    ]


def test_rules_for_different_products_never_add_up_on_one_line() -> None:
    rules = [rule("60", product_id="A", level=1), rule("60", product_id="B", level=2)]
    assert worst_overpayment(rules, terms=terms()) is None
    same_product = [*rules, rule("60", product_id="A", level=2)]
    assert worst_overpayment(same_product, terms=terms()) is not None


def test_a_promoter_earns_at_one_level_of_a_chain_only() -> None:
    star = rule("60", promoter_id=7)
    rebate_terms = terms(self_rebate_enabled=True, self_rebate_rate=D(3))
    assert worst_overpayment([star], terms=rebate_terms) is None  # 60 + 10 + 5 at most
    second_star = rule("45", promoter_id=8)
    found = worst_overpayment([star, second_star], terms=rebate_terms)
    assert found is not None and found.total == D("115")  # 60 + 45 + the third level's 10


def test_a_more_specific_lower_rule_shields_a_generous_general_one() -> None:
    rules = [
        rule("60", category="shoes", level=1),
        rule("10", category="shoes", product_id="A", level=1),
        rule("50", product_id="A", level=2),
    ]
    assert worst_overpayment(rules, terms=terms()) is None


def test_promotions_that_never_overlap_in_time_never_add_up() -> None:
    january = rule("70", level=1, valid_from=JAN, valid_to=FEB)
    february = rule("70", level=2, valid_from=FEB, valid_to=MAR)
    assert worst_overpayment([january, february], terms=terms()) is None
    overlapping = replace(february, valid_from=JAN + (FEB - JAN) / 2)
    found = worst_overpayment([january, overlapping], terms=terms())
    assert found is not None and found.placed_at == overlapping.valid_from


def test_fixed_rules_and_unpaid_levels_do_not_count() -> None:
    assert worst_overpayment([rule("500.00", kind="fixed")], terms=terms()) is None
    # The rebate is off: level 0 is never paid, whatever a rule says.
    assert worst_overpayment([rule("95", level=0)], terms=terms()) is None
    assert worst_overpayment([rule("95", level=0)], terms=terms(self_rebate_enabled=True))


def test_disabled_rules_are_ignored() -> None:
    assert worst_overpayment([rule("90", enabled=False)], terms=terms()) is None
