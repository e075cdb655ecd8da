"""Reading the catalog: names for what rules and reports name by id, the store's products
and categories for staff, and the product ids orders named that the catalog does not know."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise.expressions import Q

from server.db import connection
from server.domain.errors import NotFound
from server.domain.instants import stored_instant
from server.domain.money import money_text
from server.domain.pagination import check_page_limit, next_cursor
from server.models import CatalogCategory, CatalogProduct, Program
from server.services.ledger.postings import sql_rows

PRODUCT = "product"
CATEGORY = "category"
_MODELS = {PRODUCT: CatalogProduct, CATEGORY: CatalogCategory}


async def catalog_names(*, program_id: int, kind: str, ids: Iterable[str | None]) -> dict[str, str]:
    """The catalog's name of each id of `kind` (product | category) it knows."""
    wanted = sorted({value for value in ids if value})
    if not wanted:
        return {}
    rows = await (
        _MODELS[kind]
        .filter(program_id=program_id, external_id__in=wanted)
        .values_list("external_id", "name")
    )
    return dict(rows)


async def name_documents(
    *,
    program_id: int,
    documents: list[dict[str, Any]],
    product_key: str = "product_id",
    category_key: str = "category",
) -> list[dict[str, Any]]:
    """Add `product_name` and `category_name` (None when unknown) to documents naming ids."""
    products = await catalog_names(
        program_id=program_id, kind=PRODUCT, ids=(d.get(product_key) for d in documents)
    )
    categories = await catalog_names(
        program_id=program_id, kind=CATEGORY, ids=(d.get(category_key) for d in documents)
    )
    for document in documents:
        document["product_name"] = products.get(document.get(product_key) or "")
        document["category_name"] = categories.get(document.get(category_key) or "")
    return documents


async def _program(program_id: int) -> Program:
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    return program


async def list_products(
    *, program_id: int, q: str | None = None, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """A page of the program's catalog products by id, optionally those whose name or id has `q`."""
    check_page_limit(limit)
    await _program(program_id)
    query = CatalogProduct.filter(program_id=program_id)
    if q:
        query = query.filter(Q(name__icontains=q) | Q(external_id__icontains=q))
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    rows = await query.order_by("id").limit(limit)
    categories = await catalog_names(
        program_id=program_id, kind=CATEGORY, ids=(row.category_id for row in rows)
    )
    items = [
        {
            "id": row.id,
            "product_id": row.external_id,
            "name": row.name,
            "category_id": row.category_id,
            "category_name": categories.get(row.category_id or ""),
            "price": money_text(row.price, row.currency),
            "currency": row.currency,
            "status": row.status,
            "updated_at": row.updated_at,
            "synced_at": row.synced_at,
        }
        for row in rows
    ]
    return {"items": items, "next_cursor": next_cursor([row.id for row in rows], limit)}


# Product ids of a program's order lines with no catalog product: when first and last seen
# (the order's arrival) and on how many orders.
_UNKNOWN_PRODUCTS = (
    "SELECT l.product_id AS product_id, MIN(o.created_at) AS first_seen,"
    " MAX(o.created_at) AS last_seen, COUNT(DISTINCT l.order_id) AS orders"
    " FROM order_lines l JOIN orders o ON o.id = l.order_id"
    " LEFT JOIN catalog_products p"
    " ON p.program_id = o.program_id AND p.external_id = l.product_id"
    " WHERE o.program_id = ? AND p.id IS NULL{after}"
    " GROUP BY l.product_id ORDER BY l.product_id LIMIT ?"
)


async def unknown_products(
    *, program_id: int, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """Product ids orders named that the catalog does not know, by id; `cursor` is the last."""
    check_page_limit(limit)
    await _program(program_id)
    values: list[Any] = [program_id]
    after = ""
    if cursor:
        after, values = " AND l.product_id > ?", [*values, cursor]
    rows = await sql_rows(connection(), _UNKNOWN_PRODUCTS.format(after=after), [*values, limit])
    items = [
        {
            "product_id": row["product_id"],
            "first_seen": stored_instant(row["first_seen"]),
            "last_seen": stored_instant(row["last_seen"]),
            "orders": int(row["orders"]),
        }
        for row in rows
    ]
    return {
        "items": items,
        "next_cursor": items[-1]["product_id"] if len(items) == limit else None,
    }
