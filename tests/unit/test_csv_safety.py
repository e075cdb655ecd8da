from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from server.services.csv_export import csv_cell, encode_rows


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
)
def test_text_a_spreadsheet_would_run_as_a_formula_gets_a_leading_apostrophe(text: str) -> None:
    assert csv_cell(text) == "'" + text


def test_ordinary_text_and_chinese_names_are_left_alone() -> None:
    assert csv_cell("张三") == "张三"
    assert csv_cell("a=b") == "a=b"


def test_money_is_written_as_its_exact_decimal_string_negative_included() -> None:
    assert csv_cell(Decimal("-12.50")) == "-12.50"
    assert csv_cell(Decimal("1E+2")) == "100"
    assert csv_cell(Decimal("0.10")) == "0.10"


def test_empty_values_dates_and_flags_have_one_spelling() -> None:
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true"
    assert csv_cell(datetime(2026, 10, 1, 8, tzinfo=UTC)) == "2026-10-01T08:00:00+00:00"


def test_commas_quotes_and_newlines_survive_a_round_trip() -> None:
    rows = [["a,b", 'say "hi"', "two\nlines", Decimal("3.00")]]
    assert list(csv.reader(io.StringIO(encode_rows(rows)))) == [
        ["a,b", 'say "hi"', "two\nlines", "3.00"]
    ]
