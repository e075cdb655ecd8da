"""A catalog push checked row by row (every problem named by its row, nothing half-written)
and the rule of precedence: the store's later update wins, an older one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from server.domain.errors import FenxiaoError, ValidationFailed
from server.domain.money import parse_amount
from server.domain.orders.parsing import parse_timestamp

MAX_PUSH_ROWS = 5000
PRODUCT_STATUSES = ("active", "inactive")
# What one row's push did: "unchanged" is the same row again, "stale" an older update.
OUTCOMES = ("created", "updated", "unchanged", "stale")


@dataclass(frozen=True)
class CategoryRow:
    external_id: str
    name: str
    updated_at: datetime


@dataclass(frozen=True)
class ProductRow:
    external_id: str
    name: str
    category_id: str | None
    price: Decimal
    currency: str
    status: str
    updated_at: datetime


def _problem(error: Exception) -> str:
    if isinstance(error, FenxiaoError) and error.fields:
        return str(next(iter(error.fields.values())))
    return str(error)


def _timestamp(raw: Any, where: str, problems: dict[str, str]) -> datetime | None:
    try:
        return parse_timestamp(raw, field="updated_at")
    except ValidationFailed as error:
        problems[f"{where}.updated_at"] = _problem(error)
        return None


def _duplicates(ids: list[str], kind: str, problems: dict[str, str]) -> None:
    seen: dict[str, int] = {}
    for index, external_id in enumerate(ids):
        if external_id in seen:
            problems[f"{kind}[{index}].id"] = f"also sent as {kind}[{seen[external_id]}]"
        else:
            seen[external_id] = index


def _category(raw: dict[str, Any], where: str, problems: dict[str, str]) -> CategoryRow | None:
    updated_at = _timestamp(raw["updated_at"], where, problems)
    if updated_at is None:
        return None
    return CategoryRow(external_id=raw["id"], name=raw["name"].strip(), updated_at=updated_at)


def _product(
    raw: dict[str, Any], where: str, currency: str, problems: dict[str, str]
) -> ProductRow | None:
    before = len(problems)
    updated_at = _timestamp(raw["updated_at"], where, problems)
    price = None
    if raw["currency"] != currency:
        problems[f"{where}.currency"] = f"the program's currency is {currency}"
    else:
        try:
            price = parse_amount(raw["price"], currency, field="price")
        except ValidationFailed as error:
            problems[f"{where}.price"] = _problem(error)
    if raw["status"] not in PRODUCT_STATUSES:
        problems[f"{where}.status"] = " | ".join(PRODUCT_STATUSES)
    if len(problems) > before or updated_at is None or price is None:
        return None
    return ProductRow(
        external_id=raw["id"],
        name=raw["name"].strip(),
        category_id=raw.get("category_id"),
        price=price,
        currency=currency,
        status=raw["status"],
        updated_at=updated_at,
    )


def check_push(
    *, categories: list[dict[str, Any]], products: list[dict[str, Any]], currency: str
) -> tuple[list[CategoryRow], list[ProductRow]]:
    """The push's rows, or 422 catalog_rows_invalid naming every row at fault."""
    problems: dict[str, str] = {}
    if len(categories) + len(products) > MAX_PUSH_ROWS:
        raise ValidationFailed(
            "too many rows in one push",
            code="catalog_push_too_large",
            fields={"rows": f"at most {MAX_PUSH_ROWS} categories and products together"},
        )
    _duplicates([raw["id"] for raw in categories], "categories", problems)
    _duplicates([raw["id"] for raw in products], "products", problems)
    category_rows = [
        _category(raw, f"categories[{index}]", problems) for index, raw in enumerate(categories)
    ]
    product_rows = [
        _product(raw, f"products[{index}]", currency, problems)
        for index, raw in enumerate(products)
    ]
    if problems:
        raise ValidationFailed(
            f"{len({key.split('.')[0] for key in problems})} rows are invalid: nothing was saved",
            code="catalog_rows_invalid",
            fields=problems,
        )
    return [row for row in category_rows if row], [row for row in product_rows if row]


def outcome(*, stored_updated_at: datetime | None, incoming: datetime, same: bool) -> str:
    """What pushing a row does to the stored one: the store's later update wins; `same` says
    the pushed row's content equals the stored row's."""
    if stored_updated_at is None:
        return "created"
    if incoming > stored_updated_at:
        return "updated"
    if incoming == stored_updated_at and same:
        return "unchanged"
    # An older update, or another body under the same time: the stored row stands.
    return "stale"
