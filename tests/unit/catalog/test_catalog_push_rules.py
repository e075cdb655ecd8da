"""The pure rules of a catalog push: which rows are refused and which stored row a pushed one
replaces."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from server.domain.catalog.sync import MAX_PUSH_ROWS, check_push, outcome
from server.domain.errors import ValidationFailed

T1 = datetime(2026, 3, 1, 4, tzinfo=UTC)
T2 = datetime(2026, 3, 1, 5, tzinfo=UTC)


def _product(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "SKU-1",
        "name": " Tea ",
        "category_id": None,
        "price": "39.90",
        "currency": "CNY",
        "status": "active",
        "updated_at": "2026-03-01T12:00:00+08:00",
    }
    return {**row, **changes}


def test_a_valid_product_is_read_as_utc_with_a_decimal_price_and_a_trimmed_name() -> None:
    _categories, [row] = check_push(categories=[], products=[_product()], currency="CNY")
    assert (row.name, row.price, row.updated_at) == ("Tea", Decimal("39.90"), T1)


def test_every_bad_row_is_named_at_once() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_push(
            categories=[{"id": "c", "name": "C", "updated_at": "yesterday"}],
            products=[_product(price="-1"), _product(id="SKU-2", currency="JPY")],
            currency="CNY",
        )
    assert refused.value.code == "catalog_rows_invalid"
    assert set(refused.value.fields) == {
        "categories[0].updated_at",
        "products[0].price",
        "products[1].currency",
    }


def test_a_yen_price_has_no_decimals() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_push(categories=[], products=[_product(price="10.5", currency="JPY")], currency="JPY")
    assert "products[0].price" in refused.value.fields


def test_a_push_over_the_limit_is_refused_whole() -> None:
    rows = [_product(id=f"S{n}") for n in range(MAX_PUSH_ROWS + 1)]
    with pytest.raises(ValidationFailed) as refused:
        check_push(categories=[], products=rows, currency="CNY")
    assert refused.value.code == "catalog_push_too_large"


@pytest.mark.parametrize(
    ("stored", "incoming", "same", "expected"),
    [
        (None, T1, False, "created"),
        (T1, T2, False, "updated"),
        (T1, T2, True, "updated"),  # a later time is kept, so an update between loses
        (T1, T1, True, "unchanged"),
        (T1, T1, False, "stale"),  # the same time with another body: the stored row stands
        (T2, T1, False, "stale"),
        (T2, T1, True, "stale"),
    ],
)
def test_the_stores_later_update_wins(
    stored: datetime | None, incoming: datetime, same: bool, expected: str
) -> None:
    assert outcome(stored_updated_at=stored, incoming=incoming, same=same) == expected
