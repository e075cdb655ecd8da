from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import ValidationFailed
from server.domain.money import Money, parse_amount, read_decimal, round_down


def test_rounding_goes_down_to_the_cent_never_up() -> None:
    assert round_down(Decimal("10.019"), "CNY") == Decimal("10.01")
    assert round_down(Decimal("0.009"), "USD") == Decimal("0.00")


def test_yen_has_no_minor_unit() -> None:
    assert round_down(Decimal("99.99"), "JPY") == Decimal("99")


@given(st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False, places=6))
def test_rounded_amount_never_exceeds_the_exact_one_by_a_cent(value: Decimal) -> None:
    rounded = round_down(value, "CNY")
    assert rounded <= value
    assert value - rounded < Decimal("0.01")


@pytest.mark.parametrize("raw", ["-1", "1.001", "abc", "NaN", "Infinity", "1e30"])
def test_bad_amounts_are_refused_with_a_code(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_amount(raw, "CNY")
    assert err.value.code == "invalid_amount"


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValidationFailed) as err:
        Money(Decimal("1"), "XXX")
    assert err.value.code == "unknown_currency"


@pytest.mark.parametrize(
    "raw", ["1e999999999", "-1e999999999", "1e-999999999", "NaN", "-Infinity", "sNaN", "", "1,5"]
)
def test_text_that_is_not_a_sane_finite_number_reads_as_no_decimal(raw: str) -> None:
    assert read_decimal(raw) is None


@pytest.mark.parametrize("raw", ["1e999999999", "1e-999999999"])
def test_an_absurd_exponent_is_a_coded_error_not_an_overflow(raw: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_amount(raw, "CNY")
    assert refused.value.code == "invalid_amount"


def test_ordinary_amounts_read_exactly() -> None:
    assert read_decimal(" 12.30 ") == Decimal("12.30")
    assert read_decimal(0) == Decimal(0)
