from __future__ import annotations

from decimal import Decimal

import pytest

from server.domain.errors import ValidationFailed
from server.domain.ledger.adjustments import (
    MAX_ADJUSTMENT_AMOUNT,
    ReasonCode,
    check_adjustment,
    missing_promoter_errors,
    parse_adjustment_csv,
)


def _check(amount: str, reason: str = "correction", *, memo: str | None = None, **kw: str):
    return check_adjustment(
        promoter_id=1,
        amount=amount,
        currency=kw.get("currency", "CNY"),
        program_currency=kw.get("program_currency", "CNY"),
        reason_code=reason,
        memo=memo,
    )


def test_an_adjustment_may_credit_or_debit() -> None:
    assert _check("12.50").amount == Decimal("12.50")
    assert _check("-3").amount == Decimal("-3.00")
    assert _check("-3", "penalty").reason_code is ReasonCode.PENALTY


@pytest.mark.parametrize(
    ("amount", "reason", "memo", "code"),
    [
        ("0", "correction", None, "amount_zero"),
        ("abc", "correction", None, "invalid_amount"),
        ("1.234", "correction", None, "invalid_amount"),
        (str(MAX_ADJUSTMENT_AMOUNT + 1), "correction", None, "amount_out_of_range"),
        ("5", "other", None, "memo_required"),
        ("5", "typo", None, "unknown_reason_code"),
        ("-5", "bonus", None, "sign_not_allowed"),
        ("5", "chargeback", None, "sign_not_allowed"),
    ],
)
def test_an_adjustment_breaking_a_rule_is_refused_with_its_code(
    amount: str, reason: str, memo: str | None, code: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _check(amount, reason, memo=memo)
    assert refused.value.code == code


def test_other_with_a_memo_is_accepted() -> None:
    assert _check("5", "other", memo="event prize").memo == "event prize"


def test_an_adjustment_in_another_currency_than_the_programs_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        _check("5", currency="USD", program_currency="CNY")
    assert refused.value.code == "currency_mismatch"


def test_a_yen_adjustment_has_no_decimals() -> None:
    with pytest.raises(ValidationFailed) as refused:
        _check("5.5", currency="JPY", program_currency="JPY")
    assert refused.value.code == "invalid_amount"
    assert _check("5", currency="JPY", program_currency="JPY").amount == Decimal("5")


def test_a_valid_upload_becomes_one_draft_per_row_with_its_row_number() -> None:
    text = (
        "\ufeffpromoter_id,amount,currency,reason_code,memo\r\n"
        "7,10.00,CNY,bonus,\r\n"
        "8,-2,CNY,penalty,late\r\n"
    )
    drafts, errors = parse_adjustment_csv(text, program_currency="CNY")
    assert errors == []
    assert [(d.row, d.promoter_id, d.amount, d.memo) for d in drafts] == [
        (2, 7, Decimal("10.00"), ""),
        (3, 8, Decimal("-2.00"), "late"),
    ]


def test_every_bad_row_of_an_upload_is_reported_with_row_field_and_code() -> None:
    text = (
        "reason_code,promoter_id,amount,currency\n"
        "bonus,7,10,CNY\n"
        "bonus,x,10,CNY\n"
        "bonus,9,0,USD\n"
        "other,9,1,CNY\n"
    )
    drafts, errors = parse_adjustment_csv(text, program_currency="CNY")
    reported = {(e.row, e.field, e.code) for e in errors}
    assert reported == {
        (3, "promoter_id", "invalid_promoter_id"),
        (4, "currency", "currency_mismatch"),
        (4, "amount", "amount_zero"),
        (5, "memo", "memo_required"),
    }
    assert [d.row for d in drafts] == [2]


def test_an_upload_without_the_required_columns_is_refused_at_the_header() -> None:
    _, errors = parse_adjustment_csv("promoter_id,amount,colour\n1,2,red\n", program_currency="CNY")
    assert {(e.row, e.field, e.code) for e in errors} == {
        (1, "currency", "column_missing"),
        (1, "reason_code", "column_missing"),
        (1, "colour", "column_unknown"),
    }


def test_an_empty_upload_is_refused() -> None:
    _, errors = parse_adjustment_csv(
        "promoter_id,amount,currency,reason_code\n", program_currency="CNY"
    )
    assert [e.code for e in errors] == ["csv_no_rows"]


def test_a_row_naming_a_promoter_outside_the_program_is_an_error() -> None:
    drafts, _ = parse_adjustment_csv(
        "promoter_id,amount,currency,reason_code\n1,1,CNY,bonus\n2,1,CNY,bonus\n",
        program_currency="CNY",
    )
    errors = missing_promoter_errors(drafts, {1})
    assert [(e.row, e.code) for e in errors] == [(3, "promoter_not_in_program")]
