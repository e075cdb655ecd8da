from __future__ import annotations

import json
from decimal import Decimal

import pytest

from server.domain.commissions.calc import compute_commissions
from server.domain.commissions.lines import (
    CommissionLine,
    apply_refund,
    cancel_line,
    recompute_after_refund,
)
from server.domain.commissions.rules import PeriodCap
from server.domain.errors import ValidationFailed
from tests.unit.commission_builders import (
    member,
    order,
    order_line,
    referred,
    rule,
    terms,
)

D = Decimal


def _lines(**line_kwargs: object) -> list[CommissionLine]:
    return compute_commissions(
        order=order(order_line(**line_kwargs)),  # type: ignore[arg-type]
        terms=terms(),
        rules=[],
        chain=referred(member(1), member(2)),
    )


def test_partial_refund_on_level_two_reduces_it_pro_rata() -> None:
    _level_one, level_two = _lines(quantity=4, unit_price="25.00")
    assert level_two.amount == D("5.00")
    after = apply_refund(level_two, new_net=D("75.00"))  # one of four units refunded
    assert after.amount == D("3.75")
    assert level_two.amount - after.amount == D("1.25")


def test_a_refund_reverses_every_level_in_proportion() -> None:
    lines = _lines(unit_price="200.00")
    after = [apply_refund(line, new_net=D("50.00")) for line in lines]
    assert [line.amount for line in after] == [D("5.00"), D("2.50")]


def test_several_partial_refunds_end_where_one_equal_refund_would() -> None:
    (line, _) = _lines(unit_price="99.99")
    stepwise = line
    for new_net in (D("77.77"), D("33.33"), D("12.34")):
        stepwise = apply_refund(stepwise, new_net=new_net)
    once = apply_refund(line, new_net=D("12.34"))
    assert stepwise.amount == once.amount == D("1.23")
    assert recompute_after_refund(line, new_net=D("12.34")) == once.amount


def test_a_full_refund_or_a_cancellation_reverses_all() -> None:
    (line, level_two) = _lines(unit_price="80.00")
    assert apply_refund(line, new_net=D(0)).amount == 0
    assert cancel_line(level_two).amount == 0


def test_a_refund_uses_the_rule_captured_at_order_time() -> None:
    (line,) = compute_commissions(
        order=order(order_line(quantity=3, unit_price="10.00")),
        terms=terms(level_rates=(D(10),)),
        rules=[rule(9, kind="fixed", value="2.00")],
        chain=referred(member(1)),
    )
    assert (line.rule_id, line.amount) == (9, D("6.00"))
    # The promotion may have ended or changed since: the line's own snapshot decides.
    assert apply_refund(line, new_net=D("20.00")).amount == D("4.00")


def test_a_capped_line_keeps_its_cap_while_the_recomputed_figure_still_reaches_it() -> None:
    (line,) = compute_commissions(
        order=order(order_line(unit_price="200.00")),
        terms=terms(level_rates=(D(10),)),
        rules=[rule(value="10", cap_per_line=D("5.00"))],
        chain=referred(member(1)),
    )
    assert line.amount == D("5.00")
    assert apply_refund(line, new_net=D("100.00")).amount == D("5.00")
    assert apply_refund(line, new_net=D("30.00")).amount == D("3.00")


def test_a_refund_never_raises_a_line_above_the_period_room_it_had() -> None:
    (line,) = compute_commissions(
        order=order(order_line(unit_price="100.00")),
        terms=terms(level_rates=(D(10),)),
        rules=[],
        chain=referred(member(1)),
        period_caps=[PeriodCap(id=1, program_id=1, period="day", amount=D(50))],
        period_earned={(1, "day:2024-05-10"): D(46)},
    )
    assert line.amount == D("4.00")
    assert apply_refund(line, new_net=D("60.00")).amount == D("4.00")
    assert apply_refund(line, new_net=D("30.00")).amount == D("3.00")


def test_the_explanation_keeps_the_history_of_refunds() -> None:
    (line, _) = _lines(unit_price="100.00")
    after = apply_refund(apply_refund(line, new_net=D("60.00")), new_net=D("10.00"))
    explanation = json.loads(json.dumps(after.explanation))
    assert explanation["base"] == "10.00"
    assert explanation["amount"] == "1.00"
    assert explanation["order_line"]["refunded_amount"] == "90.00"
    assert [(step["net"], step["amount"]) for step in explanation["recomputed"]] == [
        ("60.00", "6.00"),
        ("10.00", "1.00"),
    ]


@pytest.mark.parametrize("new_net", ["100.01", "-0.01", "10.001"])
def test_a_refund_that_would_raise_the_net_or_is_malformed_is_refused(new_net: str) -> None:
    (line, _) = _lines(unit_price="100.00")
    with pytest.raises(ValidationFailed) as caught:
        recompute_after_refund(line, new_net=D(new_net))
    assert caught.value.code == "invalid_refund"
