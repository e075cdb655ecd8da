"""Applying a catalog push: set-based (one read and a few batched writes per table), in one
transaction, with the store's later update winning row by row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.db import is_mysql
from server.domain.catalog.sync import CategoryRow, ProductRow, check_push, outcome
from server.domain.errors import NotFound
from server.models import CatalogCategory, CatalogProduct, CatalogPush, Program
from server.services.access.audit import record_action
from server.services.ledger.postings import sql_write

# Rows per IN (…) read and per batched write: well under MariaDB's packet and SQLite's
# variable limits for every column of a row.
CHUNK = 500
_PRODUCT_FIELDS = ("name", "category_id", "price", "currency", "status", "updated_at")
_CATEGORY_FIELDS = ("name", "updated_at")


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


async def _stored(model: Any, program_id: int, ids: list[str], conn: BaseDBAsyncClient) -> dict:
    found: dict[str, Any] = {}
    for chunk in _chunks(ids):
        rows = await model.filter(program_id=program_id, external_id__in=list(chunk)).using_db(conn)
        found.update({row.external_id: row for row in rows})
    return found


async def _overwrite(
    model: Any, rows: list[Any], fields: tuple[str, ...], conn: BaseDBAsyncClient
) -> None:
    """Write `fields` of existing rows, CHUNK rows per statement (an upsert on the primary key:
    one statement per chunk, where an UPDATE per row would be a round trip each)."""
    meta = model._meta
    columns = ("id", *fields)
    if is_mysql(conn):
        assign = ", ".join(f"{name} = VALUES({name})" for name in fields)
        tail = f"ON DUPLICATE KEY UPDATE {assign}"
    else:
        assign = ", ".join(f"{name} = excluded.{name}" for name in fields)
        tail = f"ON CONFLICT(id) DO UPDATE SET {assign}"
    # program_id and external_id never change; the INSERT half needs them only to be valid.
    insert_columns = (*columns, "program_id", "external_id")
    marks = "(" + ", ".join("?" for _ in insert_columns) + ")"
    for chunk in _chunks(rows):
        values: list[Any] = []
        for row in chunk:
            values.extend(
                meta.fields_map[name].to_db_value(getattr(row, name), row) for name in columns
            )
            values.extend([row.program_id, row.external_id])
        statement = (
            f"INSERT INTO {meta.db_table} ({', '.join(insert_columns)}) VALUES "
            f"{', '.join(marks for _ in chunk)} {tail}"
        )
        await sql_write(conn, statement, values)


async def _apply(
    *,
    model: Any,
    program_id: int,
    rows: Sequence[CategoryRow | ProductRow],
    fields: tuple[str, ...],
    conn: BaseDBAsyncClient,
) -> dict[str, Any]:
    """Insert new rows and overwrite older ones; the counts and the ids left stale."""
    now = clock.now()
    stored = await _stored(model, program_id, [row.external_id for row in rows], conn)
    counts = dict.fromkeys(("created", "updated", "unchanged", "stale"), 0)
    stale: list[str] = []
    new: list[Any] = []
    changed: list[Any] = []
    for row in rows:
        current = stored.get(row.external_id)
        same = current is not None and all(
            getattr(current, name) == getattr(row, name) for name in fields
        )
        result = outcome(
            stored_updated_at=current.updated_at if current else None,
            incoming=row.updated_at,
            same=same,
        )
        counts[result] += 1
        if result == "created":
            values = {name: getattr(row, name) for name in fields}
            new.append(
                model(program_id=program_id, external_id=row.external_id, synced_at=now, **values)
            )
        elif result == "updated":
            for name in fields:
                setattr(current, name, getattr(row, name))
            current.synced_at = now
            changed.append(current)
        elif result == "stale":
            stale.append(row.external_id)
    if new:
        await model.bulk_create(new, batch_size=CHUNK, using_db=conn)
    if changed:
        await _overwrite(model, changed, (*fields, "synced_at"), conn)
    return {**counts, "stale_ids": stale}


async def push_catalog(
    *,
    program_id: int,
    categories: list[dict[str, Any]],
    products: list[dict[str, Any]],
    key_id: str,
) -> CatalogPush:
    """Upsert the store's categories and products at once (422 naming every bad row)."""
    async with in_transaction() as conn:
        # Locking the program serializes its pushes: two at once cannot insert one id twice.
        program = await Program.filter(id=program_id).using_db(conn).select_for_update().first()
        if program is None:
            raise NotFound("no such program", code="program_not_found")
        category_rows, product_rows = check_push(
            categories=categories, products=products, currency=program.currency
        )
        result = {
            "categories": await _apply(
                model=CatalogCategory,
                program_id=program_id,
                rows=category_rows,
                fields=_CATEGORY_FIELDS,
                conn=conn,
            ),
            "products": await _apply(
                model=CatalogProduct,
                program_id=program_id,
                rows=product_rows,
                fields=_PRODUCT_FIELDS,
                conn=conn,
            ),
        }
        push = await CatalogPush.create(
            program_id=program_id, key_id=key_id, result=result, using_db=conn
        )
        await record_action(
            actor=None,
            action="catalog.push",
            target_kind="program",
            target_id=program_id,
            program_id=program_id,
            details={
                "key_id": key_id,
                "push_id": push.id,
                **{
                    kind: {k: v for k, v in counts.items() if k != "stale_ids"}
                    for kind, counts in result.items()
                },
            },
            using_db=conn,
        )
    return push


async def catalog_push(*, push_id: int) -> CatalogPush:
    """A push already applied (the first answer to a replayed Idempotency-Key)."""
    return await CatalogPush.get(id=push_id)


def serialize_push(push: CatalogPush) -> dict[str, Any]:
    return {"id": push.id, "created_at": push.created_at, **push.result}
