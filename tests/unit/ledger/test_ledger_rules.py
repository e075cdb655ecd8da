from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import Conflict, ValidationFailed
from server.domain.ledger.postings import (
    Account,
    Balances,
    MovementKind,
    Posting,
    apply_postings,
    auto_approve_policy,
    clawback_amount,
    reconcile,
    review_refusal,
    validate_movement,
)

D = Decimal


def test_each_kind_accepts_its_documented_postings_in_any_order() -> None:
    kind, postings = validate_movement("hold", [("on_hold", D("5")), ("available", D("-5"))], "CNY")
    assert kind is MovementKind.HOLD
    assert postings == (Posting(Account.AVAILABLE, D("-5.00")), Posting(Account.ON_HOLD, D("5.00")))
    for kind_name, shape in {
        "settle": [("available", D("1"))],
        "release": [("on_hold", D("-1")), ("available", D("1"))],
        "pay": [("on_hold", D("-1")), ("paid", D("1"))],
        "fee": [("on_hold", D("-1"))],
        "adjustment": [("available", D("-1"))],
        "clawback": [("available", D("-1"))],
    }.items():
        assert validate_movement(kind_name, shape, "CNY")[0] == kind_name


@pytest.mark.parametrize(
    ("kind", "postings", "currency"),
    [
        ("hold", [("available", "-5"), ("on_hold", "5.01")], "CNY"),  # does not net to zero
        ("hold", [("available", "5"), ("on_hold", "-5")], "CNY"),  # wrong direction
        ("hold", [("available", "-5")], "CNY"),  # a leg is missing
        ("settle", [("available", "5"), ("available", "5")], "CNY"),  # one account twice
        ("pay", [("on_hold", "-5"), ("available", "5")], "CNY"),  # wrong account
        ("adjustment", [("available", "0")], "CNY"),
        ("settle", [("available", "NaN")], "CNY"),
        ("settle", [("available", "0.5")], "JPY"),  # yen have no minor unit
        ("settle", [("wallet", "5")], "CNY"),
        ("refund", [("available", "5")], "CNY"),
    ],
)
def test_a_movement_breaking_its_kinds_rule_is_refused_with_a_code(
    kind: str, postings: list[tuple[str, str]], currency: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_movement(kind, [(a, D(x)) for a, x in postings], currency)
    assert refused.value.code == "invalid_movement"


def test_only_clawbacks_and_adjustments_may_leave_available_negative() -> None:
    start = Balances(available=D("3"))
    after, lines = apply_postings(
        start, MovementKind.CLAWBACK, [Posting(Account.AVAILABLE, D("-5"))]
    )
    assert (after.available, after.withdrawable, after.carried_forward) == (D("-2"), 0, D("2"))
    assert lines[0].balance_after == D("-2")
    with pytest.raises(Conflict) as refused:
        apply_postings(
            start,
            MovementKind.HOLD,
            [Posting(Account.AVAILABLE, D("-5")), Posting(Account.ON_HOLD, D("5"))],
        )
    assert refused.value.code == "insufficient_balance"


def test_later_earnings_pay_back_a_carried_forward_balance_first() -> None:
    owed = Balances(available=D("-8"))
    after, _ = apply_postings(owed, MovementKind.SETTLE, [Posting(Account.AVAILABLE, D("5"))])
    assert (after.withdrawable, after.carried_forward) == (0, D("3"))
    after, _ = apply_postings(after, MovementKind.SETTLE, [Posting(Account.AVAILABLE, D("7.5"))])
    assert (after.withdrawable, after.carried_forward) == (D("4.5"), 0)


def test_a_clawback_is_what_was_credited_beyond_the_new_amount() -> None:
    assert clawback_amount(settled_amount=D("10"), new_amount=D("4")) == D("6")
    assert clawback_amount(settled_amount=D("10"), new_amount=D("10")) == 0
    assert clawback_amount(settled_amount=D("0"), new_amount=D("4")) == 0
    with pytest.raises(ValidationFailed):
        clawback_amount(settled_amount=D("10"), new_amount=D("-1"))


_movement = st.one_of(
    st.tuples(st.just(MovementKind.SETTLE), st.integers(1, 10_000)),
    st.tuples(st.just(MovementKind.HOLD), st.integers(1, 10_000)),
    st.tuples(st.just(MovementKind.RELEASE), st.integers(1, 10_000)),
    st.tuples(st.just(MovementKind.PAY), st.integers(1, 10_000)),
    st.tuples(st.just(MovementKind.FEE), st.integers(1, 10_000)),
    st.tuples(st.just(MovementKind.CLAWBACK), st.integers(1, 10_000)),
)
_SHAPES = {
    MovementKind.SETTLE: [("available", 1)],
    MovementKind.HOLD: [("available", -1), ("on_hold", 1)],
    MovementKind.RELEASE: [("on_hold", -1), ("available", 1)],
    MovementKind.PAY: [("on_hold", -1), ("paid", 1)],
    MovementKind.FEE: [("on_hold", -1)],
    MovementKind.CLAWBACK: [("available", -1)],
}


@given(st.lists(_movement, max_size=40))
def test_any_history_of_movements_reconciles(movements: list[tuple[MovementKind, int]]) -> None:
    balances = Balances()
    sums = {a: D(0) for a in Account}
    last = {a: D(0) for a in Account}
    for kind, cents in movements:
        amount = D(cents).scaleb(-2)
        _, postings = validate_movement(
            kind.value, [(a, sign * amount) for a, sign in _SHAPES[kind]], "CNY"
        )
        try:
            balances, lines = apply_postings(balances, kind, postings)
        except Conflict:
            continue
        for line in lines:
            sums[line.account] += line.amount
            last[line.account] = line.balance_after
    assert balances.on_hold >= 0 and balances.paid >= 0
    cached = {(1, "CNY", a.value): balances.of(a) for a in Account}
    assert (
        reconcile(
            {(1, "CNY", a.value): s for a, s in sums.items()},
            {(1, "CNY", a.value): v for a, v in last.items()},
            cached,
        )
        == []
    )


def test_reconcile_reports_each_account_where_entries_last_balance_or_cache_disagree() -> None:
    key = (7, "CNY", "available")
    drifts = reconcile({key: D("10")}, {key: D("10")}, {key: D("11")})
    assert [(d.promoter_id, d.account, d.cached) for d in drifts] == [(7, "available", D("11"))]
    missing_cache = reconcile({key: D("10")}, {key: D("10")}, {})
    assert missing_cache[0].cached == 0
    assert reconcile({}, {}, {key: D("0")}) == []


def test_auto_approval_is_off_unless_the_program_enables_it_with_a_sane_limit() -> None:
    assert auto_approve_policy({}).enabled is False
    assert auto_approve_policy(None).enabled is False
    assert auto_approve_policy({"enabled": "yes"}).enabled is False
    assert auto_approve_policy({"enabled": True, "max_line_amount": "abc"}).enabled is False
    assert auto_approve_policy({"enabled": True, "max_line_amount": "-1"}).enabled is False
    limited = auto_approve_policy({"enabled": True, "max_line_amount": "200"})
    assert (limited.enabled, limited.max_line_amount) == (True, D("200"))
    assert auto_approve_policy({"enabled": True, "max_line_amount": None}).max_line_amount is None


@pytest.mark.parametrize(
    ("status", "action", "unlocked", "held", "refusal"),
    [
        ("pending", "approve", True, False, None),
        ("pending", "approve", False, False, "commission_locked"),
        ("pending", "approve", True, True, "commission_held"),
        ("approved", "approve", True, False, "commission_illegal_transition"),
        ("settled", "reject", True, False, "commission_illegal_transition"),
        ("pending", "reject", False, True, None),
        ("approved", "reject", True, False, None),
        ("pending", "settle", True, False, "commission_unknown_action"),
    ],
)
def test_staff_review_refuses_what_the_life_cycle_or_the_freeze_window_forbid(
    status: str, action: str, unlocked: bool, held: bool, refusal: str | None
) -> None:
    assert review_refusal(status=status, action=action, unlocked=unlocked, held=held) == refusal
