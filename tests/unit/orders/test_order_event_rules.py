"""Pure rules of order events: parsing, the order life cycle, refund allocation, and what a
commission becomes on a refund or a cancellation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.commissions.calc import compute_commissions
from server.domain.errors import Conflict, IllegalTransition, ValidationFailed
from server.domain.orders.events import (
    EventOutcome,
    EventStatus,
    EventType,
    OrderPaid,
    OrderRefunded,
    ensure_refundable,
    held_until_paid,
    order_transition,
    outcome_status,
)
from server.domain.orders.parsing import body_sha256, parse_event
from server.domain.orders.refunds import (
    LineBalance,
    allocate_pro_rata,
    commission_after_cancel,
    commission_after_refund,
    line_from_snapshot,
    plan_refund,
    snapshot_of,
)
from tests.unit.commission_builders import member, order, order_line, referred, rule, terms

D = Decimal


def _paid(**order_changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": "O-1",
        "currency": "CNY",
        "placed_at": "2026-03-01T12:00:00+08:00",
        "buyer": {"openid": "o-1"},
        "lines": [
            {
                "line_ref": "A",
                "product_id": "P",
                "quantity": 3,
                "unit_price": "33.33",
                "amount": "99.99",
            }
        ],
        **order_changes,
    }
    return {
        "event_id": "e-1",
        "type": "order.paid",
        "occurred_at": "2026-03-01T12:00:05Z",
        "order": body,
    }


def _line(**changes: Any) -> dict[str, Any]:
    return {**_paid()["order"]["lines"][0], **changes}


def _code(payload: dict[str, Any]) -> str:
    with pytest.raises(ValidationFailed) as refused:
        parse_event(payload)
    return refused.value.code


def _refund(**order: Any) -> dict[str, Any]:
    return {
        "event_id": "e-2",
        "type": "order.refunded",
        "occurred_at": "2026-03-02T12:00:00Z",
        "order": {"external_id": "O-1", "refund_id": "R-1", **order},
    }


# ---------------------------------------------------------------- parsing


def test_a_paid_event_parses_into_lines_with_exact_decimals_and_aware_times() -> None:
    event = parse_event(_paid(coupon_code="BOB10"))
    assert event.type == EventType.PAID and event.external_id == "O-1"
    assert isinstance(event.order, OrderPaid)
    assert event.order.placed_at.utcoffset() is not None
    (line,) = event.order.lines
    assert (line.quantity, line.unit_price, line.amount) == (3, D("33.33"), D("99.99"))
    assert event.order.total == D("99.99") and event.order.coupon_code == "BOB10"


@pytest.mark.parametrize(
    "amount", [100, 99.5, "1e3", "12,00", " 1.00", "-1.00", "10.001", "10000000000000000.00"]
)
def test_an_amount_must_be_a_decimal_string_in_range_and_in_cents(amount: Any) -> None:
    assert _code(_paid(lines=[_line(amount=amount)])) == "invalid_amount"


def test_an_amount_is_checked_against_the_decimals_of_its_currency() -> None:
    jpy = _paid(currency="JPY", lines=[_line(quantity=1, unit_price="1500", amount="1500.5")])
    assert _code(jpy) == "invalid_amount"
    ok = _paid(currency="JPY", lines=[_line(quantity=1, unit_price="1500", amount="1500")])
    assert parse_event(ok).order.total == D("1500")  # type: ignore[union-attr]


def test_a_line_above_quantity_times_unit_price_is_refused_a_discount_below_is_fine() -> None:
    assert _code(_paid(lines=[_line(amount="100.00")])) == "line_amount_mismatch"
    assert parse_event(_paid(lines=[_line(amount="90.00")])).order.total == D("90.00")  # type: ignore[union-attr]


def test_line_refs_must_be_unique_and_currencies_known() -> None:
    assert _code(_paid(lines=[_line(), _line()])) == "duplicate_line_ref"
    assert _code(_paid(currency="XXX")) == "unknown_currency"


@pytest.mark.parametrize("moment", ["2026-03-01T12:00:00", "yesterday", "1700000000"])
def test_a_timestamp_needs_iso_8601_with_a_time_zone(moment: str) -> None:
    assert _code(_paid(placed_at=moment)) == "invalid_timestamp"


@pytest.mark.parametrize(
    "order",
    [{}, {"amount": "1.00", "full": True}, {"lines": [{"line_ref": "A", "amount": "1"}],
                                            "amount": "1.00"}],
)  # fmt: skip
def test_a_refund_gives_exactly_one_of_lines_amount_or_full(order: dict[str, Any]) -> None:
    assert _code(_refund(**order)) == "invalid_refund"


def test_a_refund_parses_its_amounts_and_leaves_the_cents_check_to_the_orders_currency() -> None:
    event = parse_event(_refund(amount="10.005"))
    assert isinstance(event.order, OrderRefunded) and event.order.amount == D("10.005")
    with pytest.raises(ValidationFailed) as refused:
        plan_refund(event.order, [LineBalance(line_ref="A", amount=D(100), refunded=D(0))], "CNY")
    assert refused.value.code == "invalid_amount"


def test_the_body_hash_ignores_key_order_but_not_values() -> None:
    body = _paid()
    reordered = dict(reversed(list(body.items())))
    assert body_sha256(body) == body_sha256(reordered)
    assert body_sha256(body) != body_sha256(_paid(campaign="spring"))


# ---------------------------------------------------------------- life cycle


def test_an_order_completes_or_cancels_from_paid_and_is_refunded_fully_from_either() -> None:
    assert order_transition("paid", "complete") == "completed"
    assert order_transition("paid", "cancel") == "cancelled"
    assert order_transition("completed", "refund_fully") == "refunded"
    with pytest.raises(Conflict) as completed_first:
        order_transition("completed", "cancel")
    assert completed_first.value.code == "order_completed"
    with pytest.raises(IllegalTransition) as illegal:
        order_transition("cancelled", "complete")
    assert illegal.value.code == "order_illegal_transition"


@pytest.mark.parametrize(
    ("status", "code"), [("cancelled", "order_cancelled"), ("refunded", "order_already_refunded")]
)
def test_a_cancelled_or_fully_refunded_order_takes_no_refund(status: str, code: str) -> None:
    ensure_refundable("paid")
    ensure_refundable("completed")
    with pytest.raises(Conflict) as refused:
        ensure_refundable(status)
    assert refused.value.code == code


def test_only_the_paid_event_is_never_held() -> None:
    assert [held_until_paid(t) for t in EventType] == [False, True, True, True]


def test_an_outcome_round_trips_and_its_status_code_says_what_happened() -> None:
    outcome = EventOutcome(202, {"status": "pending"})
    assert EventOutcome.from_json(outcome.to_json()) == outcome
    assert [outcome_status(EventOutcome(code, {})) for code in (200, 202, 409, 422)] == [
        EventStatus.APPLIED,
        EventStatus.PENDING,
        EventStatus.REJECTED,
        EventStatus.REJECTED,
    ]


# ---------------------------------------------------------------- refund allocation


def _balances(*remaining: str) -> list[LineBalance]:
    return [
        LineBalance(line_ref=chr(ord("A") + i), amount=D(value), refunded=D(0))
        for i, value in enumerate(remaining)
    ]


def test_pro_rata_rounds_each_share_down_and_gives_the_cents_to_the_largest_later_line() -> None:
    assert allocate_pro_rata(D("10.01"), _balances("10.00", "20.00", "20.00"), "CNY") == {
        "A": D("2.00"),
        "B": D("4.00"),
        "C": D("4.01"),
    }


def test_pro_rata_never_gives_a_line_more_than_it_has_left() -> None:
    # Shares 0.0466… round down to 0.04 each: two cents are left and no line may take both.
    shares = allocate_pro_rata(D("0.14"), _balances("0.05", "0.05", "0.05"), "CNY")
    assert shares == {"A": D("0.04"), "B": D("0.05"), "C": D("0.05")}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=10**9),
)
def test_pro_rata_shares_add_up_exactly_and_stay_within_each_line(
    cents: list[int], wanted: int
) -> None:
    lines = _balances(*(str(D(c).scaleb(-2)) for c in cents))
    total = sum(cents)
    amount = D(wanted % (total + 1)).scaleb(-2)
    shares = allocate_pro_rata(amount, lines, "CNY")
    assert sum(shares.values()) == amount
    for balance in lines:
        assert D(0) <= shares[balance.line_ref] <= balance.remaining


def test_a_refund_plan_checks_each_named_line() -> None:
    balances = [LineBalance(line_ref="A", amount=D("50"), refunded=D("20"))]

    def code(**order: Any) -> str:
        refund = parse_event(_refund(**order)).order
        assert isinstance(refund, OrderRefunded)
        with pytest.raises(ValidationFailed) as refused:
            plan_refund(refund, balances, "CNY")
        return refused.value.code

    one = [{"line_ref": "A", "amount": "30.01"}]
    assert code(lines=one) == "refund_exceeds_line"
    assert code(lines=[{"line_ref": "Z", "amount": "1.00"}]) == "unknown_order_line"
    assert code(lines=[{"line_ref": "A", "amount": "1"}] * 2) == "invalid_refund"
    assert code(lines=[{"line_ref": "A", "amount": "0"}]) == "invalid_amount"
    assert code(amount="30.01") == "refund_exceeds_order"
    full = parse_event(_refund(full=True)).order
    assert plan_refund(full, balances, "CNY") == {"A": D("30")}  # type: ignore[arg-type]


# ---------------------------------------------------------------- commissions


def _commission(**rule_fields: Any) -> Any:
    rules = [rule(**rule_fields)] if rule_fields else []
    lines = compute_commissions(
        order=order(order_line(quantity=4, unit_price="25.00")),
        terms=terms(),
        rules=rules,
        chain=referred(member(7), member(8)),
    )
    return lines[0]


def test_a_snapshot_rebuilds_the_commission_line_it_was_taken_of() -> None:
    capped = _commission(kind="fixed", value="1.5", level=1, cap_per_line=D("4"))
    for line in (_commission(), capped):
        assert line_from_snapshot(snapshot_of(line), line.explanation) == line


def test_a_refund_lowers_a_pending_commission_and_reverses_it_at_zero() -> None:
    line = _commission()
    lowered = commission_after_refund(status="pending", amount=line.amount, line=line,
                                      new_net=D("60.00"))  # fmt: skip
    assert lowered is not None
    assert (lowered.status_after, lowered.amount_after, lowered.reversal) == (
        "pending",
        D("6.00"),
        D("4.00"),
    )
    assert not lowered.clawback
    gone = commission_after_refund(status="approved", amount=line.amount, line=line, new_net=D(0))
    assert gone is not None and (gone.status_after, gone.amount_after) == ("reversed", D("0.00"))


def test_a_refund_of_a_settled_commission_is_a_clawback_and_rejected_ones_do_not_move() -> None:
    line = _commission()
    settled = commission_after_refund(status="settled", amount=line.amount, line=line,
                                      new_net=D("50.00"))  # fmt: skip
    assert settled is not None and settled.clawback and settled.status_after == "settled"
    for status in ("rejected", "reversed"):
        assert (
            commission_after_refund(status=status, amount=line.amount, line=line, new_net=D(0))
            is None
        )


def test_a_cancellation_rejects_unsettled_commissions_and_reverses_settled_ones() -> None:
    pending = commission_after_cancel(status="pending", amount=D("10.00"))
    assert pending is not None
    assert (pending.status_after, pending.amount_after, pending.clawback) == (
        "rejected",
        D("10.00"),
        False,
    )
    paid = commission_after_cancel(status="paid", amount=D("10.00"))
    assert paid is not None
    assert (paid.status_after, paid.amount_after, paid.clawback) == ("reversed", D(0), True)
    assert commission_after_cancel(status="rejected", amount=D("10.00")) is None
