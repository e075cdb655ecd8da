"""Spend CSV files are read whole or refused, each bad cell named by row and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from server.domain.errors import ValidationFailed
from server.domain.reports.spend import SpendEntry, read_spend_csv, spend_errors


def test_a_spend_csv_reads_every_row_with_its_target() -> None:
    text = "\ufeffday,amount,sub_account_id,utm_campaign,note\n2026-03-01,12.50,7,,flyers\n"
    text += "2026-03-02,3,,spring,\n"
    assert read_spend_csv(text, currency="CNY") == [
        SpendEntry(day=date(2026, 3, 1), amount=Decimal("12.50"), promoter_id=7, note="flyers"),
        SpendEntry(day=date(2026, 3, 2), amount=Decimal("3"), utm_campaign="spring"),
    ]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("day,amount\n2026-02-30,1\n", {"row 2.day"}),
        ("day,amount\n2026-03-01,abc\n", {"row 2.amount"}),
        ("day,amount,sub_account_id\n2026-03-01,1,x\n", {"row 2.sub_account_id"}),
        ("day,amount,sub_account_id,channel_id\n2026-03-01,1,4,5\n", {"row 2.sub_account_id"}),
        ("amount\n1\n", {"header"}),
        ("day,amount\n", {"rows"}),
        ("day,amount\n2026-03-01," + "1" * 200_000 + "\n", {"csv"}),  # over the field limit
    ],
)
def test_a_spend_csv_with_a_bad_cell_is_refused_whole(text: str, fields: set[str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        read_spend_csv(text, currency="CNY")
    assert refused.value.code == "invalid_spend_csv"
    assert set(refused.value.fields) == fields


def test_spend_in_yen_has_no_decimals() -> None:
    entry = SpendEntry(day=date(2026, 3, 1), amount=Decimal("100.5"))
    assert spend_errors(entry, currency="JPY") == {"amount": "at most 0 decimals in JPY"}
    assert spend_errors(entry, currency="CNY") == {}
