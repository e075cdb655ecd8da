"""Writing rollup rows in bulk: summed per dimension value by the database (a day's rows from
its hours, a span's from its halves: one INSERT … SELECT … GROUP BY), or many rows built in
Python in multi-row INSERTs without model instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from server.domain.reports.metrics import INTEGER_COLUMNS, ROLLUP_COLUMNS
from server.services.ledger.postings import money_units, sql_write, units_as_money
from server.services.orders.writes import insert_rows

# Rows per multi-row INSERT (24 values each: well under SQLite's 32,766 parameters).
WRITE_CHUNK = 500
# A source of rows: its table, a WHERE condition and the condition's values.
Source = tuple[str, str, Sequence[Any]]


def _summed(conn: BaseDBAsyncClient, column: str) -> str:
    if column in INTEGER_COLUMNS:
        return f"SUM({column})"
    return units_as_money(conn, f"SUM({money_units(conn, column)})")


async def insert_sums(
    conn: BaseDBAsyncClient, *, table: str, key: Mapping[str, Any], sources: Sequence[Source]
) -> int:
    """Insert into `table` one row per dimension value found in the sources, holding their
    sums and the `key` columns; the rows written."""
    columns = ", ".join(ROLLUP_COLUMNS)
    union = " UNION ALL ".join(
        f"SELECT dimension, value, {columns} FROM {source} WHERE {where}"
        for source, where, _ in sources
    )
    sums = ", ".join(_summed(conn, column) for column in ROLLUP_COLUMNS)
    return await sql_write(
        conn,
        f"INSERT INTO {table} ({', '.join(key)}, dimension, value, {columns})"
        f" SELECT {', '.join('?' for _ in key)}, dimension, value, {sums}"
        f" FROM ({union}) AS c GROUP BY dimension, value",
        [*key.values(), *(value for _, _, values in sources for value in values)],
    )


async def insert_all(
    conn: BaseDBAsyncClient, model: type[Model], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert rows in chunks, each value through the model's field as the ORM sends it."""
    for index in range(0, len(rows), WRITE_CHUNK):
        await insert_rows(conn, model, rows[index : index + WRITE_CHUNK])
