from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from server.domain.errors import ValidationFailed
from server.domain.ledger.statements import compute_statement, mask_tax_id, month_period

D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_month_starts_at_midnight_in_the_programs_time_zone() -> None:
    period = month_period("2026-10", SHANGHAI)
    assert period.start.astimezone(UTC) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert period.end.astimezone(UTC) == datetime(2026, 10, 31, 16, tzinfo=UTC)
    december = month_period("2026-12", SHANGHAI)
    assert december.end == datetime(2027, 1, 1, tzinfo=SHANGHAI)


@pytest.mark.parametrize("label", ["2026-13", "2026-1", "Oct 2026", "", "1999-01"])
def test_a_period_that_is_not_a_month_is_refused(label: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        month_period(label, SHANGHAI)
    assert refused.value.code == "invalid_period"


def test_a_month_of_earnings_withdrawal_and_refund_reconciles() -> None:
    before = {("settle", "available"): D("50.00")}
    during = {
        ("settle", "available"): D("100.00"),
        ("clawback", "available"): D("-20.00"),
        ("adjustment", "available"): D("-5.00"),
        ("hold", "available"): D("-80.00"),
        ("hold", "on_hold"): D("80.00"),
        ("fee", "on_hold"): D("-2.00"),
        ("tax", "on_hold"): D("-8.00"),
        ("pay", "on_hold"): D("-70.00"),
        ("pay", "paid"): D("70.00"),
    }
    statement = compute_statement(currency="CNY", before=before, during=during)
    assert (statement.gross, statement.reversals, statement.adjustments) == (
        D("100.00"),
        D("20.00"),
        D("-5.00"),
    )
    assert (statement.fees, statement.tax_withheld, statement.paid_out) == (
        D("2.00"),
        D("8.00"),
        D("70.00"),
    )
    assert statement.net == D("65.00")
    assert statement.opening.owed == D("50.00")
    assert statement.closing.available == D("45.00")
    assert statement.closing.on_hold == D("0.00")
    assert statement.closing.paid == D("70.00")
    assert statement.opening.owed + statement.net - statement.paid_out == statement.closing.owed
    assert statement.reconciles


def test_a_held_withdrawal_does_not_change_what_is_owed() -> None:
    statement = compute_statement(
        currency="CNY",
        before={("settle", "available"): D("30")},
        during={("hold", "available"): D("-30"), ("hold", "on_hold"): D("30")},
    )
    assert statement.net == D("0")
    assert statement.opening.owed == statement.closing.owed == D("30")


def test_a_clawback_beyond_the_balance_is_carried_as_a_negative_opening() -> None:
    statement = compute_statement(
        currency="CNY",
        before={("settle", "available"): D("10"), ("clawback", "available"): D("-25")},
        during={("settle", "available"): D("40")},
    )
    assert statement.opening.available == D("-15")
    assert statement.closing.available == D("25")
    assert statement.reconciles


def test_a_movement_the_statement_cannot_place_is_an_error_not_a_silent_omission() -> None:
    with pytest.raises(ValueError):
        compute_statement(currency="CNY", before={}, during={("mystery", "available"): D("1")})


def test_a_milestone_bonus_counts_in_gross_and_the_statement_reconciles() -> None:
    statement = compute_statement(
        currency="CNY",
        before={},
        during={("settle", "available"): D("10"), ("bonus", "available"): D("88")},
    )
    assert statement.gross == D("98")
    assert statement.reconciles


def test_a_tax_id_is_masked_but_for_its_ends() -> None:
    assert mask_tax_id("110101199001011234") == "11**************34"
    assert mask_tax_id("1234") == "****"
    assert mask_tax_id(None) is None


def test_figures_are_shown_with_the_currencys_decimals() -> None:
    statement = compute_statement(
        currency="JPY", before={}, during={("settle", "available"): D("500.00")}
    )
    shown = statement.to_dict()
    assert (str(shown["gross"]), str(shown["closing"]["owed"])) == ("500", "500")  # type: ignore[index]
