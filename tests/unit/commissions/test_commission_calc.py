from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from server.domain.commissions.calc import (
    compute_commissions,
    evaluate_order,
    period_windows_needed,
)
from server.domain.commissions.inputs import BeneficiaryChain, buyer_starts_chain
from server.domain.commissions.lines import apply_refund
from server.domain.commissions.rules import PeriodCap
from server.domain.errors import ValidationFailed
from tests.unit.commission_builders import (
    BOUND_AT,
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


def _amounts(evaluation_lines: list | tuple) -> list[tuple[str, int, int, Decimal]]:
    return [(c.line_id, c.level, c.promoter_id, c.amount) for c in evaluation_lines]


# ---------------------------------------------------------------- amounts


def test_quantity_times_unit_price_is_the_base_not_the_unit_price() -> None:
    lines = compute_commissions(
        order=order(order_line(quantity=3, unit_price="25.00")),
        terms=terms(),
        rules=[],
        chain=referred(member(1)),
    )
    assert [(c.base, c.amount) for c in lines] == [(D("75.00"), D("7.50"))]


def test_each_line_of_a_multi_line_order_earns_separately() -> None:
    lines = compute_commissions(
        order=order(
            order_line("A", product_id="P1", unit_price="10.05"),
            order_line("B", product_id="P2", quantity=2, unit_price="10.05"),
        ),
        terms=terms(),
        rules=[],
        chain=referred(member(1), member(2)),
    )
    # Rounded per line: 1.005 → 1.00 and 2.01 → 2.01, never on the order total.
    assert _amounts(lines) == [
        ("A", 1, 1, D("1.00")),
        ("A", 2, 2, D("0.50")),
        ("B", 1, 1, D("2.01")),
        ("B", 2, 2, D("1.00")),
    ]


def test_a_discounted_line_earns_on_what_the_buyer_paid() -> None:
    lines = compute_commissions(
        order=order(order_line(quantity=2, unit_price="50.00", amount="80.00")),
        terms=terms(),
        rules=[],
        chain=referred(member(1)),
    )
    assert lines[0].amount == D("8.00")


def test_a_fixed_rule_pays_per_unit() -> None:
    lines = compute_commissions(
        order=order(order_line(quantity=4, unit_price="30.00")),
        terms=terms(),
        rules=[rule(kind="fixed", value="3.00", level=1)],
        chain=referred(member(1)),
    )
    assert (lines[0].fixed_per_unit, lines[0].rate, lines[0].amount) == (D(3), None, D("12.00"))


def test_a_fixed_rule_never_pays_more_than_the_lines_net() -> None:
    (line,) = compute_commissions(
        order=order(order_line(unit_price="10.00")),
        terms=terms(level_rates=(D(10),)),
        rules=[rule(kind="fixed", value="50.00")],
        chain=referred(member(1)),
    )
    assert (line.amount, line.capped_by) == (D("10.00"), "line_net")


def test_a_line_never_pays_more_than_its_net_in_all_the_nearer_levels_first() -> None:
    evaluation = evaluate_order(
        order=order(order_line(unit_price="10.00")),
        terms=terms(level_rates=(D(10), D(5), D(5)), level_cap=3),
        rules=[
            rule(kind="fixed", value="6.00", level=1),
            rule(kind="fixed", value="6.00", level=2),
        ],
        chain=referred(member(1), member(2), member(3)),
    )
    figures = [(c.level, c.amount, c.capped_by) for c in evaluation.lines]
    assert figures == [(1, D("6.00"), None), (2, D("4.00"), "line_left"), (3, D(0), "line_left")]
    second = evaluation.lines[1].explanation
    assert (second["caps"]["line_left"], second["exact"]) == ("4.00", "6.00")


def test_a_refund_recomputes_the_farther_level_from_what_the_nearer_one_left() -> None:
    evaluation = evaluate_order(
        order=order(order_line(unit_price="10.00")),
        terms=terms(level_rates=(D(10), D(5))),
        rules=[
            rule(kind="fixed", value="7.00", level=1),
            rule(kind="fixed", value="7.00", level=2),
        ],
        chain=referred(member(1), member(2)),
    )
    nearer, farther = evaluation.lines
    assert (nearer.amount, farther.amount) == (D("7.00"), D("3.00"))

    nearer_after = apply_refund(nearer, new_net=D("5.00"))
    farther_after = apply_refund(
        farther, new_net=D("5.00"), line_left=D("5.00") - nearer_after.amount
    )
    assert (nearer_after.amount, farther_after.amount) == (D("3.50"), D("1.50"))
    assert farther_after.capped_by == "line_left"


def test_a_refund_updates_what_the_explanation_says_the_nearer_levels_left() -> None:
    evaluation = evaluate_order(
        order=order(order_line(unit_price="10.00")),
        terms=terms(),
        rules=[
            rule(kind="fixed", value="7.00", level=1),
            rule(kind="fixed", value="7.00", level=2),
        ],
        chain=referred(member(1), member(2)),
    )
    nearer, farther = evaluation.lines
    assert (nearer.explanation["caps"]["line_left"], farther.explanation["caps"]["line_left"]) == (
        "10.00",
        "3.00",
    )

    nearer_after = apply_refund(nearer, new_net=D("5.00"))
    farther_after = apply_refund(farther, new_net=D("5.00"), line_left=D("1.50"))
    assert nearer_after.explanation["caps"]["line_left"] == "5.00"
    assert farther_after.explanation["caps"]["line_left"] == "1.50"
    assert farther_after.explanation["caps"]["periods"] == farther.explanation["caps"]["periods"]


def test_a_free_line_earns_nothing_even_under_a_fixed_rule() -> None:
    evaluation = evaluate_order(
        order=order(order_line(unit_price="0.00")),
        terms=terms(),
        rules=[rule(kind="fixed", value="5.00")],
        chain=referred(member(1)),
    )
    assert [c.amount for c in evaluation.lines] == [D(0)]
    assert evaluation.payable == ()


def test_amounts_round_down_to_the_cent_never_up() -> None:
    (line,) = compute_commissions(
        order=order(order_line(unit_price="0.99")),
        terms=terms(level_rates=(D(10),)),
        rules=[],
        chain=referred(member(1)),
    )
    assert (line.exact_amount, line.amount) == (D("0.099"), D("0.09"))


def test_jpy_rounds_to_whole_yen() -> None:
    (line,) = compute_commissions(
        order=order(order_line(unit_price="999"), currency="JPY"),
        terms=terms(currency="JPY", level_rates=(D(10),)),
        rules=[],
        chain=referred(member(1)),
    )
    assert line.amount == D(99)
    assert str(line.amount) == "99"


def test_a_rule_with_value_zero_excludes_a_product_from_commission() -> None:
    lines = compute_commissions(
        order=order(order_line(product_id="GIFT-CARD")),
        terms=terms(),
        rules=[rule(product_id="GIFT-CARD", value="0")],
        chain=referred(member(1), member(2)),
    )
    assert lines == []


# ---------------------------------------------------------------- validation


def _refusal(**kwargs: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        evaluate_order(
            order=kwargs.get("order", order()),  # type: ignore[arg-type]
            terms=kwargs.get("terms", terms()),  # type: ignore[arg-type]
            rules=[],
            chain=referred(member(1)),
        )
    return caught.value


def test_an_order_in_another_currency_than_the_programs_is_refused() -> None:
    error = _refusal(order=order(currency="USD"))
    assert (error.code, error.status_code) == ("currency_mismatch", 422)


def test_a_line_amount_above_quantity_times_unit_price_is_refused() -> None:
    error = _refusal(order=order(order_line(quantity=2, unit_price="10.00", amount="20.01")))
    assert error.code == "line_amount_mismatch"
    assert "lines.0.amount" in error.fields


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (order_line(quantity=0, amount="0"), "lines.0.quantity"),
        (order_line(unit_price="-1", amount="0"), "lines.0.unit_price"),
        (order_line(amount="-5.00", unit_price="10"), "lines.0.amount"),
        (order_line(amount="9.999", unit_price="10"), "lines.0.amount"),
        (order_line(refunded="100.01"), "lines.0.refunded_amount"),
    ],
)
def test_an_impossible_order_line_is_refused_naming_the_field(line: object, field: str) -> None:
    error = _refusal(order=order(line))  # type: ignore[arg-type]
    assert error.code == "invalid_order_line"
    assert field in error.fields


def test_duplicate_line_ids_and_a_naive_order_time_are_refused() -> None:
    error = _refusal(order=order(order_line("A"), order_line("A"), placed_at=datetime(2024, 5, 1)))
    assert error.code == "invalid_order"
    assert set(error.fields) == {"lines", "placed_at"}


def test_an_order_of_another_program_is_refused() -> None:
    assert _refusal(terms=terms(program_id=2)).code == "program_mismatch"


# ---------------------------------------------------------------- who earns


def test_a_referred_order_pays_the_bound_promoter_then_their_upline() -> None:
    lines = compute_commissions(
        order=order(), terms=terms(), rules=[], chain=referred(member(1), member(2), member(3))
    )
    assert _amounts(lines) == [("L1", 1, 1, D("10.00")), ("L1", 2, 2, D("5.00"))]
    assert [c.upline_ids for c in lines] == [(2, 3), (3,)]


def test_an_unapproved_upline_forfeits_its_level_and_the_level_above_still_earns() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(level_rates=(D(10), D(5), D(2)), level_cap=3),
        rules=[],
        chain=referred(member(1), member(2, status="suspended"), member(3)),
    )
    assert _amounts(evaluation.lines) == [("L1", 1, 1, D("10.00")), ("L1", 3, 3, D("2.00"))]
    assert [(s.level, s.promoter_id, s.reason) for s in evaluation.skipped] == [
        (2, 2, "beneficiary_not_approved")
    ]


def test_self_purchase_earns_level_zero_only_when_enabled() -> None:
    chain = self_purchase(member(1), member(2), member(3))
    enabled = compute_commissions(
        order=order(),
        terms=terms(self_rebate_enabled=True, self_rebate_rate=D(3)),
        rules=[],
        chain=chain,
    )
    # Two places at the default cap: the buyer's rebate and their upline (level 2 would be a
    # third earner).
    assert _amounts(enabled) == [("L1", 0, 1, D("3.00")), ("L1", 1, 2, D("10.00"))]
    assert enabled[0].rule_source == "self_rebate"
    disabled = evaluate_order(order=order(), terms=terms(), rules=[], chain=chain)
    assert _amounts(disabled.lines) == [("L1", 1, 2, D("10.00")), ("L1", 2, 3, D("5.00"))]
    assert [(s.level, s.reason) for s in disabled.skipped] == [(0, "self_rebate_disabled")]


# ---------------------------------------------------------------- the level cap


def test_at_the_default_cap_a_self_rebate_buyer_and_their_upline_are_the_only_earners() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(self_rebate_enabled=True, self_rebate_rate=D(3)),
        rules=[rule(kind="percent", value="4", level=2)],
        chain=self_purchase(member(1), member(2), member(3), member(4)),
    )
    assert _amounts(evaluation.lines) == [("L1", 0, 1, D("3.00")), ("L1", 1, 2, D("10.00"))]
    assert [(s.level, s.promoter_id, s.reason) for s in evaluation.skipped] == [
        (2, 3, "over_level_cap")
    ]


def test_at_the_default_cap_a_bound_customer_pays_levels_one_and_two_only() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(self_rebate_enabled=True, self_rebate_rate=D(3)),
        rules=[],
        chain=referred(member(1), member(2), member(3)),
    )
    assert _amounts(evaluation.lines) == [("L1", 1, 1, D("10.00")), ("L1", 2, 2, D("5.00"))]


@pytest.mark.parametrize("level", [None, 3])
def test_a_rule_for_a_level_beyond_the_cap_pays_nobody_there(level: int | None) -> None:
    # A program stored with three levels on a deployment capped at two (the migration caps
    # it; the engine never relies on that).
    evaluation = evaluate_order(
        order=order(),
        terms=terms(level_rates=(D(10), D(5), D(2)), level_cap=2),
        rules=[rule(kind="percent", value="20", level=level)],
        chain=referred(member(1), member(2), member(3)),
    )
    assert [c.level for c in evaluation.lines] == [1, 2]
    assert [(s.level, s.reason) for s in evaluation.skipped] == [(3, "over_level_cap")]


def test_with_three_levels_allowed_a_self_purchase_pays_the_buyer_and_two_uplines() -> None:
    evaluation = evaluate_order(
        order=order(),
        terms=terms(
            level_rates=(D(10), D(5), D(2)),
            self_rebate_enabled=True,
            self_rebate_rate=D(3),
            level_cap=3,
        ),
        rules=[],
        chain=self_purchase(member(1), member(2), member(3, status="suspended"), member(4)),
    )
    # The suspended level 2 is forfeited, not passed up: level 3 would be a fourth place.
    assert _amounts(evaluation.lines) == [("L1", 0, 1, D("3.00")), ("L1", 1, 2, D("10.00"))]
    assert [(s.level, s.reason) for s in evaluation.skipped] == [
        (2, "beneficiary_not_approved"),
        (3, "over_level_cap"),
    ]


def test_a_promoter_buying_for_themself_is_never_paid_level_one_on_their_own_order() -> None:
    lines = compute_commissions(
        order=order(), terms=terms(), rules=[], chain=self_purchase(member(1), member(2))
    )
    assert all(c.promoter_id != 1 for c in lines)


def test_only_an_approved_buyer_starts_the_chain() -> None:
    assert buyer_starts_chain(member(1))
    assert not buyer_starts_chain(member(1, status="suspended"))
    assert not buyer_starts_chain(None)


def test_an_order_nobody_referred_earns_nothing() -> None:
    evaluation = evaluate_order(
        order=order(), terms=terms(), rules=[], chain=BeneficiaryChain.nobody()
    )
    assert (evaluation.lines, evaluation.refusal) == ((), "no_beneficiary")


# ---------------------------------------------------------------- commission window


def test_order_on_the_commission_window_boundary_earns_nothing() -> None:
    program = terms(commission_window_days=7)
    on_boundary = order(placed_at=BOUND_AT + timedelta(days=7))
    evaluation = evaluate_order(
        order=on_boundary, terms=program, rules=[], chain=referred(member(1))
    )
    assert (evaluation.lines, evaluation.refusal) == ((), "outside_commission_window")


def test_an_order_just_inside_the_commission_window_earns() -> None:
    program = terms(commission_window_days=7)
    inside = order(placed_at=BOUND_AT + timedelta(days=7) - timedelta(microseconds=1))
    lines = compute_commissions(order=inside, terms=program, rules=[], chain=referred(member(1)))
    assert [c.amount for c in lines] == [D("10.00")]
    window = lines[0].explanation["attribution"]
    assert window["window_ends_at"] == (BOUND_AT + timedelta(days=7)).isoformat()


def test_a_commission_window_of_zero_never_ends() -> None:
    late = order(placed_at=BOUND_AT + timedelta(days=3650))
    assert compute_commissions(order=late, terms=terms(), rules=[], chain=referred(member(1)))


def test_an_order_placed_before_the_binding_earns_nothing_through_it() -> None:
    early = order(placed_at=BOUND_AT - timedelta(seconds=1))
    evaluation = evaluate_order(order=early, terms=terms(), rules=[], chain=referred(member(1)))
    assert evaluation.refusal == "order_before_binding"


# ---------------------------------------------------------------- caps


def test_a_per_line_cap_limits_each_order_line_separately() -> None:
    lines = compute_commissions(
        order=order(order_line("A", unit_price="300.00"), order_line("B", unit_price="20.00")),
        terms=terms(level_rates=(D(10),)),
        rules=[rule(value="10", cap_per_line=D("5.00"))],
        chain=referred(member(1)),
    )
    assert [(c.line_id, c.amount, c.capped_by) for c in lines] == [
        ("A", D("5.00"), "line_cap"),
        ("B", D("2.00"), None),
    ]


def test_a_period_cap_reached_part_way_clips_the_line_to_the_room_left() -> None:
    cap = PeriodCap(id=1, program_id=1, period="day", amount=D("100.00"))
    evaluation = evaluate_order(
        order=order(order_line("A"), order_line("B")),
        terms=terms(level_rates=(D(10),)),
        rules=[],
        chain=referred(member(1)),
        period_caps=[cap],
        period_earned={(1, "day:2024-05-10"): D("95.50")},
    )
    assert [(c.amount, c.capped_by, c.period_room) for c in evaluation.lines] == [
        (D("4.50"), "period_cap", D("4.50")),
        (D("0.00"), "period_cap", D("0.00")),
    ]
    periods = evaluation.lines[0].explanation["caps"]["periods"]
    assert periods == [
        {
            "cap_id": 1,
            "period": "day:2024-05-10",
            "limit": "100.00",
            "earned_before": "95.50",
            "room": "4.50",
        }
    ]


def test_a_period_cap_already_exceeded_pays_nothing_and_never_less() -> None:
    cap = PeriodCap(id=1, program_id=1, period="month", amount=D("100.00"))
    (line,) = evaluate_order(
        order=order(),
        terms=terms(level_rates=(D(10),)),
        rules=[],
        chain=referred(member(1)),
        period_caps=[cap],
        period_earned={(1, "month:2024-05"): D("130.00")},
    ).lines
    assert (line.amount, line.period_room) == (D("0.00"), D(0))


def test_the_service_is_told_which_period_totals_to_query() -> None:
    caps = [
        PeriodCap(id=1, program_id=1, period="day", amount=D(10)),
        PeriodCap(id=2, program_id=1, period="month", amount=D(100), tier="gold"),
    ]
    needed = period_windows_needed(
        order=order(),
        terms=terms(),
        chain=referred(member(1, tier="gold"), member(2, status="disabled")),
        period_caps=caps,
    )
    assert [(pid, window.key) for pid, window in needed] == [
        (1, "day:2024-05-10"),
        (1, "month:2024-05"),
    ]


# ---------------------------------------------------------------- explanation and dry run


def test_every_line_explains_itself_in_json_a_person_can_read() -> None:
    promotion = rule(7, value="12.5", product_id="P1", valid_to=PLACED_AT + timedelta(days=1))
    (line, _level_two) = compute_commissions(
        order=order(order_line(quantity=2, unit_price="40.00")),
        terms=terms(),
        rules=[promotion],
        chain=referred(member(1, tier="gold"), member(2)),
    )
    text = json.dumps(line.explanation)
    explanation = json.loads(text)
    assert explanation["base"] == "80.00"
    assert explanation["formula"] == "12.5% × 80.00"
    assert explanation["rule"]["id"] == 7
    assert explanation["rule"]["scope"] == {"product_id": "P1"}
    assert explanation["beneficiary"] == {
        "level": 1,
        "promoter_id": 1,
        "tier": "gold",
        "status": "approved",
    }
    assert explanation["amount"] == "10.00"
    assert explanation["attribution"]["bound_at"] == BOUND_AT.isoformat()
    assert [entry["promoter_id"] for entry in explanation["chain"]] == [1, 2]


def test_the_dry_run_shows_zero_and_forfeited_levels_without_anything_to_store() -> None:
    evaluation = evaluate_order(
        order=order(order_line(unit_price="0.05")),
        terms=terms(),
        rules=[],
        chain=referred(member(1), member(2, status="disabled")),
    )
    report = json.loads(json.dumps(evaluation.to_dict()))
    assert report["total"] == "0.00"
    assert report["skipped"] == [
        {"level": 2, "promoter_id": 2, "reason": "beneficiary_not_approved"}
    ]
    assert [line["amount"] for line in report["lines"]] == ["0.00"]
    assert evaluation.payable == ()
