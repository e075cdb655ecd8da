from __future__ import annotations

from decimal import Decimal

import pytest

from server.domain.errors import Conflict, FenxiaoError, IllegalTransition
from server.domain.payouts.withdrawals import (
    WITHDRAWAL_LIFECYCLE,
    WithdrawalAsk,
    WithdrawalStatus,
    check_reason,
    check_withdrawal,
    deductions,
    mask_account_number,
    transfer_bill_number,
)
from server.domain.programs.settings import (
    ProgramSettings,
    WithdrawalRules,
)
from server.domain.programs.settings_checks import program_settings_errors

D = Decimal
W = WithdrawalStatus
RULES = WithdrawalRules(minimum=D("10"), methods=("wechat", "bank"), daily_cap=D("500"))


def _check(
    amount: str,
    *,
    rules: WithdrawalRules = RULES,
    method: str = "wechat",
    currency: str | None = None,
    withdrawable: str = "1000",
    today: str = "0",
    program_currency: str = "CNY",
) -> Decimal:
    cut = check_withdrawal(
        WithdrawalAsk(amount=amount, method=method, currency=currency),
        rules=rules,
        program_currency=program_currency,
        withdrawable=D(withdrawable),
        requested_today=D(today),
    )
    return cut.net


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"amount": "9.99"}, "withdrawal_below_minimum"),
        ({"amount": "100.001"}, "withdrawal_invalid_amount"),
        ({"amount": "abc"}, "withdrawal_invalid_amount"),
        ({"amount": "0"}, "withdrawal_invalid_amount"),
        ({"amount": "NaN"}, "withdrawal_invalid_amount"),
        ({"amount": "1e30"}, "withdrawal_invalid_amount"),
        ({"amount": "100", "method": "offline"}, "withdrawal_method_not_allowed"),
        ({"amount": "100", "currency": "USD"}, "currency_mismatch"),
        ({"amount": "100", "withdrawable": "99.99"}, "withdrawal_exceeds_available"),
        ({"amount": "100", "today": "400.01"}, "withdrawal_daily_cap_exceeded"),
    ],
)
def test_a_request_breaking_a_rule_is_refused_with_its_code(
    kwargs: dict[str, str], code: str
) -> None:
    with pytest.raises(FenxiaoError) as refused:
        _check(**kwargs)
    assert refused.value.code == code


def test_a_request_may_take_exactly_the_balance_and_exactly_the_days_remaining_cap() -> None:
    assert _check("100", withdrawable="100", today="400") == D("100")


def test_a_yen_program_refuses_fractions_of_a_yen() -> None:
    rules = WithdrawalRules(minimum=D("100"), methods=("bank",))
    with pytest.raises(FenxiaoError) as refused:
        _check("150.5", rules=rules, method="bank", program_currency="JPY")
    assert refused.value.code == "withdrawal_invalid_amount"
    assert _check("150", rules=rules, method="bank", program_currency="JPY") == D("150")


def test_a_wechat_withdrawal_outside_cny_is_refused_even_if_a_program_still_lists_it() -> None:
    rules = WithdrawalRules(minimum=D("100"), methods=("wechat",))
    with pytest.raises(FenxiaoError) as refused:
        _check("150", rules=rules, program_currency="JPY")
    assert (refused.value.status_code, refused.value.code) == (422, "wechat_requires_cny")


def test_fee_and_tax_are_each_rounded_down_to_the_cent_never_overcharging() -> None:
    rules = WithdrawalRules(
        fee_percent=D("0.6"), fee_fixed=D("0.10"), tax_withholding_percent=D("2.5")
    )
    cut = deductions(D("33.33"), rules, "CNY")
    # fee = 0.10 + 0.19998 = 0.29998 → 0.29; tax = 0.83325 → 0.83
    assert (cut.fee, cut.tax, cut.net) == (D("0.29"), D("0.83"), D("32.21"))


def test_in_yen_fee_and_tax_round_down_to_whole_yen() -> None:
    rules = WithdrawalRules(fee_percent=D("1.5"), tax_withholding_percent=D("10.21"))
    cut = deductions(D("999"), rules, "JPY")
    assert (cut.fee, cut.tax, cut.net) == (D("14"), D("101"), D("884"))


def test_a_withdrawal_that_fees_and_tax_would_swallow_is_refused() -> None:
    rules = WithdrawalRules(minimum=D("1"), fee_fixed=D("0.50"), tax_withholding_percent=D("60"))
    with pytest.raises(FenxiaoError) as refused:
        _check("1.00", rules=rules)
    assert refused.value.code == "withdrawal_net_not_positive"


def test_the_exceeds_available_refusal_is_a_conflict_not_a_validation_error() -> None:
    with pytest.raises(Conflict):
        _check("100", withdrawable="50")


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (W.REQUESTED, "approve", W.APPROVED),
        (W.REQUESTED, "reject", W.REJECTED),
        (W.APPROVED, "reject", W.REJECTED),
        (W.APPROVED, "pay", W.PAYING),
        (W.PAYING, "succeed", W.PAID),
        (W.PAYING, "fail", W.FAILED),
        (W.FAILED, "retry", W.PAYING),
        (W.FAILED, "release", W.RELEASED),
        (W.APPROVED, "mark_paid", W.PAID),
        (W.FAILED, "mark_paid", W.PAID),
    ],
)
def test_the_life_cycle_allows_these_moves(start: W, action: str, end: W) -> None:
    assert WITHDRAWAL_LIFECYCLE.target(start, action) == end


@pytest.mark.parametrize(
    ("start", "action"),
    [
        (W.REQUESTED, "pay"),  # never paid before finance approves
        (W.PAYING, "retry"),  # an in-flight transfer is queried, never sent twice
        (W.PAYING, "reject"),  # money may be leaving: it cannot be released under it
        (W.PAYING, "mark_paid"),
        (W.PAID, "reject"),
        (W.REJECTED, "approve"),
        (W.RELEASED, "retry"),
    ],
)
def test_the_life_cycle_refuses_these_moves(start: W, action: str) -> None:
    with pytest.raises(IllegalTransition) as refused:
        WITHDRAWAL_LIFECYCLE.target(start, action)
    assert refused.value.code == "withdrawal_illegal_transition"


def test_a_transfer_number_changes_per_attempt_and_fits_wechat_limits() -> None:
    first, second = transfer_bill_number(42, 1), transfer_bill_number(42, 2)
    assert first != second
    assert first.isalnum() and len(first) <= 32


def test_bank_numbers_show_only_their_last_four_digits() -> None:
    assert mask_account_number("6222021234567890") == "************7890"
    assert mask_account_number(None) is None


def test_a_reason_must_say_something() -> None:
    with pytest.raises(FenxiaoError):
        check_reason("   ")
    assert check_reason("  fraud  ") == "fraud"


@pytest.mark.parametrize("percent", ["100", "-1", "0.00001"])
def test_a_program_cannot_withhold_all_or_a_negative_or_an_over_precise_tax(percent: str) -> None:
    rules = WithdrawalRules(tax_withholding_percent=D(percent))
    settings = ProgramSettings(
        name="P", currency="CNY", max_levels=1, level_rates=(D("10"),), withdrawal_rules=rules
    )
    assert "withdrawal_rules.tax_withholding_percent" in program_settings_errors(settings)
